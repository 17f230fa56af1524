"""A fast pairwise ROUGE-1/2/L engine, for minimum-Bayes-risk selection over many candidates.

MBR is quadratic: 100 candidates for 400 dialogues are two million ROUGE pairs, about an hour
with ``rouge-score``. The engine returns the same numbers (same formulas, same float operations)
but works on integer ids:

* every text is tokenized once (:func:`dialsum_metrics.tokenize.tokenize`) and identical texts
  of a group are scored once;
* n-gram overlap ``sum(min(count_a, count_b))`` is the size of the intersection of the
  *occurrence sets* ``{(ngram, k) : k < count}``, so all overlaps of a group are one binary matrix
  product; predictions scored against their references (a few pairs among many texts) intersect
  the sets of those pairs only, in memory and time linear in the pairs;
* the LCS uses the bit-parallel algorithm of Hyyrö (2004), vectorised with numpy over every
  pair of a batch at once (multi-word bit vectors with explicit carries, so any length works).

The other conventions of :mod:`dialsum_metrics.conventions` reuse this path where they can
(``counts="unique"`` keeps only the first occurrence of each n-gram as a feature); summary-level
ROUGE-L and the ``baseline`` profile need the LCS itself, not its length, and run in plain Python.
With ``tokenizer="auto"`` each compared pair is split by one tokenizer (kiwi when either side has
Hangul); a group whose texts all agree keeps the fast all-pairs path.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dialsum_metrics import baseline
from dialsum_metrics.conventions import REFERENCES, TOKENIZERS, choose, resolve
from dialsum_metrics.rouge import split_sentences, summary_lcs_hits
from dialsum_metrics.tokenize import has_hangul, pair_tokenizer, tokenize_many

_WORD = 64
#: Pairs of one LCS batch: bounds the memory (a few MB) while keeping numpy calls large.
_BATCH_PAIRS = 200_000
#: Given pairs whose LCS is computed over their own texts and vocabulary at once (see :func:`_lcs_given`).
_GIVEN_PAIRS = 512


def f1(overlap: np.ndarray, n_pred: np.ndarray, n_ref: np.ndarray) -> np.ndarray:
    """F1 exactly as ``rouge-score`` computes it (``max(count, 1)`` denominators, 0 when p+r=0)."""
    overlap = overlap.astype(np.float64)
    p = overlap / np.maximum(n_pred, 1)
    r = overlap / np.maximum(n_ref, 1)
    s = p + r
    with np.errstate(invalid="ignore", divide="ignore"):
        f = 2 * p * r / s
    return np.where(s > 0, f, 0.0)


class _Encoded:
    """Integer ids of a list of token lists, with one local vocabulary."""

    def __init__(self, token_lists: Sequence[Sequence[str]]):
        vocab: dict[str, int] = {}
        self.ids = [np.fromiter((vocab.setdefault(t, len(vocab)) for t in toks), dtype=np.int64, count=len(toks))
                    for toks in token_lists]
        self.vocab_size = len(vocab)
        self.lengths = np.array([len(x) for x in self.ids], dtype=np.int64)


def _occurrence_features(ids: list[np.ndarray], n: int, vocab_size: int, unique: bool = False
                         ) -> tuple[list[np.ndarray], np.ndarray]:
    """The occurrence features of the n-grams of each text (distinct within a text, in increasing
    order of n-gram), and n-gram counts; every text at once, since scoring calls this for
    thousands of short texts.

    With ``unique`` only the first occurrence of each n-gram is a feature, so overlaps and counts
    are those of n-gram *sets*.
    """
    if not ids:
        return [], np.zeros(0, dtype=np.int64)
    lengths = np.array([len(x) for x in ids], dtype=np.int64)
    flat = np.concatenate(ids).astype(np.int64, copy=False)
    text = np.repeat(np.arange(len(ids)), lengths)
    first = np.flatnonzero(np.arange(len(flat)) + n <= np.repeat(np.cumsum(lengths), lengths))
    key = flat[first]
    for k in range(1, n):
        key = key * vocab_size + flat[first + k]
    text = text[first]
    # sorted by text, then n-gram: the k-th occurrence of an n-gram is its position in its run
    order = np.lexsort((key, text))
    key, text = key[order], text[order]
    new_run = np.ones(len(key), dtype=bool)
    new_run[1:] = (key[1:] != key[:-1]) | (text[1:] != text[:-1])
    if unique:
        key, text = key[new_run], text[new_run]
        new_run = np.ones(len(key), dtype=bool)
    counts = np.bincount(text, minlength=len(ids)).astype(np.int64)
    starts = np.flatnonzero(new_run)
    occurrence = np.arange(len(key)) - starts[np.cumsum(new_run) - 1]
    feats = key * (int(counts.max(initial=0)) + 1) + occurrence
    return np.split(feats, np.cumsum(counts)[:-1]), counts


def _occurrence_matrix(ids: list[np.ndarray], n: int, vocab_size: int, unique: bool = False
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Binary matrix (texts x occurrence features) of the n-grams of each text, and n-gram counts:
    every pair's overlap is one product, for all pairs of a group."""
    feats, counts = _occurrence_features(ids, n, vocab_size, unique)
    if counts.sum() == 0:
        return np.zeros((len(ids), 0), dtype=np.float64), counts
    uniq, inverse = np.unique(np.concatenate(feats), return_inverse=True)
    mat = np.zeros((len(ids), len(uniq)), dtype=np.float64)
    rows = np.repeat(np.arange(len(ids)), counts)
    mat[rows, inverse] = 1.0
    return mat, counts


