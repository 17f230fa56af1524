"""Named conventions: each is checked against the implementation it claims to reproduce."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rouge import Rouge
from rouge_score import rouge_scorer

from dialsum_core.recipe.model import structure_options
from dialsum_metrics import baseline
from dialsum_metrics.engine import RougeEngine
from dialsum_metrics.plugin import RougeOptions
from dialsum_metrics.rouge import RougeMetric, split_sentences

# sentence ends, tokens that contain a dot, repeats: the cases where the conventions differ
TOKENS = st.lists(st.sampled_from(["가", "나", "다", "#Person1#", "a", "bb", ".", "?", "3.5", "Tom."]),
                  min_size=0, max_size=60)


class _Given:
    def tokenize(self, text: str) -> list[str]:
        return text.split("\x1f") if text else []


LSUM = rouge_scorer.RougeScorer(["rougeLsum"], tokenizer=_Given())


def _lsum(pred: list[str], ref: list[str]) -> float:
    def text(tokens: list[str]) -> str:
        return "\n".join("\x1f".join(s) for s in split_sentences(tokens))

    return LSUM.score(text(ref), text(pred))["rougeLsum"].fmeasure


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(TOKENS, TOKENS), min_size=1, max_size=4))
def test_summary_level_rouge_l_equals_rouge_score_rougelsum(pairs: list[tuple[list[str], list[str]]]) -> None:
    got = RougeEngine(rouge_l="summary").score_tokens([p for p, _ in pairs], [r for _, r in pairs])
    for row, (p, r) in zip(got, pairs, strict=True):
        assert row[2] == pytest.approx(_lsum(p, r), abs=1e-9), (p, r)


def test_sentences_end_after_sentence_final_tokens() -> None:
    assert split_sentences(["a", ".", "b", "Tom.", "c", "?", "d"]) == [["a", "."], ["b", "Tom."], ["c", "?"], ["d"]]
    assert split_sentences([]) == []
    # two sentences in opposite order: one LCS covers one of them, the union covers both
    pred, ref = ["x", "y", ".", "z", "w", "."], ["z", "w", ".", "x", "y", "."]
    plain = RougeEngine().score_tokens([pred], [ref])[0]
    summ = RougeEngine(rouge_l="summary").score_tokens([pred], [ref])[0]
    assert plain[2] == pytest.approx(3 / 6) and summ[2] == 1.0


def test_unique_counts_count_each_ngram_once() -> None:
    clipped = RougeEngine(counts="clipped").score_tokens([["a", "a", "b"]], [["a", "b", "b"]])[0]
    unique = RougeEngine(counts="unique").score_tokens([["a", "a", "b"]], [["a", "b", "b"]])[0]
    assert clipped[0] == pytest.approx(2 / 3) and unique[0] == 1.0


def _package(pred: list[str], ref: list[str]) -> list[float] | None:
    try:
        got = Rouge().get_scores(" ".join(pred), " ".join(ref))[0]
    except ValueError:  # the package refuses an empty side
        return None
    return [got[m]["f"] for m in ("rouge-1", "rouge-2", "rouge-l")]


@settings(max_examples=150, deadline=None)
@given(TOKENS, TOKENS)
def test_baseline_profile_equals_the_rouge_package(pred: list[str], ref: list[str]) -> None:
    expect = _package(pred, ref)
    got = list(baseline.score_pair(pred, ref))
    if expect is None:
        assert got == [0.0, 0.0, 0.0]
    else:
        assert got == pytest.approx(expect, abs=1e-9), (pred, ref)
    engine = RougeEngine(profile="baseline").score_tokens([pred], [ref])[0]
    assert engine.tolist() == got


@pytest.mark.realdata
def test_baseline_profile_equals_the_rouge_package_on_real_summaries(dev_pairs: list[tuple[str, str, str]]) -> None:
    """Kiwi tokens of the real summaries, lead-1 and the second translation as predictions."""
    eng = RougeEngine("kiwi", profile="baseline")
    rows = dev_pairs[:80]
    preds = [d.split("\n")[0] for d, _, _ in rows] + [a for _, _, a in rows]
    refs = [s for _, s, _ in rows] * 2
    got = eng.score(preds, refs)
    for row, p, r in zip(got, eng.tokens(preds), eng.tokens(refs), strict=True):
        assert row.tolist() == pytest.approx(_package(p, r), abs=1e-9)


def test_kept_tags_are_one_token_each() -> None:
    kept = RougeEngine("kiwi").tokens(["#Person1#은 #Person2#에게 말합니다."])[0]
    split = RougeEngine("kiwi", keep_tags=False).tokens(["#Person1#은 #Person2#에게 말합니다."])[0]
    assert kept[:1] == ["#Person1#"] and "#Person1#" not in split and split != kept


def test_options_name_the_key_and_the_conflict() -> None:
    opts, problems = structure_options(RougeOptions, {"profile": "baseline", "references": "max"}, "metrics.rouge")
    assert problems == [] and opts.profile == "baseline"
    _, problems = structure_options(RougeOptions, {"profile": "baseline", "counts": "clipped"}, "metrics.rouge")
    assert [k for k, _ in problems] == ["metrics.rouge.counts"] and "baseline" in problems[0][1]
    _, problems = structure_options(RougeOptions, {"references": "best"}, "metrics.rouge")
    assert [k for k, _ in problems] == ["metrics.rouge.references"]
    _, problems = structure_options(RougeOptions, {"rouge_l": "sentence"}, "metrics.rouge")
    assert [k for k, _ in problems] == ["metrics.rouge.rouge_l"]
    with pytest.raises(ValueError, match="conflicts with profile 'baseline'"):
        RougeMetric(profile="baseline", rouge_l="plain")
    assert RougeMetric(profile="baseline", counts="unique").rouge_l == "summary"
