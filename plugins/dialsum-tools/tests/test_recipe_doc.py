"""The recipe reference lists the top-level keys the core reserves, each described once."""

from __future__ import annotations

from dialsum_core.manager import build_plugins
from dialsum_core.recipe.model import RESERVED
from dialsum_tools.recipe_doc import _TOP_LEVEL, render_recipe, top_level_docs, undocumented


def test_the_top_level_keys_are_the_cores_reserved_ones() -> None:
    assert set(_TOP_LEVEL) == set(RESERVED)  # a description for a key the core no longer reserves is stale
    page = render_recipe(build_plugins())
    table = page.split("## Top-level keys", 1)[1].split("\n## ", 1)[0]
    assert [line.split("`")[1] for line in table.splitlines() if line.startswith("| `")] == list(RESERVED)
    assert not [line for line in undocumented(None) if "top-level" in line]


def test_a_reserved_key_without_a_description_is_reported() -> None:
    (new,) = [o for o in top_level_docs((*RESERVED, "profile")) if not o.help]
    assert new.key == "profile" and new.owner == "dialsum_tools.recipe_doc._TOP_LEVEL"
