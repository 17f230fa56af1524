"""What every plugin means by a dialogue: an :class:`Example` and the ``#Tag#`` convention.

Reading files, cleaning them and splitting them belong to the plugin that owns the recipe's data
section (it answers :func:`dialsum_core.hookspecs.dialsum_load_data`); model loaders, metrics and
augmenters only need these types and the tag convention, so those live here.
"""

from __future__ import annotations

import re

import attrs


def speaker_tag(n: int | str) -> str:
    """The tag of speaker ``n`` (``#Person1#``): the one spelling that plugins write and match."""
    return f"#Person{n}#"


#: Speaker and anonymisation tags of the competition's dialogues (kept whole by tokenizers).
KNOWN_TAGS: tuple[str, ...] = (
    *(speaker_tag(i) for i in range(1, 8)),
    "#PhoneNumber#",
    "#Address#",
    "#DateOfBirth#",
    "#PassportNumber#",
    "#SSN#",
    "#CardNumber#",
    "#CarNumber#",
    "#Email#",
)
TAG_RE = re.compile(r"#[A-Za-z][A-Za-z0-9]*#")


@attrs.frozen
class Example:
    """One dialogue; ``summaries`` holds every reference (empty for a test file)."""

    fname: str
    dialogue: str
    summaries: tuple[str, ...] = ()
    topic: str = ""

    @property
    def summary(self) -> str:
        return self.summaries[0] if self.summaries else ""


@attrs.frozen
class DataSplits:
    """The examples a run reads: cleaned, (with ``run.debug``) subsampled."""

    train: list[Example]
    valid: list[Example]
    test: list[Example]
