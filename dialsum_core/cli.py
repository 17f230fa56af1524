"""The ``dialsum`` command line.

Importing this module must stay cheap: no heavy library. Plugins are loaded through their
(cheap) entry-point modules; a broken plugin is a warning here, never a crash.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn

import click

from dialsum_core import __version__
from dialsum_core.errors import DialsumError
from dialsum_core.manager import Plugins, build_plugins
from dialsum_core.registry import KINDS

log = logging.getLogger("dialsum")


def fail(exc: DialsumError) -> NoReturn:
    """Report a user error as ``error: ...`` lines and exit with its code: how every command ends on a
    :class:`DialsumError` it raises (see :class:`DialsumGroup`)."""
    for line in str(exc).splitlines() or [type(exc).__name__]:
        click.echo(f"error: {line}", err=True)
    sys.exit(exc.exit_code)


def listed_plugins(disable: Sequence[str] = ()) -> Plugins:
    """The installed plugins for a listing command, broken ones reported as warnings (a clash raises)."""
    plugins = build_plugins(disable)
    _warn_broken(plugins)
    return plugins


def _warn_broken(plugins: Plugins) -> None:
    for broken in plugins.broken:
        click.echo(f"warning: {broken.describe()}", err=True)


class UserErrorsOnce(logging.Filter):
    """A user error (or Ctrl-C) is printed once on the console, as the command's one ``error:`` line:
    its log record, traceback included, goes to the run's log file only, and to the console too at
    ``run.log_level = "DEBUG"``. Any other failure (a bug) keeps its traceback on the console."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, DialsumError | KeyboardInterrupt) or log.getEffectiveLevel() <= logging.DEBUG


def console_handlers() -> list[logging.StreamHandler]:
    """The handlers showing the ``dialsum`` log on the terminal: a live display routes them above its bars."""
    return [h for h in log.handlers if isinstance(h, logging.StreamHandler) and getattr(h, "_dialsum_console", False)]


def _setup_console_logging() -> None:
    if not console_handlers():
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
        handler.addFilter(UserErrorsOnce())
        handler._dialsum_console = True  # type: ignore[attr-defined]
        log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


set_option = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a recipe key, e.g. --set run.seed=7 --set 'run.models=[\"a\", \"b\"]'.",
)


class HomePath(click.Path):
    """A path argument of a command with a leading ``~`` expanded: ``--out=~/reports`` reaches the program
    as typed (a shell expands ``~`` only at the start of a word), and a folder named ``~`` made in the
    working folder is one ``rm -rf ~`` away from deleting the home folder. An empty path is refused."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value == "":  # the current folder to Path(""), where a file was meant: `-o "$UNSET_VARIABLE"`
            self.fail("an empty path; give a path", param, ctx)
        return super().convert(os.path.expanduser(value) if isinstance(value, str) else value, param, ctx)


disable_option = click.option(
    "--disable-plugin",
    "disable",
    multiple=True,
    metavar="NAME",
    help="Do not load this plugin (entry-point name); also DIALSUM_DISABLE_PLUGINS=a,b.",
)


class _Output:
    """``sys.stdout`` while a command runs. A reader that stops reading (``dialsum plugins | head -1``,
    ``| grep -q``) ends the output, not the command, which exits with its own status: under ``set -o
    pipefail`` a listing read in part is no failure (the reader has what it wanted), and a run still
    writes its results. Any other failure to write (``> /dev/full``) is the command's one ``error:``."""

    def __init__(self, stream: Any):
        self.stream, self.failed = stream, False

    def write(self, text: str) -> int:
        return self._guard(self.stream.write, text) or len(text)

    def flush(self) -> None:
        self._guard(self.stream.flush)

    def __getattr__(self, name: str) -> Any:  # encoding, isatty, fileno, buffer...
        return getattr(self.stream, name)

    def _guard(self, call: Any, *args: Any) -> Any:
        try:
            return call(*args)
        except BrokenPipeError:
            self.discard()
        except OSError as exc:
            self.failed = True
            raise DialsumError(f"cannot write the output: {exc.strerror or exc}") from None

    def discard(self) -> None:
        """The rest of the output, flushed as Python exits too, goes nowhere."""
        with contextlib.suppress(OSError, ValueError):
            fd, devnull = self.stream.fileno(), os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, fd)
            os.close(devnull)


