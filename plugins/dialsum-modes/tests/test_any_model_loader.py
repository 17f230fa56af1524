"""The run modes work with any model loader, not only dialsum-hf's.

A third party's loader brings its own recipe section and its own checkpoint layout. The optuna mode
tunes the keys of whichever sections the installed plugins contribute (dialsum-hf's ``[train]`` is
one of them, not a rule of the modes), and ``checkpoints/last`` links the folder the loader names
as ``FitResult.last_checkpoint``, whatever the folders in its output are called.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import pytest
from modes_fixtures import *  # noqa: F403 - pytest fixtures (small_data)

from dialsum_core import hookimpl
from dialsum_core.manager import Plugins, build_plugins
from dialsum_core.protocols import FitResult
from dialsum_core.recipe import Recipe, load_recipe
from dialsum_core.runner import run_recipe
from dialsum_lead.model import lead


@attrs.define
class ExtractKeys:
    """``[extract]``: a section only the third party's model reads."""

    #: Leading turns the summary copies.
    turns: int = 1


@attrs.define
class FirstTurnsOptions:
    #: The folder (in the model's output folder) its training reports as its last checkpoint; "": none.
    last: str = ""


class FirstTurns:
    """Copies the first ``[extract] turns`` turns; saves into folders of its own naming."""

    def __init__(self, options: FirstTurnsOptions, turns: int, seen: list[int]):
        self.options, self.turns, self.seen = options, turns, seen

    def fit(self, train: Any, valid: Any, ctx: Any, output_dir: Path) -> FitResult:
        self.seen.append(self.turns)
        preds = self.generate([e.dialogue for e in valid], ctx)
        score = ctx.score(preds, [list(e.summaries) for e in valid])["rouge_mean"]
        for folder in ("checkpoint-2", "checkpoint-best"):  # a layout the modes know nothing of
            self.save(output_dir / folder)
        self.save(output_dir)
        last = str(output_dir / self.options.last) if self.options.last else ""
        return FitResult(history=[{"epoch": 1, "eval_rouge_mean": score}], best_checkpoint=str(output_dir),
                         last_checkpoint=last)

    def generate(self, dialogues: Any, ctx: Any) -> list[str]:
        return [lead(d, self.turns, False) for d in dialogues]

    def save(self, path: Path) -> None:
        Path(path).mkdir(parents=True, exist_ok=True)
        (Path(path) / "turns.json").write_text(json.dumps(self.turns), encoding="utf-8")


class FirstTurnsLoader:
    def __init__(self, options: FirstTurnsOptions, seen: list[int]):
        self.options, self.seen = options, seen

    def build(self, ctx: Any, train: Any) -> FirstTurns:
        return FirstTurns(self.options, ctx.recipe.section("extract").turns, self.seen)

    def load(self, ctx: Any, path: Path) -> FirstTurns:
        return FirstTurns(self.options, json.loads((Path(path) / "turns.json").read_text()), self.seen)


class ThirdParty:
    """A distribution of its own: the ``[extract]`` section and the ``first_turns`` model loader."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    @hookimpl
    def dialsum_register_sections(self, register: Any) -> None:
        register("extract", ExtractKeys, description="How the first_turns model extracts")

    @hookimpl
    def dialsum_register_model_loaders(self, register: Any) -> None:
        register("first_turns", lambda o, c: FirstTurnsLoader(o, self.seen), options=FirstTurnsOptions,
                 description="the first turns of a dialogue")


@pytest.fixture
def third_party() -> ThirdParty:
    return ThirdParty()


@pytest.fixture
def without_hf(third_party: ThirdParty) -> Plugins:
    """The bundled plugins less dialsum-hf (``DIALSUM_DISABLE_PLUGINS=hf``), plus the third party's."""
    return build_plugins(disable=["hf"], extra=[("first-turns", third_party)])


