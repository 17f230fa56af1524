"""A fast pairwise ROUGE-1/2/L engine, for minimum-Bayes-risk selection over many candidates.

MBR is quadratic: 100 candidates for 400 dialogues are two million ROUGE pairs, about an hour
with ``rouge-score``. The engine returns the same numbers (same formulas, same float operations)
but works on integer ids:

* every text is tokenized once (:func:`dialsum_metrics.tokenize.tokenize`) and identical texts
  of a group are scored once;
* n-gram overlap ``sum(min(count_a, count_b))`` is the size of the intersection of the
  *occurrence sets* ``{(ngram, k) : k < count}``, so all overlaps of a group are one binary matrix
  product;
* the LCS uses the bit-parallel algorithm of Hyyrö (2004), vectorised with numpy over every
  pair of a batch at once (multi-word bit vectors with explicit carries, so any length works).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dialsum_metrics.tokenize import tokenize_many

MEASURES: tuple[str, ...] = ("rouge1", "rouge2", "rougeL")
_WORD = 64
#: Pairs of one LCS batch: bounds the memory (a few MB) while keeping numpy calls large.
_BATCH_PAIRS = 200_000


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


def _occurrence_matrix(ids: list[np.ndarray], n: int, vocab_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Binary matrix (texts x occurrence features) of the n-grams of each text, and n-gram counts."""
    keys_per_text = []
    for x in ids:
        if len(x) < n:
            keys_per_text.append(np.zeros(0, dtype=np.int64))
            continue
        key = x[: len(x) - n + 1].copy()
        for k in range(1, n):
            key = key * vocab_size + x[k : len(x) - n + 1 + k]
        keys_per_text.append(key)
    counts = np.array([len(k) for k in keys_per_text], dtype=np.int64)
    if counts.sum() == 0:
        return np.zeros((len(ids), 0), dtype=np.float64), counts
    max_occ = int(counts.max()) + 1
    feats = []
    for key in keys_per_text:
        key = np.sort(key)
        # k-th occurrence of each n-gram: its position minus the start of its run of equal keys
        starts = np.r_[0, np.flatnonzero(key[1:] != key[:-1]) + 1] if len(key) else key
        run_start = np.repeat(starts, np.diff(np.r_[starts, len(key)]))
        feats.append(key * max_occ + (np.arange(len(key)) - run_start))
    uniq, inverse = np.unique(np.concatenate(feats), return_inverse=True)
    mat = np.zeros((len(ids), len(uniq)), dtype=np.float64)
    rows = np.repeat(np.arange(len(ids)), counts)
    mat[rows, inverse] = 1.0
    return mat, counts


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


def _rouge_group(token_lists: Sequence[Sequence[str]], pairs: tuple[np.ndarray, np.ndarray] | None = None
                 ) -> np.ndarray:
    """ROUGE-1/2/L F1 between texts of one group: all pairs ``(n, n, 3)``, or the given pairs ``(P, 3)``."""
    # identical token lists are scored once
    index: dict[tuple[str, ...], int] = {}
    inverse = np.array([index.setdefault(tuple(t), len(index)) for t in token_lists], dtype=np.int64)
    uniq = list(index)
    enc = _Encoded(uniq)
    n = len(uniq)
    overlaps = []
    counts = []
    for order in (1, 2):
        mat, cnt = _occurrence_matrix(enc.ids, order, max(enc.vocab_size, 1))
        overlaps.append(mat @ mat.T)
        counts.append(cnt)
    if pairs is None:
        iu, ju = np.triu_indices(n)
    else:
        pa, pb = inverse[pairs[0]], inverse[pairs[1]]
        lo, hi = np.minimum(pa, pb), np.maximum(pa, pb)
        code = np.unique(lo * n + hi)
        iu, ju = code // n, code % n
    lcs = _lcs_pairs(enc, iu, ju)
    scores = np.zeros((n, n, 3), dtype=np.float64)
    for m, (ov, cnt) in enumerate(zip(overlaps, counts, strict=True)):
        val = f1(np.rint(ov[iu, ju]).astype(np.int64), cnt[iu], cnt[ju])
        scores[iu, ju, m] = val
        scores[ju, iu, m] = val
    val = f1(lcs, enc.lengths[iu], enc.lengths[ju])
    scores[iu, ju, 2] = val
    scores[ju, iu, 2] = val
    if pairs is None:
        return scores[np.ix_(inverse, inverse)]
    return scores[inverse[pairs[0]], inverse[pairs[1]]]


