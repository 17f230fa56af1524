"""The metrics declare the scores they give, so that selecting by a score nobody gives is refused early."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from dialsum_core import hookimpl
from dialsum_core.manager import build_plugins
from dialsum_metrics import gives, percent_scores, score_tags


class CharCount:
    """A third party's metric that does not declare its scores."""

    @hookimpl
    def dialsum_register_metrics(self, register: Any) -> None:
        register("chars", lambda options, ctx: None, options=attrs.make_class("CharsOptions", {}),
                 description="Characters per prediction")


def test_the_bundled_metrics_declare_their_scores_and_unknown_ones_are_not_refused() -> None:
    plugins = build_plugins(extra=[("chars", CharCount())])
    assert gives(["rouge"], plugins, "rouge_mean") is True
    assert gives(["bleu", "rouge"], plugins, "rouge_mean") is True
    assert gives(["bleu"], plugins, "rouge_mean") is False
    assert gives([], plugins, "rouge_mean") is False
    assert gives(["bleu", "chars"], plugins, "rouge_mean") is None  # "chars" may give it: not refused
    assert gives(["ghost"], plugins, "rouge_mean") is None  # an unknown name is reported on its own


class MyRouge:
    """A third party's metric that declares the selection score too."""

    @hookimpl
    def dialsum_register_metrics(self, register: Any) -> None:
        register("my-rouge", lambda options, ctx: None, options=attrs.make_class("MyRougeOptions", {}),
                 description="Another ROUGE", tags=score_tags("rouge_mean"))


def test_the_rouge_registration_declares_exactly_what_compute_returns() -> None:
    from dialsum_metrics.rouge import PERCENT, SCORES, RougeMetric

    reg = build_plugins().get("metrics", "rouge")
    assert reg is not None
    report = RougeMetric("whitespace").compute(["a b c", "a b d"], [["a b c"], ["a c d"]])
    assert list(report) == list(SCORES)
    assert reg.tags == score_tags(*report, percent=PERCENT)


def test_the_degenerate_threshold_has_one_default() -> None:
    from dialsum_metrics.outputs import DEFAULT_THRESHOLD
    from dialsum_metrics.plugin import RougeOptions
    from dialsum_metrics.rouge import RougeMetric

    assert RougeOptions().degenerate_threshold == RougeMetric().degenerate_threshold == DEFAULT_THRESHOLD


def test_selection_problem_says_who_selects_and_which_installed_metrics_would_do() -> None:
    from dialsum_metrics import SELECTION_SCORE, selection_problem

    plugins = build_plugins(extra=[("chars", CharCount())])
    why = f"the tests select by {SELECTION_SCORE}"
    assert selection_problem(["bleu"], plugins, SELECTION_SCORE, why) == (
        "the tests select by rouge_mean, which none of ['bleu'] gives; add a metric that does (\"rouge\")")
    assert selection_problem(("bleu", "rouge"), plugins, SELECTION_SCORE, why) is None
    assert selection_problem(["bleu", "chars"], plugins, SELECTION_SCORE, why) is None  # may give it
    assert selection_problem([], plugins, SELECTION_SCORE, why) is None  # scores nothing: not this problem
    # the suggestion comes from what the installed metrics declare, not from a name written down
    more = build_plugins(extra=[("my-rouge", MyRouge())])
    assert selection_problem(["bleu"], more, SELECTION_SCORE, why).endswith('("my-rouge" or "rouge")')
    assert selection_problem(["bleu"], more, "nobody_gives_this", "x selects by it") == (
        "x selects by it, which none of ['bleu'] gives; no installed metric declares it")


class Exact:
    """A third party's metric whose score is a fraction people read x100."""

    @hookimpl
    def dialsum_register_metrics(self, register: Any) -> None:
        register("exact", lambda options, ctx: None, options=attrs.make_class("ExactOptions", {}),
                 description="Share of predictions equal to a reference",
                 tags=score_tags("exact_match", "exact_chars", percent=["exact_match"]))


def test_percent_scores_are_what_the_installed_metrics_declare_and_the_hook_answers_them() -> None:
    """The loggers show these x100: the ROUGE F1 of the bundled metric, and a third party's own percent
    score, asked through the hook this plugin declares (the loggers do not depend on this plugin)."""
    plugins = build_plugins(extra=[("exact", Exact())])
    declared = percent_scores(plugins)
    assert declared == ["bleu", "exact_match", "rouge1", "rouge2", "rougeL", "rouge_mean"]  # metrics by name
    answers = [key for answer in plugins.hook.dialsum_percent_scores(plugins=plugins) for key in answer]
    assert set(declared) <= set(answers)
    assert "exact_chars" not in answers and "mean_length" not in answers and "distinct_ratio" not in answers
    assert gives(["exact"], plugins, "exact_chars") is True  # a percent tag leaves the score tags as they were


def test_a_percent_score_must_be_a_declared_one() -> None:
    with pytest.raises(ValueError, match=r"percent scores \['ratio'\] are not among the declared scores"):
        score_tags("exact_match", percent=["ratio"])


def test_bleu_is_recorded_as_a_fraction_people_read_as_sacrebleu_reports_it() -> None:
    """sacrebleu reports BLEU on 0-100; the record keeps it 0-1 like every score, and the declaration
    that it is a percentage makes the tables show sacrebleu's own number (x100), as they show ROUGE."""
    import sacrebleu

    from dialsum_metrics.bleu import BleuMetric

    preds = ["the cat sat on the mat today", "a dog ran in the park"]
    refs = [["the cat sat on a mat today"], ["the dog ran in the big park"]]
    got = BleuMetric("whitespace").compute(preds, refs)["bleu"]
    reported = sacrebleu.corpus_bleu(preds, [[r[0] for r in refs]], tokenize="none", force=True).score
    assert 0 < got < 1 and 100 * got == pytest.approx(reported)
    assert "bleu" in percent_scores(build_plugins())
