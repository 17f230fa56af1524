"""On a terminal, one progress display: dialsum-hf's own bars (and the Trainer's) stay off while a
logger of the run draws the progress events there."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from dialsum_core import hookimpl
from dialsum_hf.generation import own_bars
from dialsum_hf.training import training_arguments


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Display:
    """A logger that draws progress on the terminal, as the console logger does there."""

    displays_progress = True

    @hookimpl
    def dialsum_on_progress(self, task: str, completed: int, total: int | None) -> None:
        pass


class Recorder:
    """A logger that listens to progress without drawing it (the jsonl logger's kind)."""

    @hookimpl
    def dialsum_on_progress(self, task: str, completed: int, total: int | None) -> None:
        pass


def test_bars_on_a_terminal_unless_a_logger_displays_the_progress(context, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", Terminal())  # here, not in a fixture: capturing resets it for the test
    ctx = context({})
    ctx.plugins.pm.register(Recorder(), name="logger:recorder")
    assert own_bars(ctx) and training_arguments(ctx, tmp_path, 4, 2, 10, False).disable_tqdm is False
    ctx.plugins.pm.register(Display(), name="logger:display")
    assert not own_bars(ctx) and training_arguments(ctx, tmp_path, 4, 2, 10, False).disable_tqdm is True


def test_no_bars_off_a_terminal(context, tmp_path: Path) -> None:
    assert not sys.stderr.isatty()
    assert not own_bars(context({}))


def test_the_console_logger_says_it_displays_progress_when_it_draws() -> None:
    from dialsum_loggers.console import ConsoleLogger
    from dialsum_loggers.plugin import ConsoleOptions

    assert ConsoleLogger(ConsoleOptions(force=True), None).displays_progress is True
