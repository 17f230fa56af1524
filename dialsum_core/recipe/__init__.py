"""Typed TOML recipes: the Python API behind ``dialsum run`` and ``dialsum check``.

>>> from dialsum_core.recipe import load_recipe
>>> recipe = load_recipe("recipes/quick.toml", ["run.seed=1"])   # doctest: +SKIP
>>> recipe = recipe.override("run.debug=true").merge({"run": {"seed": 2}})  # doctest: +SKIP
"""

from dialsum_core.recipe.model import CONVERTER, Recipe, Schema, load_recipe, structure_options, write_recipe
from dialsum_core.recipe.schema import PATH, PATH_OR_NAME, RunSection, is_path, plugin_name

__all__ = [
    "CONVERTER",
    "PATH",
    "PATH_OR_NAME",
    "Recipe",
    "RunSection",
    "Schema",
    "is_path",
    "load_recipe",
    "plugin_name",
    "structure_options",
    "write_recipe",
]
