"""The events only the run modes emit: cross-validation folds and hyperparameter trials; and the
questions only they answer: which keys their runs set to other values (:func:`dialsum_varied_values`),
which result keys hold a study's objective (:func:`dialsum_objective_keys`).

They are declared here, by the plugin that emits them, and added to the plugin manager through
``dialsum_add_hookspecs``. A logger implements them as any other event, marked
``@hookimpl(optionalhook=True)`` so that it stays valid where this plugin is not installed or is
disabled: there they are simply never called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dialsum_core.hookspecs import hookspec

if TYPE_CHECKING:
    from dialsum_core.context import RunContext


@hookspec
def dialsum_before_fold(ctx: RunContext, fold: int, n_folds: int) -> None:
    """Cross-validation fold ``fold`` (0-based) of ``n_folds`` starts.

    .. versionadded:: 0.1
    """


@hookspec
def dialsum_after_fold(ctx: RunContext, fold: int, n_folds: int, metrics: dict[str, Any]) -> None:
    """Fold ``fold`` finished with its validation metrics.

    .. versionadded:: 0.1
    """


@hookspec
def dialsum_before_trial(ctx: RunContext, trial: int, params: dict[str, Any], metric: str, direction: str) -> None:
    """Hyperparameter trial number ``trial`` (counted from 0) starts with the sampled ``params``.

    :param metric: the score the study optimises (``modes.optuna.metric``, e.g. ``rouge_mean``), so
        that a logger knows what a trial's value is (a ROUGE to show x100, a length, a loss).
    :param direction: ``maximize`` or ``minimize``: which trials are best, for whoever ranks them.

    .. versionadded:: 0.1
    """


@hookspec
def dialsum_after_trial(
    ctx: RunContext, trial: int, params: dict[str, Any], value: float | None, state: str, metric: str, direction: str
) -> None:
    """Trial ``trial`` ended in ``state`` (``complete``, ``pruned``, ``fail``) with ``value``, the
    study's ``metric`` (``None`` when it ended without one); ``direction`` says whether lower or higher
    values are better (as above).

    .. versionadded:: 0.1
    """


@hookspec
def dialsum_varied_values(recipe: Any, plugins: Any) -> dict[str, list[Any]]:
    """The keys the runs of ``recipe``'s mode set to other values than the recipe's own (the search space of
    a study), each with values they take (its choices, or its ends); ``{}`` for a mode that runs the recipe as
    written. A plugin answering ``dialsum_ignored_keys`` asks it, so that a key the recipe's own values leave
    idle (``lora_r`` while ``use_lora`` is false) is not said to change nothing when the study tunes what
    makes it act (``model.use_lora``). Keys as the space writes them: ``Recipe.override`` takes them.

    .. versionadded:: 0.1
    """


@hookspec
def dialsum_objective_keys() -> list[str]:
    """The result keys that hold a value of a study's objective: the score its trial events name as
    ``metric``, on that score's scale (``best_value`` in the ``optuna`` summary of ``results.json``).

    Asked by whatever shows results without depending on this plugin (the loggers' tables show such a
    value x100 when the study's metric is a percentage); keys are bare names, matched like those of
    ``dialsum_percent_scores``. A trial's own value is the trial events' ``value``.

    .. versionadded:: 0.1
    """
