"""``dialsum models``: the named presets (what ``run.models = ["all"]`` expands to), from every plugin
that tags a model loader ``preset``."""

from __future__ import annotations

import click

from dialsum_core.cli import listed_plugins, print_table


@click.command()
def models() -> None:
    """List the named model presets (what run.models = ["all"] expands to)."""
    plugins = listed_plugins()
    rows = [(reg.name, reg.distribution, reg.description) for reg in plugins.registry.tagged("model_loaders", "preset")]
    if not rows:
        click.echo("no model presets installed")
        return
    print_table(("preset", "distribution", "description"), rows)
