"""The ``console`` logger: a live progress display on a terminal and a compact table of results.

It shows one bar per level of work that is under way (stage, fold, trial, epoch, training steps,
generation...) with elapsed time and ETA, prints one line per finished epoch, fold and trial above
the bars, and a table of the final results; its lines and its table show percentages such as ROUGE
on the leaderboard's scale (x100, :mod:`dialsum_loggers.scale`). When stdout is not a terminal
(CI, a pipe, ``nohup``) it stays quiet, unless ``force = true``: logs and ``metrics.jsonl`` are the
record there.

While the display is live, lines printed by libraries and the ``dialsum`` log lines on stderr are
routed through it so they appear above the bars instead of tearing them; when the ``file`` logger
copies output to ``train.log``, the copy still happens (the bars themselves never reach the file).
"""

from __future__ import annotations

import sys
from typing import Any

import attrs

from dialsum_core import hookimpl
from dialsum_core.cli import console_handlers
from dialsum_core.errors import status_of
from dialsum_loggers.position import Position, numeric
from dialsum_loggers.scale import Scale
from dialsum_loggers.streams import installed


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1000 else f"{value:.1f}"
    return str(value)


class ConsoleLogger:
    def __init__(self, options: Any, ctx: Any, console: Any = None):
        self.options = options
        self.position = Position()
        tee = installed("stdout")
        terminal = tee.original if tee is not None else sys.stdout
        self.enabled = bool(options.force or console is not None or terminal.isatty())
        #: It draws the progress events on the terminal: other plugins leave their bars off.
        self.displays_progress = self.enabled
        self._console = console
        self._terminal = terminal
        self._progress: Any = None
        self._tasks: dict[str, Any] = {}
        self._restore: list[Any] = []
        #: The study's budget, from the search mode's ``trials`` progress (sent before the first trial).
        self._n_trials: int | None = None
        #: The study's metric, named by its trial events: whether an objective value is a percentage (x100).
        self._objective = ""
        #: The plugins of the run, asked once which results are percentages (:meth:`_scale`).
        self._plugins = getattr(ctx, "plugins", None)
        self._asked: Scale | None = None
        self._noted = False

    # -- display ------------------------------------------------------------------------------
    def _start(self) -> None:
        if not self.enabled or self._progress is not None:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        if self._console is None:
            self._console = Console(file=self._terminal, force_terminal=self.options.force or None)
        own_redirect = installed("stdout") is None
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=self._console,
            refresh_per_second=self.options.refresh_per_second,
            redirect_stdout=own_redirect,
            redirect_stderr=own_redirect,
            transient=False,
        )
        self._progress.start()
        self._route_through_display()

    def _route_through_display(self) -> None:
        """Print and log lines go above the bars while they are live (see the module docstring)."""
        from rich.file_proxy import FileProxy

        console = self._progress.console
        for name in ("stdout", "stderr"):
            tee = installed(name)
            if tee is not None:
                previous = tee.terminal
                tee.terminal = FileProxy(console, tee.original)
                self._restore.append(lambda tee=tee, previous=previous: setattr(tee, "terminal", previous))
        for handler in console_handlers():
            stream = handler.stream
            handler.setStream(FileProxy(console, stream))
            self._restore.append(lambda h=handler, s=stream: h.setStream(s))

    def _stop(self) -> None:
        for undo in reversed(self._restore):
            undo()
        self._restore = []
        if self._progress is not None:
            progress, self._progress = self._progress, None
            progress.stop()
        self._tasks = {}

    def _say(self, text: str) -> None:
        if self._progress is not None:
            self._progress.console.print(text, highlight=False)

    def _bar(self, key: str, description: str, completed: float, total: float | None) -> None:
        if self._progress is None:
            return
        task = self._tasks.get(key)
        if task is None:
            self._tasks[key] = self._progress.add_task(description, total=total, completed=completed)
        else:
            self._progress.update(task, description=description, completed=completed, total=total)

    def _drop(self, *keys: str) -> None:
        for key in keys:
            task = self._tasks.pop(key, None)
            if task is not None and self._progress is not None:
                self._progress.remove_task(task)

    def _reset(self, key: str, description: str, total: float | None) -> None:
        self._drop(key)
        self._bar(key, description, 0, total)

    def _scale(self) -> Scale:
        """Lines and the final table on one scale: an epoch's ROUGE read as 0.41 above a table's 41.00
        looks like two different models."""
        if self._asked is None:
            self._asked = Scale.asking(self._plugins)
        return attrs.evolve(self._asked, objective=self._objective)

    def _summary(self, metrics: dict[str, Any], limit: int = 6) -> str:
        """``key=value`` of the first ``limit`` numbers, percentages x100; the first line to show one says so."""
        scale, items = self._scale(), list(numeric(metrics).items())[:limit]
        note = scale.note(k for k, _ in items)
        if note and not self._noted:
            self._noted = True
            self._say(f"[dim]{note}[/]")
        return "  ".join(f"{k}={_fmt(scale.shown(k, v))}" for k, v in items)

    # -- events -------------------------------------------------------------------------------
    @hookimpl
    def dialsum_before_run(self, ctx: Any) -> None:
        self._start()
        run = ctx.recipe.run
        self._say(f"[bold]dialsum[/] {run.mode} · {', '.join(run.models)} · {ctx.experiment.root}")

    @hookimpl
    def dialsum_before_stage(self, stage: str) -> None:
        self.position.enter("dialsum_before_stage", {"stage": stage})
        self._reset("stage", f"stage {stage}", None)

    @hookimpl
    def dialsum_after_stage(self, stage: str, metrics: dict[str, Any]) -> None:
        self.position.leave("dialsum_after_stage")
        self._drop(*list(self._tasks))
        summary = self._summary(metrics or {})
        self._say(f"[green]✓[/] stage {stage}" + (f"  {summary}" if summary else ""))

    # The fold and trial events are declared by dialsum-modes; optional, so this logger works without it.
    @hookimpl(optionalhook=True)
    def dialsum_before_fold(self, fold: int, n_folds: int) -> None:
        self.position.enter("dialsum_before_fold", {"fold": fold, "n_folds": n_folds})
        self._bar("fold", f"fold {fold + 1}/{n_folds}", fold, n_folds)
        self._drop("epoch", "train")

    @hookimpl(optionalhook=True)
    def dialsum_after_fold(self, fold: int, n_folds: int, metrics: dict[str, Any]) -> None:
        self._bar("fold", f"fold {fold + 1}/{n_folds}", fold + 1, n_folds)
        self._say(f"  fold {fold + 1}/{n_folds}  {self._summary(metrics or {})}")
        self.position.leave("dialsum_after_fold")
        self._drop("epoch", "train", "generate")
        if fold + 1 >= n_folds:
            self._drop("fold")

    @hookimpl(optionalhook=True)
    def dialsum_before_trial(self, trial: int, params: dict[str, Any], metric: str | None) -> None:
        self.position.enter("dialsum_before_trial", {"trial": trial})
        self._objective = metric or self._objective
        total = self._n_trials
        label = f"trial {trial}" + (f"/{total}" if total else "")
        self._bar("trial", label, trial, total)
        self._drop("epoch", "train")

    @hookimpl(optionalhook=True)
    def dialsum_after_trial(
        self, trial: int, params: dict[str, Any], value: float | None, state: str, metric: str | None
    ) -> None:
        self._objective = metric or self._objective
        total = self._n_trials
        self._bar("trial", f"trial {trial}" + (f"/{total}" if total else ""), trial + 1, total)
        shown = _fmt(self._scale().shown(self._objective, value)) if value is not None else "-"
        params_text = ", ".join(f"{k}={_fmt(v)}" for k, v in (params or {}).items())
        self._say(f"  trial {trial} {state}: {shown}  ({params_text})")
        self.position.leave("dialsum_after_trial")
        self._drop("epoch", "train", "generate")

    @hookimpl
    def dialsum_before_epoch(self, epoch: int, n_epochs: int) -> None:
        where = self._where()
        self._bar("epoch", f"{where}epoch {epoch}/{n_epochs}", epoch - 1, n_epochs)

    @hookimpl
    def dialsum_after_epoch(self, epoch: int, n_epochs: int, metrics: dict[str, Any]) -> None:
        where = self._where()
        self._bar("epoch", f"{where}epoch {epoch}/{n_epochs}", epoch, n_epochs)
        self._say(f"  {where}epoch {epoch}/{n_epochs}  {self._summary(metrics or {})}")

    @hookimpl
    def dialsum_on_metrics(self, metrics: dict[str, Any], step: int | None) -> None:
        task = self._tasks.get("train")
        if task is not None and self._progress is not None:
            loss = numeric(metrics).get("loss")
            if loss is not None:
                self._progress.update(task, description=f"train  loss {loss:.4f}")

    def _where(self) -> str:
        """``trial 3 · fold 2/5 · ``: folds counted from 1, as on the fold bar."""
        p = self.position
        parts = [f"trial {p.trial}"] if p.trial is not None else []
        if p.fold is not None:
            parts.append(f"fold {p.fold + 1}/{p.n_folds}")
        return "".join(x + " · " for x in parts)

    @hookimpl
    def dialsum_on_progress(self, task: str, completed: int, total: int | None) -> None:
        if task == "trials" and total:
            self._n_trials = total  # the real budget: debug caps it, and `full` reads [modes.optuna]
        if self._progress is None:
            return
        known = self._tasks.get(task)
        if known is not None and completed == 0:
            self._drop(task)
            known = None
        if known is None:
            self._bar(task, task, completed, total)
        else:
            self._progress.update(known, completed=completed, total=total)
        if total is not None and completed >= total:
            self._drop(task)

    @hookimpl
    def dialsum_after_run(self, results: dict[str, Any]) -> None:
        self._stop_and_table(results)

    @hookimpl
    def dialsum_on_error(self, error: BaseException) -> None:
        if self._progress is not None:
            self._say(f"[red]✗ run {status_of(error)}:[/] {type(error).__name__}: {error}")
        self._stop()

    def _stop_and_table(self, results: dict[str, Any]) -> None:
        console = self._progress.console if self._progress is not None else None
        self._drop(*list(self._tasks))  # the finished run leaves its lines and the table, no stale bars
        self._stop()
        if console is None or not self.options.table:
            return
        from rich.table import Table

        scale = self._scale()
        rows = result_rows(results, scale)
        shown, rest = rows[:self.options.max_rows], rows[self.options.max_rows:]
        note = scale.note(k for k, _ in shown)
        table = Table(title="results", show_header=True, header_style="bold", caption=note or None)
        table.add_column("key")
        table.add_column("value", justify="right")
        for key, value in shown:
            table.add_row(key, value)
        if rest:  # never a table taken for all there is (loggers.console.max_rows)
            table.add_row(f"… {len(rest)} more in results.json", "")
        console.print(table)

    def close(self) -> None:
        self._stop()


def result_rows(results: dict[str, Any], scale: Scale) -> list[tuple[str, str]]:
    """Scalars of ``results`` (one level of nesting flattened with dots); percentages on the
    leaderboard's scale (x100, two decimals) as ``scale`` says, a study's objective value (the keys
    the run modes name) when the study's metric is one."""
    rows: list[tuple[str, str]] = []

    def add(prefix: str, value: Any, depth: int) -> None:
        if isinstance(value, dict) and depth < 2:
            for k, v in value.items():
                add(f"{prefix}.{k}" if prefix else str(k), v, depth + 1)
        elif isinstance(value, bool | int | float) or (isinstance(value, str) and len(value) <= 60):
            rows.append((prefix, _fmt(scale.shown(prefix, value))))

    add("", results, 0)
    return rows


def build(options: Any, ctx: Any) -> ConsoleLogger:
    return ConsoleLogger(options, ctx)
