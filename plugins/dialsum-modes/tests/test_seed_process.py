"""The seed's five-step competition process, run in a row on tiny stand-ins of every preset.

Each preset is pointed at a tiny random model of its own architecture (BART, Llama, GPT-NeoX) saved
to a folder, so every step loads, trains and generates through the real code path; each step must
read what the previous one wrote: the screening ranking (``top1``/``top3``), then the tuned
``optuna/best_recipe.toml``.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from dialsum_core.recipe import load_recipe
from dialsum_core.runner import run_recipe
from dialsum_data import load_csv

ROOT = Path(__file__).resolve().parents[3]
RECIPES = ROOT / "recipes"
SAMPLE = ROOT / "data" / "sample"


@pytest.fixture(scope="module")
def standins(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Overrides that put every preset on a tiny local model and the run on a debug subset."""
    from dialsum_hf.presets import ARCHITECTURES
    from dialsum_hf.testing import save_tiny_model_for

    folder = tmp_path_factory.mktemp("tiny")
    examples = load_csv(SAMPLE / "train.csv")
    tiny = {family: save_tiny_model_for(examples, family, folder / family, vocab_size=400)
            for family in sorted(set(ARCHITECTURES.values()))}
    return {
        "run": {"debug": True, "loggers": ["jsonl"]},
        # 192: the longest preset template (KULLM's) is ~120 tokens of the tiny tokenizers, and a prompt
        # must leave room for the dialogue
        "data": {"debug_samples": 8, "max_length": 192, "max_target_length": 24},
        "train": {"batch_size": 4, "learning_rate": 1e-3, "logging_steps": 5, "save_total_limit": 1},
        "generation": {"num_beams": 1, "max_new_tokens": 8, "min_new_tokens": 1, "batch_size": 8},
        "models": {preset: {"model_name_or_path": str(tiny[family])} for preset, family in ARCHITECTURES.items()},
    }


def step(recipe: Path, standins: dict[str, Any], out: Path, name: str, *overrides: Any) -> dict[str, Any]:
    loaded = load_recipe(recipe).merge(standins).override(("run.output_dir", str(out)), ("run.name", name),
                                                            *overrides)
    res = run_recipe(loaded)
    results = json.loads((res.experiment / "results.json").read_text(encoding="utf-8"))
    assert results["status"] == "complete", results
    return {"results": results, "config": tomllib.loads((res.experiment / "config.toml").read_text("utf-8")),
            "folder": res.experiment}


@pytest.mark.slow  # six tiny presets, a study, folds and the full pipeline: a few minutes on 2 cores
def test_the_five_steps_connect(standins: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "experiments"
    # 1. screen every model quickly
    screen = step(RECIPES / "single.toml", standins, out, "screen", ("run.models", ["all"]))
    ranking = [r["model"] for r in screen["results"]["ranking"]]
    assert len(ranking) == 6 and ranking[0] == screen["results"]["best_model"]
    # 2. tune the best one ("top1": the best of the screening run, resolved when checked)
    tuned = step(RECIPES / "optuna.toml", standins, out, "tune", ("run.models", ["top1"]),
                 ("modes.optuna.trials", 2))
    assert tuned["config"]["run"]["models"] == ranking[:1]
    best_recipe = tuned["folder"] / "optuna" / "best_recipe.toml"
    best = tuned["results"]["best_params"]
    # 3. validate the tuned settings with k folds: the study's best recipe is the seed's best_config
    folds = step(best_recipe, {}, out, "folds", ("run.mode", "kfold"), ("modes.kfold.k_folds", 2))
    assert folds["config"]["train"]["learning_rate"] == pytest.approx(best["train.learning_rate"])
    assert folds["config"]["run"]["models"] == ranking[:1]
    # 4. ensemble the three best models of the screening run
    multi = step(RECIPES / "multi_model.toml", standins, out, "multi", ("run.models", ["top3"]),
                 ("run.ensemble", "stacking"), ("modes.multi_model.weight_search_trials", 2))
    assert multi["config"]["run"]["models"] == ranking[:3]
    # 5. the final pipeline with TTA and plots
    final = step(RECIPES / "full.toml", standins, out, "final", ("run.models", ["top3"]),
                 ("run.tta_strategies", ["reorder"]), ("modes.optuna.trials", 2), ("modes.kfold.k_folds", 2),
                 ("modes.full.weight_search_trials", 2))
    assert final["config"]["run"]["models"] == ranking[:3] and final["config"]["run"]["use_tta"]
    assert any((final["folder"] / "visualizations").glob("*.png"))
    sub = (final["folder"] / "predictions" / "submission_debug.csv").read_text(encoding="utf-8").splitlines()
    assert sub[0] == "fname,summary" and len(sub) == 3  # a debug run's test subset, named so nobody uploads it


def test_top_n_without_a_screening_run_is_a_clear_error(tmp_path: Path) -> None:
    from dialsum_core.errors import RecipeError
    from dialsum_core.manager import build_plugins

    recipe = load_recipe(RECIPES / "multi_model-tiny.toml", [f"run.output_dir={tmp_path}", 'run.models=["top3"]'])
    with pytest.raises(RecipeError, match=r"run\.models: top3 needs an earlier screening run"):
        build_plugins().resolve(recipe)
