"""User-facing errors. Each becomes one line on stderr and exit code 2, never a traceback."""

from __future__ import annotations

from collections.abc import Iterable


def one_line(text: str) -> str:
    """``text`` with line breaks and other control characters escaped (``\\n``), so that a key or a
    value taken from a user's file can never split one problem over several lines."""
    return text if text.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def status_of(error: BaseException) -> str:
    """How a run that raised ``error`` ended, as ``results.json`` and every logger say it (one rule)."""
    return "interrupted" if isinstance(error, KeyboardInterrupt) else "failed"


class DialsumError(Exception):
    """An error the user can fix (bad recipe, bad data, missing plugin); exit code 2."""

    exit_code = 2


class PluginError(DialsumError):
    """A plugin is missing, broken, or clashes with another one."""


class DataError(DialsumError):
    """A data file cannot be used; the message names the file and, where known, the row."""

    def __init__(self, message: str):
        super().__init__(one_line(message))


class RecipeError(DialsumError):
    """One or more problems in a recipe, all reported together."""

    def __init__(self, problems: Iterable[str]):
        self.problems = [one_line(p) for p in problems]
        super().__init__("\n".join(self.problems))
