"""Kill and resume: ``dialsum run`` killed with SIGKILL at random points, then run again, ends exactly
like a run that was never interrupted.

For ``single``, ``kfold`` and ``optuna`` (the fast ``lead`` model, real ROUGE, a real Optuna SQLite
study), a baseline experiment runs to the end; then a second experiment is started, killed several
times (after a random number of events in ``metrics.jsonl``, or after a random delay, which also
lands in start-up and data loading), and finally run to the end under the same name. The re-run
skips what the modes saved as complete (``stages/``, the study's finished trials).

Checked on the resumed experiment: the same ``results.json`` as the baseline (scores, predictions
paths, every fold and trial, minus time and folder names), a byte-identical ``submission.csv`` with
every test row, no temporary file left, every JSON/JSONL/TOML/CSV file parses, and for Optuna every
trial number distinct, none left running, and exactly the budget of completed trials with the same
parameters and values, in the same order, as the baseline (nothing lost, nothing run twice).

CI runs one seeded sample per mode (two kills each); the ``slow`` sweep runs more seeds
(``DIALSUM_KILL_SEEDS``, 3 by default) with four kills each.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import attrs
import pytest

from .conftest import env_int
from .runs import assert_whole, cli_args, dialsum_run, lead_recipe, normalised, read_rows, small_data, write_recipe

TRIALS = 4
SWEEP_SEEDS = env_int("DIALSUM_KILL_SEEDS", 3)
MODES: dict[str, dict[str, Any]] = {
    "single": {},
    "kfold": {"run": {"ensemble": "rouge_weighted"}, "modes": {"kfold": {"k_folds": 3}}},
    "optuna": {
        "models": {"lead": {"tune": False}},
        "modes": {"optuna": {"trials": TRIALS, "sampler": "random", "pruner": "none",
                             "space": {"models.lead.turns": {"type": "int", "low": 1, "high": 6}}}},
    },
}


def _lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def kill_once(recipe: Path, name: str, metrics: Path, rng: random.Random, n_events: int, seconds: float,
              first: bool = False) -> str:
    """Start the run and SIGKILL it after a random number of new events or a random delay.

    The ``first`` kill of a series lands in the first half of the run's events, so that every
    series interrupts at least once. Returns where it was killed (for the tally), or ``"finished"``
    when the run ended first (a re-run has less left to do).
    """
    before = _lines(metrics)
    if first or rng.random() < 0.5:
        last = max(1, n_events // 2 if first else n_events - 2)
        target, deadline, how = before + rng.randint(1, last), float("inf"), "after event"
    else:
        target, deadline, how = 1 << 30, time.monotonic() + rng.uniform(0.2, seconds), "after delay"
    proc = subprocess.Popen(cli_args(recipe, f"run.name={name}"), cwd=recipe.parent,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while proc.poll() is None and _lines(metrics) < target and time.monotonic() < deadline:
            time.sleep(0.002)
        time.sleep(rng.uniform(0.0, 0.03))  # between two events, not only right after one
        if proc.poll() is not None:
            return "finished"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    return how


def study_trials(root: Path) -> list[Any]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=root.name, storage=f"sqlite:///{root / 'optuna' / 'study.db'}")
    return study.get_trials(deepcopy=False)


def check_resumed(base: Path, resumed: Path, test_csv: Path, mode: str) -> None:
    import json

    counts = assert_whole(resumed)
    assert counts.get(".json", 0) >= 2 and counts.get(".jsonl", 0) == 1, counts
    want = json.loads((base / "results.json").read_text(encoding="utf-8"))
    got = json.loads((resumed / "results.json").read_text(encoding="utf-8"))
    assert got["status"] == "complete"
    assert normalised(got, resumed) == normalised(want, base)
    if mode != "optuna":  # the study writes best_params.json and best_recipe.toml, no predictions
        submission = resumed / "predictions" / "submission.csv"
        assert [r["fname"] for r in read_rows(submission)] == [r["fname"] for r in read_rows(test_csv)]
        assert all(r["summary"] for r in read_rows(submission))
        assert submission.read_bytes() == (base / "predictions" / "submission.csv").read_bytes()
    else:
        import optuna

        trials = study_trials(resumed)
        numbers = [t.number for t in trials]
        assert len(numbers) == len(set(numbers)), numbers
        states = Counter(t.state for t in trials)
        assert states[optuna.trial.TrialState.RUNNING] == 0, states  # a killed trial is closed, not left running
        assert states[optuna.trial.TrialState.COMPLETE] == TRIALS, states
        done = [(t.params, t.value) for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
        assert done == [(t.params, t.value) for t in study_trials(base)]
        kept = {p.name for p in (resumed / "checkpoints" / "optuna").iterdir()}
        assert kept == {f"trial_{json.loads((resumed / 'results.json').read_text())['optuna']['best_trial']:04d}"}


@attrs.define
class Baseline:
    """An uninterrupted run: its folder, recipe, number of events and duration."""

    root: Path
    recipe: Path
    events: int
    seconds: float
    test_csv: Path


class Baselines:
    """One uninterrupted run per mode, made the first time a test asks for it."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.data = small_data(folder / "data")
        self.made: dict[str, Baseline] = {}

    def __getitem__(self, mode: str) -> Baseline:
        if mode not in self.made:
            sections = MODES[mode]
            run = {"mode": mode, **sections.get("run", {})}
            recipe = write_recipe(self.folder / f"{mode}.toml",
                                  lead_recipe(self.data, self.folder / "experiments", **{**sections, "run": run}))
            started = time.monotonic()
            res = dialsum_run(recipe, f"run.name=base-{mode}", timeout=120)
            assert res.returncode == 0, res.stderr[-3000:]
            root = self.folder / "experiments" / f"base-{mode}"
            self.made[mode] = Baseline(root, recipe, _lines(root / "metrics.jsonl"), time.monotonic() - started,
                                       self.data["test"])
        return self.made[mode]


@pytest.fixture(scope="module")
def baselines(tmp_path_factory: pytest.TempPathFactory) -> Baselines:
    return Baselines(tmp_path_factory.mktemp("kill-resume"))


def kill_and_resume(baselines: Baselines, mode: str, seed: int, kills: int, tally: Counter[str]) -> None:
    base = baselines[mode]
    rng = random.Random(f"{mode}-{seed}")
    name = f"killed-{mode}-{seed}"
    root = base.root.parent / name
    how = [kill_once(base.recipe, name, root / "metrics.jsonl", rng, base.events, base.seconds, first=i == 0)
           for i in range(kills)]
    assert how[0] != "finished", "the first kill must land inside the run"
    res = dialsum_run(base.recipe, f"run.name={name}", timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    check_resumed(base.root, root, base.test_csv, mode)
    tally[f"kill-and-resume runs: {mode}"] += 1
    for h in how:
        tally[f"SIGKILL {h}: {mode}" if h != "finished" else f"run finished before its kill: {mode}"] += 1


@pytest.mark.parametrize("mode", list(MODES))
def test_killed_runs_resume_to_the_same_results(baselines: Baselines, mode: str, tally: Counter[str]) -> None:
    kill_and_resume(baselines, mode, seed=0, kills=2, tally=tally)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(1, 1 + SWEEP_SEEDS))
@pytest.mark.parametrize("mode", list(MODES))
def test_kill_resume_sweep(baselines: Baselines, mode: str, seed: int, tally: Counter[str]) -> None:
    """More seeds and more kills per run (each seed about 10-30 s on two CPU cores)."""
    kill_and_resume(baselines, mode, seed=seed, kills=4, tally=tally)
