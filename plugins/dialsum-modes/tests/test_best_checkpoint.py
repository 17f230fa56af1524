"""Every mode names, at the top of ``results.json``, the one trained model the run stands for
(``best_checkpoint``) and why it is that one, so that whatever keeps or uploads "the best model" (the
W&B logger) reads one key instead of each mode's own layout."""

from __future__ import annotations

from pathlib import Path

from modes_fixtures import *  # noqa: F403 - pytest fixtures (make_recipe, run, plugins, small_data)

from dialsum_modes import toolkit


def _rouge(scores: dict) -> float:
    return scores["rouge_mean"]


def test_single_names_the_model_the_submission_comes_from(make_recipe, run) -> None:
    out = run(make_recipe(models=["lead", "lead1"], ensemble="best_score")).results
    assert out["best_checkpoint"] == out["models_results"][out["best_model"]]["checkpoint"]
    assert out["best_checkpoint_chosen_by"].startswith(f"{out['best_model']}: ")


def test_multi_model_names_the_best_model_on_validation(make_recipe, run) -> None:
    out = run(make_recipe(mode="multi_model", models=["lead", "lead1"], ensemble="best_score")).results
    models = out["models_results"]
    best = max(models, key=lambda m: _rouge(models[m]["valid"]))
    assert out["best_checkpoint"] == models[best]["checkpoint"]
    assert "validation" in out["best_checkpoint_chosen_by"]


def test_kfold_names_the_best_fold_model_on_the_shared_validation_split(make_recipe, run) -> None:
    out = run(make_recipe(("modes.kfold.k_folds", 3), mode="kfold", models=["growing"],
                          ensemble="best_score")).results
    shared = out["sources_valid"]
    fold = next(f for f in out["folds"] if f["checkpoint"] == out["best_checkpoint"])
    assert _rouge(shared[f"growing/fold{fold['fold']}"]) == max(_rouge(s) for s in shared.values())


def test_optuna_names_the_best_trial(make_recipe, run) -> None:
    recipe = make_recipe(("modes.optuna.trials", 3), ("modes.optuna.sampler", "random"),
                         ("modes.optuna.pruner", "none"),
                         ('modes.optuna.space."model.max_turns"', {"type": "int", "low": 1, "high": 4}),
                         mode="optuna", models=["growing"])
    res = run(recipe)
    study = res.results["optuna"]
    chosen = Path(res.results["best_checkpoint"])
    assert chosen == res.experiment / "checkpoints" / "optuna" / f"trial_{study['best_trial']:04d}"
    assert chosen.is_dir()  # the best trial's folder is the one kept
    assert res.results["best_checkpoint_chosen_by"].startswith(f"trial {study['best_trial']}: ")


def test_the_highest_score_wins_and_a_model_without_a_checkpoint_is_never_named() -> None:
    named = [("a", {"rouge_mean": 0.2}, "ckpt/a"), ("b", {"rouge_mean": 0.4}, "ckpt/b"),
             ("c", {"rouge_mean": 0.9}, "")]
    assert toolkit.best_checkpoint(named, "model") == {
        "best_checkpoint": "ckpt/b", "best_checkpoint_chosen_by": "b: the best model (rouge_mean 0.4000)"}
    assert toolkit.best_checkpoint([("c", {"rouge_mean": 0.9}, "")], "model") == {}
    assert toolkit.best_checkpoint([("t", {}, "ckpt/t")], "trial")["best_checkpoint"] == "ckpt/t"


# ------------------------------------------------------------------------------------------------
# checkpoints/best: the link says what results.json says
# ------------------------------------------------------------------------------------------------
def _linked_best(res) -> Path:
    link = res.experiment / "checkpoints" / "best"
    assert link.is_symlink(), "no checkpoints/best link"
    return link.resolve()


def test_single_links_best_to_the_submitted_model_not_a_degenerate_higher_scorer(make_recipe, run) -> None:
    """``constant`` scores higher on validation but is degenerate: ``lead`` is submitted and named
    ``best_checkpoint``, and ``checkpoints/best`` is that same model, not the higher scorer."""
    res = run(make_recipe(models=["constant", "lead"]))
    out = res.results
    assert out["best_model"] == "lead"
    assert _linked_best(res) == Path(out["best_checkpoint"]).resolve()


def test_kfold_links_best_to_the_fold_model_named_in_the_results(make_recipe, run) -> None:
    """Fold models are ranked on the shared validation split, for the link as for ``results.json``:
    each fold's held-out score is measured on other dialogues and does not compare."""
    res = run(make_recipe(("modes.kfold.k_folds", 3), mode="kfold", models=["growing"], ensemble="best_score"))
    assert _linked_best(res) == Path(res.results["best_checkpoint"]).resolve()


def test_optuna_links_best_to_the_best_trial(make_recipe, run) -> None:
    recipe = make_recipe(("modes.optuna.trials", 2), ("modes.optuna.sampler", "random"),
                         ("modes.optuna.pruner", "none"),
                         ('modes.optuna.space."model.max_turns"', {"type": "int", "low": 1, "high": 4}),
                         mode="optuna", models=["growing"])
    res = run(recipe)
    assert _linked_best(res) == Path(res.results["best_checkpoint"]).resolve()
