"""``full``: the seed's competition pipeline in one run.

1. ``optuna``: tune the first model (``[modes.optuna]``); skipped with ``tune = false``.
2. ``kfold``: k-fold every model of ``run.models`` with the best parameters (``[modes.kfold]``).
3. ``ensemble``: every fold model of every model, with TTA candidates when ``use_tta``, combined by
   ``run.ensemble`` (weights given, or searched on validation), and the final submission.

Every stage leaves its outputs behind as it finishes (the Optuna study and ``best_params.json``,
each fold model's predictions in ``stages/sources/``, a ``stages/<stage>.json`` summary, and
``results.json`` updated after each stage), so a crash in a late stage loses nothing before it.
Running the same experiment again (same ``run.name``) skips the stages already complete.
"""

from __future__ import annotations

import logging
from typing import Any

from dialsum_core.context import RunContext
from dialsum_core.recipe import io
from dialsum_modes import fanout, plots, toolkit
from dialsum_modes.kfold import run_folds, summarize
from dialsum_modes.options import MODEL_KEY, FullOptions, KFoldOptions, OptunaOptions, apply_params
from dialsum_modes.sections import BEST_VALUE

log = logging.getLogger("dialsum")
STAGES = ("optuna", "kfold", "ensemble")


class FullMode(toolkit.Mode):
    options: FullOptions

    def run(self, ctx: RunContext) -> dict[str, Any]:
        original = ctx.recipe
        models = list(ctx.recipe.run.models)
        optuna_opts: OptunaOptions = ctx.options("run_modes", "optuna")
        kfold_opts: KFoldOptions = ctx.options("run_modes", "kfold")
        results: dict[str, Any] = {"status": "running", "stages": {}}

        partial = fanout.is_partial(ctx.recipe)  # a fan-out job: writes only its own jobs/ folder

        def stage_done(stage: str, summary: dict[str, Any]) -> None:
            results["stages"][stage] = summary
            if partial:
                return
            ctx.experiment.write_json(f"stages/{stage}.json", {"status": "complete", **summary})
            ctx.experiment.write_json("results.json", results)
            toolkit.progress(ctx, "stages", STAGES.index(stage) + 1, len(STAGES))

        toolkit.progress(ctx, "stages", 0, len(STAGES))
        # 1. optuna on the first model
        params: dict[str, Any] = {}
        if self.options.tune and optuna_opts.space:
            from dialsum_modes.tune import run_study

            log.info("stage 1/3: optuna on %s", models[0])
            study = run_study(ctx, optuna_opts, models[0], original=original)
            params = study.best_params
            stage_done("optuna", {"model": models[0], "best_params": params, BEST_VALUE: study.best_value,
                                  "best_trial": study.best_trial, "n_trials": study.summary["n_trials"],
                                  "files": study.summary["files"]})
        else:
            log.info("stage 1/3: optuna skipped (tune = false or empty space)")
            stage_done("optuna", {"skipped": True})
        tuned = ctx.evolve(recipe=apply_params(ctx.recipe, params, models)) if params else ctx
        data = tuned.data()  # the best parameters may tune what the data's reader reads
        if params:
            log.info("best parameters applied to every model: %s", params)
            for key in params:
                if io.split_dotted(key)[0] in (MODEL_KEY, "models"):
                    log.info("%s applies to %s only", key, models[0])

        # 2. k-fold for every model with the best parameters
        log.info("stage 2/3: %d-fold cross-validation of %s", kfold_opts.k_folds, ", ".join(models))
        keep = toolkit.is_token_level(tuned)
        runs = []
        for i, model in enumerate(models):
            toolkit.progress(ctx, "models", i, len(models))
            runs.append(run_folds(tuned, model, data, kfold_opts, keep))
            toolkit.progress(ctx, "models", i + 1, len(models))
        if partial:
            return toolkit.job_results(ctx, [s for fr in runs for s in fr.sources], best_params=params,
                                      folds=[f for fr in runs for f in fr.folds])
        stage_done("kfold", {"cv": {fr.model: toolkit.mean_std([s.scores for s in fr.sources]) for fr in runs},
                             "oof": {fr.model: toolkit.round_scores(fr.oof_scores) for fr in runs}})

        # 3. ensemble of every fold model (with TTA candidates) and the submission
        log.info("stage 3/3: ensemble %s%s", tuned.recipe.run.ensemble, " with TTA" if tuned.recipe.run.use_tta else "")
        given = list(tuned.recipe.run.ensemble_weights)
        final = summarize(tuned, data, runs, kfold_opts, weights=given or None,
                          search_trials=0 if given else self.options.weight_search_trials)
        stage_done("ensemble", {"valid": final["valid"], "predictions": final["predictions"]})
        results.update(final)
        results["best_params"] = params
        results["status"] = "complete"
        if ctx.recipe.run.save_visualizations:
            results["visualizations"] = list(dict.fromkeys(
                results.get("visualizations", []) + plots.existing(ctx)))
        return results
