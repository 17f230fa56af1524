"""What ``dialsum new-plugin`` writes behaves as a bundled plugin of its kind does in a real run:
each skeleton is generated, registered as its entry point would register it, and run through
``run_recipe`` in the situations the bundled plugins of that kind handle."""

from __future__ import annotations

import csv
import importlib
import json
import sys
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import pytest

from dialsum_core import hookimpl
from dialsum_core.context import RunContext
from dialsum_core.events import Events
from dialsum_core.experiment import Experiment
from dialsum_core.recipe import Recipe
from dialsum_core.runner import run_recipe
from dialsum_tools.scaffold import Names, new_plugin


@pytest.fixture
def skeleton(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str, str], ModuleType]]:
    """``skeleton(name, kind)``: the entry-point module of a freshly generated package, importable
    from its folder as ``pip install -e`` would make it (the modules are forgotten afterwards)."""
    packages: list[str] = []

    def make(name: str, kind: str) -> ModuleType:
        root = new_plugin(name, kind, tmp_path / "generated")
        monkeypatch.syspath_prepend(str(root))
        packages.append(Names.of(name).pkg)
        return importlib.import_module(f"{packages[-1]}.plugin")

    yield make
    for module in [m for m in sys.modules if m.split(".")[0] in packages]:
        del sys.modules[module]


class Turns:
    """Two tiny models: the first and the last turn of the dialogue is its summary."""

    #: The models trained (``first-turn`` is 0, ``last-turn`` -1), in order.
    fitted: ClassVar[list[int]] = []

    class Model:
        def __init__(self, pick: int):
            self.pick = pick

        def fit(self, train: Any, valid: Any, ctx: Any, output_dir: Path) -> dict[str, Any]:
            Turns.fitted.append(self.pick)
            return {}

        def generate(self, dialogues: Any, ctx: Any) -> list[str]:
            return [d.splitlines()[self.pick] for d in dialogues]

        def save(self, path: Path) -> None:
            pass

    class Loader:
        def __init__(self, pick: int):
            self.pick = pick

        def build(self, ctx: Any, train: Any) -> Any:
            return Turns.Model(self.pick)

        def load(self, ctx: Any, path: Path) -> Any:
            return Turns.Model(self.pick)

    @hookimpl
    def dialsum_register_model_loaders(self, register: Any) -> None:
        register("first-turn", lambda options, ctx: Turns.Loader(0), description="test model")
        register("last-turn", lambda options, ctx: Turns.Loader(-1), description="test model")


@pytest.fixture
def mode_recipe(skeleton: Callable[[str, str], ModuleType], register_plugin: Any, sample_csv: Any,
                tiny_dialogues: Any, tmp_path: Path) -> tuple[Recipe, Any]:
    """A recipe of the generated run mode ``sr-mode`` over two tiny models, and the plugins to run it."""
    pytest.importorskip("dialsum_modes")  # the run-mode skeleton builds on its toolkit
    register_plugin(skeleton("sr-mode", "run_mode"), "sr-mode")
    plugins = register_plugin(Turns(), "turns-test")
    Turns.fitted.clear()
    train = sample_csv(tmp_path / "train.csv", tiny_dialogues)
    test = sample_csv(tmp_path / "test.csv", tiny_dialogues[:2], with_summary=False)
    recipe = Recipe.from_dict({
        "run": {"mode": "sr-mode", "models": ["first-turn", "last-turn"], "loggers": [], "metrics": ["rouge"],
                "ensemble": "rouge_weighted", "output_dir": str(tmp_path / "experiments"), "name": "sk"},
        "data": {"train_path": str(train), "test_path": str(test), "valid_fraction": 0.3},
    })
    return recipe, plugins


def test_run_mode_skeleton_trains_only_what_a_fan_out_job_selects(mode_recipe: tuple[Recipe, Any]) -> None:
    """A job of ``run.only`` trains its own model, in its own folder, and writes no predictions; the
    final run reuses every job's model instead of training it again and writes the submission."""
    recipe, plugins = mode_recipe
    job = run_recipe(recipe.merge({"run": {"only": ["model=first-turn"]}}), plugins)
    assert list(job.results["trained"]) == ["first-turn"] and Turns.fitted == [0]
    assert job.results_path == job.experiment / "jobs" / "model_first_turn" / "results.json"
    assert not list((job.experiment / "predictions").glob("*"))
    run_recipe(recipe.merge({"run": {"only": ["model=last-turn"]}}), plugins)
    final = run_recipe(recipe, plugins)
    assert Turns.fitted == [0, -1]  # trained once each, by its job
    submission = (final.experiment / "predictions" / "submission.csv").read_text(encoding="utf-8")
    assert submission.count("\n") == 3  # the header and the two test dialogues


def test_run_mode_skeleton_results_name_the_best_model(mode_recipe: tuple[Recipe, Any]) -> None:
    """``results.json`` has what every mode reports: the run's models, ``best_rouge``, the validation
    scores, and ``best_checkpoint`` with ``checkpoints/best`` pointed at it; plots when asked."""
    recipe, plugins = mode_recipe
    result = run_recipe(recipe.merge({"run": {"save_visualizations": True}}), plugins)
    saved = json.loads((result.experiment / "results.json").read_text(encoding="utf-8"))
    assert saved["models"] == ["first-turn", "last-turn"]
    assert 0.0 < saved["best_rouge"] <= 1.0 and saved["valid"]["rouge_mean"] == saved["best_rouge"]
    assert Path(saved["best_checkpoint"]).name in ("first_turn", "last_turn")
    assert (result.experiment / "checkpoints" / "best").resolve() == Path(saved["best_checkpoint"]).resolve()
    assert saved["visualizations"] and all((result.experiment / p).is_file() for p in saved["visualizations"])


