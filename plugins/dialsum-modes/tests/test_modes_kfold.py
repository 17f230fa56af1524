"""``kfold``: fold assignment properties, a model per fold, OOF predictions and the fold ensemble."""

from __future__ import annotations

import statistics
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from modes_fixtures import *  # noqa: F403 - pytest fixtures
from modes_helpers import read_csv, results

from dialsum_core.data import Example
from dialsum_core.errors import DialsumError
from dialsum_modes.folds import assign_folds


@settings(max_examples=60, deadline=None)
@given(
    topics=st.lists(st.sampled_from("abcde"), min_size=4, max_size=60),
    dup_every=st.integers(min_value=0, max_value=5),
    k=st.integers(min_value=2, max_value=4),
    seed=st.integers(min_value=0, max_value=10),
)
def test_folds_keep_dialogues_together_spread_topics_and_balance_sizes(topics, dup_every, k, seed) -> None:
    examples = [Example(f"f{i}", f"dialogue {i // 2 if dup_every and i % dup_every == 0 else i}", ("s",), t)
                for i, t in enumerate(topics)]
    groups = len({e.dialogue for e in examples})
    if k > groups:
        with pytest.raises(DialsumError, match="k_folds"):
            assign_folds(examples, k, seed)
        return
    fold_of = assign_folds(examples, k, seed)
    assert set(fold_of) == set(range(k))  # no empty fold
    by_dialogue: dict[str, set[int]] = {}
    for e, f in zip(examples, fold_of, strict=True):
        by_dialogue.setdefault(e.dialogue, set()).add(f)
    assert all(len(fs) == 1 for fs in by_dialogue.values())  # a dialogue lives in one fold
    if not dup_every:
        sizes = Counter(fold_of)
        assert max(sizes.values()) - min(sizes.values()) <= 1
        for topic, n in Counter(topics).items():
            if n >= k:  # every frequent topic appears in every fold
                assert {f for t, f in zip(topics, fold_of, strict=True) if t == topic} == set(range(k))
    assert fold_of == assign_folds(examples, k, seed)  # reproducible


def test_kfold_trains_a_model_per_fold_and_ensembles_them(make_recipe, run, small_data) -> None:
    recipe = make_recipe(("modes.kfold.k_folds", 3), mode="kfold", ensemble="best_score", save_visualizations=True)
    res = run(recipe)
    out = results(res)
    assert [f["fold"] for f in out["folds"]] == [1, 2, 3]
    assert sum(f["n_valid"] for f in out["folds"]) == 30
    assert all(f["n_train"] + f["n_valid"] == 30 for f in out["folds"])
    fold_scores = [f["scores"]["rouge_mean"] for f in out["folds"]]
    cv = out["cv"]["lead"]["rouge_mean"]
    assert cv["mean"] == pytest.approx(statistics.fmean(fold_scores), abs=1e-4)
    assert cv["std"] == pytest.approx(statistics.pstdev(fold_scores), abs=1e-4)
    assert out["best_rouge"] == out["ensemble"]["valid"]["rouge_mean"] > 0
    for f in range(1, 4):
        assert (res.experiment / "checkpoints" / "lead" / f"fold{f}" / "lead.json").exists()
    oof = read_csv(res.experiment / "predictions" / "oof_predictions.csv")
    train = read_csv(small_data["train"])
    assert sorted(r["fname"] for r in oof) == sorted(r["fname"] for r in train)
    assert {r["fold"] for r in oof} == {"1", "2", "3"} and all(r["summary"] for r in oof)
    sub = read_csv(res.experiment / "predictions" / "submission.csv")
    assert len(sub) == 6 and list(sub[0]) == ["fname", "summary"]
    test_preds = read_csv(res.experiment / "predictions" / "test_predictions.csv")
    assert {"lead/fold1", "lead/fold2", "lead/fold3"} <= set(test_preds[0])
    for name in ("fold_rouge", "validation_rouge", "length_distribution"):
        assert (res.experiment / "visualizations" / f"{name}.png").read_bytes()[:4] == b"\x89PNG", name
    assert not (res.experiment / "visualizations" / "learning_curves.png").exists()  # one epoch per fold


