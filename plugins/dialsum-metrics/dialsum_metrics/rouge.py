"""ROUGE-1/2/L F1 on Korean morphemes, aggregated as the competition does.

Per dialogue, each F1 is averaged over that dialogue's references, then over dialogues, and
``rouge_mean`` is the mean of the three. Taking the best reference instead (``references =
"max"``) inflates real systems by 1.3 to 2.0 points with two references on DialogSum-ko, and scores
the second translation 100 against the pair; it stays available, under its own name, to compare
with ``rouge-score``'s ``score_multi``.

The functions below are the readable definitions (``rouge-score``'s formulas, plus the named
conventions of :mod:`dialsum_metrics.conventions`); :class:`RougeMetric` computes the same numbers
with the vectorised :class:`~dialsum_metrics.engine.RougeEngine`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from dialsum_metrics.conventions import REFERENCES, choose, resolve
from dialsum_metrics.outputs import DEFAULT_THRESHOLD, output_stats, warn_if_degenerate

if TYPE_CHECKING:  # the engine imports numpy: only when a metric is computed
    from dialsum_metrics.engine import RougeEngine

#: The three F1 measures, in the order of every triple and array here and in the engine (the last
#: axis of what :class:`~dialsum_metrics.engine.RougeEngine` returns): published as
#: ``dialsum_metrics.MEASURES`` so that code indexing those arrays never spells the order again.
MEASURES: tuple[str, ...] = ("rouge1", "rouge2", "rougeL")
#: The mean of the three measures: the competition's single number.
MEAN = "rouge_mean"
#: The statistics of the predictions themselves (:class:`~dialsum_metrics.outputs.OutputStats` fields)
#: that every report carries, so that a collapsed model shows next to its score.
STATS: tuple[str, ...] = ("distinct_ratio", "mean_length")
#: Every key :meth:`RougeMetric.compute` returns: what the ``rouge`` registration declares
#: (``score:KEY`` tags) is this tuple, so the declaration cannot drift from the report.
SCORES: tuple[str, ...] = (*MEASURES, MEAN, *STATS)
#: The F1 scores, fractions people read x100 as the leaderboard shows them (declared ``percent:KEY``);
#: the statistics keep their own scale (a share of distinct predictions, a length in characters).
PERCENT: tuple[str, ...] = (*MEASURES, MEAN)
#: A token whose last character is one of these ends a sentence (summary-level ROUGE-L).
SENTENCE_ENDS = frozenset(".?!")


def _f1(overlap: float, n_pred: int, n_ref: int) -> float:
    if overlap == 0 or n_pred == 0 or n_ref == 0:
        return 0.0
    precision, recall = overlap / n_pred, overlap / n_ref
    return 2 * precision * recall / (precision + recall)


def ngrams(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def rouge_n(pred: Sequence[str], ref: Sequence[str], n: int, counts: str = "clipped") -> float:
    """ROUGE-N F1; ``counts="unique"`` counts each distinct n-gram once on each side."""
    p, r = ngrams(pred, n), ngrams(ref, n)
    if counts == "unique":
        p, r = Counter(set(p)), Counter(set(r))
    overlap = sum((p & r).values())
    return _f1(overlap, sum(p.values()), sum(r.values()))


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    if not a or not b:
        return 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_l(pred: Sequence[str], ref: Sequence[str]) -> float:
    return _f1(lcs_length(pred, ref), len(pred), len(ref))


def split_sentences(tokens: Sequence[str]) -> list[list[str]]:
    """Sentences of a token list, cut after every token that ends with ``.``, ``?`` or ``!``.

    Cutting the tokens (not the text) keeps the tokens of every convention identical, so that
    comparing conventions measures the convention alone.
    """
    out: list[list[str]] = []
    cur: list[str] = []
    for t in tokens:
        cur.append(t)
        if t and t[-1] in SENTENCE_ENDS:
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return out


def lcs_positions(ref: Sequence[str], pred: Sequence[str]) -> list[int]:
    """Positions in ``ref`` of one LCS with ``pred``, read back as ``rouge-score`` does (its ties)."""
    table = [[0] * (len(pred) + 1) for _ in range(len(ref) + 1)]
    for i in range(1, len(ref) + 1):
        row, prev, x = table[i], table[i - 1], ref[i - 1]
        for j in range(1, len(pred) + 1):
            row[j] = prev[j - 1] + 1 if x == pred[j - 1] else max(prev[j], row[j - 1])
    out: list[int] = []
    i, j = len(ref), len(pred)
    while i > 0 and j > 0:
        if ref[i - 1] == pred[j - 1]:
            out.append(i - 1)
            i, j = i - 1, j - 1
        elif table[i][j - 1] > table[i - 1][j]:
            j -= 1
        else:
            i -= 1
    return out[::-1]


def summary_lcs_hits(pred_sents: Sequence[Sequence[str]], ref_sents: Sequence[Sequence[str]]) -> int:
    """Summary-level LCS hits (``rouge-score``'s ``rougeLsum``): for each reference sentence, the
    union of its LCS with every predicted sentence, each token counted at most as often as it
    occurs on both sides (ROUGE-1.5.5's guard against double counting)."""
    left_pred: Counter[str] = Counter(t for s in pred_sents for t in s)
    left_ref: Counter[str] = Counter(t for s in ref_sents for t in s)
    hits = 0
    for r in ref_sents:
        union = sorted(set().union(*(lcs_positions(r, p) for p in pred_sents)))
        for t in (r[i] for i in union):
            if left_pred[t] > 0 and left_ref[t] > 0:
                hits += 1
                left_pred[t] -= 1
                left_ref[t] -= 1
    return hits


def rouge_l_summary(pred: Sequence[str], ref: Sequence[str]) -> float:
    """Summary-level ROUGE-L F1 over the sentences of :func:`split_sentences`."""
    return _f1(summary_lcs_hits(split_sentences(pred), split_sentences(ref)), len(pred), len(ref))


def pair_scores(pred: Sequence[str], ref: Sequence[str], counts: str = "clipped", rouge_l_mode: str = "plain"
                ) -> tuple[float, float, float]:
    """ROUGE-1/2/L F1 of one prediction against one reference, under the given conventions."""
    rl = rouge_l(pred, ref) if rouge_l_mode == "plain" else rouge_l_summary(pred, ref)
    return (rouge_n(pred, ref, 1, counts), rouge_n(pred, ref, 2, counts), rl)


def score_tokens(pred: Sequence[str], refs: Sequence[Sequence[str]], references: str = "mean",
                 counts: str = "clipped", rouge_l_mode: str = "plain") -> dict[str, float]:
    """ROUGE-1/2/L F1 of one prediction over its references (mean over them, or the best one)."""
    if not refs:
        raise ValueError("no reference summary to score against")
    choose("references", references, REFERENCES)
    rows = [pair_scores(pred, r, counts, rouge_l_mode) for r in refs]
    agg = max if references == "max" else (lambda xs: sum(xs) / len(xs))
    return {m: agg([row[k] for row in rows]) for k, m in enumerate(MEASURES)}


class RougeMetric:
    """The ``rouge`` metric: ROUGE-1/2/L F1, ``rouge_mean``, and the degenerate-output statistics.

    :param tokenizer: ``auto``, ``kiwi`` or ``whitespace``; ``auto`` decides once per
        prediction/reference pair (kiwi on both sides when either has Hangul).
    :param keep_tags: keep ``#Person1#``-style tags as single tokens (else the analyzer splits them).
    :param references: ``mean`` (the competition's aggregation) or ``max`` over references.
    :param profile: ``standard`` (``rouge-score``'s formulas) or ``baseline`` (the ``rouge`` package).
    :param counts: ``clipped`` or ``unique`` n-gram counts; empty: the profile's.
    :param rouge_l: ``plain`` or ``summary``-level ROUGE-L; empty: the profile's.
    :param degenerate_threshold: warn when the share of distinct predictions is below it.
    """

    def __init__(self, tokenizer: str = "auto", keep_tags: bool = True, *, references: str = "mean",
                 profile: str = "standard", counts: str = "", rouge_l: str = "",
                 degenerate_threshold: float = DEFAULT_THRESHOLD):
        self.tokenizer = tokenizer
        self.keep_tags = keep_tags
        self.references = choose("references", references, REFERENCES)
        self.profile = profile
        self.counts, self.rouge_l = resolve(profile, counts, rouge_l)
        self.degenerate_threshold = degenerate_threshold

    def engine(self) -> RougeEngine:
        """A fresh engine with this metric's conventions."""
        from dialsum_metrics.engine import RougeEngine

        return RougeEngine(self.tokenizer, self.keep_tags, references=self.references, profile=self.profile,
                           counts=self.counts, rouge_l=self.rouge_l)

    def per_example(self, predictions: Sequence[str], references: Sequence[Sequence[str]]) -> list[dict[str, float]]:
        """F1 of each prediction over its references (same numbers as :func:`score_tokens`)."""
        if len(predictions) != len(references):
            raise ValueError(f"{len(predictions)} predictions for {len(references)} reference sets")
        scores = self.engine().score(list(predictions), [list(r) for r in references])
        return [dict(zip(MEASURES, map(float, row), strict=True)) for row in scores]

    def compute(self, predictions: Sequence[str], references: Sequence[Sequence[str]]) -> dict[str, float]:
        """Corpus ROUGE (0-1 scale), plus ``distinct_ratio`` and ``mean_length`` of the predictions
        (see :func:`dialsum_metrics.outputs.output_stats`), so a collapsed model is visible next
        to its score; a warning is logged when the predictions look degenerate."""
        rows = self.per_example(predictions, references)
        stats = output_stats(predictions)
        warn_if_degenerate(predictions, self.degenerate_threshold, stats)
        if not rows:
            out = {m: 0.0 for m in MEASURES}
        else:
            out = {m: sum(r[m] for r in rows) / len(rows) for m in MEASURES}
        out[MEAN] = sum(out[m] for m in MEASURES) / len(MEASURES)
        out.update({key: getattr(stats, key) for key in STATS})
        return out