class RougeEngine:
    """Pairwise and reference ROUGE-1/2/L F1 on morpheme tokens, equal to ``rouge-score``'s numbers.

    :param tokenizer: ``auto``, ``kiwi`` or ``whitespace`` (see :mod:`dialsum_metrics.tokenize`).
    :param keep_tags: keep ``#Person1#``-style tags as single tokens.
    """

    def __init__(self, tokenizer: str = "auto", keep_tags: bool = True):
        self.tokenizer = tokenizer
        self.keep_tags = keep_tags
        self._cache: dict[str, list[str]] = {}

    def tokens(self, texts: Sequence[str]) -> list[list[str]]:
        """Tokens of each text; each distinct text is tokenized once per engine."""
        todo = [t for t in dict.fromkeys(texts) if t not in self._cache]
        for text, toks in zip(todo, tokenize_many(todo, self.tokenizer, self.keep_tags), strict=True):
            self._cache[text] = toks
        return [self._cache[t] for t in texts]

    # -- pairwise --------------------------------------------------------------------------------
    def pairwise(self, texts: Sequence[str]) -> np.ndarray:
        """``(n, n, 3)`` F1 of every ordered pair (symmetric; the diagonal scores a text against itself)."""
        return self.pairwise_tokens(self.tokens(texts))

    def pairwise_tokens(self, token_lists: Sequence[Sequence[str]]) -> np.ndarray:
        if not token_lists:
            return np.zeros((0, 0, 3), dtype=np.float64)
        return _rouge_group(token_lists)

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
        return _rouge_group(both, (np.arange(n), np.arange(n, 2 * n)))

    def score(self, preds: Sequence[str], refs: Sequence[str | Sequence[str]]) -> np.ndarray:
        """``(n, 3)`` F1 of each prediction; with several references, the best one per measure
        (as ``rouge-score``'s ``score_multi`` and :class:`dialsum_metrics.rouge.RougeMetric`)."""
        if len(preds) != len(refs):
            raise ValueError(f"{len(preds)} predictions for {len(refs)} reference sets")
        ref_sets = [[r] if isinstance(r, str) else list(r) for r in refs]
        if any(not r for r in ref_sets):
            raise ValueError("no reference summary to score against")
        flat_pred = [p for p, rs in zip(preds, ref_sets, strict=True) for _ in rs]
        flat_ref = [r for rs in ref_sets for r in rs]
        flat = self.score_tokens(self.tokens(flat_pred), self.tokens(flat_ref))
        out = np.zeros((len(preds), 3), dtype=np.float64)
        pos = 0
        for i, rs in enumerate(ref_sets):
            out[i] = flat[pos : pos + len(rs)].max(axis=0)
            pos += len(rs)
        return out

    def cross(self, a: Sequence[str], b: Sequence[str]) -> np.ndarray:
        """``(len(a), len(b), 3)`` F1 of every text of ``a`` against every text of ``b``."""
        both = self.tokens([*a, *b])
        ia, ib = np.meshgrid(np.arange(len(a)), np.arange(len(a), len(a) + len(b)), indexing="ij")
        return _rouge_group(both, (ia.ravel(), ib.ravel())).reshape(len(a), len(b), 3)


# -- minimum Bayes risk --------------------------------------------------------------------------------
def consensus(pairwise: np.ndarray, weights: Sequence[float] | np.ndarray | None = None) -> np.ndarray:
    """Weighted mean ROUGE of each candidate against every *other* candidate.

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


def mbr_select(pairwise: np.ndarray, weights: Sequence[float] | np.ndarray | None = None) -> int:
    """Index of the candidate with the highest :func:`consensus` (the first one on ties)."""
    if pairwise.shape[0] == 0:
        raise ValueError("no candidate to select from")
    return int(np.argmax(consensus(pairwise, weights)))
