"""ROUGE on Korean morphemes agrees with `rouge-score` fed the same tokens."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rouge_score import rouge_scorer

from dialsum_metrics.rouge import RougeMetric, rouge_l, rouge_n
from dialsum_metrics.tokenize import tokenize


class GivenTokens:
    """A rouge-score tokenizer that splits on spaces only, so it sees exactly our tokens."""

    def tokenize(self, text: str) -> list[str]:
        return text.split(" ") if text else []


def reference_scores(pred: list[str], ref: list[str]) -> dict[str, float]:
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], tokenizer=GivenTokens())
    out = scorer.score(" ".join(ref), " ".join(pred))
    return {k: v.fmeasure for k, v in out.items()}


tokens = st.lists(st.sampled_from(["가", "나", "다", "#Person1#", "은", "를", "a", "b"]), max_size=25)


@settings(max_examples=300, deadline=None)
@given(tokens, tokens)
def test_agrees_with_rouge_score_on_same_tokens(pred: list[str], ref: list[str]) -> None:
    expected = reference_scores(pred, ref)
    assert rouge_n(pred, ref, 1) == pytest.approx(expected["rouge1"], abs=1e-12)
    assert rouge_n(pred, ref, 2) == pytest.approx(expected["rouge2"], abs=1e-12)
    assert rouge_l(pred, ref) == pytest.approx(expected["rougeL"], abs=1e-12)


def test_korean_is_scored_on_morphemes() -> None:
    toks = tokenize("#Person1#이 사과를 샀다.")
    assert toks[0] == "#Person1#" and "사과" in toks and "를" in toks
    metric = RougeMetric()
    same = metric.compute(["#Person1#이 사과를 샀다."], [["#Person1#이 사과를 샀다."]])
    assert same["rouge1"] == pytest.approx(1.0)
    partial = metric.compute(["#Person1#이 배를 샀다."], [["#Person1#이 사과를 샀다."]])
    assert 0.3 < partial["rouge1"] < 1.0
    # whitespace tokenization of Hangul words would share nothing here; morphemes share the stem
    stem = metric.compute(["사과를"], [["사과가"]])
    assert stem["rouge1"] == pytest.approx(0.5)


def test_several_references_are_averaged_and_max_is_an_option() -> None:
    """The competition averages each F1 over the references; ``references="max"`` keeps the best."""
    one = RougeMetric().compute(["고양이가 잔다"], [["개가 뛴다"]])["rouge1"]
    two = RougeMetric().compute(["고양이가 잔다"], [["개가 뛴다", "고양이가 잔다"]])["rouge1"]
    assert one < two == pytest.approx((one + 1.0) / 2)
    best = RougeMetric(references="max").compute(["고양이가 잔다"], [["개가 뛴다", "고양이가 잔다"]])["rouge1"]
    assert best == pytest.approx(1.0)


def test_bleu_is_computed_on_morphemes() -> None:
    from dialsum_metrics.bleu import BleuMetric

    b = BleuMetric()
    assert b.compute(["#Person1#이 사과를 세 개 샀다 ."], [["#Person1#이 사과를 세 개 샀다 ."]])[
        "bleu"
    ] == pytest.approx(1.0)
    assert b.compute(["전혀 다른 문장"], [["#Person1#이 사과를 세 개 샀다 ."]])["bleu"] < 0.1
