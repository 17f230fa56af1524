"""``ctx.data()`` is answered by the one plugin that reads the recipe's data, never by a silent winner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dialsum_core import hookimpl
from dialsum_core.context import RunContext
from dialsum_core.data import DataSplits, Example
from dialsum_core.errors import PluginError
from dialsum_core.events import Events
from dialsum_core.experiment import Experiment
from dialsum_core.manager import build_plugins
from dialsum_core.recipe import Recipe

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


class JsonlReader:
    """A third party's reader: it answers only for recipes that name its file."""

    def __init__(self, name: str) -> None:
        self.name = name

    @hookimpl
    def dialsum_load_data(self, recipe: Any) -> DataSplits | None:
        if not recipe.run.name.startswith("jsonl"):
            return None
        one = [Example(f"{self.name}_0", "#Person1#: 안녕하세요.", ("#Person1#이 인사한다.",))]
        return DataSplits(train=one, valid=one, test=[])


def _ctx(plugins: Any, tmp_path: Path, name: str = "") -> RunContext:
    files = {"train_path": str(SAMPLE / "train.csv"), "dev_path": str(SAMPLE / "dev.csv")}
    data = {"data": files} if "data" not in plugins.disabled else {}
    recipe = Recipe.from_dict({"run": {"name": name}, **data}, schema=plugins.schema)
    return RunContext(recipe=recipe, plugins=plugins, experiment=Experiment(tmp_path), events=Events(plugins.pm))


def test_the_data_plugin_answers_and_a_reader_that_does_not_recognise_the_recipe_stays_silent(tmp_path: Path) -> None:
    plugins = build_plugins(extra=[("jsonl", JsonlReader("jsonl"))])
    data = _ctx(plugins, tmp_path).data()
    assert len(data.train) > 1 and data.valid
    assert not any(e.fname.startswith("jsonl_") for e in data.train)


def test_two_answers_are_an_error_naming_both_plugins(tmp_path: Path) -> None:
    plugins = build_plugins(disable=["data"], extra=[("jsonl-a", JsonlReader("a")), ("jsonl-b", JsonlReader("b"))])
    with pytest.raises(PluginError, match=r"answered twice: by plugin 'jsonl-a'.* and by plugin 'jsonl-b'"):
        _ctx(plugins, tmp_path, name="jsonl-run").data()


def test_another_reader_replaces_the_data_plugin_when_it_is_disabled(tmp_path: Path) -> None:
    plugins = build_plugins(disable=["data"], extra=[("jsonl", JsonlReader("jsonl"))])
    recipe = Recipe.from_dict({"run": {"name": "jsonl-run"}}, schema=plugins.schema)
    ctx = RunContext(recipe=recipe, plugins=plugins, experiment=Experiment(tmp_path), events=Events(plugins.pm))
    assert [e.fname for e in ctx.data().train] == ["jsonl_0"]
    assert not hasattr(recipe.data, "train_path")  # only the model keys of [data] are left


def test_no_reader_is_a_clear_error(tmp_path: Path) -> None:
    plugins = build_plugins(disable=["data"])
    ctx = RunContext(recipe=Recipe.from_dict({}, schema=plugins.schema), plugins=plugins,
                     experiment=Experiment(tmp_path), events=Events(plugins.pm))
    with pytest.raises(PluginError, match="no installed plugin reads the recipe's data"):
        ctx.data()


def test_check_refuses_a_recipe_no_installed_plugin_can_read_the_data_of(tmp_path: Path) -> None:
    """What ``run`` would refuse at ``ctx.data()``, ``check`` refuses first (exit code 2)."""
    from click.testing import CliRunner

    from dialsum_core.cli import cli

    recipe = tmp_path / "r.toml"
    recipe.write_text('[run]\nmode = "single"\nmodels = ["scratch"]\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["check", str(recipe), "--disable-plugin", "data"])
    assert result.exit_code == 2, result.output
    assert f"{recipe}: data: no installed plugin reads the recipe's data" in result.output
    assert CliRunner().invoke(cli, ["check", str(recipe), "--set", f"data.train_path={SAMPLE / 'train.csv'}"]
                              ).exit_code == 0


def test_check_refuses_data_two_readers_answer_for_as_the_run_would(tmp_path: Path) -> None:
    """Two readers answering for one recipe stopped the run at ``ctx.data()``, after its folder existed;
    ``check`` (the same validation) passed it."""
    plugins = build_plugins(disable=["data"], extra=[("jsonl-a", JsonlReader("a")), ("jsonl-b", JsonlReader("b"))])
    recipe = Recipe.from_dict({"run": {"name": "jsonl-run", "mode": "single", "models": ["scratch"]}},
                              schema=plugins.schema)
    problems = recipe.problems(plugins)
    assert any("data: dialsum_load_data is answered twice: by plugin 'jsonl-a'" in p for p in problems), problems
    one = build_plugins(disable=["data"], extra=[("jsonl", JsonlReader("jsonl"))])
    assert not [p for p in Recipe.from_dict(recipe.to_dict(), schema=one.schema).problems(one) if ": data:" in p]
    elsewhere = Recipe.from_dict({"run": {"name": "other", "mode": "single", "models": ["scratch"]}}, schema=one.schema)
    assert any("data: no installed plugin reads the recipe's data" in p for p in elsewhere.problems(one))


def test_a_check_reads_the_data_quietly_and_leaves_unreadable_data_to_the_data_check(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    plugins = build_plugins()
    files = {"train_path": str(SAMPLE / "train.csv"), "dev_path": str(SAMPLE / "dev.csv")}
    with caplog.at_level("DEBUG", logger="dialsum"):
        data = plugins.checked_data(Recipe.from_dict({"data": files}, schema=plugins.schema))
    assert data is not None and len(data.train) > 1 and not caplog.records
    missing = Recipe.from_dict({"data": {**files, "train_path": str(tmp_path / "none.csv")}}, schema=plugins.schema)
    assert plugins.checked_data(missing) is None
    assert any("none.csv" in p for p in missing.problems(plugins))
