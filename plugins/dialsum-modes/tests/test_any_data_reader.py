"""The run modes work with any plugin that answers ``dialsum_load_data``, not only dialsum-data.

docs/writing-a-plugin.md ("A new data format") tells a third party to write its own reader and
disable dialsum-data: then ``[data]`` holds none of dialsum-data's keys, and the modes' checks and
runs must take the data from the reader alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dialsum_core import hookimpl
from dialsum_core.data import DataSplits, Example
from dialsum_core.errors import RecipeError
from dialsum_core.manager import Plugins, build_plugins
from dialsum_core.recipe import Recipe
from dialsum_core.runner import run_recipe

TOPICS = ("쇼핑", "여행", "건강")
PLACES = ("시장", "공항", "병원", "학교", "식당", "은행", "도서관", "호텔")


def _example(i: int, place: str, fname: str | None = None) -> Example:
    dialogue = (f"#Person1#: 안녕하세요, {place}에 가려고 하는데 길을 알려주시겠어요?\n"
                f"#Person2#: 네, 이 길로 {i + 1}분 정도 걸어가시면 {place}이 보여요.\n"
                "#Person1#: 감사합니다. 좋은 하루 보내세요.")
    summary = f"#Person1#은 #Person2#에게 {place}에 가는 길을 묻고, #Person2#가 알려준다."
    return Example(fname or f"train_{i}", dialogue, (summary,), TOPICS[i % len(TOPICS)])


#: 8 training rows, but 7 distinct dialogues: ``train_7`` repeats ``train_0`` under another name.
TRAIN = [*(_example(i, p) for i, p in enumerate(PLACES[:7])), _example(0, PLACES[0], fname="train_7")]
VALID = [_example(10 + i, p, fname=f"dev_{i}") for i, p in enumerate(("공원", "우체국", "박물관"))]
TEST = [Example(f"test_{i}", _example(20 + i, p).dialogue) for i, p in enumerate(("극장", "약국"))]


class Reader:
    """A third party's reader that answers every recipe (a dozen dialogues, no file)."""

    @hookimpl
    def dialsum_load_data(self, recipe: Any) -> DataSplits:
        return DataSplits(train=list(TRAIN), valid=list(VALID), test=list(TEST))


@pytest.fixture
def reader_plugins() -> Plugins:
    return build_plugins(disable=["data"], extra=[("jsonl", Reader())])


def _recipe(plugins: Plugins, out: Path, k_folds: int | None = None, **run: Any) -> Recipe:
    """A recipe without ``[data]``: the reader needs no key. With ``k_folds``, a k-fold run of the
    ``lead`` model (an output-level ensemble: lead cannot decode jointly)."""
    data: dict[str, Any] = {"run": {"mode": "single", "models": ["lead"], "loggers": [], "metrics": ["rouge"],
                                    "output_dir": str(out), "name": "exp", **run}}
    if k_folds is not None:
        data["run"].update(mode="kfold", ensemble="majority_vote")
        data["modes"] = {"kfold": {"k_folds": k_folds}}
    return Recipe.from_dict(data, schema=plugins.schema)


def _results(experiment: Path) -> dict[str, Any]:
    return json.loads((experiment / "results.json").read_text(encoding="utf-8"))


def test_single_runs_on_another_readers_data(reader_plugins: Plugins, tmp_path: Path) -> None:
    recipe = _recipe(reader_plugins, tmp_path)
    assert not hasattr(recipe.data, "preprocessing")  # dialsum-data's keys are gone with it
    assert recipe.problems(reader_plugins) == []
    res = run_recipe(recipe, reader_plugins)
    out = _results(res.experiment)
    assert out["status"] == "complete" and out["best_model"] == "lead"
    assert out["models_results"]["lead"]["valid"]["rouge_mean"] > 0


def test_kfold_runs_on_another_readers_data(reader_plugins: Plugins, tmp_path: Path) -> None:
    recipe = _recipe(reader_plugins, tmp_path, k_folds=3)
    assert recipe.problems(reader_plugins) == []
    out = _results(run_recipe(recipe, reader_plugins).experiment)
    assert out["status"] == "complete" and [f["fold"] for f in out["folds"]] == [1, 2, 3]
    assert sum(f["n_valid"] for f in out["folds"]) == len(TRAIN)


def test_more_folds_than_the_readers_distinct_dialogues_are_refused(reader_plugins: Plugins, tmp_path: Path) -> None:
    """The check counts what the run's fold split deals: distinct dialogues (7), not rows (8)."""
    problems = _recipe(reader_plugins, tmp_path, k_folds=8).problems(reader_plugins)
    assert len(problems) == 1 and "modes.kfold.k_folds: 8 folds but only 7 training dialogues" in problems[0], \
        problems
    assert _recipe(reader_plugins, tmp_path, k_folds=7).problems(reader_plugins) == []


def test_one_fold_is_one_problem_of_the_option_itself(reader_plugins: Plugins, tmp_path: Path) -> None:
    """``k_folds >= 2`` is a rule of the option, as every range is: reported once by the check, and
    no run ever gets options with fewer folds."""
    recipe = _recipe(reader_plugins, tmp_path, k_folds=1)
    problems = recipe.problems(reader_plugins)
    assert len(problems) == 1 and "modes.kfold.k_folds: must be >= 2, got 1" in problems[0], problems
    with pytest.raises(RecipeError, match=r"modes\.kfold\.k_folds: must be >= 2, got 1"):
        recipe.options("run_modes", "kfold", reader_plugins)


def test_multi_model_without_models_is_one_problem(reader_plugins: Plugins, tmp_path: Path) -> None:
    problems = _recipe(reader_plugins, tmp_path, mode="multi_model", models=[]).problems(reader_plugins)
    assert len(problems) == 1 and "run.models" in problems[0], problems
