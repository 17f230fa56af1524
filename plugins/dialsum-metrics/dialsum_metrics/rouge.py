"""ROUGE-N and ROUGE-L F1 on token lists, with the definitions of ``rouge-score``.

Multi-reference: each prediction scores its best reference per measure (as ``rouge-score``'s
``score_multi`` does), and the corpus score is the mean over dialogues.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence


def _f1(overlap: float, n_pred: int, n_ref: int) -> float:
    if overlap == 0 or n_pred == 0 or n_ref == 0:
        return 0.0
    precision, recall = overlap / n_pred, overlap / n_ref
    return 2 * precision * recall / (precision + recall)


def ngrams(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def rouge_n(pred: Sequence[str], ref: Sequence[str], n: int) -> float:
    p, r = ngrams(pred, n), ngrams(ref, n)
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


def score_tokens(pred: Sequence[str], refs: Sequence[Sequence[str]]) -> dict[str, float]:
    """Best-reference ROUGE-1/2/L F1 of one prediction."""
    if not refs:
        raise ValueError("no reference summary to score against")
    return {
        "rouge1": max(rouge_n(pred, r, 1) for r in refs),
        "rouge2": max(rouge_n(pred, r, 2) for r in refs),
        "rougeL": max(rouge_l(pred, r) for r in refs),
    }


class RougeMetric:
    def __init__(self, tokenizer: str = "auto", keep_tags: bool = True):
        self.tokenizer = tokenizer
        self.keep_tags = keep_tags

    def per_example(self, predictions: Sequence[str], references: Sequence[Sequence[str]]) -> list[dict[str, float]]:
        """Best-reference F1 of each prediction, computed by the vectorised :class:`RougeEngine`
        (same numbers as :func:`score_tokens`, which stays as the readable definition)."""
        if len(predictions) != len(references):
            raise ValueError(f"{len(predictions)} predictions for {len(references)} reference sets")
        from dialsum_metrics.engine import MEASURES, RougeEngine

        scores = RougeEngine(self.tokenizer, self.keep_tags).score(list(predictions), [list(r) for r in references])
        return [dict(zip(MEASURES, map(float, row), strict=True)) for row in scores]

    def compute(self, predictions: Sequence[str], references: Sequence[Sequence[str]]) -> dict[str, float]:
        rows = self.per_example(predictions, references)
        if not rows:
            return {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0, "rouge_mean": 0.0}
        out = {k: sum(r[k] for r in rows) / len(rows) for k in ("rouge1", "rouge2", "rougeL")}
        out["rouge_mean"] = (out["rouge1"] + out["rouge2"] + out["rougeL"]) / 3
        return out
