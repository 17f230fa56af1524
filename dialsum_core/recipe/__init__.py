"""Typed TOML recipes: the Python API behind ``dialsum run`` and ``dialsum check``.

>>> from dialsum_core.recipe import load_recipe
>>> recipe = load_recipe("recipes/quick.toml", ["train.epochs=1"])   # doctest: +SKIP
>>> recipe = recipe.override("generation.num_beams=2").merge({"run": {"debug": True}})  # doctest: +SKIP
"""

from dialsum_core.recipe.model import CONVERTER, Recipe, load_recipe, structure_options, write_recipe
from dialsum_core.recipe.schema import (
    DataSection,
    GenerationSection,
    PreprocessingSection,
    RunSection,
    TrainSection,
)

__all__ = [
    "CONVERTER",
    "DataSection",
    "GenerationSection",
    "PreprocessingSection",
    "Recipe",
    "RunSection",
    "TrainSection",
    "load_recipe",
    "structure_options",
    "write_recipe",
]
