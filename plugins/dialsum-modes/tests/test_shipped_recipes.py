"""The shipped ``recipes/*-tiny.toml`` run end to end on a CPU, as a user would run them.

Each test loads the shipped recipe the way ``dialsum run`` does (``extends`` chain, then ``--set``
overrides), points it at a slice of the sample data and a temporary experiment folder, runs it
with the installed plugins (the scratch BART really trains), and checks what the mode promises:
``results.json``, the submission, and the mode's own outputs (folds, Optuna files, stages).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from modes_helpers import ROOT, SAMPLE, _rows, _write, read_csv

from dialsum_core.recipe import load_recipe
from dialsum_core.runner import RunResult, run_recipe

RECIPES = ROOT / "recipes"
TOOL = ROOT / "tools" / "make_sample_paraphrases.py"
PARAPHRASES = ROOT / "data" / "sample" / "paraphrases.csv"
N_TRAIN, N_DEV, N_TEST = 15, 4, 4


@pytest.fixture(scope="module")
def sliced(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The first rows of the sample data (the recipes' own data, made smaller)."""
    if not (SAMPLE / "train.csv").exists():
        pytest.skip(f"sample data not found at {SAMPLE}")
    out = tmp_path_factory.mktemp("sample")
    cols = ["fname", "dialogue", "summary", "topic"]
    return {
        "train": _write(out / "train.csv", _rows(SAMPLE / "train.csv", N_TRAIN), cols),
        "dev": _write(out / "dev.csv", _rows(SAMPLE / "dev.csv", N_DEV), cols),
        "test": _write(out / "test.csv", _rows(SAMPLE / "test.csv", N_TEST), ["fname", "dialogue"]),
    }


def run_shipped(name: str, data: dict[str, Path], out: Path, *extra: Any) -> tuple[RunResult, dict[str, Any]]:
    """Run ``recipes/<name>.toml`` with ``--set``-style overrides for the data and the output folder."""
    overrides = [
        f"data.train_path={data['train']}", f"data.dev_path={data['dev']}", f"data.test_path={data['test']}",
        f"run.output_dir={out}", f"run.name={name}", 'run.loggers=["jsonl"]', *extra,
    ]
    res = run_recipe(load_recipe(RECIPES / f"{name}.toml", overrides))
    results = json.loads((res.experiment / "results.json").read_text(encoding="utf-8"))
    assert results["status"] == "complete" and results["mode"] == load_recipe(RECIPES / f"{name}.toml").run.mode
    return res, results


def events(res: RunResult) -> list[dict[str, Any]]:
    with (res.experiment / "metrics.jsonl").open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def check_submission(res: RunResult, data: dict[str, Path]) -> None:
    # the tiny recipes are debug runs: their submission is named so that nobody uploads it
    assert not (res.experiment / "predictions" / "submission.csv").exists()
    sub = read_csv(res.experiment / "predictions" / "submission_debug.csv")
    assert list(sub[0]) == ["fname", "summary"]
    assert [r["fname"] for r in sub] == [r["fname"] for r in read_csv(data["test"])]
    assert all(r["summary"].strip() for r in sub)


def check_scores(results: dict[str, Any]) -> None:
    assert {"rouge1", "rouge2", "rougeL", "rouge_mean"} <= set(results["valid"])
    assert results["best_rouge"] == results["valid"]["rouge_mean"] == results["rouge_mean"]
    valid = results["valid"]
    assert all(0.0 <= valid[k] <= 1.0 for k in ("rouge1", "rouge2", "rougeL", "rouge_mean", "distinct_ratio"))
    assert valid["mean_length"] > 0  # characters, next to the scores


def test_single_tiny(sliced: dict[str, Path], tmp_path: Path) -> None:
    res, out = run_shipped("single-tiny", sliced, tmp_path)
    assert out["models"] == ["scratch"] and out["best_model"] == "scratch"
    check_scores(out)
    check_submission(res, sliced)
    valid = read_csv(res.experiment / "predictions" / "valid_predictions.csv")
    assert len(valid) == N_DEV and {"fname", "summary", "reference", "scratch"} <= set(valid[0])
    # the tiny overlay reached the model, and debug trained one epoch of the seed's three
    config = (res.experiment / "config.toml").read_text(encoding="utf-8")
    assert "d_model = 32" in config and "debug = true" in config
    assert [h["epoch"] for h in out["history"]] == [1]
    seen = events(res)
    assert [(e["epoch"], e["n_epochs"]) for e in seen if e["event"] == "after_epoch"] == [(1, 1)]
    generation = [e for e in seen if e["event"] == "on_progress" and e["task"].startswith("predict test")]
    assert generation and generation[-1]["completed"] == generation[-1]["total"] == N_TEST
    # the recipe draws its plots; one epoch makes no learning curve
    assert out["visualizations"] == ["visualizations/length_distribution.png"]


