"""Entry-point module: adds ``dialsum launch`` through ``dialsum_register_commands`` and, in a launched
process, offers the launch's processes through ``dialsum_processes`` (cheap: click only; torch is
imported by the first collective)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from dialsum_core import hookimpl
from dialsum_core.cli import disable_option, set_option

if TYPE_CHECKING:
    from dialsum_core.protocols import Processes

LAUNCHERS = ("torchrun", "accelerate")


@click.command(name="launch")
@click.argument("recipe_path", metavar="RECIPE", type=click.Path(dir_okay=False))
@set_option
@disable_option
@click.option("--launcher", type=click.Choice(LAUNCHERS), default="torchrun", show_default=True,
              help="What starts the processes.")
@click.option("--num-processes", type=click.IntRange(min=0), default=0, metavar="N",
              help="Processes to start (0: the launcher's default, one per GPU).")
@click.option("--launcher-args", default="", metavar="ARGS",
              help="Passed to the launcher as they are, e.g. '--config_file deepspeed.yaml'.")
def launch_command(recipe_path: str, overrides: tuple[str, ...], disable: tuple[str, ...], launcher: str,
                   num_processes: int, launcher_args: str) -> None:
    """Run RECIPE as several processes (data-parallel training, sharded generation)."""
    import sys

    from dialsum_launch.launch import launch_recipe

    # a DialsumError ends it as every command ends: one error line, exit 2 (dialsum_core.cli.DialsumGroup)
    sys.exit(launch_recipe(recipe_path, overrides, disable, launcher, num_processes, launcher_args))


@hookimpl
def dialsum_register_commands(cli: Any) -> None:
    cli.add_command(launch_command)


@hookimpl
def dialsum_processes() -> Processes | None:
    """The launch's processes when the launcher's environment says there are several (``WORLD_SIZE``)."""
    from dialsum_launch.processes import from_environment

    return from_environment()
