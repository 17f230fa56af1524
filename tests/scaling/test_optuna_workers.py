"""Distributed hyperparameter search: workers started separately share one Optuna study and its budget.

The model is ``slow-lead`` (the lead model, one second per training), so that trials of two workers,
or of two threads, surely run at the same time.
"""

from __future__ import annotations

import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import optuna
import pytest

from .conftest import OPTUNA, TINY_SCRATCH, dialsum, dialsum_command, dialsum_env, read_json, write_recipe


def _recipe(tmp_path: Path, data: Path, *, trials: int, n_jobs: int = 1, storage: str = "") -> Path:
    body = OPTUNA.format(model="slow-lead", trials=trials, n_jobs=n_jobs, storage=storage)
    return write_recipe(tmp_path / "optuna.toml", data, body)


def _max_overlap(trials: list[Any]) -> int:
    """How many trials ran at the same time, at most."""
    edges = sorted([(t.datetime_start, 1) for t in trials] + [(t.datetime_complete, -1) for t in trials],
                   key=lambda e: (e[0] or datetime.min, e[1]))
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


def _assert_budget_met_once(trials: list[Any], budget: int) -> None:
    assert sorted(t.number for t in trials) == list(range(budget))  # no trial beyond the budget, none twice
    assert all(t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED) for t in trials)
    assert len({t.user_attrs["workdir"] for t in trials}) == budget


# PostgreSQL: a server is created and started for the session (about 15 s more).
@pytest.mark.parametrize("kind", ["journal", pytest.param("postgresql", marks=pytest.mark.slow)])
def test_two_workers_share_one_study_and_its_budget(
        kind: str, small_data: Path, slow_lead_site: Path, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    journal = tmp_path / "shared" / "study.log"  # a file on a disk every worker sees, or a database server
    spec = f"journal://{journal}" if kind == "journal" else request.getfixturevalue("postgres_url")
    recipe = _recipe(tmp_path, small_data, trials=8, storage=spec)
    workers = [subprocess.Popen(dialsum_command("run", str(recipe), "--set", f"run.name={name}",
                                                "--set", f"run.output_dir={tmp_path / 'exp'}"),
                                cwd=tmp_path, env=dialsum_env(slow_lead_site), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
               for name in ("w1", "w2")]
    outputs = [w.communicate(timeout=240) for w in workers]
    for worker, (_, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err[-3000:]

    storage: Any = spec
    if kind == "journal":
        storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(journal)))
    trials = optuna.load_study(study_name="shared", storage=storage).get_trials()
    _assert_budget_met_once(trials, 8)
    # both workers trained some of them (each trial's folder is in its worker's experiment)
    assert {Path(t.user_attrs["workdir"]).parts[-4] for t in trials} == {"w1", "w2"}
    assert _max_overlap(trials) >= 2
    # each worker waited for the other's trials, so both report the whole study and the same best
    reports = [read_json(tmp_path / "exp" / name / "results.json")["optuna"] for name in ("w1", "w2")]
    assert [r["n_trials"] for r in reports] == [8, 8]
    assert reports[0]["best_trial"] == reports[1]["best_trial"] and reports[0]["best_params"] == reports[1][
        "best_params"]

    # a third worker finds the budget spent and runs nothing more
    late = dialsum("run", str(recipe), "--set", "run.name=w3", "--set", f"run.output_dir={tmp_path / 'exp'}",
                   cwd=tmp_path, site=slow_lead_site)
    assert late.returncode == 0, late.stderr[-3000:]
    assert len(optuna.load_study(study_name="shared", storage=storage).get_trials()) == 8
    assert not (tmp_path / "exp" / "w3" / "checkpoints" / "optuna").exists() or not any(
        (tmp_path / "exp" / "w3" / "checkpoints" / "optuna").iterdir())


def test_n_jobs_runs_trials_side_by_side_in_one_process(
        small_data: Path, slow_lead_site: Path, tmp_path: Path) -> None:
    recipe = _recipe(tmp_path, small_data, trials=4, n_jobs=2)
    out = dialsum("run", str(recipe), "--set", "run.name=threads", "--set", f"run.output_dir={tmp_path / 'exp'}",
                  cwd=tmp_path, site=slow_lead_site)
    assert out.returncode == 0, out.stderr[-3000:]
    exp = tmp_path / "exp" / "threads"
    study = optuna.load_study(study_name="shared", storage=f"sqlite:///{exp / 'optuna' / 'study.db'}")
    _assert_budget_met_once(study.get_trials(), 4)
    assert _max_overlap(study.get_trials()) == 2
    assert read_json(exp / "results.json")["optuna"]["n_trials"] == 4


#: Two trials of the tiny scratch BART (debug: one epoch on a few dialogues), two threads.
SCRATCH = """
[run]
mode = "optuna"
models = ["scratch"]
debug = true
loggers = ["file", "jsonl"]
metrics = ["rouge"]

[modes.optuna]
trials = 2
n_jobs = 2
sampler = "random"
pruner = "none"

[modes.optuna.space."train.learning_rate"]
type = "float"
low = 1e-3
high = 3e-3
""" + TINY_SCRATCH + """
[train]
batch_size = 8

[generation]
num_beams = 1
max_new_tokens = 8
min_new_tokens = 1

[metrics.rouge]
tokenizer = "whitespace"  # what is tested is not the score

[data]
max_length = 64
max_target_length = 16
debug_samples = 16
"""


def test_n_jobs_trains_hugging_face_models_side_by_side(small_data: Path, tmp_path: Path) -> None:
    """Two scratch BART trials in two threads of a fresh process: their first ``transformers``
    imports used to race (``cannot import name 'BartConfig'``)."""
    recipe = write_recipe(tmp_path / "optuna.toml", small_data, SCRATCH)
    out = dialsum("run", str(recipe), "--set", "run.name=threads", "--set", f"run.output_dir={tmp_path / 'exp'}",
                  cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    exp = tmp_path / "exp" / "threads"
    study = optuna.load_study(study_name="threads", storage=f"sqlite:///{exp / 'optuna' / 'study.db'}")
    trials = study.get_trials()
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 2
    assert _max_overlap(trials) == 2
    assert read_json(exp / "results.json")["optuna"]["complete"] == 2
