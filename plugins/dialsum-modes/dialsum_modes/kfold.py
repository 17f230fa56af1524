"""``kfold``: a model per fold, out-of-fold scores, and the fold models ensembled on the test file.

The folds split the training data (see :mod:`dialsum_modes.folds`); each fold model validates on
its own fold (those are the out-of-fold predictions) and also predicts the validation split and
the test file, where ``run.ensemble`` combines the fold models. The validation split stays out of
every fold, so the ensemble's score on it is an honest estimate.
"""

from __future__ import annotations

import logging
from typing import Any

import attrs

from dialsum_core.context import DataSplits, RunContext
from dialsum_metrics import predictions_of
from dialsum_modes import fanout, plots, toolkit
from dialsum_modes.folds import assign_folds
from dialsum_modes.options import KFoldOptions
from dialsum_modes.sections import RANKED_BY

log = logging.getLogger("dialsum")


@attrs.define
class FoldRun:
    """Every fold of one model."""

    model: str
    sources: list[toolkit.Source]
    folds: list[dict[str, Any]]
    oof: list[str]
    oof_scores: dict[str, float]
    fold_of: list[int]


def run_folds(ctx: RunContext, model: str, data: DataSplits, options: KFoldOptions, keep_models: bool) -> FoldRun:
    """Train ``model`` once per fold; the result keeps what the ensemble and the report need."""
    k = options.k_folds
    fold_of = assign_folds(data.train, k, options.fold_seed, options.stratify)
    sources: list[toolkit.Source] = []
    folds: list[dict[str, Any]] = []
    oof = [""] * len(data.train)
    ctx.emit("dialsum_before_stage", stage=f"kfold:{model}")
    # the fold events say whose fold it is: with several models, fold 1 comes once per model
    mctx = ctx.evolve(tags={**ctx.tags, "model": model})
    for f in range(k):
        if not fanout.selected(ctx.recipe, model=model, fold=f + 1):  # another fan-out job's fold
            continue
        train = [e for e, g in zip(data.train, fold_of, strict=True) if g != f]
        held = [e for e, g in zip(data.train, fold_of, strict=True) if g == f]
        toolkit.progress(ctx, f"folds {model}", f, k)
        log.info("%s fold %d/%d: %d train, %d held out", model, f + 1, k, len(train), len(held))
        mctx.emit("dialsum_before_fold", fold=f, n_folds=k)
        src = toolkit.train_source(ctx, model_name=model, name=fanout.fold_name(model, f + 1), train=train, valid=held,
                                  predict={"fold": held, "valid": data.valid, "test": data.test},
                                  keep_model=keep_models)
        for i, pred in zip([i for i, g in enumerate(fold_of) if g == f], src.predictions("fold"), strict=True):
            oof[i] = pred
        sources.append(src)
        entry = {"fold": f + 1, "model": model, "n_train": len(train), "n_valid": len(held),
                 "scores": toolkit.round_scores(src.scores), "history": src.history,
                 "checkpoint": src.checkpoint}
        folds.append(entry)
        mctx.emit("dialsum_after_fold", fold=f, n_folds=k, metrics=src.scores)
        toolkit.progress(ctx, f"folds {model}", f + 1, k)
        log.info("%s fold %d/%d: rouge_mean %.4f", model, f + 1, k, src.scores.get(RANKED_BY, 0.0))
    # A fan-out job's out-of-fold predictions are incomplete: the final run scores them.
    with predictions_of(f"{model} out of fold"):
        oof_scores = {} if fanout.is_partial(ctx.recipe) else ctx.score(oof, toolkit.references(data.train))
    stats = toolkit.mean_std([s.scores for s in sources])
    ctx.emit("dialsum_after_stage", stage=f"kfold:{model}", metrics={k2: v["mean"] for k2, v in stats.items()})
    return FoldRun(model, sources, folds, oof, oof_scores, fold_of)


def write_oof(ctx: RunContext, data: DataSplits, runs: list[FoldRun]) -> str | None:
    if not ctx.recipe.run.save_predictions:
        return None
    rows = [[e.fname, fr.fold_of[i] + 1, fr.model, fr.oof[i], e.summary]
            for fr in runs for i, e in enumerate(data.train)]
    rel = "predictions/oof_predictions.csv"
    ctx.experiment.write_csv(rel, ["fname", "fold", "model", "summary", "reference"], rows)
    ctx.emit("dialsum_on_artifact", path=rel, kind="prediction")
    return rel


class KFoldMode(toolkit.Mode):
    options: KFoldOptions

    def run(self, ctx: RunContext) -> dict[str, Any]:
        data = ctx.data()
        keep = toolkit.is_token_level(ctx)
        runs = [run_folds(ctx, m, data, self.options, keep) for m in ctx.recipe.run.models]
        if fanout.is_partial(ctx.recipe):
            return toolkit.job_results(ctx, [s for fr in runs for s in fr.sources],
                                      folds=[f for fr in runs for f in fr.folds])
        return summarize(ctx, data, runs, self.options)


def summarize(ctx: RunContext, data: DataSplits, runs: list[FoldRun], options: KFoldOptions,
              weights: list[float] | None = None, search_trials: int = 0) -> dict[str, Any]:
    """Ensemble every fold model, write predictions and plots, and build ``results.json``.

    ``weights`` (one per model) replace ``run.ensemble_weights`` when given; with neither and
    ``search_trials > 0`` they are searched on validation (cross-fitted, see ``toolkit.combine``).
    """
    sources = [s for fr in runs for s in fr.sources]
    comb = toolkit.combine(ctx, sources, data.valid, data.test, weights, search_trials=search_trials)
    final = comb.scores
    results: dict[str, Any] = {
        "k_folds": options.k_folds,
        "fold_seed": options.fold_seed,
        "folds": [f for fr in runs for f in fr.folds],
        "cv": {fr.model: toolkit.mean_std([s.scores for s in fr.sources]) for fr in runs},
        "oof": {fr.model: toolkit.round_scores(fr.oof_scores) for fr in runs},
        "sources_valid": {s.name: toolkit.round_scores(comb.source_valid[s.name]) for s in sources},
        "ensemble": {"strategy": ctx.recipe.run.ensemble, **comb.report()},
    }
    results["predictions"] = toolkit.write_predictions(
        ctx, valid=data.valid, valid_preds=comb.valid, test=data.test, test_preds=comb.test, sources=sources)
    oof_rel = write_oof(ctx, data, runs)
    if oof_rel:
        results["predictions"]["oof"] = oof_rel
    if ctx.recipe.run.save_visualizations:
        results["visualizations"] = plots.for_kfold(ctx, runs, sources, data.valid, comb)
    results.update(toolkit.final_scores(final))
    # scored on the shared validation split: comparable between folds, unlike each fold's held-out score
    results.update(toolkit.name_best(ctx, [(s.name, results["sources_valid"][s.name], s.checkpoint)
                                           for s in sources], "fold model on validation"))
    for fr in runs:
        cv = results["cv"][fr.model].get(RANKED_BY)
        if cv:
            log.info("%s: %d-fold rouge_mean %.4f ± %.4f", fr.model, options.k_folds, cv["mean"], cv["std"])
    log.info("fold ensemble (%s) on validation, out of fold: rouge_mean %.4f%s", ctx.recipe.run.ensemble,
             comb.ensemble_scores.get(RANKED_BY, 0.0),
             f" (below {comb.fallback}, whose predictions are used)" if comb.fallback else "")
    return results
