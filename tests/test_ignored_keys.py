"""Keys a recipe sets that change nothing (``dialsum_ignored_keys``): warned about by ``dialsum check`` and
the run, never refused; a plugin whose answer fails is named, and neither check nor run stops."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from click.testing import CliRunner

from dialsum_core import hookimpl
from dialsum_core.cli import cli
from dialsum_core.manager import build_plugins
from dialsum_core.recipe import load_recipe

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


class SeedIgnorer:
    """A third party that knows ``run.seed`` means nothing to its (imagined) deterministic mode."""

    @hookimpl
    def dialsum_ignored_keys(self, recipe: Any) -> list[tuple[str, str]]:
        return [("run.seed", "this mode draws nothing at random")] if recipe.run.seed != 42 else []


class Broken:
    @hookimpl
    def dialsum_ignored_keys(self, recipe: Any, plugins: Any) -> list[tuple[str, str]]:
        raise RuntimeError("boom")


def _recipe(tmp_path: Path, seed: int) -> Path:
    path = tmp_path / "r.toml"
    path.write_text(f'[run]\nmode = "single"\nmodels = ["lead"]\nseed = {seed}\n[data]\n'
                    f'train_path = "{SAMPLE / "train.csv"}"\ndev_path = "{SAMPLE / "dev.csv"}"\n', encoding="utf-8")
    return path


def test_ignored_keys_are_named_with_their_file_and_isolated_when_a_plugin_fails(tmp_path: Path) -> None:
    path = _recipe(tmp_path, seed=7)
    plugins = build_plugins(extra=[("seed-ignorer", SeedIgnorer()), ("broken", Broken())])
    lines = load_recipe(path, schema=plugins.schema).ignored(plugins)
    assert lines[0] == f"{path}: run.seed: changes nothing: this mode draws nothing at random"
    assert "plugin 'broken'" in lines[1] and "RuntimeError: boom" in lines[1]
    assert load_recipe(_recipe(tmp_path, seed=42), schema=plugins.schema).ignored(plugins) == lines[1:]


def test_check_warns_and_passes(tmp_path: Path) -> None:
    """Without a plugin that says so, nothing is warned; the bundled hf plugin names what it ignores."""
    path = _recipe(tmp_path, seed=7)
    result = CliRunner().invoke(cli, ["check", str(path)])
    assert result.exit_code == 0 and "warning" not in result.output, result.output
    with path.open("a", encoding="utf-8") as fh:
        fh.write('[train]\nscheduler = "constant"\nwarmup_ratio = 0.2\n')
    result = CliRunner().invoke(cli, ["check", str(path)])
    assert result.exit_code == 0, result.output
    assert f"warning: {path}: train.warmup_ratio: changes nothing" not in result.output  # lead trains nothing
    result = CliRunner().invoke(cli, ["check", str(path), "--set", 'run.models=["scratch"]'])
    assert f"warning: {path}: train.warmup_ratio: changes nothing: the 'constant' schedule" in result.output
    assert result.exit_code == 0 and result.output.rstrip().endswith("models scratch)"), result.output
