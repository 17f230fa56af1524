"""Fixtures of the run-mode tests (defined in ``modes_helpers``, a name no other test folder uses)."""

from modes_helpers import make_recipe, plugins, run, small_data

__all__ = ["make_recipe", "plugins", "run", "small_data"]
