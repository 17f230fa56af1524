"""ROUGE as the ``rouge`` package (PyPI ``rouge`` 1.0.1) computes it, applied to dialsum's tokens.

The competition's baseline code scores with ``Rouge().get_scores(predictions, labels, avg=True)``
from that package. Numbers from that code are only comparable to numbers computed the same way, so
the ``baseline`` profile reproduces the package exactly (tested equal to it to 1e-9), quirks
included, on the text made of dialsum's tokens joined by spaces:

* the text is cut into sentences at every ``.`` character and each sentence is re-split on
  whitespace: a ``.`` token never counts, and a token containing ``.`` (``3.5``) is cut in two;
* n-grams are *sets* (``exclusive=True``): a repeated n-gram counts once on either side;
* F = 2PR / (P + R + 1e-8), so a perfect match scores 0.999999995, not 1;
* ROUGE-L is "summary level" with word sets: the distinct words of the LCS of every reference
  sentence with every predicted sentence, over the distinct words of each side.

Where the package raises (an empty prediction or reference), this module scores 0.
Pure Python: the profile exists to reproduce a number, not for minimum-Bayes-risk speed.
"""

from __future__ import annotations

from collections.abc import Sequence

_EPS = 1e-8


def sentences(tokens: Sequence[str]) -> list[str]:
    """The package's sentences of the text ``" ".join(tokens)`` (its ``_get_scores`` preprocessing)."""
    return [" ".join(s.split()) for s in " ".join(tokens).split(".") if len(s) > 0]


def words(sents: Sequence[str]) -> list[str]:
    """The package's ``_split_into_words``: split on single spaces (an empty sentence gives ``""``)."""
    return [w for s in sents for w in s.split(" ")]


def _f(n_pred: int, n_ref: int, overlap: int) -> float:
    precision = overlap / n_pred if n_pred else 0.0
    recall = overlap / n_ref if n_ref else 0.0
    return 2.0 * ((precision * recall) / (precision + recall + _EPS))


def _ngram_set(ws: Sequence[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(ws[i : i + n]) for i in range(len(ws) - n + 1)}


def rouge_n(pred_sents: Sequence[str], ref_sents: Sequence[str], n: int) -> float:
    a, b = _ngram_set(words(pred_sents), n), _ngram_set(words(ref_sents), n)
    return _f(len(a), len(b), len(a & b))


def _lcs_words(x: Sequence[str], y: Sequence[str]) -> list[str]:
    """The words of the package's LCS of ``x`` (reference) and ``y`` (prediction), with its tie-breaking."""
    n, m = len(x), len(y)
    table = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        row, prev, xi = table[i], table[i - 1], x[i - 1]
        for j in range(1, m + 1):
            row[j] = prev[j - 1] + 1 if xi == y[j - 1] else max(prev[j], row[j - 1])
    out: list[str] = []
    i, j = n, m
    while i > 0 and j > 0:
        if x[i - 1] == y[j - 1]:
            out.append(x[i - 1])
            i, j = i - 1, j - 1
        elif table[i - 1][j] > table[i][j - 1]:
            i -= 1
        else:
            j -= 1
    return out


def rouge_l(pred_sents: Sequence[str], ref_sents: Sequence[str]) -> float:
    m = len(set(words(ref_sents)))
    n = len(set(words(pred_sents)))
    union: set[str] = set()
    for ref_s in ref_sents:
        ref_words = ref_s.split(" ")
        for pred_s in pred_sents:
            union.update(_lcs_words(ref_words, pred_s.split(" ")))
    llcs = len(union)
    r, p = llcs / m, llcs / n
    return 2.0 * ((p * r) / (p + r + _EPS))


def score_pair(pred: Sequence[str], ref: Sequence[str]) -> tuple[float, float, float]:
    """ROUGE-1/2/L F of one prediction against one reference (token lists), as the package gives them."""
    ps, rs = sentences(pred), sentences(ref)
    if not ps or not rs:
        return (0.0, 0.0, 0.0)
    return (rouge_n(ps, rs, 1), rouge_n(ps, rs, 2), rouge_l(ps, rs))
