"""The checkpoint uploaded with ``log_checkpoint`` is the one the run mode names in results.json
(``best_checkpoint``; which one each mode names is tested with the modes), never merely the last
checkpoint saved."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "dialsum-modes" / "tests"))
from modes_helpers import ROOT
from wandb_testkit import *  # noqa: F403 - pytest fixtures (wandb_env)
from wandb_testkit import settled

from dialsum_core.recipe import load_recipe
from dialsum_core.runner import run_recipe
from dialsum_wandb.logger import best_checkpoint


def _rouge(scores: dict) -> float:
    return scores["rouge_mean"]


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


@pytest.mark.parametrize("results", [{}, {"best_checkpoint": ""},
                                     # a mode's own layout is the mode's business: only the named key counts
                                     {"models_results": {"m": {"checkpoint": "ckpt/m", "valid": {"rouge_mean": 1}}}},
                                     {"optuna": {"best_trial": 0, "best_checkpoint": "ckpt/t"}}])
def test_results_that_name_no_model_choose_nothing(results: dict) -> None:
    assert best_checkpoint(results) is None


def test_the_named_checkpoint_and_the_reason_are_taken_as_given() -> None:
    assert best_checkpoint({"best_checkpoint": "ckpt/b", "best_checkpoint_chosen_by": "b: the best"}) == (
        "ckpt/b", "b: the best")
    assert best_checkpoint({"best_checkpoint": "ckpt/b"}) == ("ckpt/b", "best_checkpoint in results.json")