def test_run_mode_skeleton_depends_on_the_toolkit_it_imports(tmp_path: Path) -> None:
    root = new_plugin("sk-deps", "run_mode", tmp_path)
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    assert "dialsum-modes" in project["project"]["dependencies"]
    assert "from dialsum_modes import" in (root / "dialsum_sk_deps" / "impl.py").read_text(encoding="utf-8")


def test_metric_skeleton_declares_its_scores_so_the_check_sees_what_it_cannot_give(
    skeleton: Callable[[str, str], ModuleType], register_plugin: Any, sample_csv: Any, tiny_dialogues: Any,
    tmp_path: Path,
) -> None:
    """As the bundled metrics do (``score:KEY`` tags): a recipe ranking by ``rouge_mean`` with only
    this metric is refused by ``dialsum check`` instead of failing once its first model has trained."""
    pytest.importorskip("dialsum_modes")
    register_plugin(skeleton("sr-metric", "metric"), "sr-metric")
    plugins = register_plugin(Turns(), "turns-test")
    assert plugins.get("metrics", "sr-metric").tags == ("score:sr_metric_length_ratio",)
    recipe = Recipe.from_dict({
        "run": {"mode": "multi_model", "models": ["first-turn", "last-turn"], "metrics": ["sr-metric"],
                "ensemble": "rouge_weighted"},
        "data": {"train_path": str(sample_csv(tmp_path / "train.csv", tiny_dialogues))},
    })
    assert any("run.metrics: the run ranks its models and sources by rouge_mean, which none of ['sr-metric'] "
               "gives" in p for p in recipe.problems(plugins))


class Prunes:
    """A search trial (``dialsum_core.protocols.Trial``) that records what it is told and answers "prune"."""

    number = 0

    def __init__(self) -> None:
        self.reported: list[tuple[int, dict[str, float]]] = []

    def report(self, step: int, scores: Any) -> bool:
        self.reported.append((step, dict(scores)))
        return True


def test_model_loader_skeleton_validates_reports_to_its_trial_and_names_its_checkpoint(
    skeleton: Callable[[str, str], ModuleType], register_plugin: Any, sample_csv: Any, tiny_dialogues: Any,
    tmp_path: Path,
) -> None:
    """As the guide asks of a model family: the history names each validation score ``eval_S`` (the
    learning curves, the optuna mode's pruning), ``ctx.trial`` hears it, and ``last_checkpoint``
    names the folder saved, which the run links as ``checkpoints/last``."""
    pytest.importorskip("dialsum_modes")
    plugins = register_plugin(skeleton("sr-model", "model_loader"), "sr-model")
    recipe = Recipe.from_dict({
        "run": {"models": ["sr-model"], "loggers": [], "metrics": ["rouge"], "name": "sk",
                "output_dir": str(tmp_path / "experiments")},
        "data": {"train_path": str(sample_csv(tmp_path / "train.csv", tiny_dialogues)), "valid_fraction": 0.3},
    })
    result = run_recipe(recipe, plugins)
    [epoch] = result.results["history"]
    assert round(epoch["eval_rouge_mean"], 4) == result.results["best_rouge"]
    assert (result.experiment / "checkpoints" / "last").resolve() == Path(result.results["best_checkpoint"]).resolve()

    trial = Prunes()
    ctx = RunContext(recipe=recipe, plugins=plugins, experiment=Experiment.create(tmp_path, "fit"),
                     events=Events(plugins.pm), trial=trial)
    splits = ctx.data()
    model = ctx.build("model_loaders", "sr-model").build(ctx, splits.train)
    fit = model.fit(splits.train, splits.valid, ctx, tmp_path / "model")
    assert not fit.pruned  # the trial's answer after the last epoch changes nothing (protocols.Trial)
    assert [(step, sorted(scores)) for step, scores in trial.reported] == [
        (1, sorted(k.removeprefix("eval_") for k in fit.history[0] if k.startswith("eval_")))]


def test_logger_skeleton_tells_apart_the_folds_of_several_models(
    skeleton: Callable[[str, str], ModuleType], mode_recipe: tuple[Recipe, Any], register_plugin: Any
) -> None:
    """In a k-fold run of two models each fold has a row of its own, saying whose it is (``ctx.tags``,
    as the bundled jsonl logger records them), numbered as its folder and ``run.only`` number it."""
    recipe, _ = mode_recipe
    plugins = register_plugin(skeleton("sr-log", "logger"), "sr-log")
    result = run_recipe(recipe.merge({"run": {"mode": "kfold", "loggers": ["sr-log"]},
                                      "modes": {"kfold": {"k_folds": 2}}}), plugins)
    with (result.experiment / "sr-log.csv").open(encoding="utf-8") as fh:
        rows = sorted((r["event"], r["index"], r.get("model")) for r in csv.DictReader(fh))
    assert rows == [("fold", f, m) for f in ("1", "2") for m in ("first-turn", "last-turn")]