def _pair_overlaps(feats: list[np.ndarray], a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Overlap ``|feats[a[k]] & feats[b[k]]|`` of each pair ``k`` only, in memory and time linear in
    the pairs' features: predictions scored against their references are a few pairs among many
    texts, where the all-pairs product of :func:`_occurrence_matrix` would grow with their square."""
    la = np.array([len(feats[i]) for i in a.tolist()], dtype=np.int64)
    lb = np.array([len(feats[i]) for i in b.tolist()], dtype=np.int64)
    if not la.sum() or not lb.sum():
        return np.zeros(len(a), dtype=np.int64)
    fa = np.concatenate([feats[i] for i in a.tolist()])
    fb = np.concatenate([feats[i] for i in b.tolist()])
    _, ranks = np.unique(np.r_[fa, fb], return_inverse=True)
    width = int(ranks.max()) + 1
    # a feature of pair k is k * width + its rank: distinct within each side of a pair
    ka = np.repeat(np.arange(len(a), dtype=np.int64), la) * width + ranks[: len(fa)]
    kb = np.repeat(np.arange(len(b), dtype=np.int64), lb) * width + ranks[len(fa) :]
    both = np.intersect1d(ka, kb, assume_unique=True)
    return np.bincount(both // width, minlength=len(a)).astype(np.int64)


def _lcs_pairs(enc: _Encoded, a_idx: np.ndarray, b_idx: np.ndarray) -> np.ndarray:
    """LCS lengths of the pairs ``(ids[a], ids[b])``, bit-parallel over all pairs at once."""
    out = np.zeros(len(a_idx), dtype=np.int64)
    if len(a_idx) == 0:
        return out
    n_texts = len(enc.ids)
    words = max(1, -(-int(enc.lengths.max(initial=0)) // _WORD))
    vsize = enc.vocab_size + 1  # the last id is padding: its match mask is all zeros
    # pm[text, token, word]: bit p set when ids[text][p] == token
    pm = np.zeros((n_texts, vsize, words), dtype=np.uint64)
    for t, x in enumerate(enc.ids):
        if len(x):
            pos = np.arange(len(x))
            np.bitwise_or.at(pm, (t, x, pos // _WORD), np.left_shift(np.uint64(1), (pos % _WORD).astype(np.uint64)))
    maxlen = int(enc.lengths.max(initial=0))
    padded = np.full((n_texts, max(maxlen, 1)), vsize - 1, dtype=np.int64)
    for t, x in enumerate(enc.ids):
        padded[t, : len(x)] = x
    ones = np.uint64(0xFFFFFFFFFFFFFFFF)
    for start in range(0, len(a_idx), _BATCH_PAIRS):
        a = a_idx[start : start + _BATCH_PAIRS]
        b = b_idx[start : start + _BATCH_PAIRS]
        steps = int(enc.lengths[b].max(initial=0))
        v = np.full((len(a), words), ones, dtype=np.uint64)
        for k in range(steps):
            m = pm[a, padded[b, k]]
            u = v & m
            keep = v & ~u
            carry = np.zeros(len(a), dtype=np.uint64)
            for w in range(words):
                s1 = v[:, w] + u[:, w]
                c1 = s1 < v[:, w]
                s2 = s1 + carry
                c2 = s2 < s1
                v[:, w] = s2 | keep[:, w]
                carry = (c1 | c2).astype(np.uint64)
        out[start : start + len(a)] = words * _WORD - np.bitwise_count(v).sum(axis=1)
    return out


def _lcs_given(enc: _Encoded, a_idx: np.ndarray, b_idx: np.ndarray) -> np.ndarray:
    """:func:`_lcs_pairs` of given pairs, :data:`_GIVEN_PAIRS` at a time, each lot encoded over its
    own texts: the match table holds one row per text and token of the vocabulary, which for all
    the predictions and references of a split grows with the square of their number."""
    out = np.zeros(len(a_idx), dtype=np.int64)
    for start in range(0, len(a_idx), _GIVEN_PAIRS):
        a, b = a_idx[start : start + _GIVEN_PAIRS], b_idx[start : start + _GIVEN_PAIRS]
        texts, local = np.unique(np.r_[a, b], return_inverse=True)
        lot = _Encoded([enc.ids[i].tolist() for i in texts.tolist()])
        out[start : start + len(a)] = _lcs_pairs(lot, local[: len(a)], local[len(a) :])
    return out


def _rouge_group(token_lists: Sequence[Sequence[str]], pairs: tuple[np.ndarray, np.ndarray] | None = None,
                 counts: str = "clipped", rouge_l: str = "plain") -> np.ndarray:
    """ROUGE-1/2/L F1 between texts of one group: all pairs ``(n, n, 3)``, or the given pairs ``(P, 3)``.

    ``pairs[0]`` are the predictions and ``pairs[1]`` the references (summary-level ROUGE-L is not
    symmetric; the rest is). All pairs take one matrix product per n-gram order; given pairs are
    scored alone (:func:`_pair_overlaps`): predictions against their references are a few pairs
    among many texts, whose all-pairs product grows with the square of the texts.
    """
    # identical token lists are scored once
    index: dict[tuple[str, ...], int] = {}
    inverse = np.array([index.setdefault(tuple(t), len(index)) for t in token_lists], dtype=np.int64)
    uniq = list(index)
    enc = _Encoded(uniq)
    n = len(uniq)
    if pairs is None:
        iu, ju = np.triu_indices(n)
        pa, pb = np.r_[iu, ju], np.r_[ju, iu]
    else:
        pa, pb = inverse[pairs[0]], inverse[pairs[1]]
        code = np.unique(np.minimum(pa, pb) * n + np.maximum(pa, pb))
        iu, ju = code // n, code % n
    # each unordered pair (lower, higher) once, in increasing order of lower * n + higher
    unordered = np.zeros((len(iu), 3), dtype=np.float64)
    for m, order in enumerate((1, 2)):
        if pairs is None:
            mat, cnt = _occurrence_matrix(enc.ids, order, max(enc.vocab_size, 1), unique=counts == "unique")
            overlap = np.rint((mat @ mat.T)[iu, ju]).astype(np.int64)
        else:
            feats, cnt = _occurrence_features(enc.ids, order, max(enc.vocab_size, 1), unique=counts == "unique")
            overlap = _pair_overlaps(feats, iu, ju)
        unordered[:, m] = f1(overlap, cnt[iu], cnt[ju])
    if rouge_l == "plain":
        lcs = _lcs_pairs(enc, iu, ju) if pairs is None else _lcs_given(enc, iu, ju)
        unordered[:, 2] = f1(lcs, enc.lengths[iu], enc.lengths[ju])
    out = unordered[np.searchsorted(iu * n + ju, np.minimum(pa, pb) * n + np.maximum(pa, pb))]
    if rouge_l != "plain":
        # ordered (prediction, reference) pairs, in pure Python (see rouge.summary_lcs_hits)
        code, back = np.unique(pa * n + pb, return_inverse=True)
        oa, ob = code // n, code % n
        sents = {i: split_sentences(uniq[i]) for i in np.r_[oa, ob].tolist()}
        hits = np.array([summary_lcs_hits(sents[a], sents[b]) for a, b in zip(oa.tolist(), ob.tolist(), strict=True)],
                        dtype=np.int64)
        out[:, 2] = f1(hits, enc.lengths[oa], enc.lengths[ob])[back.reshape(-1)]
    if pairs is not None:
        return out
    scores = np.zeros((n, n, 3), dtype=np.float64)
    scores[pa, pb] = out
    return scores[np.ix_(inverse, inverse)]


def _baseline_group(token_lists: Sequence[Sequence[str]], pairs: tuple[np.ndarray, np.ndarray] | None = None
                    ) -> np.ndarray:
    """:func:`_rouge_group` with the ``rouge`` package's arithmetic (:mod:`dialsum_metrics.baseline`)."""
    index: dict[tuple[str, ...], int] = {}
    inverse = np.array([index.setdefault(tuple(t), len(index)) for t in token_lists], dtype=np.int64)
    uniq = list(index)
    n_all = len(token_lists)
    pa, pb = (np.repeat(np.arange(n_all), n_all), np.tile(np.arange(n_all), n_all)) if pairs is None else pairs
    memo: dict[tuple[int, int], tuple[float, float, float]] = {}
    out = np.zeros((len(pa), 3), dtype=np.float64)
    for k, (a, b) in enumerate(zip(inverse[pa].tolist(), inverse[pb].tolist(), strict=True)):
        if (a, b) not in memo:
            memo[a, b] = baseline.score_pair(uniq[a], uniq[b])
        out[k] = memo[a, b]
    return out.reshape(n_all, n_all, 3) if pairs is None else out


class RougeEngine:
    """Pairwise and reference ROUGE-1/2/L F1 on morpheme tokens, equal to ``rouge-score``'s numbers.

    :param tokenizer: ``auto``, ``kiwi`` or ``whitespace`` (see :mod:`dialsum_metrics.tokenize`);
        ``auto`` is decided once per compared pair: kiwi on both sides when either has Hangul.
    :param keep_tags: keep ``#Person1#``-style tags as single tokens.
    :param references: ``mean`` (the competition's aggregation) or ``max`` over the references of
        a prediction, in :meth:`score`.
    :param profile, counts, rouge_l: the conventions of :mod:`dialsum_metrics.conventions`; the
        default (``standard``, clipped counts, plain ROUGE-L) is the fast vectorised path.
    """

    def __init__(self, tokenizer: str = "auto", keep_tags: bool = True, *, references: str = "mean",
                 profile: str = "standard", counts: str = "", rouge_l: str = ""):
        self.tokenizer = choose("tokenizer", tokenizer, TOKENIZERS)
        self.keep_tags = keep_tags
        self.references = choose("references", references, REFERENCES)
        self.profile = profile
        self.counts, self.rouge_l = resolve(profile, counts, rouge_l)
        self._cache: dict[tuple[str, str], list[str]] = {}

    def tokens(self, texts: Sequence[str], tokenizer: str | None = None) -> list[list[str]]:
        """Tokens of each text with ``tokenizer`` (default: the engine's, ``auto`` deciding per text);
        each distinct text is tokenized once per engine and tokenizer."""
        tok = tokenizer or self.tokenizer
        keys = [(t, pair_tokenizer(tok, t)) for t in texts]
        todo = [k for k in dict.fromkeys(keys) if k not in self._cache]
        for kind in ("kiwi", "whitespace"):
            batch = [text for text, k in todo if k == kind]
            for text, toks in zip(batch, tokenize_many(batch, kind, self.keep_tags), strict=True):
                self._cache[text, kind] = toks
        return [self._cache[k] for k in keys]

    def _group(self, token_lists: Sequence[Sequence[str]], pairs: tuple[np.ndarray, np.ndarray] | None = None
               ) -> np.ndarray:
        if self.profile == "baseline":
            return _baseline_group(token_lists, pairs)
        return _rouge_group(token_lists, pairs, self.counts, self.rouge_l)

    def _pair_kinds(self, texts: Sequence[str], a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """The concrete tokenizer of each pair ``(texts[a[k]], texts[b[k]])``, as a boolean "kiwi" mask."""
        if self.tokenizer != "auto":
            return np.full(len(a), self.tokenizer == "kiwi")
        hangul = np.array([has_hangul(t) for t in texts], dtype=bool)
        return hangul[a] | hangul[b] if len(texts) else np.zeros(0, dtype=bool)

    def _score_pairs(self, texts: Sequence[str], a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``(P, 3)`` F1 of ``texts[a[k]]`` (prediction) against ``texts[b[k]]``, one tokenizer per pair."""
        out = np.zeros((len(a), 3), dtype=np.float64)
        kiwi_mask = self._pair_kinds(texts, a, b)
        for kind, mask in (("kiwi", kiwi_mask), ("whitespace", ~kiwi_mask)):
            if not mask.any():
                continue
            used, local = np.unique(np.r_[a[mask], b[mask]], return_inverse=True)
            toks = self.tokens([texts[i] for i in used.tolist()], kind)
            k = int(mask.sum())
            out[mask] = self._group(toks, (local[:k], local[k:]))
        return out

    # -- pairwise --------------------------------------------------------------------------------
    def pairwise(self, texts: Sequence[str]) -> np.ndarray:
        """``(n, n, 3)`` F1 of every ordered pair ``[i, j]`` = text i scored against text j (the
        diagonal scores a text against itself; symmetric except for summary-level ROUGE-L)."""
        n = len(texts)
        if n == 0:
            return np.zeros((0, 0, 3), dtype=np.float64)
        kinds = {pair_tokenizer(self.tokenizer, t) for t in texts}
        if len(kinds) == 1:  # one tokenizer for the whole group: the fast all-pairs path
            return self.pairwise_tokens(self.tokens(texts, kinds.pop()))
        ia, ib = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        return self._score_pairs(texts, ia.ravel(), ib.ravel()).reshape(n, n, 3)

    def pairwise_tokens(self, token_lists: Sequence[Sequence[str]]) -> np.ndarray:
        if not token_lists:
            return np.zeros((0, 0, 3), dtype=np.float64)
        return self._group(token_lists)

    def pairwise_many(self, groups: Sequence[Sequence[str]]) -> list[np.ndarray]:
        """:meth:`pairwise` of each group (e.g. the candidates of each dialogue)."""
        return [self.pairwise(g) for g in groups]

    # -- against references ------------------------------------------------------------------------
    def score_tokens(self, preds: Sequence[Sequence[str]], refs: Sequence[Sequence[str]]) -> np.ndarray:
        """``(n, 3)`` F1 of ``preds[i]`` against ``refs[i]`` (token lists)."""
        if len(preds) != len(refs):
            raise ValueError(f"{len(preds)} predictions for {len(refs)} references")
        both = [*preds, *refs]
        n = len(preds)
        if n == 0:
            return np.zeros((0, 3), dtype=np.float64)
        return self._group(both, (np.arange(n), np.arange(n, 2 * n)))

    def score_pairs(self, preds: Sequence[str], refs: Sequence[str]) -> np.ndarray:
        """``(n, 3)`` F1 of ``preds[i]`` against the single reference ``refs[i]``."""
        if len(preds) != len(refs):
            raise ValueError(f"{len(preds)} predictions for {len(refs)} references")
        n = len(preds)
        return self._score_pairs([*preds, *refs], np.arange(n), np.arange(n, 2 * n))

    def score(self, preds: Sequence[str], refs: Sequence[str | Sequence[str]]) -> np.ndarray:
        """``(n, 3)`` F1 of each prediction over its references: their mean per measure (the
        competition's aggregation), or the best one with ``references="max"``."""
        if len(preds) != len(refs):
            raise ValueError(f"{len(preds)} predictions for {len(refs)} reference sets")
        ref_sets = [[r] if isinstance(r, str) else list(r) for r in refs]
        for i, r in enumerate(ref_sets):
            if not r:
                raise ValueError(f"prediction {i} has no reference summary to score against")
        flat = self.score_pairs([p for p, rs in zip(preds, ref_sets, strict=True) for _ in rs],
                                [r for rs in ref_sets for r in rs])
        out = np.zeros((len(preds), 3), dtype=np.float64)
        pos = 0
        for i, rs in enumerate(ref_sets):
            block = flat[pos : pos + len(rs)]
            out[i] = block.max(axis=0) if self.references == "max" else block.mean(axis=0)
            pos += len(rs)
        return out

    def cross(self, a: Sequence[str], b: Sequence[str]) -> np.ndarray:
        """``(len(a), len(b), 3)`` F1 of every text of ``a`` against every text of ``b``."""
        ia, ib = np.meshgrid(np.arange(len(a)), np.arange(len(a), len(a) + len(b)), indexing="ij")
        return self._score_pairs([*a, *b], ia.ravel(), ib.ravel()).reshape(len(a), len(b), 3)


# -- minimum Bayes risk --------------------------------------------------------------------------------
def consensus(pairwise: np.ndarray, weights: Sequence[float] | np.ndarray | None = None) -> np.ndarray:
    """Weighted mean ROUGE of each candidate against every *other* candidate: how central a text is
    (a feature). To *choose* with weights use :func:`support` / :func:`mbr_select`, where a weight
    counts for the candidate's own text too.

    ``pairwise`` is ``(n, n, 3)`` F1 (their mean is used) or an ``(n, n)`` similarity.
    ``weights[j]`` is the vote of candidate ``j`` (its source's weight). A lone candidate gets 0.
    """
    n = pairwise.shape[0]
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (n,):
        raise ValueError(f"{len(w)} weights for {n} candidates")
    sim = pairwise.mean(axis=2) if pairwise.ndim == 3 else pairwise
    others = np.broadcast_to(w, (n, n)).copy()
    np.fill_diagonal(others, 0.0)
    total = others.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (sim * others).sum(axis=1) / total
    return np.where(total > 0, out, 0.0)


def support(sim: np.ndarray, weights: Sequence[float] | np.ndarray | None = None) -> np.ndarray:
    """Expected similarity of each candidate to one drawn with probability ``weights / sum``: the
    minimum-Bayes-risk utility with the weighted candidates as evidence.

    ``sim`` is ``(n, n, 3)`` F1 (their mean is used) or an ``(n, n)`` similarity; a candidate's
    similarity to itself counts as 1 (whatever an empty text scores). Raising ``weights[k]`` adds 1
    to candidate ``k``'s numerator and at most 1 to any other's over the same denominator, so ``k``
    can only gain rank: a higher weight never makes a source's text less likely to be chosen. (A
    vote for the *other* candidates only, as :func:`consensus` counts, would make a weight work
    backwards.) No weights, or all zero: every candidate votes equally.
    """
    s = np.array(sim.mean(axis=2) if sim.ndim == 3 else sim, dtype=np.float64)
    w = np.ones(s.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (s.shape[0],):
        raise ValueError(f"{len(w)} weights for {s.shape[0]} candidates")
    if w.sum() <= 0:
        w = np.ones_like(w)
    np.fill_diagonal(s, 1.0)
    return (s @ w) / w.sum()


def mbr_select(pairwise: np.ndarray, weights: Sequence[float] | np.ndarray | None = None) -> int:
    """Index of the candidate with the highest :func:`support` (the first one on ties)."""
    if pairwise.shape[0] == 0:
        raise ValueError("no candidate to select from")
    return int(np.argmax(support(pairwise, weights)))
