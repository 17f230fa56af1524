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

Besides one seeded sample per mode (two kills each), the ``slow`` tests add a sweep of
``DIALSUM_KILL_SEEDS`` more seeds per mode (1 by default; four kills each) and a scratch model killed
after a checkpoint and resumed with ``run.resume_from``. A stale temporary file of an atomic write
killed midway is checked deterministically too.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import attrs
import pytest

from .conftest import env_int
from .runs import (
    TINY_SCRATCH,
    assert_whole,
    cli_args,
    dialsum_run,
    lead_recipe,
    normalised,
    read_rows,
    small_data,
    write_recipe,
)

TRIALS = 4
SWEEP_SEEDS = env_int("DIALSUM_KILL_SEEDS", 1)
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
    if proc.returncode == 0:
        return "finished"  # it ended between the last look and the signal
    assert proc.returncode == -signal.SIGKILL, proc.returncode
    return how


def study_trials(root: Path) -> list[Any]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=root.name, storage=f"sqlite:///{root / 'optuna' / 'study.db'}")
    return study.get_trials(deepcopy=False)


def check_resumed(base: Path, resumed: Path, test_csv: Path, mode: str) -> None:
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
        assert states[optuna.trial.TrialState.WAITING] == 0, states
        assert states[optuna.trial.TrialState.COMPLETE] == TRIALS, states
        done = [(t.params, t.value) for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
        assert done == [(t.params, t.value) for t in study_trials(base)]
        kept = {p.name for p in (resumed / "checkpoints" / "optuna").iterdir()}
        assert kept == {f"trial_{got['optuna']['best_trial']:04d}"}  # the best trial's checkpoint only


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
    """More seeds and more kills per run (a seed takes 3 s for single, about 10 s for optuna and 18 s
    for kfold on two busy CPU cores)."""
    kill_and_resume(baselines, mode, seed=seed, kills=4, tally=tally)


WRITER = """
import sys, time
from pathlib import Path
from dialsum_core.atomic import atomic_open
with atomic_open(Path(sys.argv[1])) as fh:
    fh.write("{half")
    fh.flush()
    print("writing", flush=True)
    time.sleep(120)
"""


def test_a_write_killed_midway_leaves_the_old_file_and_its_temporary_is_cleared(tmp_path: Path) -> None:
    """Deterministic counterpart of the sweeps: a writer killed inside ``atomic_open`` (the old file
    is intact), and reopening the experiment removes its temporary but not a live writer's."""
    from dialsum_core.experiment import Experiment

    exp = Experiment.create(tmp_path, "exp")
    exp.write_json("results.json", {"status": "complete"})
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(exp.root / rel)], stdout=subprocess.PIPE, text=True)
               for rel in ("results.json", "stages/live.json")]
    try:
        for w in writers:
            assert w.stdout is not None and w.stdout.readline().strip() == "writing"
        os.kill(writers[0].pid, signal.SIGKILL)
        writers[0].wait(timeout=30)
        assert len(list(exp.root.rglob(".*.tmp"))) == 2
        assert json.loads((exp.root / "results.json").read_text(encoding="utf-8")) == {"status": "complete"}
        Experiment.create(tmp_path, "exp")  # a re-run opens the folder again
        left = [p.relative_to(exp.root).parts[0] for p in exp.root.rglob(".*.tmp")]
        assert left == ["stages"], left  # the live writer's temporary is its own business
    finally:
        for w in writers:
            w.kill()
            w.wait(timeout=30)


@pytest.mark.slow
def test_scratch_training_killed_after_a_checkpoint_resumes_from_it_exactly(tmp_path: Path,
                                                                            tally: Counter[str]) -> None:
    """Where training state matters: a scratch BART (two epochs, a checkpoint each) killed after its
    first checkpoint, then run again with ``run.resume_from`` (and ``train.save_training_state``),
    ends like the uninterrupted run: same per-epoch history, scores and submission (about 40 s)."""
    data = small_data(tmp_path / "data", n_train=24, n_dev=6, n_test=6)
    train = {**TINY_SCRATCH["train"], "epochs": 2, "save_training_state": True}
    recipe = write_recipe(tmp_path / "scratch.toml", lead_recipe(data, tmp_path / "experiments",
                                                                 **{**TINY_SCRATCH, "train": train}))
    assert dialsum_run(recipe, "run.name=base").returncode == 0
    root = tmp_path / "experiments" / "killed"
    metrics = root / "metrics.jsonl"
    proc = subprocess.Popen(cli_args(recipe, "run.name=killed"), cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        while proc.poll() is None and b'"kind": "checkpoint"' not in (metrics.read_bytes() if metrics.exists()
                                                                       else b""):
            time.sleep(0.01)
        assert proc.poll() is None, "the run ended before its first checkpoint"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    res = dialsum_run(recipe, "run.name=killed", f'run.resume_from="{root / "checkpoints"}"')
    assert res.returncode == 0, res.stderr[-3000:]
    assert "resuming from" in (root / "train.log").read_text(encoding="utf-8")
    check_resumed(tmp_path / "experiments" / "base", root, data["test"], "single")
    history = json.loads((root / "results.json").read_text(encoding="utf-8"))["history"]
    assert len(history) == 2
    tally["kill-and-resume runs: scratch with run.resume_from"] += 1


def test_a_re_run_killed_outright_does_not_leave_the_earlier_runs_complete(tmp_path: Path) -> None:
    """``results.json`` said ``complete`` (the earlier run's) while a re-run of the same experiment was
    killed with SIGKILL, which no handler sees: the runner now records ``running`` as it starts."""
    data = small_data(tmp_path / "data")
    first = write_recipe(tmp_path / "lead.toml", lead_recipe(data, tmp_path / "out", run={"name": "again"}))
    assert dialsum_run(first).returncode == 0
    results = tmp_path / "out" / "again" / "results.json"
    assert json.loads(results.read_text(encoding="utf-8"))["status"] == "complete"
    scratch = {**TINY_SCRATCH, "train": {**TINY_SCRATCH["train"], "epochs": 30}}
    recipe = lead_recipe(data, tmp_path / "out", **{**scratch, "run": {**scratch["run"], "name": "again"}})
    second = write_recipe(tmp_path / "scratch.toml", recipe)
    proc = subprocess.Popen(cli_args(second), cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        status = "complete"
        while proc.poll() is None and status != "running":
            time.sleep(0.02)
            status = json.loads(results.read_text(encoding="utf-8")).get("status")
        assert proc.poll() is None, "the re-run ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    killed = json.loads(results.read_text(encoding="utf-8"))
    assert killed["status"] == "running" and killed["experiment"] == "again", killed
