"""Entry-point module of the ``lead`` model loader (cheap to import)."""

from __future__ import annotations

from typing import Any

import attrs

from dialsum_core import hookimpl
from dialsum_core.validators import at_least


@attrs.define
class LeadOptions:
    """``[models.lead]``."""

    #: Turns to copy when not tuned.
    turns: int = attrs.field(default=1, validator=at_least(1))
    #: Choose the best number of turns (1..max_turns) on the validation split while "training".
    tune: bool = True
    #: Largest number of turns tried when tuning.
    max_turns: int = attrs.field(default=3, validator=at_least(1))
    #: Validation score that tuning maximises (a key of the metrics' output, e.g. ``rouge_mean``).
    metric: str = "rouge_mean"
    #: Drop the ``#PersonN#:`` prefix of each copied turn.
    strip_speaker: bool = False


def check_lead(recipe: Any, plugins: Any) -> list[tuple[str, str]]:
    """Problems ``dialsum check`` reports before anything runs (cheap: no data, no model)."""
    options = recipe.options("model_loaders", "lead", plugins)
    if options.tune and not recipe.run.metrics:
        return [("run.metrics", "the lead model tunes its number of turns on a validation score: name a "
                 "metric (e.g. [\"rouge\"]) or set models.lead.tune = false")]
    return []


def make_lead(options: LeadOptions, ctx: Any) -> Any:
    from dialsum_lead.model import LeadLoader

    return LeadLoader(options)


@hookimpl
def dialsum_register_model_loaders(register: Any) -> None:
    register(
        "lead",
        make_lead,
        options=LeadOptions,
        check=check_lead,
        description="Extractive baseline: the first N turns (N tuned on validation ROUGE)",
    )
