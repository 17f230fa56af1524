"""Entry-point module of the run modes: their registrations and their keys of ``[run]``.

Cheap to import on purpose (``dialsum --help`` and ``dialsum plugins`` load it): optuna, matplotlib
and the modes themselves are imported inside the factories.
"""

from __future__ import annotations

from typing import Any

from dialsum_core import hookimpl
from dialsum_metrics import percent_scores
from dialsum_modes.options import (
    FullOptions,
    KFoldOptions,
    MultiModelOptions,
    OptunaOptions,
    SingleOptions,
    check_full,
    check_kfold,
    check_multi_model,
    check_optuna_mode,
)
from dialsum_modes.sections import BEST_SCORE, BEST_VALUE, RANKED_BY, TRAIN_PREDICTIONS, register_sections


# ----------------------------------------------------------------------------------------------
# Factories and registration
# ----------------------------------------------------------------------------------------------
def make_single(options: SingleOptions, ctx: Any) -> Any:
    from dialsum_modes.single import SingleMode

    return SingleMode(options)


def make_kfold(options: KFoldOptions, ctx: Any) -> Any:
    from dialsum_modes.kfold import KFoldMode

    return KFoldMode(options)


def make_multi_model(options: MultiModelOptions, ctx: Any) -> Any:
    from dialsum_modes.multi import MultiModelMode

    return MultiModelMode(options)


def make_optuna(options: OptunaOptions, ctx: Any) -> Any:
    from dialsum_modes.tune import OptunaMode

    return OptunaMode(options)


def make_full(options: FullOptions, ctx: Any) -> Any:
    from dialsum_modes.full import FullMode

    return FullMode(options)


@hookimpl
def dialsum_register_run_modes(register: Any) -> None:
    register("single", make_single, options=SingleOptions, tags=(TRAIN_PREDICTIONS,),
             description="Train each listed model, validate, predict the test file, write the submission")
    register("kfold", make_kfold, options=KFoldOptions, tags=("ensemble",), check=check_kfold,
             description="K-fold cross-validation: a model per fold, out-of-fold scores, fold ensemble")
    register("multi_model", make_multi_model, options=MultiModelOptions, tags=("ensemble", TRAIN_PREDICTIONS),
             check=check_multi_model,
             description="Train several models and ensemble them (weights given or searched on validation)")
    register("optuna", make_optuna, options=OptunaOptions, check=check_optuna_mode,
             description="Optuna search over any training, LoRA or generation option (resumable study)")
    register("full", make_full, options=FullOptions, tags=("ensemble",), check=check_full,
             description="Competition pipeline: optuna, k-fold per model, multi-model ensemble with TTA")


@hookimpl
def dialsum_add_hookspecs(add: Any) -> None:
    """The fold and trial events, and the questions of the keys a mode's runs vary and of the result keys
    holding a study's objective, are the modes' own: without this plugin nothing emits or answers them."""
    from dialsum_modes import events

    add(events)


@hookimpl
def dialsum_register_sections(register: Any) -> None:
    register_sections(register)


@hookimpl
def dialsum_resolve_recipe(recipe: Any, plugins: Any) -> Any:
    """``topN`` in ``run.models``: the N best models of the latest screening run."""
    from dialsum_modes.ranking import expand_top

    return expand_top(recipe, plugins)


@hookimpl
def dialsum_ignored_keys(recipe: Any, plugins: Any) -> list[tuple[str, str]]:
    from dialsum_modes.options import tuned_for_nothing

    return tuned_for_nothing(recipe, plugins)


@hookimpl
def dialsum_after_run(ctx: Any) -> None:
    """A fan-out job's ``results.json`` is written: another job with its selection may run."""
    from dialsum_modes.fanout import release_job

    release_job(ctx)


#: A failed job's ``results.json`` is written too (before ``dialsum_on_error``): its selection may run again.
dialsum_on_error = dialsum_after_run


# Declared by dialsum-metrics (optional: this plugin stays valid where that one is disabled).
@hookimpl(optionalhook=True)
def dialsum_percent_scores(plugins: Any) -> list[str]:
    """``best_rouge`` holds the ranking score's value: a percentage where that score is one."""
    return [BEST_SCORE] if RANKED_BY in percent_scores(plugins) else []


@hookimpl
def dialsum_objective_keys() -> list[str]:
    return [BEST_VALUE]


@hookimpl
def dialsum_varied_values(recipe: Any, plugins: Any) -> dict[str, list[Any]]:
    from dialsum_modes.options import varied_values

    return varied_values(recipe, plugins)