def test_kfold_fold_models_with_augmented_copies_decode_jointly(sliced: dict[str, Path], tmp_path: Path) -> None:
    """Each fold trains on its own augmented copies; the scratch tokenizer learns the training split
    alone, so every fold model has the same ids and the token-level ensemble takes them all (it
    refused them, after training, when each fold's tokenizer had learnt its own copies)."""
    res, out = run_shipped("kfold-tiny", sliced, tmp_path, ("run.ensemble", "averaging"),
                           ("data.preprocessing.augmentation.enable", True),
                           ("data.preprocessing.augmentation.strategies", ["reorder"]))
    assert out["status"] == "complete" and out["ensemble"]["strategy"] == "averaging"
    assert len(list((res.experiment / "checkpoints" / "scratch" / "tokenizer").glob("*.json"))) == 1


def test_kfold_tiny(sliced: dict[str, Path], tmp_path: Path) -> None:
    res, out = run_shipped("kfold-tiny", sliced, tmp_path)
    assert out["k_folds"] == 3 and [f["fold"] for f in out["folds"]] == [1, 2, 3]
    assert sum(f["n_valid"] for f in out["folds"]) == N_TRAIN
    assert all(f["n_train"] + f["n_valid"] == N_TRAIN for f in out["folds"])
    cv = out["cv"]["scratch"]["rouge_mean"]
    folds = [f["scores"]["rouge_mean"] for f in out["folds"]]
    assert cv["mean"] == pytest.approx(sum(folds) / 3, abs=1e-4) and cv["std"] >= 0
    assert out["ensemble"]["strategy"] == "rouge_weighted"
    check_scores(out)
    check_submission(res, sliced)
    oof = read_csv(res.experiment / "predictions" / "oof_predictions.csv")
    assert sorted(r["fname"] for r in oof) == sorted(r["fname"] for r in read_csv(sliced["train"]))
    assert {r["fold"] for r in oof} == {"1", "2", "3"}
    tests = read_csv(res.experiment / "predictions" / "test_predictions.csv")
    assert {"scratch/fold1", "scratch/fold2", "scratch/fold3"} <= set(tests[0])
    for f in (1, 2, 3):
        assert (res.experiment / "stages" / "sources" / f"scratch__fold{f}.json").exists()
    seen = events(res)
    assert [e["fold"] for e in seen if e["event"] == "after_fold"] == [0, 1, 2]
    fold_bar = [e for e in seen if e["event"] == "on_progress" and e["task"] == "folds scratch"]
    assert (fold_bar[-1]["completed"], fold_bar[-1]["total"]) == (3, 3)
    pngs = {p.name for p in (res.experiment / "visualizations").glob("*.png")}
    assert {"fold_rouge.png", "validation_rouge.png", "length_distribution.png"} <= pngs


def test_multi_model_tiny(sliced: dict[str, Path], tmp_path: Path) -> None:
    res, out = run_shipped("multi_model-tiny", sliced, tmp_path)
    singles = {m: r["valid"]["rouge_mean"] for m, r in out["models_results"].items()}
    assert set(singles) == {"scratch", "lead"}
    ens = out["ensemble"]
    assert ens["strategy"] == "majority_vote" and ens["weights_from"] in ("searched on validation", "ensemble default")
    if ens["weights_from"] == "searched on validation":
        assert set(ens["weights"]) == {"scratch", "lead"} and sum(ens["weights"].values()) == pytest.approx(1, abs=1e-3)
    # what the run submits never scores below its best model on validation
    assert out["best_rouge"] >= max(singles.values())
    assert ens["used"] == "ensemble" or out["best_rouge"] == singles[ens["used"]] > ens["valid"]["rouge_mean"]
    check_scores(out)
    check_submission(res, sliced)
    valid = read_csv(res.experiment / "predictions" / "valid_predictions.csv")
    assert {"scratch", "lead"} <= set(valid[0])
    pngs = {p.name for p in (res.experiment / "visualizations").glob("*.png")}
    assert {"validation_rouge.png", "length_distribution.png"} <= pngs


