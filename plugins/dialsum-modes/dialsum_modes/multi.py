"""``multi_model``: train several models, score each on validation, ensemble them.

Weights come from ``run.ensemble_weights`` (one per model) or, when that is empty, from a search
on the validation split (Optuna TPE over per-model weights, scoring the ensemble's combined
validation predictions) - the seed's "weights can be optimised automatically". The search is
cross-fitted like everything an ensemble learns (:func:`dialsum_modes.toolkit.combine`), and the
ensemble's out-of-fold score is the one reported; below the best model's, that model is used.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from dialsum_core.context import DataSplits, RunContext
from dialsum_modes import fanout, toolkit
from dialsum_modes.options import MultiModelOptions
from dialsum_modes.sections import RANKED_BY

log = logging.getLogger("dialsum")


def ensemble_sources(
    ctx: RunContext, data: DataSplits, sources: Sequence[toolkit.Source], given: Sequence[float], trials: int
) -> toolkit.Combined:
    """Combine ``sources`` with the given weights, or weights searched on validation (cross-fitted)."""
    return toolkit.combine(ctx, sources, data.valid, data.test, list(given) or None,
                           search_trials=0 if given else trials)


class MultiModelMode(toolkit.Mode):
    options: MultiModelOptions

    def run(self, ctx: RunContext) -> dict[str, Any]:
        data = ctx.data()
        models = ctx.recipe.run.models
        if len(models) == 1 and not ctx.recipe.run.use_tta:
            log.warning("multi_model with one model and no TTA: the ensemble has a single source")
        keep = toolkit.is_token_level(ctx)
        sources = []
        for src in toolkit.train_models(ctx, data, keep_model=keep):
            sources.append(src)
            log.info("%s: validation rouge_mean %.4f", src.model_name, src.scores.get(RANKED_BY, 0.0))
        if fanout.is_partial(ctx.recipe):
            return toolkit.job_results(ctx, sources)
        comb = ensemble_sources(ctx, data, sources, ctx.recipe.run.ensemble_weights,
                                self.options.weight_search_trials)
        final = comb.scores
        log.info("ensemble %s (weights %s: %s) on validation, out of fold: rouge_mean %.4f",
                 ctx.recipe.run.ensemble, comb.weights_from, comb.weights or "none",
                 comb.ensemble_scores.get(RANKED_BY, 0.0))
        results: dict[str, Any] = {
            "models_results": {s.name: {"valid": toolkit.round_scores(s.scores), "checkpoint": s.checkpoint,
                                        "history": s.history} for s in sources},
            "ensemble": {"strategy": ctx.recipe.run.ensemble, **comb.report()},
        }
        results["predictions"] = toolkit.write_predictions(
            ctx, valid=data.valid, valid_preds=comb.valid, test=data.test, test_preds=comb.test, sources=sources)
        if ctx.recipe.run.save_visualizations:
            results["visualizations"] = toolkit.visualizations(ctx, sources, data.valid, combined=comb)
        results.update(toolkit.final_scores(final))
        results.update(toolkit.name_best(ctx, [(s.name, s.scores, s.checkpoint) for s in sources],
                                         "model on validation"))
        return results
