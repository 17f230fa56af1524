"""Entry-point module of the ``lead`` model loader (cheap to import)."""

from __future__ import annotations

from typing import Any

import attrs

from dialsum_core import hookimpl


def _at_least_one(_inst: Any, _attr: Any, value: int) -> None:
    if value < 1:
        raise ValueError(f"must be >= 1, got {value}")


@attrs.define
class LeadOptions:
    #: Turns to copy when not tuned.
    turns: int = attrs.field(default=1, validator=_at_least_one)
    #: Choose the best number of turns (1..max_turns) on the validation split while "training".
    tune: bool = True
    max_turns: int = attrs.field(default=3, validator=_at_least_one)
    #: Drop the ``#PersonN#:`` prefix of each copied turn.
    strip_speaker: bool = False


def make_lead(options: LeadOptions, ctx: Any) -> Any:
    from dialsum_lead.model import LeadLoader

    return LeadLoader(options)


@hookimpl
def dialsum_register_model_loaders(register: Any) -> None:
    register(
        "lead",
        make_lead,
        options=LeadOptions,
        description="Extractive baseline: the first N turns (N tuned on validation ROUGE)",
    )
