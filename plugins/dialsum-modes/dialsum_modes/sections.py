"""dialsum-modes' keys of ``[run]``: how the run modes ensemble, augment and write their outputs.

The core's ``[run]`` names the mode and the models; these keys belong to the modes, which are the
only code that reads them. They travel one way: TOML -> :class:`ModesRunKeys` -> the mode, which
turns ``ensemble_weights`` into the ``weights`` argument of the ensemble it builds
(:func:`dialsum_modes.toolkit.weights_for`).
"""

from __future__ import annotations

from typing import Any

import attrs

from dialsum_core.recipe import plugin_name
from dialsum_core.validators import each, finite, non_negative, positive
from dialsum_metrics import SELECTION_SCORE, selection_problem
from dialsum_modes import fanout

#: The score the run modes rank models, folds and ensembles by: the metrics' selection score.
RANKED_BY = SELECTION_SCORE
#: The key of ``results.json`` that holds a run's :data:`RANKED_BY` (the score of what it submits), on
#: that score's scale: shown x100 where :data:`RANKED_BY` is (``dialsum_percent_scores``).
BEST_SCORE = "best_rouge"
#: The key of a study's summary in ``results.json`` (``optuna.best_value``, a ``full`` run's optuna stage)
#: that holds the best trial's value of the study's metric, on that metric's scale: the readers of results
#: learn it from ``dialsum_objective_keys`` and the metric from the trial events.
BEST_VALUE = "best_value"
#: The folder of the experiment's own Optuna study: ``study.db`` with no ``storage`` given, and the
#: study's outputs (``best_params.json``, ``best_recipe.toml``) whatever the storage.
STUDY_FOLDER = "optuna"
#: The folders the run modes make in the experiment folder (besides the core's ``checkpoints``,
#: ``predictions`` and ``visualizations``): the trained units, the fan-out jobs, the study.
MODE_FOLDERS = ("stages", "jobs", STUDY_FOLDER)
#: The tag of a run mode that writes ``predictions/train_predictions.csv`` with ``run.save_train_predictions``
#: (its models train on the whole training split); another mode would predict the training set for no file.
TRAIN_PREDICTIONS = "train-predictions"


@attrs.define(kw_only=True)
class ModesRunKeys:
    """``[run]`` keys of the run modes."""

    #: Ensemble strategy used when several models, folds or TTA variants are combined.
    ensemble: str = attrs.field(default="weighted_avg", metadata=plugin_name("ensembles"))
    #: One weight per model of `run.models` (or, with one model, per fold); empty: the run mode
    #: searches them on validation or the ensemble chooses them.
    ensemble_weights: list[float] = attrs.field(
        factory=list, validator=each(attrs.validators.and_(non_negative, finite)))
    #: Test-time augmentation: also summarize augmented variants and ensemble them.
    use_tta: bool = False
    #: Augmenters used when `run.use_tta` is on (at least one then); their options go in `[augmenters.NAME]`.
    tta_strategies: list[str] = attrs.field(factory=lambda: ["paraphrase"], metadata=plugin_name("augmenters"))
    #: Variants each augmenter makes per dialogue.
    tta_num_aug: int = attrs.field(default=3, validator=positive)
    #: Write plots (learning curves, fold scores, trials) to `visualizations/`.
    save_visualizations: bool = False
    #: Write the validation and test predictions of every model (and the out-of-fold ones) to
    #: `predictions/`; off: only the submission (`predictions/submission.csv`) is written there.
    save_predictions: bool = True
    #: Also predict the training dialogues and write `predictions/train_predictions.csv` (the seed's
    #: file; as long as predicting the whole training set takes). The single and multi_model modes
    #: write it (with `run.save_predictions`); kfold and full write out-of-fold predictions instead.
    save_train_predictions: bool = False
    #: Reuse a model that an earlier run in the same `run.output_dir` trained with the same recipe,
    #: model and dialogues (compared by content), with its predictions, instead of training it again
    #: (`{output_dir}/.cache/sources/`; the seed's `--use_cache`).
    use_cache: bool = False
    #: Run only part of the work, e.g. `["fold=3"]` for one fold of a k-fold run (for parallel
    #: jobs); needs `run.name`. The final run (without it) reuses every job's results.
    only: list[str] = attrs.field(factory=list)


def ensembles(recipe: Any, plugins: Any) -> bool:
    """Whether this recipe's run combines sources: a mode tagged ``ensemble``, or TTA variants."""
    mode = plugins.get("run_modes", recipe.run.mode)
    return bool(recipe.run.use_tta or (mode is not None and "ensemble" in mode.tags))


