"""Fan-out jobs (``run.only``) and Optuna studies shared by several workers, in one process."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from dialsum_core.errors import RecipeError
from dialsum_core.recipe import Recipe
from dialsum_modes import fanout
from dialsum_modes import study as study_mod


def _recipe(**run: object) -> Recipe:
    sample = Path(__file__).resolve().parents[3] / "data" / "sample" / "train.csv"
    return Recipe.from_dict({"run": {"mode": "kfold", "models": ["lead"], "ensemble": "majority_vote", **run},
                             "data": {"train_path": str(sample)}})


@pytest.mark.parametrize(
    ("only", "unit", "expected"),
    [
        (["fold=3"], {"fold": 3, "model": "lead"}, True),
        (["fold=3"], {"fold": 2, "model": "lead"}, False),
        (["fold=1", "fold=2"], {"fold": 2}, True),
        (["model=kobart"], {"model": "lead", "fold": 1}, False),
        (["model=lead", "fold=2"], {"model": "lead", "fold": 2}, True),
        (["fold=2"], {"model": "lead"}, True),  # a unit without folds is not restricted by fold=
    ],
)
def test_only_selects_units(only: list[str], unit: dict[str, object], expected: bool) -> None:
    recipe = _recipe(only=only)
    assert fanout.selected(recipe, **unit) is expected
    assert fanout.is_partial(recipe) and not fanout.is_partial(_recipe())


@pytest.mark.parametrize("entry", ["fold", "fold=0", "fold=x", "epoch=2", "=3", "model="])
def test_bad_only_entries_are_reported(entry: str) -> None:
    only, problems = fanout.parse_only([entry])
    assert only == {} and len(problems) == 1 and entry in problems[0]


def test_job_folders_are_safe_and_stable() -> None:
    assert fanout.job_folder(_recipe(only=["model=kobart", "fold=3"])) == "jobs/fold_3_model_kobart"


def test_only_needs_a_shared_name_and_known_models(dialsum_plugins: Any) -> None:
    """Checked by the one validation ``dialsum check`` and ``dialsum run`` share."""
    with pytest.raises(RecipeError, match=r"run\.only: needs run\.name"):
        _recipe(only=["fold=1"]).validate(dialsum_plugins)
    with pytest.raises(RecipeError, match=r"not in run\.models"):
        _recipe(only=["model=kobart"], name="x").validate(dialsum_plugins)
    _recipe(only=["model=lead", "fold=2"], name="x").validate(dialsum_plugins)


def test_a_kfold_run_resumes_one_fold_from_that_folds_folder(dialsum_plugins: Any, tmp_path: Path) -> None:
    """Every fold a run trains resumes from ``run.resume_from``'s latest checkpoint: two folds, or an
    experiment folder whose latest checkpoint is another fold's, would continue another fold's model."""
    for fold, step in ((1, 2), (3, 4)):
        state = tmp_path / "exp" / "checkpoints" / "lead" / f"fold{fold}" / f"checkpoint-{step}" / "trainer_state.json"
        state.parent.mkdir(parents=True)
        state.write_text(f'{{"global_step": {step}}}', encoding="utf-8")
    exp, fold1 = tmp_path / "exp", tmp_path / "exp" / "checkpoints" / "lead" / "fold1"
    kfold = {"k_folds": 3}
    with pytest.raises(RecipeError, match=r"run\.resume_from: every fold of the kfold run \(1, 2, 3\)"):
        _recipe(resume_from=str(fold1), name="x").merge({"modes": {"kfold": kfold}}).validate(dialsum_plugins)
    with pytest.raises(RecipeError, match=r"run\.resume_from: .* is not a folder of fold 1"):
        _recipe(resume_from=str(exp), only=["fold=1"], name="x").merge(
            {"modes": {"kfold": kfold}}).validate(dialsum_plugins)
    _recipe(resume_from=str(fold1), only=["fold=1"], name="x").merge(
        {"modes": {"kfold": kfold}}).validate(dialsum_plugins)
    _recipe(mode="single", resume_from=str(exp), name="x").validate(dialsum_plugins)  # one model, no folds



def test_storage_options(tmp_path: Path) -> None:
    folder = tmp_path / "exp" / "optuna"
    assert study_mod.storage_spec("", folder) == ("rdb", f"sqlite:///{(folder / 'study.db').resolve()}")
    assert study_mod.storage_spec("journal:///shared/study.log", folder) == ("journal", "/shared/study.log")
    inside = str((tmp_path / "exp" / "study.log").resolve())
    assert study_mod.storage_spec("journal://study.log", folder) == ("journal", inside)
    assert study_mod.storage_spec("/nfs/s.log", folder) == ("journal", "/nfs/s.log")
    assert study_mod.storage_spec("postgresql://u:p@db/optuna", folder) == ("rdb", "postgresql://u:p@db/optuna")


def test_a_study_tops_up_its_budget_and_reruns_failed_slots(tmp_path: Path) -> None:
    import optuna

    folder = tmp_path / "exp" / "optuna"

    def fails_once(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0, 1)
        if trial.number == 1:
            raise ValueError("boom")
        return x

    study = study_mod.open_study("journal://study.log", folder, study_name="s", budget=3, direction="maximize")
    with pytest.raises(ValueError, match="boom"):
        study_mod.optimize(study, fails_once)
    # a re-run runs the failed trial's slot again, then a larger budget adds the difference
    for budget in (3, 5):
        study = study_mod.open_study("journal://study.log", folder, study_name="s", budget=budget, direction="maximize")
        study_mod.optimize(study, fails_once)
    states = [t.state.name for t in study.get_trials()]
    assert states.count("COMPLETE") == 5 and states.count("FAIL") == 1 and "WAITING" not in states


@pytest.mark.filterwarnings("ignore:Heartbeat of storage")  # the other worker asks by hand
def test_a_worker_waits_for_the_trials_others_run(tmp_path: Path) -> None:
    import optuna

    folder = tmp_path / "exp" / "optuna"
    mine = study_mod.open_study("", folder, study_name="s", budget=2, direction="maximize")
    other = study_mod.open_study("", folder, study_name="s", budget=2, direction="maximize")
    theirs = other.ask()  # another worker takes one of the two trials
    timer = threading.Timer(1.0, lambda: other.tell(theirs, 0.5))
    timer.start()
    started = time.monotonic()
    study_mod.optimize(mine, lambda t: t.suggest_float("x", 0, 0.1), wait_seconds=30, poll_seconds=0.05)
    timer.join()
    assert time.monotonic() - started >= 1.0  # it returned once the other trial was told
    assert [t.state for t in mine.get_trials()] == [optuna.trial.TrialState.COMPLETE] * 2
    assert mine.best_value == 0.5  # so its best is the study's


def test_a_worker_stops_waiting_for_a_trial_nobody_finishes(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "exp" / "optuna"
    study = study_mod.open_study("journal://study.log", folder, study_name="s", budget=1, direction="maximize")
    other = study_mod.open_study("journal://study.log", folder, study_name="s", budget=1, direction="maximize")
    other.ask()  # then dies
    study_mod.optimize(study, lambda t: 1.0, wait_seconds=0.3, poll_seconds=0.05)
    assert "still running after" in caplog.text and "study.tell" in caplog.text


@pytest.mark.parametrize("spec", ["", "journal://study.log"])
def test_threads_never_take_the_same_trial(tmp_path: Path, spec: str) -> None:
    study = study_mod.open_study(spec, tmp_path / "exp" / "optuna", study_name="s", budget=12, direction="maximize")
    taken: list[int] = []

    def objective(trial: object) -> float:
        taken.append(trial.number)  # type: ignore[attr-defined]
        time.sleep(0.02)
        return 1.0

    study_mod.optimize(study, objective, n_jobs=4)
    assert sorted(taken) == list(range(12))  # each queued trial once, none beyond the budget
    assert not (tmp_path / "exp" / "optuna" / "study.db.lock").exists()  # nothing left behind


# One process of the test below: a read-modify-write of a counter, under the machine lock.
_COUNTING_WORKER = """
import sys, time
from pathlib import Path
from dialsum_modes.study import MachineLock
lock, counter = MachineLock(Path(sys.argv[1])), Path(sys.argv[2])
for _ in range(int(sys.argv[3])):
    with lock:
        n = int(counter.read_text())
        time.sleep(0.001)
        counter.write_text(str(n + 1))
"""


def test_the_machine_lock_excludes_processes_and_leaves_no_file(tmp_path: Path) -> None:
    """The lock file is removed on every release, yet two processes never hold the lock together
    (a lost update of the counter would show it)."""
    lock, counter = tmp_path / "study.db.lock", tmp_path / "counter"
    counter.write_text("0")
    workers = [subprocess.Popen([sys.executable, "-c", _COUNTING_WORKER, str(lock), str(counter), "40"])
               for _ in range(4)]
    assert [w.wait(timeout=120) for w in workers] == [0, 0, 0, 0]
    assert counter.read_text() == "160"
    assert not lock.exists()
