"""Where a recipe's values come from: a file, ``--set`` or Python decides what a path is relative to
and which file an error names; the resolved ``config.toml`` keeps what every table meant."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import ROOT
from dialsum_core.errors import RecipeError
from dialsum_core.manager import build_plugins
from dialsum_core.recipe import Recipe, load_recipe, write_recipe
from dialsum_core.runner import resolve

TINY = ROOT / "recipes" / "single-tiny.toml"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_a_table_given_with_set_comes_from_set(tmp_path: Path) -> None:
    """``--set 'data={train_path="x.csv"}'`` kept the file as the origin of ``data.train_path``: the path
    was resolved against the recipe's folder and its errors named the file."""
    recipe = write(tmp_path / "sub" / "r.toml", '[data]\ntrain_path = "a.csv"\n[run]\nseed = 1\n')
    r = load_recipe(recipe, ['data={train_path = "x.csv"}'])
    assert r.path_of("data.train_path") == Path("x.csv")
    with pytest.raises(RecipeError, match=r"^--set: run\.seed: must be in"):
        load_recipe(recipe, ["run={seed = -1}"])


def test_extends_given_with_set_or_from_python_is_refused(tmp_path: Path) -> None:
    """``--set extends=...`` was silently ignored: the run went on without the recipe it named."""
    recipe = write(tmp_path / "r.toml", "[run]\nseed = 1\n")
    write(tmp_path / "other.toml", "[run]\nseed = 2\n")
    with pytest.raises(RecipeError, match=r"^--set: extends: .*recipe file") as refused:
        load_recipe(recipe, ['extends="other.toml"'])
    assert len(refused.value.problems) == 1
    with pytest.raises(RecipeError, match=r"^<python>: extends: "):
        Recipe.from_dict({"extends": "other.toml"})


def test_a_path_merged_from_python_is_relative_to_the_working_directory() -> None:
    """``recipe.merge({"data": {"train_path": ...}})`` resolved the path against the folder of the file
    that had set the key before, and its errors named that file."""
    r = load_recipe(TINY)
    merged = r.merge({"data": {"train_path": "d/t.csv"}})
    assert merged.path_of("data.train_path") == Path("d/t.csv")
    assert merged.path_of("data.test_path") == ROOT / "recipes" / "../data/sample/test.csv"
    with pytest.raises(RecipeError, match=r"^<python>: run\.seed: expected an integer"):
        r.merge({"run": {"seed": "x"}})


def test_config_toml_makes_the_paths_of_unused_plugin_tables_absolute(tmp_path: Path) -> None:
    """A plugin table the run does not use kept its relative paths in config.toml, so bringing it into
    use on the saved config (``--set run.use_tta=true``) looked for the file beside the config."""
    shutil.copy(ROOT / "data" / "sample" / "paraphrases.csv", tmp_path / "p.csv")
    (tmp_path / "local-model").mkdir()
    recipe = write(tmp_path / "r.toml", f'extends = "{TINY}"\n[augmenters.paraphrase]\ntable = "p.csv"\n'
                                        '[models.hf-seq2seq]\nmodel_name_or_path = "./local-model"\n')
    plugins = build_plugins()
    config = write_recipe(resolve(load_recipe(recipe), plugins, "first"), tmp_path / "exp" / "config.toml")
    again = load_recipe(config, ["run.use_tta=true", 'run.tta_strategies=["paraphrase"]'])
    assert again.augmenters["paraphrase"]["table"] == str(tmp_path / "p.csv")
    assert again.models["hf-seq2seq"]["model_name_or_path"] == str(tmp_path / "local-model")
    assert again.problems(plugins) == []


def test_a_section_evolved_in_python_is_typed_and_its_changes_come_from_python() -> None:
    """``recipe.evolve(data=attrs.evolve(recipe.data, train_path=...))`` resolved the new path against
    the folder of the file that had set the key before, and a value of the wrong type went through
    (an integer path was reported as a missing file, a string of model names was read letter by
    letter)."""
    import attrs

    r = load_recipe(TINY)
    evolved = r.evolve(data=attrs.evolve(r.data, train_path="d/t.csv"))
    assert evolved.path_of("data.train_path") == Path("d/t.csv")
    assert evolved.path_of("data.test_path") == ROOT / "recipes" / "../data/sample/test.csv"
    assert evolved.where("run.seed") == r.where("run.seed")
    with pytest.raises(RecipeError, match=r"^<python>: data\.train_path: expected a string, got integer 3$"):
        r.evolve(data=attrs.evolve(r.data, train_path=3))
    with pytest.raises(RecipeError, match=r"^<python>: run\.models: expected an array"):
        r.evolve(run=attrs.evolve(r.run, models="scratch"))
    with pytest.raises(RecipeError, match=r"^<python>: models\.scratch: expected a table"):
        r.evolve(models={"scratch": 3})


def test_set_says_what_to_write_for_an_array_element_or_a_table() -> None:
    """``--set 'run.models[0]=x'`` was answered "unknown key (did you mean 'models'?)", and a value for a
    table (``--set data.preprocessing=1``) "invalid value (argument of type 'int' is not iterable)"."""
    with pytest.raises(RecipeError, match=r"^--set 'run\.models\[0\]=lead': an array is set whole, e\.g\. "):
        load_recipe(TINY, ["run.models[0]=lead"])
    with pytest.raises(RecipeError) as refused:
        load_recipe(TINY, ["data.preprocessing=1"])
    assert refused.value.problems == ["--set: data.preprocessing: expected a table, got integer 1"]