@pytest.mark.parametrize("name", [*(f"{m}{t}" for m in ("single", "kfold", "multi_model", "optuna", "full")
                                    for t in ("", "-tiny")), "quick"])
def test_shipped_recipes_write_their_plots(name: str) -> None:
    """The README promises visualizations/ in every run: the mode recipes, their tiny variants and the
    demo turn the plots on (the key's default is off, as the seed's flag was)."""
    assert load_recipe(RECIPES / f"{name}.toml").run.save_visualizations


@pytest.mark.slow  # four scratch trainings (three trials, then the best recipe): 17 s on 2 shared CPU cores
def test_optuna_tiny_and_its_best_recipe(sliced: dict[str, Path], tmp_path: Path) -> None:
    res, out = run_shipped("optuna-tiny", sliced, tmp_path)
    space = set(load_recipe(RECIPES / "optuna-tiny.toml").modes["optuna"]["space"])
    opt = out["optuna"]
    assert opt["n_trials"] == 3  # debug: three trials of the recipe's four
    assert opt["best_value"] == max(t["value"] for t in opt["trials"] if t["value"] is not None)
    best = json.loads((res.experiment / "optuna" / "best_params.json").read_text(encoding="utf-8"))
    assert set(best["params"]) == space and best["params"] == out["best_params"] and best["model"] == "scratch"
    assert (res.experiment / "optuna" / "study.db").exists()
    assert [e["trial"] for e in events(res) if e["event"] == "after_trial"] == [0, 1, 2]
    # optuna/best_recipe.toml is a recipe of its own: single mode, the best values, data paths that resolve
    recipe = load_recipe(res.experiment / "optuna" / "best_recipe.toml",
                         [f"run.output_dir={tmp_path / 'best'}", "run.name=best", 'run.loggers=["jsonl"]'])
    assert recipe.run.mode == "single" and recipe.run.models == ["scratch"]
    assert recipe.train.learning_rate == best["params"]["train.learning_rate"]
    assert recipe.models["scratch"]["d_model"] == best["params"]["model.d_model"]
    again = run_recipe(recipe)
    assert again.results["best_rouge"] == pytest.approx(best["value"], abs=1e-4)  # the best trial, reproduced
    check_submission(again, sliced)