def _recipe(plugins: Plugins, data: dict[str, Path], out: Path, *overrides: tuple[str, Any], **run: Any) -> Recipe:
    recipe = Recipe.from_dict({
        "run": {"mode": "single", "models": ["first_turns"], "loggers": [], "metrics": ["rouge"],
                "output_dir": str(out), "name": "exp", **run},
        "data": {"train_path": str(data["train"]), "dev_path": str(data["dev"]), "test_path": str(data["test"])},
    }, schema=plugins.schema)
    return recipe.override(*overrides) if overrides else recipe


def _optuna(plugins: Plugins, data: dict[str, Path], out: Path, key: str, spec: dict[str, Any]) -> Recipe:
    return _recipe(plugins, data, out, (f'modes.optuna.space."{key}"', spec), ("modes.optuna.trials", 4),
                   ("modes.optuna.sampler", "random"), ("modes.optuna.pruner", "none"), mode="optuna")


def test_optuna_tunes_a_section_a_third_party_contributes(without_hf: Plugins, third_party: ThirdParty,
                                                          small_data: dict[str, Path], tmp_path: Path) -> None:
    recipe = _optuna(without_hf, small_data, tmp_path, "extract.turns", {"type": "int", "low": 1, "high": 4})
    assert not hasattr(recipe, "train")  # dialsum-hf's section is gone with it
    assert recipe.problems(without_hf) == []
    res = run_recipe(recipe, without_hf)
    trials = res.results["optuna"]["trials"]
    assert len(trials) == 4 and all(t["state"] == "complete" for t in trials)
    # each trial's model was built with its own value of the third party's key
    assert third_party.seen == [t["params"]["extract.turns"] for t in trials] and len(set(third_party.seen)) > 1
    best = res.results["best_params"]["extract.turns"]
    again = load_recipe(res.experiment / "optuna" / "best_recipe.toml", schema=without_hf.schema)
    assert again.section("extract").turns == best


def test_a_space_key_of_a_section_nobody_contributes_is_one_problem(without_hf: Plugins,
                                                                      small_data: dict[str, Path],
                                                                      tmp_path: Path) -> None:
    """``[train]`` is dialsum-hf's: without it, a ``train.`` key is refused by name, not a crash of the check."""
    recipe = _optuna(without_hf, small_data, tmp_path, "train.learning_rate",
                     {"type": "float", "low": 1e-5, "high": 1e-3, "log": True})
    problems = recipe.problems(without_hf)
    assert len(problems) == 1, problems
    assert "modes.optuna.space.train.learning_rate: no installed plugin contributes [train]" in problems[0]
    assert "extract." in problems[0] and "check failed" not in problems[0]
    # [run] says what the study is: its keys are never tuned
    recipe = _optuna(without_hf, small_data, tmp_path, "run.seed", {"type": "int", "low": 1, "high": 3})
    (problem,) = recipe.problems(without_hf)
    assert "modes.optuna.space.run.seed: " in problem, problem


@pytest.mark.parametrize("last", ["checkpoint-best", ""])
def test_checkpoints_last_links_the_folder_the_model_names(without_hf: Plugins, small_data: dict[str, Path],
                                                           tmp_path: Path, last: str) -> None:
    """Not the newest ``checkpoint-N`` the modes could find: the folder layout is the model's. A model
    that names no last checkpoint gets no link; a re-run that reuses the trained model links it again."""
    recipe = _recipe(without_hf, small_data, tmp_path, ("models.first_turns.last", last))
    res = run_recipe(recipe, without_hf)
    link = res.experiment / "checkpoints" / "last"
    if not last:
        assert not link.exists() and not link.is_symlink()
        return
    named = res.experiment / "checkpoints" / "first_turns" / last
    assert link.is_symlink() and link.resolve() == named.resolve()
    link.unlink()
    stage = json.loads((res.experiment / "stages" / "sources" / "first_turns.json").read_text(encoding="utf-8"))
    assert stage["source"]["last_checkpoint"] == str(named)
    again = run_recipe(recipe, without_hf)
    assert again.experiment == res.experiment and link.resolve() == named.resolve()
