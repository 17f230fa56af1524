"""User-facing errors. Each becomes one line on stderr and exit code 2, never a traceback."""

from __future__ import annotations

from collections.abc import Iterable


class DialsumError(Exception):
    """An error the user can fix (bad recipe, bad data, missing plugin); exit code 2."""

    exit_code = 2


class PluginError(DialsumError):
    """A plugin is missing, broken, or clashes with another one."""


class DataError(DialsumError):
    """A data file cannot be used; the message names the file and, where known, the row."""


class RecipeError(DialsumError):
    """One or more problems in a recipe, all reported together."""

    def __init__(self, problems: Iterable[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))
