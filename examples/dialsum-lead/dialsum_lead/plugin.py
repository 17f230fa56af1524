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


#: How a metric declares a score it gives: a registration tag ``score:KEY`` (the convention of
#: dialsum-metrics, read here through the core's registry so that this example needs only the core).
SCORE_TAG = "score:"


def declared_scores(metrics: list[str], plugins: Any) -> set[str] | None:
    """The scores ``metrics`` declare together; ``None`` when one of them declares none (or is not
    installed, reported on its own): it may give any score, so nothing can be refused for it."""
    found: set[str] = set()
    for name in metrics:
        reg = plugins.get("metrics", name)
        tags = [t.removeprefix(SCORE_TAG) for t in (reg.tags if reg is not None else ()) if t.startswith(SCORE_TAG)]
        if not tags:
            return None
        found.update(tags)
    return found


def check_lead(recipe: Any, plugins: Any) -> list[tuple[str, str]]:
    """Problems ``dialsum check`` reports before anything runs (cheap: no data, no model): without
    them, the lead model's fit would stop the run after the models before it have trained."""
    options = recipe.options("model_loaders", "lead", plugins)
    if not options.tune:
        return []
    if not recipe.run.metrics:
        return [("run.metrics", "the lead model tunes its number of turns on a validation score: name a "
                 "metric (e.g. [\"rouge\"]) or set models.lead.tune = false")]
    scores = declared_scores(recipe.run.metrics, plugins)
    if scores is not None and options.metric not in scores:
        return [("models.lead.metric", f"no score named {options.metric!r} in what run.metrics "
                 f"{recipe.run.metrics} give: {', '.join(sorted(scores))}")]
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
