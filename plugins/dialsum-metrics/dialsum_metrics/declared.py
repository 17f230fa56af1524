"""Which scores a metric gives, as its registration declares them (tags ``score:KEY``), and which
of them are fractions people read x100 (tags ``percent:KEY``).

Model loaders and run modes choose checkpoints, models and trials by one score (``rouge_mean``).
With the metrics declaring their scores, a recipe whose metrics cannot give that score is refused
by ``dialsum check``, instead of every candidate silently scoring 0 after the training.

The loggers show a percent score x100 (the leaderboard's scale) where people read results; they
learn which scores are from the answers to ``dialsum_percent_scores`` (:mod:`dialsum_metrics.hooks`),
which this plugin gives from every installed metric's tags, so that a third party's metric is shown
like the bundled ones without the loggers knowing any metric's keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dialsum_metrics.rouge import MEAN

SCORE_TAG = "score:"
#: The tag of a declared score that is a fraction (0-1) people read x100, as the leaderboard shows ROUGE.
PERCENT_TAG = "percent:"
#: The score that selects: the checkpoint a model keeps, the best model, fold or trial, the ensemble's
#: sources and weights. Named here, by the plugin whose ``rouge`` metric gives it (its mean of
#: ROUGE-1/2/L), so that every plugin that selects (dialsum-hf's checkpoints, dialsum-modes'
#: rankings) selects by the same one.
SELECTION_SCORE = MEAN


def score_tags(*keys: str, percent: Sequence[str] = ()) -> tuple[str, ...]:
    """The registration tags that declare the scores ``compute`` returns; ``percent``: those of them
    that are fractions people read x100 (the loggers' tables show them so, the records keep 0-1)."""
    stray = [key for key in percent if key not in keys]
    if stray:  # a percent score the metric does not declare would be shown x100 from another metric
        raise ValueError(f"percent scores {stray} are not among the declared scores {list(keys)}")
    return (*(SCORE_TAG + key for key in keys), *(PERCENT_TAG + key for key in percent))


def percent_scores(plugins: Any) -> list[str]:
    """The scores the installed metrics declare as percentages (``percent:KEY`` tags), each once, in
    the order of the metrics' names and of their declarations."""
    found = [tag.removeprefix(PERCENT_TAG) for reg in plugins.registry.of_kind("metrics") for tag in reg.tags
             if tag.startswith(PERCENT_TAG)]
    return list(dict.fromkeys(found))


def gives(metrics: Sequence[str], plugins: Any, key: str) -> bool | None:
    """Whether one of ``metrics`` (names of ``run.metrics``) gives the score ``key``.

    ``None`` when that cannot be known: a metric that is not installed (reported on its own) or
    that declares none of its scores (a plugin that does not follow the convention), so that such a
    metric is never refused for what it may well give."""
    regs = [plugins.get("metrics", name) for name in metrics]
    if any(SCORE_TAG + key in reg.tags for reg in regs if reg is not None):
        return True
    if any(reg is None or not any(tag.startswith(SCORE_TAG) for tag in reg.tags) for reg in regs):
        return None
    return False


def selection_problem(metrics: Sequence[str], plugins: Any, key: str, why: str) -> str | None:
    """The one-line problem of a recipe that selects by ``key`` while its ``metrics`` cannot give it.

    ``why`` says who selects by ``key`` and what for (``"the run ranks its models by rouge_mean"``);
    the rest of the line, and which metrics to suggest, are the same for every plugin that selects,
    so they are written here once. The suggestion names the installed metrics that declare ``key``,
    never a hard-coded one. ``None`` when :func:`gives` is not ``False``, and when ``metrics`` is
    empty: a recipe that names no metric has chosen to score nothing, and is not refused for it here.
    """
    metrics = list(metrics)
    if not metrics or gives(metrics, plugins, key) is not False:
        return None
    givers = " or ".join(f'"{reg.name}"' for reg in plugins.registry.tagged("metrics", SCORE_TAG + key))
    hint = f"add a metric that does ({givers})" if givers else "no installed metric declares it"
    return f"{why}, which none of {metrics} gives; {hint}"