@pytest.mark.slow  # two trials, four fold models, three TTA strategies: 36 s on 2 shared CPU cores
def test_full_tiny(sliced: dict[str, Path], tmp_path: Path) -> None:
    res, out = run_shipped("full-tiny", sliced, tmp_path)
    assert set(out["stages"]) == {"optuna", "kfold", "ensemble"}
    for stage in ("optuna", "kfold", "ensemble"):
        saved = json.loads((res.experiment / "stages" / f"{stage}.json").read_text(encoding="utf-8"))
        assert saved["status"] == "complete"
    best = json.loads((res.experiment / "optuna" / "best_params.json").read_text(encoding="utf-8"))
    assert best["model"] == "scratch" and out["best_params"] == best["params"]
    assert [(f["model"], f["fold"]) for f in out["folds"]] == [("scratch", 1), ("scratch", 2), ("lead", 1),
                                                                ("lead", 2)]
    # the best parameters reached the k-fold models of the tuned model
    for fold in out["folds"][:2]:
        config = json.loads((Path(fold["checkpoint"]) / "config.json").read_text(encoding="utf-8"))
        assert config["d_model"] == best["params"]["model.d_model"]
    # every fold model also summarized one variant per TTA strategy of each test dialogue, for the ensemble
    assert out["ensemble"]["strategy"] == "stacking" and out["ensemble"]["info"]["groups"] == N_DEV
    # stacking is cross-fitted (fitted on half of the validation dialogues, scored on the other), and
    # what the run submits never scores below its best fold model on validation
    assert [p["fitted_on"] for p in out["ensemble"]["crossfit"]["per_part"]] == [N_DEV // 2] * 2
    assert out["best_rouge"] >= max(s["rouge_mean"] for s in out["sources_valid"].values())
    stage = json.loads((res.experiment / "stages" / "sources" / "scratch__fold1.json").read_text(encoding="utf-8"))
    candidates = {c[1] for per_dialogue in stage["source"]["outputs"]["test"] for c in per_dialogue}
    assert {f"scratch/fold1/tta:{name}:1" for name in ("paraphrase", "reorder", "synonym")} <= candidates
    check_scores(out)
    check_submission(res, sliced)
    pngs = {p.name for p in (res.experiment / "visualizations").glob("*.png")}
    assert {"optuna_history.png", "fold_rouge.png", "validation_rouge.png", "length_distribution.png"} <= pngs


def test_paraphrase_table_is_up_to_date() -> None:
    """``data/sample/paraphrases.csv`` is what ``tools/make_sample_paraphrases.py`` writes."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_sample_paraphrases", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert PARAPHRASES.read_text(encoding="utf-8") == module.build()
    rows = list(csv.DictReader(PARAPHRASES.open(encoding="utf-8", newline="")))
    dev = {r["fname"] for r in read_csv(SAMPLE / "dev.csv")}
    test = {r["fname"] for r in read_csv(SAMPLE / "test.csv")}
    assert {r["fname"] for r in rows} <= dev | test and len(rows) >= 0.9 * len(dev | test)


@pytest.mark.slow  # five trials of the scratch BART, up to three epochs each
def test_optuna_prunes_a_scratch_trial_on_the_real_training_path(sliced: dict[str, Path], tmp_path: Path) -> None:
    """Pruning was only ever seen with a fake model: here the scratch BART reports each epoch's
    validation ROUGE to the trial through ``ctx.trial`` and stops when the median pruner says so.
    A learning rate of 1e-7 leaves the model random after an epoch: such a trial is pruned."""
    import optuna

    # run.seed = 40: the random sampler draws 3e-3 for the two trials the median pruner learns from
    res, out = run_shipped("optuna-tiny", sliced, tmp_path, "run.seed=40", "run.debug=false", "train.epochs=3",
                           "modes.optuna.trials=5", "modes.optuna.sampler=random", "modes.optuna.space={}",
                           ("modes.optuna.space.\"train.learning_rate\"",
                            {"type": "categorical", "choices": [3e-3, 1e-7]}))
    study = optuna.load_study(study_name="optuna-tiny",
                              storage=f"sqlite:///{res.experiment / 'optuna' / 'study.db'}")
    pruned = [t for t in study.get_trials() if t.state == optuna.trial.TrialState.PRUNED]
    assert out["optuna"]["pruned"] == len(pruned) >= 1
    for t in pruned:
        assert t.params["train.learning_rate"] == 1e-7 and max(t.intermediate_values) < 3  # stopped early


def test_use_cache_reuses_a_model_trained_by_an_earlier_run(sliced: dict[str, Path], tmp_path: Path) -> None:
    """The seed's --use_cache: a second run (another name, the same dialogues copied elsewhere) reuses
    the trained model and its predictions; a change of recipe trains again."""
    import shutil

    first, out1 = run_shipped("single-tiny", sliced, tmp_path, "run.use_cache=true")
    copy = {k: shutil.copy(v, tmp_path / f"copy_{v.name}") for k, v in sliced.items()}
    again = load_recipe(RECIPES / "single-tiny.toml", [
        f"data.train_path={copy['train']}", f"data.dev_path={copy['dev']}", f"data.test_path={copy['test']}",
        f"run.output_dir={tmp_path}", "run.name=second", 'run.loggers=["jsonl"]', "run.use_cache=true"])
    second = run_recipe(again)
    out2 = json.loads((second.experiment / "results.json").read_text(encoding="utf-8"))
    assert out2["valid"] == out1["valid"]
    assert not list((second.experiment / "checkpoints").glob("scratch/checkpoint-*"))  # nothing trained
    assert (second.experiment / "predictions" / "submission_debug.csv").read_text("utf-8") == \
        (first.experiment / "predictions" / "submission_debug.csv").read_text("utf-8")
    third = run_recipe(again.override("run.name=third", "train.learning_rate=5e-4"))
    assert list((third.experiment / "checkpoints").glob("scratch/checkpoint-*"))  # another recipe: trained
