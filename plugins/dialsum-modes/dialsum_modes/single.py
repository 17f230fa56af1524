"""``single``: train each listed model on its own, validate, predict the test file.

With one model this is the reference mode. With several (``models = ["all"]`` and ``debug``, the
seed's first step) it compares them: every model is scored and the submission comes from the best
one on validation that does not write degenerate summaries (unless all do). With ``use_tta`` each
model's TTA candidates are combined by ``run.ensemble``.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from dialsum_core.context import RunContext
from dialsum_modes import fanout, toolkit
from dialsum_modes.options import SingleOptions
from dialsum_modes.sections import RANKED_BY

log = logging.getLogger("dialsum")


class SingleMode(toolkit.Mode):
    options: SingleOptions

    def run(self, ctx: RunContext) -> dict[str, Any]:
        data = ctx.data()
        models = ctx.recipe.run.models
        results: dict[str, Any] = {"models_results": {}}
        scored: dict[str, tuple[dict[str, float], list[str], list[str]]] = {}
        sources = []
        ranked: list[tuple[str, dict[str, float]]] = []
        for src in toolkit.train_models(ctx, data):
            name = src.model_name
            sources.append(src)
            valid_preds, test_preds = src.predictions("valid"), src.predictions("test")
            entry: dict[str, Any] = {"valid": toolkit.round_scores(src.scores), "checkpoint": src.checkpoint,
                                     "history": src.history}
            if ctx.recipe.run.use_tta:  # the TTA vote, or the plain prediction when the vote scores lower
                comb = toolkit.combine(ctx, [src], data.valid, data.test, None)
                entry["valid_tta"] = toolkit.round_scores(comb.ensemble_scores)
                entry["ensemble"] = {"strategy": ctx.recipe.run.ensemble, **comb.report()}
                valid_preds, test_preds = comb.valid, comb.test
            # without TTA these are the predictions of a source trained now, scored (and warned about)
            # already; those of a reused source, or the TTA vote, are said here
            said = not ctx.recipe.run.use_tta and not src.reused
            with toolkit.quiet_degenerate() if said else contextlib.nullcontext():
                score = ctx.score(valid_preds, toolkit.references(data.valid))
            ranked.append((name, score))
            results["models_results"][name] = entry
            log.info("%s: validation %s", name, _fmt(score))
            scored[name] = (score, valid_preds, test_preds)
        if fanout.is_partial(ctx.recipe):
            return toolkit.job_results(ctx, sources)
        # ranked as the best is chosen: degenerate summaries (most of them identical) last
        ranked.sort(key=lambda it: (toolkit.is_degenerate(scored[it[0]][1]), -it[1].get(RANKED_BY, 0.0)))
        # the best on validation, never one whose summaries are degenerate while another's are not
        best_name = toolkit.best_of([(name, sc.get(RANKED_BY, 0.0), toolkit.is_degenerate(vp))
                                     for name, (sc, vp, _) in scored.items()])
        best_scores, valid_preds, test_preds = scored[best_name]
        top = best_scores.get(RANKED_BY, 0.0)
        higher = [n for n, (sc, _, _) in scored.items() if sc.get(RANKED_BY, 0.0) > top]
        if higher:
            log.warning("%s score higher on validation than %s but give degenerate predictions (most of them "
                        "identical): %s is submitted", ", ".join(higher), best_name, best_name)
        results["predictions"] = toolkit.write_predictions(
            ctx, valid=data.valid, valid_preds=valid_preds, test=data.test, test_preds=test_preds, sources=sources)
        if ctx.recipe.run.save_visualizations:
            results["visualizations"] = toolkit.visualizations(ctx, sources, data.valid, final=valid_preds)
        if len(ranked) > 1:  # screening several models: the table the seed's first step is for
            results["ranking"] = [{"model": n, **toolkit.round_scores(sc)} for n, sc in ranked]
            log.info("models ranked by validation rouge_mean:\n%s", "\n".join(
                f"  {i}. {n:<24} {sc.get(RANKED_BY, 0.0) * 100:6.2f}" for i, (n, sc) in enumerate(ranked, 1)))
        results.update({"best_model": best_name, **toolkit.final_scores(best_scores)})
        submitted = results["models_results"][best_name]["checkpoint"]
        results.update(toolkit.name_best(ctx, [(best_name, best_scores, submitted)], "model, the one submitted"))
        if len(models) == 1:
            results["history"] = results["models_results"][best_name]["history"]
        return results


def _fmt(scores: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.4f}" for k, v in scores.items())
