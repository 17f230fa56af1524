"""The path type of the authoring commands' options."""

from __future__ import annotations

import os
from typing import Any

import click


class HomePath(click.Path):
    """A path option with a leading ``~`` expanded: ``--dir=~/plugins`` reaches the program as it is
    typed (a shell expands ``~`` only at the start of a word), and a folder named ``~`` made in the
    working folder is one ``rm -rf ~`` away from deleting the home folder. An empty path is refused."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value == "":  # the current folder to Path(""), where a file was meant: `-o "$UNSET_VARIABLE"`
            self.fail("an empty path; give a path", param, ctx)
        return super().convert(os.path.expanduser(value) if isinstance(value, str) else value, param, ctx)
