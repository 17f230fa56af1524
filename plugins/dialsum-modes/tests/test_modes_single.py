"""``single``: one model (the reference) and several models compared, on real small data."""

from __future__ import annotations

from modes_fixtures import *  # noqa: F403 - pytest fixtures
from modes_helpers import read_csv, results


def test_single_writes_predictions_submission_and_results(make_recipe, run, small_data) -> None:
    res = run(make_recipe(save_visualizations=True))
    out = results(res)
    assert out["status"] == "complete" and out["mode"] == "single"
    assert out["best_rouge"] == out["valid"]["rouge_mean"] == out["rouge_mean"] > 0
    assert {"rouge1", "rouge2", "rougeL"} <= set(out)
    sub = read_csv(res.experiment / "predictions" / "submission.csv")
    test = read_csv(small_data["test"])
    assert list(sub[0]) == ["fname", "summary"]
    assert [r["fname"] for r in sub] == [r["fname"] for r in test] and all(r["summary"] for r in sub)
    valid = read_csv(res.experiment / "predictions" / "valid_predictions.csv")
    assert len(valid) == 8 and {"fname", "summary", "reference", "lead"} <= set(valid[0])
    assert (res.experiment / "checkpoints" / "lead" / "lead.json").exists()
    for name in ("learning_curves", "length_distribution"):
        assert (res.experiment / "visualizations" / f"{name}.png").read_bytes()[:4] == b"\x89PNG"


def test_single_with_several_models_submits_the_best_one(make_recipe, run) -> None:
    res = run(make_recipe(models=["lead1", "lead"], ensemble="best_score"))
    out = results(res)
    per_model = {m: r["valid"]["rouge_mean"] for m, r in out["models_results"].items()}
    assert set(per_model) == {"lead1", "lead"}
    best = max(per_model, key=per_model.get)
    assert out["best_model"] == best and out["best_rouge"] == per_model[best]
    valid = read_csv(res.experiment / "predictions" / "valid_predictions.csv")
    assert all(r["summary"] == r[best] for r in valid)


def test_rerun_of_the_same_experiment_reuses_trained_sources(make_recipe, run) -> None:
    recipe = make_recipe()
    first = run(recipe)
    stage = first.experiment / "stages" / "sources" / "lead.json"
    stamp = stage.stat().st_mtime_ns
    second = run(recipe)
    assert stage.stat().st_mtime_ns == stamp  # not trained again
    assert results(second)["best_rouge"] == results(first)["best_rouge"]
    # a change that matters (the model's options) trains again
    run(recipe.override(("models.lead.strip_speaker", True)))
    assert stage.stat().st_mtime_ns != stamp


def test_single_never_submits_a_degenerate_model_while_another_is_not(make_recipe, run) -> None:
    out = results(run(make_recipe(models=["constant", "lead"])))
    per_model = {m: r["valid"]["rouge_mean"] for m, r in out["models_results"].items()}
    assert per_model["constant"] > per_model["lead"]  # one summary for all outscores lead on Korean morphemes
    assert out["best_model"] == "lead" and out["best_rouge"] == per_model["lead"]
