"""Degenerate-output statistics: a collapsed model is visible next to its ROUGE."""

from __future__ import annotations

import logging

import pytest

from dialsum_metrics import is_degenerate, output_stats
from dialsum_metrics.rouge import RougeMetric

CONSTANT = "#Person1#은 #Person2#에게 그것에 대해 이야기합니다."


def test_stats_of_predictions() -> None:
    s = output_stats(["a b", "a b ", "ccc", "a b"])
    assert (s.n, s.distinct, s.distinct_ratio, s.top_share, s.most_common) == (4, 2, 0.5, 0.75, "a b")
    assert s.mean_length == pytest.approx((3 + 3 + 3 + 3) / 4)
    empty = output_stats([])
    assert (empty.n, empty.distinct_ratio, empty.mean_length) == (0, 1.0, 0.0)


def test_is_degenerate() -> None:
    assert is_degenerate([CONSTANT] * 5)
    assert not is_degenerate(["a", "b", "c", "a"])  # 3 of 4 distinct
    assert is_degenerate(["a", "a", "a", "b"], threshold=0.6) and not is_degenerate(["a", "a", "a", "b"], 0.5)
    assert not is_degenerate([CONSTANT]) and not is_degenerate([])
    with pytest.raises(ValueError, match="threshold"):
        is_degenerate(["a"], 2.0)


def test_every_rouge_report_carries_the_stats_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    refs = [["#Person1#이 사과를 샀다."], ["#Person2#가 늦었다."], ["#Person1#이 버스를 탔다."]]
    with caplog.at_level(logging.WARNING, logger="dialsum"):
        varied = RougeMetric().compute(["#Person1#이 사과를 샀다.", "#Person2#가 왔다.", "버스"], refs)
    assert varied["distinct_ratio"] == 1.0 and varied["mean_length"] == pytest.approx((18 + 14 + 2) / 3)
    assert not caplog.records
    with caplog.at_level(logging.WARNING, logger="dialsum"):
        collapsed = RougeMetric().compute([CONSTANT] * 3, refs)
    assert collapsed["distinct_ratio"] == pytest.approx(1 / 3) and collapsed["rouge_mean"] > 0
    assert "degenerate predictions: 1 distinct of 3" in caplog.text and CONSTANT in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="dialsum"):
        RougeMetric(degenerate_threshold=0.0).compute([CONSTANT] * 3, refs)
    assert not caplog.records


@pytest.mark.realdata
def test_constant_beats_lead_on_rouge_but_not_on_distinctness(dev_pairs: list[tuple[str, str, str]]) -> None:
    """Issue 13: on the Korean dev data a constant summary outscores lead-3 (mean over both
    translations); only the distinct share tells it apart."""
    rows = dev_pairs[:120]
    refs = [[s, a] for _, s, a in rows]
    lead3 = [" ".join(d.split("\n")[:3]) for d, _, _ in rows]
    metric = RougeMetric(degenerate_threshold=0.0)
    lead, const = metric.compute(lead3, refs), metric.compute([CONSTANT] * len(rows), refs)
    assert const["rouge_mean"] > lead["rouge_mean"]
    assert is_degenerate([CONSTANT] * len(rows)) and not is_degenerate(lead3)