def test_the_run_log_says_which_files_the_kfold_run_read(make_recipe, run, small_data) -> None:
    """The k-fold check asks the data plugin for the training dialogues before the run starts: what
    the plugin says about the files it read still goes to the run's log, once."""
    res = run(make_recipe(("modes.kfold.k_folds", 3), mode="kfold", ensemble="best_score", loggers=["file"]))
    log = (res.experiment / "train.log").read_text(encoding="utf-8")
    assert log.count(f"loaded {small_data['train']}: 30 rows") == 1, log
    assert log.count("data: 30 train, 8 validation, 6 test dialogues") == 1, log


def test_kfold_weights_per_fold_reach_the_ensemble_and_results(make_recipe, run) -> None:
    recipe = make_recipe(("modes.kfold.k_folds", 3), mode="kfold", ensemble="best_score",
                         ensemble_weights=[0.0, 1.0, 0.0])
    res = run(recipe)
    out = results(res)
    per_fold = {"lead/fold1": 0.0, "lead/fold2": 1.0, "lead/fold3": 0.0}
    ens = out["ensemble"]
    assert ens["info"]["weights_seen"] == per_fold
    # results.json names the weights that were used, one per fold, for the test and for each part
    assert ens["weights"] == per_fold and ens["weights_from"] == "given"
    assert [p["weights"] for p in ens["crossfit"]["per_part"]] == [per_fold, per_fold]
    # with weight 1 on fold 2 only, best_score keeps fold 2's candidate for every dialogue, unless
    # that scores below the best fold on validation, and then that fold is used and named
    used = "lead/fold2" if ens["used"] == "ensemble" else ens["used"]
    assert ens["used"] == "ensemble" or ens["valid"]["rouge_mean"] < out["valid"]["rouge_mean"]
    rows = read_csv(res.experiment / "predictions" / "test_predictions.csv")
    assert all(r["summary"] == r[used] for r in rows)


def test_kfold_ensemble_never_reports_less_than_its_best_fold(make_recipe, run) -> None:
    out = results(run(make_recipe(("modes.kfold.k_folds", 3), mode="kfold", ensemble="stacking")))
    best_fold = max(s["rouge_mean"] for s in out["sources_valid"].values())
    assert out["best_rouge"] == out["valid"]["rouge_mean"] >= best_fold
    ens = out["ensemble"]
    # stacking was fitted on each half of the 8 validation dialogues and scored on the other
    parts = ens["crossfit"]["per_part"]
    assert [(p["dialogues"], p["fitted_on"], p["info"]["groups"]) for p in parts] == [(4, 4, 4), (4, 4, 4)]
    assert ens["info"]["groups"] == 8  # the fit behind the test predictions saw all of them
    if ens["used"] != "ensemble":
        assert ens["valid"]["rouge_mean"] < best_fold == out["best_rouge"]


def test_fold_events_name_their_model_and_the_report_keeps_the_models_apart(make_recipe, run) -> None:
    """With several models, fold 1 of one and fold 1 of the other are different fold models: the
    events say whose fold each is, and ``dialsum report`` lists each model's folds and their mean
    apart (the mean of all the folds together mixed the models into a figure no model scored)."""
    import json

    from click.testing import CliRunner

    from dialsum_core.cli import cli

    recipe = make_recipe(("modes.kfold.k_folds", 2), mode="kfold", models=["lead", "lead1"], loggers=["jsonl"],
                         ensemble="best_score")
    res = run(recipe)
    out = results(res)
    lines = (res.experiment / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    events = [json.loads(line) for line in lines]
    after = [e for e in events if e["event"] == "after_fold"]
    assert [(e["tags"]["model"], e["fold"]) for e in after] == [("lead", 0), ("lead", 1), ("lead1", 0), ("lead1", 1)]

    assert CliRunner().invoke(cli, ["report", str(res.experiment)]).exit_code == 0
    table = (res.experiment / "report" / "report.md").read_text(encoding="utf-8").split("## Folds")[1]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in table.strip().splitlines()[:9]]
    assert rows[0][:2] == ["model", "fold"]
    # folds counted from 1, as in results.json and the console
    assert [r[:2] for r in rows[2:]] == [["lead", "1"], ["lead", "2"], ["lead", "mean"], ["lead", "std"],
                                         ["lead1", "1"], ["lead1", "2"], ["lead1", "mean"]]
    means = {r[0]: r for r in rows if r[1] == "mean"}
    column = rows[0].index("rouge_mean")
    for model in ("lead", "lead1"):
        assert means[model][column] == f"{100 * out['cv'][model]['rouge_mean']['mean']:.2f}"
    assert out["cv"]["lead"]["rouge_mean"]["mean"] != out["cv"]["lead1"]["rouge_mean"]["mean"]


