"""The checkpoint uploaded with ``log_checkpoint`` is the best model's, read from what each run mode
writes in results.json, never merely the last checkpoint saved."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "dialsum-modes" / "tests"))
from modes_fixtures import *  # noqa: F403 - pytest fixtures (make_recipe, run, plugins, small_data)
from modes_helpers import ROOT
from wandb_testkit import *  # noqa: F403 - pytest fixtures (wandb_env)
from wandb_testkit import settled

from dialsum_core.recipe import load_recipe
from dialsum_core.runner import run_recipe
from dialsum_wandb.logger import best_checkpoint


def _rouge(scores: dict) -> float:
    return scores["rouge_mean"]


def test_single_uploads_the_model_the_submission_comes_from(make_recipe, run) -> None:
    out = run(make_recipe(models=["lead", "lead1"], ensemble="best_score")).results
    chosen, why = best_checkpoint(out)
    assert chosen == out["models_results"][out["best_model"]]["checkpoint"] and out["best_model"] in why


def test_multi_model_uploads_the_best_model_on_validation(make_recipe, run) -> None:
    out = run(make_recipe(mode="multi_model", models=["lead", "lead1"], ensemble="best_score")).results
    models = out["models_results"]
    best = max(models, key=lambda m: _rouge(models[m]["valid"]))
    assert best_checkpoint(out)[0] == models[best]["checkpoint"]


def test_kfold_uploads_the_best_fold_model_on_the_shared_validation_split(make_recipe, run) -> None:
    out = run(make_recipe(("modes.kfold.k_folds", 3), mode="kfold", models=["growing"],
                          ensemble="best_score")).results
    shared = out["sources_valid"]
    chosen, why = best_checkpoint(out)
    fold = next(f for f in out["folds"] if f["checkpoint"] == chosen)
    assert _rouge(shared[f"growing/fold{fold['fold']}"]) == max(_rouge(s) for s in shared.values())
    assert "validation" in why


def test_optuna_uploads_the_best_trial(make_recipe, run) -> None:
    recipe = make_recipe(("modes.optuna.trials", 3), ("modes.optuna.sampler", "random"),
                         ("modes.optuna.pruner", "none"),
                         ('modes.optuna.space."model.max_turns"', {"type": "int", "low": 1, "high": 4}),
                         mode="optuna", models=["growing"])
    res = run(recipe)
    study = res.results["optuna"]
    chosen, _ = best_checkpoint(res.results)
    assert Path(chosen) == res.experiment / "checkpoints" / "optuna" / f"trial_{study['best_trial']:04d}"
    assert Path(chosen).is_dir()  # the best trial's folder is the one kept


def test_a_real_upload_is_the_best_model_not_the_last_checkpoint(tmp_path: Path, wandb_env: Path) -> None:
    """``scratch`` saves Trainer checkpoints (announced to the loggers), then ``lead`` trains and is the
    better of the two: the artifact holds lead's folder, not scratch's last checkpoint."""
    recipe = load_recipe(ROOT / "recipes" / "single-tiny.toml", [
        'run.models=["scratch", "lead"]', 'run.loggers=["wandb"]', "loggers.wandb.log_checkpoint=true",
        f"run.output_dir={tmp_path / 'experiments'}", "run.name=best", "data.debug_samples=16"])
    res = run_recipe(recipe)
    models = res.results["models_results"]
    assert res.results["best_model"] == "lead" and _rouge(models["lead"]["valid"]) > _rouge(models["scratch"]["valid"])
    record = settled(next((res.experiment / "wandb").glob("offline-run-*/run-*.wandb")), b"best-model")
    uploaded = re.findall(rb'\{"path":"([^"]+)"', record)
    assert [p.decode() for p in uploaded] == [models["lead"]["checkpoint"]]
    assert b"lead.json" in record and b"model.safetensors" not in record  # the artifact's files


@pytest.mark.parametrize("results", [{}, {"models_results": {}}, {"folds": []}, {"optuna": {"best_trial": 0}}])
def test_results_that_name_no_model_choose_nothing(results: dict) -> None:
    assert best_checkpoint(results) is None
