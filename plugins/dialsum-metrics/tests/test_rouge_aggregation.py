"""The competition's aggregation: mean over references, one tokenizer per compared pair."""

from __future__ import annotations

import logging

import pytest

from dialsum_metrics.bleu import BleuMetric
from dialsum_metrics.engine import RougeEngine
from dialsum_metrics.rouge import RougeMetric, score_tokens
from dialsum_metrics.tokenize import tokenize

PRED = "#Person1#은 회의에 늦었습니다."
REFS = ["#Person1#은 회의에 늦었습니다.", "#Person2#가 버스를 놓쳤다고 말합니다."]


def test_reproducer_averages_over_references() -> None:
    """Issue 13: a prediction equal to one of two references is not perfect (max gave 1.0)."""
    got = RougeMetric().compute([PRED], [REFS])
    other = RougeMetric().compute([PRED], [REFS[1:]])
    assert got["rouge_mean"] == pytest.approx((1.0 + other["rouge_mean"]) / 2, abs=1e-12)
    assert got["rouge_mean"] == pytest.approx(0.5702, abs=1e-4)
    assert RougeMetric(references="max").compute([PRED], [REFS])["rouge_mean"] == 1.0


def test_mean_is_per_measure_then_over_dialogues() -> None:
    metric = RougeMetric(tokenizer="whitespace")
    preds = ["a b c d", "x y"]
    refs = [["a b x y", "c d z"], ["x y"]]
    toks = [(p.split(), [r.split() for r in rs]) for p, rs in zip(preds, refs, strict=True)]
    per = [score_tokens(p, rs) for p, rs in toks]
    got = metric.compute(preds, refs)
    for m in ("rouge1", "rouge2", "rougeL"):
        assert got[m] == pytest.approx((per[0][m] + per[1][m]) / 2, abs=1e-12)
    assert got["rouge_mean"] == pytest.approx((got["rouge1"] + got["rouge2"] + got["rougeL"]) / 3, abs=1e-15)


def test_tokenizer_is_decided_once_per_pair() -> None:
    """Issue 13: ``auto`` split the Latin-only prediction on whitespace and its Korean reference with
    kiwi (0.267); both sides now go through kiwi, as ``tokenizer="kiwi"`` does (0.533)."""
    pred, ref = "#Person2# Tom.", "#Person2#은 Tom."
    got = RougeMetric().compute([pred], [[ref]])["rouge_mean"]
    assert got == pytest.approx(0.5333, abs=1e-4)
    assert got == pytest.approx(RougeMetric(tokenizer="kiwi").compute([pred], [[ref]])["rouge_mean"], abs=1e-15)
    from dialsum_metrics.tokenize import pair_tokenizer

    assert pair_tokenizer("auto", pred, ref) == "kiwi"
    assert pair_tokenizer("auto", pred) == "whitespace"
    # the per-text decision would have compared 'tom.' with 'Tom.'
    assert tokenize(pred) != tokenize(pred, "kiwi")


def test_each_reference_of_a_prediction_decides_for_itself() -> None:
    """With a Korean and a Latin reference, the Latin pair stays on whitespace, the other on kiwi."""
    pred, refs = "Tom left early.", ["Tom은 일찍 떠났다.", "Tom left early."]
    got = RougeEngine().score([pred], [refs])[0]
    kiwi = RougeEngine("kiwi").score([pred], [refs[0]])[0]
    assert got.tolist() == pytest.approx(((kiwi + 1.0) / 2).tolist(), abs=1e-12)


def test_references_option_is_checked() -> None:
    with pytest.raises(ValueError, match="references"):
        RougeMetric(references="best")
    with pytest.raises(ValueError, match="prediction 1 has no reference"):
        RougeEngine().score(["a", "b"], [["a"], []])


def test_bleu_splits_prediction_and_references_alike() -> None:
    """BLEU: one tokenizer per dialogue, so 'Tom' matches 'Tom' even when only the reference is Korean."""
    pred = "#Person2# Tom and Mary went to the big market today."
    ref = "#Person2#은 Tom and Mary went to the big market."
    got = BleuMetric().compute([pred], [[ref]])["bleu"]
    assert got == BleuMetric("kiwi").compute([pred], [[ref]])["bleu"]
    assert got > BleuMetric().compute([pred.lower()], [[ref]])["bleu"] > 0


@pytest.mark.realdata
def test_second_translation_is_not_a_perfect_prediction(dev_pairs: list[tuple[str, str, str]]) -> None:
    """On DialogSum-ko, the second translation scored against both translations gets 100 with max,
    and its real agreement with the first translation (halfway to 100) with the mean."""
    alt = [a for _, _, a in dev_pairs[:60]]
    refs = [[s, a] for _, s, a in dev_pairs[:60]]
    one = RougeMetric().compute(alt, [[s] for _, s, _ in dev_pairs[:60]])["rouge_mean"]
    assert RougeMetric(references="max").compute(alt, refs)["rouge_mean"] == pytest.approx(1.0, abs=1e-12)
    assert RougeMetric().compute(alt, refs)["rouge_mean"] == pytest.approx((1.0 + one) / 2, abs=1e-12)
    assert one < 0.6


def test_bleu_on_many_korean_sentences_prints_no_detokenize_warning(caplog) -> None:
    """BLEU is computed on morphemes joined by spaces, so every sentence ends in `` .``: sacrebleu's
    "you forgot to detokenize" warning (three lines per call, after every validation) is about
    input dialsum tokenized on purpose, and filled the logs of every run of 100 dialogues or more."""
    caplog.set_level(logging.WARNING)
    preds = [f"#Person1#은 회의에 {i}분 늦었습니다." for i in range(120)]
    refs = [[f"#Person1#이 회의에 {i}분 늦었다."] for i in range(120)]
    assert BleuMetric().compute(preds, refs)["bleu"] > 0
    assert "detokenize" not in caplog.text