def test_the_folds_of_several_models_are_apart_in_tensorboard(make_recipe, run) -> None:
    """Both models' folds were logged as ``fold/<metric>`` at steps 0 and 1: one model's points
    overwrote the other's."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    recipe = make_recipe(("modes.kfold.k_folds", 2), mode="kfold", models=["lead", "lead1"], loggers=["tensorboard"],
                         ensemble="best_score")
    res = run(recipe)
    out = results(res)
    acc = EventAccumulator(str(res.experiment / "tensorboard"), size_guidance={"scalars": 0})
    acc.Reload()
    assert "fold/rouge_mean" not in acc.Tags()["scalars"]
    for model in ("lead", "lead1"):
        points = acc.Scalars(f"{model}/fold/rouge_mean")
        assert [e.step for e in points] == [1, 2]  # folds counted from 1, as in results.json
        folds = [f for f in out["folds"] if f["model"] == model]
        assert [round(e.value, 4) for e in points] == [pytest.approx(f["scores"]["rouge_mean"], abs=1e-4)
                                                       for f in folds]


def test_each_fold_models_degenerate_validation_predictions_are_warned_about_once(make_recipe, run,
                                                                                 caplog) -> None:
    """Scored for the choice between the ensemble and a source, for results.json and for the plots,
    a collapsed fold model's validation predictions were warned about twice."""
    import logging

    caplog.set_level(logging.INFO, logger="dialsum")
    res = run(make_recipe(("modes.kfold.k_folds", 2), mode="kfold", models=["constant", "lead"],
                          ensemble="majority_vote", ensemble_weights=[0.0, 1.0], save_visualizations=True))
    out = results(res)
    assert out["sources_valid"]["constant/fold1"]["rouge_mean"] > 0  # still reported
    # 8 validation dialogues: each collapsed fold model once (the ensemble follows lead, it is sound)
    warned = [r.getMessage() for r in caplog.records if r.getMessage().startswith("degenerate predictions")]
    assert sum(" of 8 " in m for m in warned) == 2, warned
    # each says whose predictions they are: the four lines of a real run were all alike
    assert [m.split(":")[0].removeprefix("degenerate predictions of ") for m in warned] == [
        "constant/fold1 on its held-out fold", "constant/fold2 on its held-out fold", "constant out of fold",
        "constant/fold1", "constant/fold2"], warned


def test_weights_given_per_fold_are_plotted_as_the_ensemble_used_them(make_recipe, run) -> None:
    """The plot of the ensemble's weights shows ``results.json``'s ``weights``, the mapping the
    ensemble used: given one per fold of one model, they were looked up per model and nothing was drawn."""
    res = run(make_recipe(("modes.kfold.k_folds", 3), mode="kfold", ensemble="best_score",
                          ensemble_weights=[0.0, 1.0, 0.0], save_visualizations=True))
    out = results(res)
    assert out["ensemble"]["weights_from"] == "given"
    assert "visualizations/ensemble_weights.png" in out["visualizations"]
    assert (res.experiment / "visualizations" / "ensemble_weights.png").read_bytes()[:4] == b"\x89PNG"
