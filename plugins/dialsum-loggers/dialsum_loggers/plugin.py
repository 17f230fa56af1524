"""Entry-point module: registers the loggers and ``dialsum report``; imports nothing heavy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import click

from dialsum_core import hookimpl
from dialsum_core.cli import HomePath, disable_option, listed_plugins
from dialsum_core.validators import non_negative, positive
from dialsum_loggers import jsonl


def _relative(_inst: Any, attr: attrs.Attribute, value: str) -> None:
    if not value or Path(value).is_absolute() or ".." in Path(value).parts:
        raise ValueError(f"must be a path inside the experiment folder, got {value!r}")


def _file_name(inst: Any, attr: attrs.Attribute, value: str) -> None:
    """A log file: inside the experiment folder, and not the folder itself (``.``), which the logger
    could not open: the run would go on without its log."""
    _relative(inst, attr, value)
    if not Path(value).parts:
        raise ValueError(f"{value!r} is the experiment folder itself; give a file name such as 'train.log'")


@attrs.define
class FileOptions:
    #: Log file name, inside the experiment folder. The level is ``run.log_level``.
    filename: str = attrs.field(default="train.log", validator=_file_name)
    #: Also copy what is printed on stdout/stderr during the run (the seed's ``print_also``).
    capture_output: bool = True


@attrs.define
class ConsoleOptions:
    #: Show the live display even when stdout is not a terminal.
    force: bool = False
    #: Print the table of final results.
    table: bool = True
    #: Rows of the results table at most.
    max_rows: int = attrs.field(default=20, validator=positive)
    #: Redraws of the live display per second.
    refresh_per_second: float = attrs.field(default=4.0, validator=positive)


@attrs.define
class JsonlOptions:
    #: Metrics file name, inside the experiment folder.
    filename: str = attrs.field(default=jsonl.FILENAME, validator=_file_name)
    #: Seconds between two recorded progress updates of one task (first and last always recorded).
    progress_interval: float = attrs.field(default=5.0, validator=non_negative)


@attrs.define
class TensorBoardOptions:
    #: Folder of the event files, inside the experiment folder.
    log_dir: str = attrs.field(default="tensorboard", validator=_relative)
    #: Seconds between two flushes to disk (everything is flushed at the end of the run).
    flush_secs: int = attrs.field(default=30, validator=positive)


#: The loggers that write one file of their own in the experiment folder, by the key of its name.
FILE_KEYS = {"file": "loggers.file.filename", "jsonl": "loggers.jsonl.filename"}
#: The loggers that write a folder of their own in the experiment folder, by the key of its name.
FOLDER_KEYS = {"tensorboard": "loggers.tensorboard.log_dir"}


def _same_file(name: str) -> str:
    """How two names of one file compare: ``./a.log`` is ``a.log``, and case does not count (on a
    case-insensitive file system ``Results.json`` is ``results.json``)."""
    return Path(name).as_posix().casefold()


def check_log_files(recipe: Any, plugins: Any) -> list[tuple[str, str]]:
    """A log file must not be one the core writes in the experiment folder (``config.toml``,
    ``results.json``: one would overwrite the other, silently), nor take the place of a folder the
    core makes (``predictions``: the log or the predictions would be lost), nor be the other logger's
    file (two streams interleaved in one file); a log folder must not take a file's place (the core
    could not write ``results.json`` at the end of the run). Registered for ``file``, ``jsonl`` and
    ``tensorboard``: all find the same problems, which ``dialsum check`` reports once."""
    from dialsum_core.experiment import CONFIG, RESULTS, SUBDIRS

    core = {_same_file(n): n for n in (CONFIG, RESULTS)}
    folders = {_same_file(n): n for n in SUBDIRS}
    found: list[tuple[str, str]] = []
    taken: dict[str, str] = {}
    for name, key in FILE_KEYS.items():
        if name not in recipe.run.loggers:
            continue
        filename = recipe.options("loggers", name, plugins).filename
        same = _same_file(filename)
        first = same.split("/", 1)[0]
        if same in core:
            found.append((key, f"{filename!r} is the {core[same]} the core writes in the experiment folder; "
                               "name the log file otherwise"))
        elif same in folders:
            found.append((key, f"{filename!r} is the folder {folders[same]}/ the core makes in the experiment "
                               "folder; name the log file otherwise"))
        elif first in core:
            found.append((key, f"{filename!r} puts the log in a folder named {core[first]}, the file the core "
                               "writes in the experiment folder; name the log file otherwise"))
        elif same in taken:
            found.append((key, f"{filename!r} is also {taken[same]}: two logs cannot share one file; "
                               "name one otherwise"))
        taken.setdefault(same, key)
    for name, key in FOLDER_KEYS.items():
        if name not in recipe.run.loggers:
            continue
        folder = recipe.options("loggers", name, plugins).log_dir
        first = _same_file(folder).split("/", 1)[0]
        owner = (f"the {core[first]} the core writes" if first in core
                 else f"the log file of {taken[first]}" if first in taken else "")
        if owner:
            found.append((key, f"{folder!r} makes a folder where {owner} goes; name the folder otherwise"))
    return found


def make_file(options: FileOptions, ctx: Any) -> Any:
    from dialsum_loggers import file

    return file.build(options, ctx)


def make_console(options: ConsoleOptions, ctx: Any) -> Any:
    from dialsum_loggers import console

    return console.build(options, ctx)


def make_jsonl(options: JsonlOptions, ctx: Any) -> Any:
    return jsonl.build(options, ctx)


def make_tensorboard(options: TensorBoardOptions, ctx: Any) -> Any:
    from dialsum_loggers import tensorboard

    return tensorboard.build(options, ctx)


@hookimpl
def dialsum_register_loggers(register: Any) -> None:
    register("file", make_file, options=FileOptions, check=check_log_files,
             description="train.log in the experiment folder: log lines, printed output, tracebacks")
    register("console", make_console, options=ConsoleOptions,
             description="Live progress bars with ETA on a terminal and a final table of results")
    register("jsonl", make_jsonl, options=JsonlOptions, check=check_log_files,
             description="metrics.jsonl: one JSON object per event, read by dialsum report for its plots")
    register("tensorboard", make_tensorboard, options=TensorBoardOptions, check=check_log_files,
             description="TensorBoard event files (scalars, recipe, plots) under tensorboard/")


@click.command(name="report")
@click.argument("experiment_dir", metavar="EXPERIMENT_DIR", type=HomePath(file_okay=False))
@click.option("--out", "out_dir", type=HomePath(file_okay=False), default=None,
              help="Where to write report.md and the plots (default: EXPERIMENT_DIR/report).")
@disable_option
def report_command(experiment_dir: str, out_dir: str | None, disable: tuple[str, ...]) -> None:
    """Rebuild plots and a Markdown summary of a finished or interrupted run.

    Reads the jsonl logger's file (metrics.jsonl, or the name config.toml gives it) and results.json.
    The installed plugins say which scores the tables show x100; a broken or unwanted one is left out
    with --disable-plugin, as for a run.
    """
    from dialsum_loggers.report import build_report

    try:  # a DialsumError is the command's error line, as for every command
        written = build_report(Path(experiment_dir), Path(out_dir) if out_dir else None, listed_plugins(disable))
    except KeyboardInterrupt:  # as `dialsum run` says it; the files are moved in last, all or none
        click.echo("interrupted; the report was not written", err=True)
        raise SystemExit(130) from None
    click.echo(f"report: {written.markdown}")
    for plot in written.plots:
        click.echo(f"plot: {plot}")


@hookimpl
def dialsum_register_commands(cli: Any) -> None:
    cli.add_command(report_command)


@hookimpl
def dialsum_register_sections(register: Any) -> None:
    register("run", defaults={"loggers": ["file", "console", "jsonl"]},
             description="The loggers a recipe that names none uses")
