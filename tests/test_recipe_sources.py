"""Where a recipe's values come from: a file, ``--set`` or Python decides what a path is relative to
and which file an error names; the resolved ``config.toml`` keeps what every table meant."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import ROOT
from dialsum_core.manager import build_plugins
from dialsum_core.recipe import load_recipe, write_recipe
from dialsum_core.runner import resolve

TINY = ROOT / "recipes" / "single-tiny.toml"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path



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
