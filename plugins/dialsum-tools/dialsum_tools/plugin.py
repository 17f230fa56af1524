"""Entry-point module: adds the authoring commands through ``dialsum_register_commands``."""

from __future__ import annotations

from typing import Any

from dialsum_core import hookimpl


@hookimpl
def dialsum_register_commands(cli: Any) -> None:
    from dialsum_tools.recipe_doc import command as recipe_doc
    from dialsum_tools.scaffold import command as new_plugin

    cli.add_command(recipe_doc)
    cli.add_command(new_plugin)
