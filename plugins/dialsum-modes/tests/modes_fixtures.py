"""pytest fixtures of the run-mode tests, imported with ``from modes_fixtures import *``.

They live here rather than in a ``conftest.py`` so that this folder never shadows another test
folder's ``conftest`` module when the whole suite runs in one process.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from modes_helpers import SAMPLE, TestPlugins, _rows, _write, recipe_dict

from dialsum_core.manager import Plugins
from dialsum_core.recipe import Recipe
from dialsum_core.runner import RunResult, run_recipe

__all__ = ["make_recipe", "plugins", "run", "small_data"]


@pytest.fixture
def small_data(tmp_path: Path) -> dict[str, Path]:
    """30 train, 8 dev and 6 test dialogues from the project's sample data."""
    if not (SAMPLE / "train.csv").exists():
        pytest.skip(f"sample data not found at {SAMPLE}")
    out = tmp_path / "data"
    out.mkdir()
    cols = ["fname", "dialogue", "summary", "topic"]
    return {
        "train": _write(out / "train.csv", _rows(SAMPLE / "train.csv", 30), cols),
        "dev": _write(out / "dev.csv", _rows(SAMPLE / "dev.csv", 8), cols),
        "test": _write(out / "test.csv", _rows(SAMPLE / "test.csv", 6), ["fname", "dialogue"]),
    }


@pytest.fixture
def make_recipe(small_data: dict[str, Path], tmp_path: Path) -> Callable[..., Recipe]:
    def make(*overrides: str | tuple[str, Any], **run: Any) -> Recipe:
        recipe = Recipe.from_dict(recipe_dict(small_data, tmp_path / "experiments", **run))
        return recipe.override(*overrides) if overrides else recipe

    return make


@pytest.fixture
def plugins(register_plugin: Callable[[object, str], Plugins]) -> Plugins:
    return register_plugin(TestPlugins(), "modes-test-plugins")


@pytest.fixture
def run(plugins: Plugins) -> Callable[[Recipe], RunResult]:
    return lambda recipe: run_recipe(recipe, plugins)

