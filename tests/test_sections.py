"""Recipe sections contributed by plugins: owned tables, keys added to ``[run]``, defaults, clashes,
and the one answer to "which plugins does this recipe use"."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from conftest import ROOT
from dialsum_core import hookimpl
from dialsum_core.errors import PluginError, RecipeError
from dialsum_core.manager import build_plugins
from dialsum_core.recipe import PATH, Recipe, load_recipe
from dialsum_core.validators import positive


@attrs.define(kw_only=True)
class BeamSection:
    """``[beam]``: a third party's own table."""

    #: Width.
    width: int = attrs.field(default=4, validator=positive)
    #: A file the plugin reads.
    table: str = attrs.field(default="", metadata=PATH)


@attrs.define(kw_only=True)
class RunKeys:
    #: A key this plugin adds to ``[run]``.
    verbose_beams: bool = False


class BeamPlugin:
    @hookimpl
    def dialsum_register_sections(self, register: Any) -> None:
        register("beam", BeamSection, description="beam options")
        register("run", RunKeys, description="more run keys")


def test_a_plugin_owns_a_table_and_adds_keys_to_run(tmp_path) -> None:
    plugins = build_plugins(extra=[("beam", BeamPlugin())])
    (tmp_path / "r.toml").write_text("[beam]\nwidth = 2\ntable = 'b.csv'\n[run]\nverbose_beams = true\n",
                                     encoding="utf-8")
    recipe = load_recipe(tmp_path / "r.toml", schema=plugins.schema)
    assert recipe.section("beam").width == 2 and recipe.beam.width == 2 and recipe.run.verbose_beams is True
    assert recipe.run.seed == 42  # the core's keys are still there
    # the one path rule: relative to the file that set it
    assert recipe.path_of("beam.table") == tmp_path / "b.csv"
    assert "beam.table" in recipe.path_keys()
    with pytest.raises(RecipeError, match=r"beam\.width: must be > 0"):
        recipe.override("beam.width=0")
    assert plugins.schema.owner("beam.width").plugin == "beam"
    assert plugins.schema.owner("run.seed").distribution == "dialsum-core"


def test_without_the_plugin_its_table_is_an_unknown_key() -> None:
    with pytest.raises(RecipeError, match="unknown top-level key"):
        Recipe.from_dict({"beam": {"width": 2}}, schema=build_plugins().schema)


def test_two_owners_of_one_key_are_an_error_naming_both() -> None:
    @attrs.define(kw_only=True)
    class Clash:
        seed: int = 1

    class ClashPlugin:
        @hookimpl
        def dialsum_register_sections(self, register: Any) -> None:
            register("run", Clash)

    with pytest.raises(PluginError, match=r"run\.seed is declared twice: by dialsum-core .* and by clash"):
        build_plugins(extra=[("clash", ClashPlugin())])


def test_two_defaults_for_one_key_are_an_error() -> None:
    class Defaults:
        @hookimpl
        def dialsum_register_sections(self, register: Any) -> None:
            register("run", defaults={"mode": "kfold"})

    with pytest.raises(PluginError, match=r"run\.mode is given a default twice"):
        build_plugins(extra=[("defaults", Defaults())])


def test_the_core_names_no_plugin_its_defaults_come_from_the_plugins() -> None:
    bare = build_plugins(entry_points=False)
    run = Recipe(schema=bare.schema).run
    assert (run.mode, run.models, run.loggers, run.metrics) == ("", [], [], [])
    problems = "\n".join(Recipe(schema=bare.schema).problems(bare))
    assert "run.mode: not set" in problems and "run.models: not set" in problems
    run = Recipe(schema=build_plugins().schema).run
    assert run.mode == "single" and run.metrics == ["rouge", "bleu"]


def test_single_screening_several_models_needs_no_ensemble() -> None:
    """The seed's first step (``single`` with every model) was refused for the default ensemble."""
    plugins = build_plugins()
    data = {"train_path": str(ROOT / "data" / "sample" / "train.csv")}
    screen = Recipe.from_dict({"run": {"mode": "single", "models": ["lead", "scratch"], "ensemble": "averaging"},
                               "data": data})
    assert screen.problems(plugins) == []
    assert ("ensembles", "averaging") not in screen.used(plugins)
    kfold = Recipe.from_dict({"run": {"mode": "kfold", "models": ["lead", "scratch"], "ensemble": "nope"}})
    assert any("run.ensemble: unknown ensemble 'nope'" in p for p in kfold.problems(plugins))


def test_unknown_plugin_names_get_a_did_you_mean() -> None:
    problems = Recipe.from_dict({"run": {"mode": "kfolds", "models": ["kobert"]}}).problems(build_plugins())
    assert any("unknown run mode 'kfolds' (did you mean 'kfold'?)" in p for p in problems)
    assert any("unknown model loader 'kobert' (did you mean 'kobart'?)" in p for p in problems)
