"""``multi_model``: several models, scored, then ensembled with given or searched weights."""

from __future__ import annotations

from modes_fixtures import *  # noqa: F403 - pytest fixtures
from modes_helpers import read_csv, results


def test_multi_model_searches_weights_when_none_are_given(make_recipe, run) -> None:
    recipe = make_recipe(("modes.multi_model.weight_search_trials", 6), mode="multi_model",
                         models=["lead1", "lead"], ensemble="best_score", save_visualizations=True)
    res = run(recipe)
    out = results(res)
    ens = out["ensemble"]
    singles = {m: r["valid"]["rouge_mean"] for m, r in out["models_results"].items()}
    assert ens["weights_from"] == "searched on validation"
    assert set(ens["weights"]) == {"lead1", "lead"} and abs(sum(ens["weights"].values()) - 1) < 1e-3
    # the search starts from each model alone, so the ensemble is never worse than the best model
    assert out["best_rouge"] == ens["valid"]["rouge_mean"] >= max(singles.values()) - 1e-4
    valid = read_csv(res.experiment / "predictions" / "valid_predictions.csv")
    assert {"lead1", "lead"} <= set(valid[0])
    for name in ("ensemble_weights", "validation_rouge", "length_distribution"):
        assert (res.experiment / "visualizations" / f"{name}.png").exists(), name


def test_multi_model_uses_given_weights(make_recipe, run) -> None:
    res = run(make_recipe(mode="multi_model", models=["lead1", "lead"], ensemble="best_score",
                          ensemble_weights=[1.0, 0.0]))
    out = results(res)
    assert out["ensemble"]["weights_from"] == "given"
    assert out["ensemble"]["info"]["weights_seen"] == {"lead1": 1.0, "lead": 0.0}
    rows = read_csv(res.experiment / "predictions" / "test_predictions.csv")
    assert all(r["summary"] == r["lead1"] for r in rows)
