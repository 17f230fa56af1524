"""``full``: optuna, k-fold per model with the best parameters, ensemble with TTA; crash-safe stages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from modes_fixtures import *  # noqa: F403 - pytest fixtures
from modes_helpers import read_csv, results

from dialsum_core.runner import run_recipe

SPACE = ("modes.optuna.space.\"model.max_turns\"", {"type": "int", "low": 1, "high": 3})


def _recipe(make_recipe, **run):
    return make_recipe(SPACE, ("modes.optuna.trials", 2), ("modes.optuna.sampler", "random"),
                       ("modes.kfold.k_folds", 2), mode="full", models=["lead", "lead1"], **run)


@pytest.mark.slow
def test_full_pipeline_runs_every_stage_with_tta(make_recipe, run, plugins) -> None:
    if plugins.get("augmenters", "reorder") is None:
        pytest.skip("the reorder augmenter (dialsum-tta) is not installed")
    res = run(_recipe(make_recipe, ensemble="best_score", use_tta=True, tta_strategies=["reorder"], tta_num_aug=1,
                      save_visualizations=True))
    out = results(res)
    assert out["status"] == "complete" and set(out["stages"]) == {"optuna", "kfold", "ensemble"}
    best = json.loads((res.experiment / "optuna" / "best_params.json").read_text())
    assert out["best_params"] == best["params"] == out["stages"]["optuna"]["best_params"]
    assert [f["model"] for f in out["folds"]] == ["lead", "lead", "lead1", "lead1"]
    assert set(out["cv"]) == {"lead", "lead1"}
    assert out["best_checkpoint"] in {f["checkpoint"] for f in out["folds"]}  # the model the run stands for
    # the best parameters reached the k-fold models of the tuned model
    fold_options = json.loads((res.experiment / "checkpoints" / "lead" / "fold1" / "lead.json").read_text())
    assert fold_options["max_turns"] == best["params"]["model.max_turns"]
    # TTA candidates took part in the final ensemble
    assert any("/tta:reorder:1" in s for s in out["ensemble"]["info"]["sources"])
    assert len(read_csv(res.experiment / "predictions" / "submission.csv")) == 6
    for stage in ("optuna", "kfold", "ensemble"):
        assert json.loads((res.experiment / "stages" / f"{stage}.json").read_text())["status"] == "complete"
    pngs = {p.name for p in (res.experiment / "visualizations").glob("*.png")}
    assert {"optuna_history.png", "fold_rouge.png", "validation_rouge.png", "length_distribution.png"} <= pngs


def test_full_crash_in_the_last_stage_keeps_earlier_stages_and_rerun_skips_them(make_recipe, plugins) -> None:
    recipe = _recipe(make_recipe, ensemble="explode")
    with pytest.raises(RuntimeError, match="ensemble exploded"):
        run_recipe(recipe, plugins)
    exp = Path(recipe.run.output_dir) / "exp"
    failed = json.loads((exp / "results.json").read_text())
    assert failed["status"] == "failed" and set(failed["stages"]) == {"optuna", "kfold"}
    assert (exp / "optuna" / "best_params.json").exists()
    sources = sorted((exp / "stages" / "sources").glob("*.json"))
    assert len(sources) == 4
    stamps = [p.stat().st_mtime_ns for p in sources]
    res = run_recipe(recipe.override(("run.ensemble", "best_score")), plugins)
    out = results(res)
    assert out["status"] == "complete"
    assert out["stages"]["optuna"]["n_trials"] == 2  # the study was resumed, no new trial
    assert [p.stat().st_mtime_ns for p in sources] == stamps  # no fold trained again


def test_full_scores_each_set_of_validation_predictions_once(make_recipe, run, register_plugin) -> None:
    """The end of a run scored every fold model's validation predictions three times (to choose
    between the ensemble and the best source, for results.json, for the plots) and the ensemble's
    twice: each degenerate source was warned about twice. Counted with a metric of run.metrics."""
    from dialsum_core import hookimpl
    from dialsum_metrics import score_tags

    scored: list[int] = []

    class Count:
        def compute(self, predictions, references):
            scored.append(len(predictions))
            return {"count": float(len(scored))}

    class Plugin:
        @hookimpl
        def dialsum_register_metrics(self, register):
            register("count", lambda o, c: Count(), description="counts its calls", tags=score_tags("count"))

    register_plugin(Plugin(), "count-metric")
    recipe = _recipe(make_recipe, ensemble="best_score", save_visualizations=True).override(
        ("run.metrics", ["rouge", "count"]))
    out = results(run(recipe))
    assert out["status"] == "complete"
    sources = len(out["folds"])
    assert set(out["sources_valid"]) == {f"{f['model']}/fold{f['fold']}" for f in out["folds"]}
    assert all("count" in s for s in out["sources_valid"].values())  # every source still reports every metric
    # after the last model's out-of-fold predictions (30 dialogues; a fold holds 15), the ensemble
    # stage scores 8 validation dialogues: each fold model's predictions and the ensemble's, once
    ensemble_stage = scored[len(scored) - scored[::-1].index(30):]
    assert ensemble_stage == [8] * (sources + 1), scored