def uses(recipe: Any, plugins: Any) -> list[tuple[str, str, list[str]]]:
    """``run.ensemble`` only when the run ensembles (so ``single`` screening many models never needs
    one), the augmenters only with ``use_tta``."""
    found = []
    if ensembles(recipe, plugins):
        found.append(("run.ensemble", "ensembles", [recipe.run.ensemble]))
    if recipe.run.use_tta:
        found.append(("run.tta_strategies", "augmenters", list(recipe.run.tta_strategies)))
    return found


def logger_files(recipe: Any, plugins: Any) -> dict[str, str]:
    """Logger name -> the file it writes in the experiment folder: any logger whose options name a
    ``filename`` counts, whichever plugin registers it (an unknown logger is reported as such)."""
    found = {}
    for name in dict.fromkeys(recipe.run.loggers):
        if plugins.get("loggers", name) is not None:
            filename = getattr(recipe.options("loggers", name, plugins), "filename", None)
            if isinstance(filename, str):
                found[name] = filename
    return found


def log_file_problems(recipe: Any, plugins: Any) -> list[tuple[str, str]]:
    """A logger's file may not take the place of a folder the modes make (``stages``): the run would
    fail when it saves the first trained model there, after training it."""
    from pathlib import Path

    return [(f"loggers.{name}.filename", f"{filename!r} is the folder {filename.casefold()}/ the run modes make in "
             "the experiment folder; name the log file otherwise")
            for name, filename in logger_files(recipe, plugins).items()
            if Path(filename).as_posix().casefold() in MODE_FOLDERS]


def train_predictions_problems(recipe: Any, plugins: Any) -> list[tuple[str, str]]:
    """``run.save_train_predictions`` predicts the whole training set; refused where no file would
    hold the predictions (``save_predictions`` off, or a mode whose models train on parts of it)."""
    if not recipe.run.save_train_predictions:
        return []
    mode = plugins.get("run_modes", recipe.run.mode)
    if not recipe.run.save_predictions:
        return [("run.save_train_predictions", "on while run.save_predictions is off: the training set would be "
                 "predicted and nothing written; turn run.save_predictions on or this key off")]
    if mode is not None and TRAIN_PREDICTIONS not in mode.tags:
        oof = " (its out-of-fold predictions of every training dialogue go to predictions/oof_predictions.csv)" \
            if recipe.run.mode in ("kfold", "full") else ""
        # every installed mode that writes the file, a third party's too: the tag says so, not the name
        writing = [r.name for r in plugins.registry.of_kind("run_modes") if TRAIN_PREDICTIONS in r.tags]
        instead = f"use a mode that writes it ({', '.join(writing)})" if writing else "no installed mode writes it"
        return [("run.save_train_predictions", f"the {recipe.run.mode} mode writes no train_predictions.csv{oof}; "
                 f"set it false, or {instead}")]
    return []


def check(recipe: Any, plugins: Any) -> list[tuple[str, str]]:
    found = fanout.problems(recipe, plugins) + fanout.resume_problems(recipe, plugins)
    found += log_file_problems(recipe, plugins)
    if ensembles(recipe, plugins) or len(recipe.run.models) > 1:
        problem = selection_problem(recipe.run.metrics, plugins, RANKED_BY,
                                    f"the run ranks its models and sources by {RANKED_BY}")
        if problem:
            found.append(("run.metrics", problem))
    if recipe.run.use_tta and not recipe.run.tta_strategies:  # the run would summarize as without it
        found.append(("run.tta_strategies", "empty while run.use_tta is on; name the augmenters (dialsum plugins "
                      "lists them), e.g. [\"reorder\"], or set run.use_tta = false"))
    found += train_predictions_problems(recipe, plugins)
    weights = list(recipe.run.ensemble_weights)
    if weights:
        models = list(recipe.run.models)
        mode = plugins.get("run_modes", recipe.run.mode)
        if mode is not None and "ensemble" not in mode.tags:
            # it trains and scores each model alone; TTA variants of one model share its weight
            combining = [n for n in plugins.registry.names("run_modes")
                         if "ensemble" in plugins.require("run_modes", n).tags]
            found.append(("run.ensemble_weights", f"{weights} would be ignored: the {recipe.run.mode} mode combines "
                          f"no models; leave run.ensemble_weights empty, or choose a mode that does "
                          f"({', '.join(combining)})"))
            return found
        if sum(weights) <= 0:
            found.append(("run.ensemble_weights", f"weights must be >= 0 with a positive sum, got {weights}"))
        # with one model in a mode that ensembles sources, one weight per source (fold): that mode's
        # check counts them
        per_source = len(models) == 1 and mode is not None and "ensemble" in mode.tags
        if len(weights) != len(models) and not per_source:
            found.append(("run.ensemble_weights", f"{len(weights)} weights for {len(models)} models {models}; "
                          "give one per model of run.models"))
    return found


def register_sections(register: Any) -> None:
    register("run", ModesRunKeys, description="Ensembles, test-time augmentation, outputs and fan-out jobs",
             uses=uses, check=check, defaults={"mode": "single"})
