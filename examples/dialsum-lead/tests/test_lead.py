"""Tests of the lead-N example plugin, written with the fixtures of dialsum's pytest plugin
(``dialsum_plugins``, ``register_plugin``, ``sample_csv``, ``tiny_dialogues``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dialsum_core import hookimpl
from dialsum_core.context import RunContext
from dialsum_core.errors import DialsumError
from dialsum_core.events import Events
from dialsum_core.experiment import Experiment
from dialsum_core.recipe import Recipe
from dialsum_core.runner import run_recipe
from dialsum_lead.model import lead
from dialsum_tools.recipe_doc import undocumented

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "sample"

# Every summary is exactly the first two turns, so tuning must choose N = 2.
TWO_TURNS = [
    (f"d_{i}", f"#Person1#: 질문 {i}번이에요.\n#Person2#: 대답 {i}번이에요.\n#Person1#: 고마워요 {i}.",
     f"#Person1#: 질문 {i}번이에요. #Person2#: 대답 {i}번이에요.", "테스트")
    for i in range(8)
]


class ExactMatch:
    """A metric plugin for these tests only: the share of predictions equal to a reference."""

    class Metric:
        def compute(self, predictions: Any, references: Any) -> dict[str, float]:
            hits = sum(p in refs for p, refs in zip(predictions, references, strict=True))
            return {"exact": hits / max(1, len(predictions))}

    @hookimpl
    def dialsum_register_metrics(self, register: Any) -> None:
        register("exact", lambda options, ctx: ExactMatch.Metric(), description="exact match")


def make_context(plugins: Any, tmp_path: Path, recipe: dict[str, Any]) -> RunContext:
    return RunContext(recipe=Recipe.from_dict(recipe), plugins=plugins,
                      experiment=Experiment.create(tmp_path, "test"), events=Events(plugins.pm))


def test_lead_copies_the_first_turns() -> None:
    dialogue = "#Person1#: 안녕.\n\n#Person2#: 응, 안녕.\n#Person1#: 잘 가."
    assert lead(dialogue, 2, strip_speaker=False) == "#Person1#: 안녕. #Person2#: 응, 안녕."
    assert lead(dialogue, 1, strip_speaker=True) == "안녕."
    assert lead(dialogue, 9, strip_speaker=True) == "안녕. 응, 안녕. 잘 가."


def test_discovered_and_documented(dialsum_plugins: Any) -> None:
    reg = dialsum_plugins.get("model_loaders", "lead")
    assert reg is not None and reg.distribution == "dialsum-lead"
    assert undocumented(dialsum_plugins, core=False, distributions=["dialsum-lead"]) == []


def test_fit_tunes_the_number_of_turns(register_plugin: Any, sample_csv: Any, tmp_path: Path) -> None:
    plugins = register_plugin(ExactMatch(), "exact-test")
    train = sample_csv(tmp_path / "train.csv", TWO_TURNS)
    ctx = make_context(plugins, tmp_path, {
        "run": {"models": ["lead"], "metrics": ["exact"], "loggers": []},
        "data": {"train_path": str(train), "valid_fraction": 0.25},
        "models": {"lead": {"metric": "exact", "max_turns": 3}},
    })
    splits = ctx.data()
    loader = ctx.build("model_loaders", "lead")
    model = loader.build(ctx, splits.train)
    history = model.fit(splits.train, splits.valid, ctx, tmp_path / "lead")
    assert history.history == [{"turns": 2, "eval_exact": 1.0}]
    dialogues = [e.dialogue for e in splits.valid]
    assert model.generate(dialogues, ctx) == [e.summary for e in splits.valid]
    saved = json.loads((tmp_path / "lead" / "lead.json").read_text(encoding="utf-8"))
    assert saved["turns"] == 2
    assert loader.load(ctx, tmp_path / "lead").generate(dialogues, ctx) == model.generate(dialogues, ctx)


def test_unknown_score_name_is_a_clear_error(register_plugin: Any, sample_csv: Any, tmp_path: Path) -> None:
    plugins = register_plugin(ExactMatch(), "exact-test")
    train = sample_csv(tmp_path / "train.csv", TWO_TURNS)
    ctx = make_context(plugins, tmp_path, {
        "run": {"models": ["lead"], "metrics": ["exact"], "loggers": []},
        "data": {"train_path": str(train)},
        "models": {"lead": {"metric": "rouge_l"}},
    })
    splits = ctx.data()
    model = ctx.build("model_loaders", "lead").build(ctx, splits.train)
    with pytest.raises(DialsumError, match=r"models.lead.metric: no score named 'rouge_l' \(the metrics give: exact\)"):
        model.fit(splits.train, splits.valid, ctx, tmp_path / "lead")


def test_check_reports_tuning_without_a_metric(dialsum_plugins: Any) -> None:
    base = {"run": {"models": ["lead"], "metrics": [], "loggers": []}}
    problems = Recipe.from_dict(base).problems(dialsum_plugins)
    assert any("run.metrics: the lead model tunes" in p for p in problems), problems
    fixed = Recipe.from_dict({**base, "models": {"lead": {"tune": False}}}).problems(dialsum_plugins)
    assert not any("lead model tunes" in p for p in fixed)


class DeclaredExactMatch(ExactMatch):
    """The same metric, declaring the one score it gives (a registration tag ``score:exact``, the
    convention of dialsum-metrics, read through the core's registry)."""

    @hookimpl
    def dialsum_register_metrics(self, register: Any) -> None:
        register("exact", lambda options, ctx: ExactMatch.Metric(), description="exact match",
                 tags=("score:exact",))


def lead_problems(plugins: Any, metric: str, tune: bool = True) -> list[str]:
    recipe = Recipe.from_dict({"run": {"models": ["lead"], "metrics": ["exact"], "loggers": []},
                               "models": {"lead": {"metric": metric, "tune": tune}}})
    return [p for p in recipe.problems(plugins) if "models.lead" in p]


def test_check_refuses_a_score_the_metrics_do_not_give(register_plugin: Any) -> None:
    """Refused before any model trains, not by the lead model's fit after the others have trained."""
    declared = register_plugin(DeclaredExactMatch(), "exact-declared")
    (refused,) = lead_problems(declared, "rougeL_mean")
    assert "models.lead.metric: " in refused and "'rougeL_mean'" in refused and "exact" in refused
    assert lead_problems(declared, "exact") == []
    assert lead_problems(declared, "rougeL_mean", tune=False) == []  # nothing is tuned: nothing is read


def test_check_never_refuses_a_score_of_a_metric_that_declares_none(register_plugin: Any) -> None:
    """A metric without ``score:`` tags may well give the score: only its fit can tell."""
    assert lead_problems(register_plugin(ExactMatch(), "exact-test"), "rougeL_mean") == []


def test_bad_options_are_reported_with_their_keys(dialsum_plugins: Any) -> None:
    recipe = Recipe.from_dict({"run": {"models": ["lead"]}, "models": {"lead": {"turns": 0, "tune": "yes"}}})
    problems = "\n".join(recipe.problems(dialsum_plugins))
    assert "models.lead.turns: must be >= 1, got 0" in problems
    assert "models.lead.tune: expected true or false" in problems


def test_runs_on_the_sample_data(register_plugin: Any, tmp_path: Path) -> None:
    plugins = register_plugin(ExactMatch(), "exact-test")
    if plugins.get("run_modes", "single") is None:
        pytest.skip("the `single` run mode (dialsum-modes) is not installed")
    recipe = Recipe.from_dict({
        "run": {"mode": "single", "models": ["lead"], "metrics": ["exact"], "loggers": [],
                "output_dir": str(tmp_path), "name": "lead-sample"},
        "data": {"train_path": str(SAMPLE / "train.csv"), "dev_path": str(SAMPLE / "dev.csv"),
                 "test_path": str(SAMPLE / "test.csv")},
        "models": {"lead": {"metric": "exact"}},
    })
    result = run_recipe(recipe, plugins)
    saved = json.loads((result.experiment / "results.json").read_text(encoding="utf-8"))
    assert saved["status"] == "complete" and saved["models"] == ["lead"]
    assert json.loads((result.experiment / "checkpoints" / "lead" / "lead.json").read_text())["turns"] in (1, 2, 3)