class DialsumGroup(click.Group):
    """Adds plugin-provided commands lazily, so a broken plugin cannot break ``--help``; ends every
    command alike, its own or a plugin's: a user error as one ``error:`` line (status 2), Ctrl-C as one
    line (status 130, as ``dialsum run``), output that cannot be written as :class:`_Output` says."""

    _loaded = False

    def main(self, *args: Any, **kwargs: Any) -> Any:
        terminal = sys.stdout
        sys.stdout = output = _Output(terminal)
        try:
            return super().main(*args, **kwargs)
        finally:
            sys.stdout = terminal
            if output.failed:
                output.discard()

    @contextlib.contextmanager
    def _ends(self) -> Iterator[None]:
        try:
            yield
        except DialsumError as exc:
            fail(exc)
        except KeyboardInterrupt as exc:  # before click, which says "Aborted!" and exits 1
            click.echo("; ".join([str(exc) or "interrupted", *getattr(exc, "__notes__", [])]), err=True)
            sys.exit(getattr(exc, "exit_code", 130))

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        with self._ends():  # --help loads the plugins' commands
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        with self._ends():
            return super().invoke(ctx)

    def _load_plugin_commands(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        try:
            plugins = build_plugins()
        except DialsumError as exc:
            click.echo(f"warning: {exc}", err=True)
            return
        for impl in plugins.hook.dialsum_register_commands.get_hookimpls():
            try:
                impl.function(cli=self)
            except Exception as exc:
                click.echo(f"warning: {plugins.origin(impl.plugin_name)} could not add its commands: "
                           f"{type(exc).__name__}: {exc}", err=True)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_plugin_commands()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        cmd = super().get_command(ctx, cmd_name)
        if cmd is None:
            self._load_plugin_commands()
            cmd = super().get_command(ctx, cmd_name)
        return cmd


@click.group(cls=DialsumGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dialsum", message="%(prog)s %(version)s")
def cli() -> None:
    """Train, tune, ensemble and submit dialogue-summarization models from TOML recipes.

    \b
    Quick start:
      dialsum run recipes/quick.toml
      dialsum check recipes/full.toml --set run.debug=true
      dialsum plugins
    """


def load_checked(recipe_path: str, overrides: Sequence[str], disable: Sequence[str] = (), *,
                 validate: bool = True) -> tuple[Plugins, Any]:
    """The plugins and the (validated) recipe, as ``dialsum check`` and ``dialsum run`` get them; a
    command a plugin adds (a launcher's) starts the same way. Raises :class:`DialsumError`."""
    from dialsum_core.recipe import load_recipe

    plugins = listed_plugins(disable)
    names = {reg.name for reg in plugins.registry}
    recipe = load_recipe(recipe_path, overrides, schema=plugins.schema, strict=False, names=names)
    if not validate:
        return plugins, recipe
    return plugins, plugins.resolve(recipe).validate(plugins)


@cli.command()
@click.argument("recipe_path", metavar="RECIPE", type=click.Path(dir_okay=False))
@set_option
@disable_option
def check(recipe_path: str, overrides: tuple[str, ...], disable: tuple[str, ...]) -> None:
    """Validate RECIPE without running anything (every named plugin must be installed)."""
    plugins, recipe = load_checked(recipe_path, overrides, disable)
    for line in recipe.ignored(plugins):
        click.echo(f"warning: {line}", err=True)
    models = ", ".join(recipe.run.models)
    click.echo(f"{recipe_path}: ok (mode {recipe.run.mode}; models {models})")


@cli.command()
@click.argument("recipe_path", metavar="RECIPE", type=click.Path(dir_okay=False))
@set_option
@disable_option
def run(recipe_path: str, overrides: tuple[str, ...], disable: tuple[str, ...]) -> None:
    """Run RECIPE: train, evaluate and predict as its run mode says."""
    from dialsum_core.runner import run_recipe

    def terminated(signum: int, _frame: Any) -> None:  # a scheduler's time limit: the run ends as on Ctrl-C
        stop = KeyboardInterrupt(f"stopped by {signal.Signals(signum).name}")
        stop.exit_code = 128 + signum  # type: ignore[attr-defined]  # as a shell reports a process it ended
        raise stop

    _setup_console_logging()
    plugins, recipe = load_checked(recipe_path, overrides, disable, validate=False)
    # only the main thread may set a handler: a run started from another keeps the process's own
    held = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, terminated) if held else None
    try:
        result = run_recipe(recipe, plugins)  # validates
    finally:
        if held:
            signal.signal(signal.SIGTERM, previous)
    if result.main:  # one line per launch, not one per process
        click.echo(f"results: {result.results_path}")


@cli.command(name="plugins")
@disable_option
def plugins_cmd(disable: tuple[str, ...]) -> None:
    """List installed plugins: name, kind, distribution, version, description."""
    plugins = listed_plugins(disable)
    rows = [
        (reg.name, reg.label, reg.distribution, reg.version, reg.description) for reg in plugins.registry
    ]
    print_table(("name", "kind", "distribution", "version", "description"), rows)
    click.echo()
    print_table(("plugin", "distribution", "version", "recipe sections and hooks"), _contributions(plugins))


def _contributions(plugins: Plugins) -> list[tuple[str, str, str, str]]:
    """What each plugin adds besides named registrations: the recipe tables it contributes keys to and
    the other hooks it implements (``dialsum_load_data``, commands...), so that "who reads my
    recipe table" has an answer on the command line."""
    named = {kind.hook for kind in KINDS} | {"dialsum_register_sections"}
    rows = []
    for name, info in plugins.infos.items():
        tables = dict.fromkeys(f"[{p.table}]" for p in plugins.registry.sections if p.plugin == name)
        hooks = [c.name for c in plugins.pm.get_hookcallers(plugins.pm.get_plugin(name)) or [] if c.name not in named]
        if tables or hooks:
            rows.append((name, info.distribution, info.version, ", ".join([*tables, *sorted(hooks)])))
    return rows


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=False)]
    for row in (header, *rows):
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)).rstrip())


def main(argv: Sequence[str] | None = None) -> Any:
    return cli.main(args=list(argv) if argv is not None else None, prog_name="dialsum")


if __name__ == "__main__":  # pragma: no cover
    main()
