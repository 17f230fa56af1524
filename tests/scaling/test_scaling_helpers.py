"""One-process behaviour of dialsum_core.distributed: sharding arithmetic, run.only, launch commands."""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialsum_core import distributed as d
from dialsum_core.errors import RecipeError
from dialsum_core.recipe import Recipe


@given(st.integers(0, 200), st.integers(1, 9))
def test_shares_cover_the_input_in_order_and_differ_by_at_most_one(n: int, world: int) -> None:
    bounds = [d.shard_bounds(n, world, r) for r in range(world)]
    assert bounds[0][0] == 0 and bounds[-1][1] == n
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
    sizes = [stop - start for start, stop in bounds]
    assert max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True)


def test_one_process_is_the_main_one_and_maps_without_collectives(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    assert (d.rank(), d.world_size(), d.is_main_process(), d.is_distributed()) == (0, 1, True, False)
    assert d.map_in_order(lambda xs: [x * 2 for x in xs], [3, 1, 2]) == [6, 2, 4]
    assert d.broadcast("name") == "name" and d.shard([1, 2, 3]) == [1, 2, 3]
    d.barrier()  # nothing to wait for


def test_rank_and_world_come_from_the_launchers_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert (d.rank(), d.world_size(), d.is_main_process()) == (3, 4, False)
    assert d.shard(list(range(10))) == [8, 9]  # 3, 3, 2, 2 items


def test_a_replica_reads_the_experiment_but_never_writes_it(tmp_path: Path) -> None:
    (tmp_path / "stages").mkdir()
    (tmp_path / "stages" / "a.json").write_text('{"status": "complete"}', encoding="utf-8")
    replica = d.ReplicaExperiment(tmp_path)
    replica.write_json("results.json", {"x": 1})
    replica.write_text("config.toml", "x = 1")
    replica.write_csv("predictions/p.csv", ["a"], [[1]])
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.json", "stages"]
    assert replica.read_json("stages/a.json") == {"status": "complete"}


def _recipe(**run: object) -> Recipe:
    return Recipe.from_dict({"run": {"mode": "kfold", "models": ["lead"], **run}})


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
    assert d.selected(recipe, **unit) is expected
    assert d.is_partial(recipe) and not d.is_partial(_recipe())


@pytest.mark.parametrize("entry", ["fold", "fold=0", "fold=x", "epoch=2", "=3", "model="])
def test_bad_only_entries_are_recipe_errors(entry: str) -> None:
    with pytest.raises(RecipeError, match=r"run\.only"):
        d.parse_only([entry])


def test_job_folders_are_safe_and_stable() -> None:
    assert d.job_folder(_recipe(only=["model=kobart", "fold=3"])) == "jobs/fold_3_model_kobart"


def test_only_needs_a_shared_name_and_known_models(dialsum_plugins: object) -> None:
    with pytest.raises(RecipeError, match=r"needs run\.name"):
        d.check_only(_recipe(only=["fold=1"]), dialsum_plugins)
    with pytest.raises(RecipeError, match=r"not in run\.models"):
        d.check_only(_recipe(only=["model=kobart"], name="x"), dialsum_plugins)
    d.check_only(_recipe(only=["model=lead", "fold=2"], name="x"), dialsum_plugins)


def test_launch_commands_pass_launcher_options_through() -> None:
    acc = d.launch_command("accelerate", 4, ["--config_file", "ds_zero2.yaml"], ["run", "r.toml"])
    assert acc[1:3] == ["-m", "accelerate.commands.launch"]
    assert acc[acc.index("--num_processes") + 1] == "4" and "--multi_gpu" not in acc  # the config decides
    assert acc[acc.index("--config_file") + 1] == "ds_zero2.yaml"
    assert acc[-4:] == ["-m", "dialsum_core", "run", "r.toml"]
    tr = d.launch_command("torchrun", 2, [], ["run", "r.toml", "--set", "run.name=x"])
    assert tr[1:5] == ["-m", "torch.distributed.run", "--nproc-per-node", "2"] and "--standalone" in tr
    multi = d.launch_command("torchrun", 8, ["--nnodes", "2", "--rdzv-endpoint", "node1:29500"], ["run", "r.toml"])
    assert "--standalone" not in multi and multi[multi.index("--nnodes") + 1] == "2"
    with pytest.raises(Exception, match="unknown launcher"):
        d.launch_command("mpirun", 2, [], [])


def test_storage_options(tmp_path: Path) -> None:
    folder = tmp_path / "exp" / "optuna"
    assert d.storage_spec("", folder) == ("rdb", f"sqlite:///{(folder / 'study.db').resolve()}")
    assert d.storage_spec("journal:///shared/study.log", folder) == ("journal", "/shared/study.log")
    assert d.storage_spec("journal://study.log", folder) == ("journal", str((tmp_path / "exp" / "study.log").resolve()))
    assert d.storage_spec("/nfs/s.log", folder) == ("journal", "/nfs/s.log")
    assert d.storage_spec("postgresql://u:p@db/optuna", folder) == ("rdb", "postgresql://u:p@db/optuna")


def test_a_study_tops_up_its_budget_and_reruns_failed_slots(tmp_path: Path) -> None:
    import optuna

    folder = tmp_path / "exp" / "optuna"

    def fails_once(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0, 1)
        if trial.number == 1:
            raise ValueError("boom")
        return x

    study = d.open_study("journal://study.log", folder, study_name="s", budget=3, direction="maximize")
    with pytest.raises(ValueError, match="boom"):
        d.optimize(study, fails_once)
    # a re-run runs the failed trial's slot again, then a larger budget adds the difference
    for budget in (3, 5):
        study = d.open_study("journal://study.log", folder, study_name="s", budget=budget, direction="maximize")
        d.optimize(study, fails_once)
    states = [t.state.name for t in study.get_trials()]
    assert states.count("COMPLETE") == 5 and states.count("FAIL") == 1 and "WAITING" not in states


@pytest.mark.filterwarnings("ignore:Heartbeat of storage")  # the other worker asks by hand
def test_a_worker_waits_for_the_trials_others_run(tmp_path: Path) -> None:
    import optuna

    folder = tmp_path / "exp" / "optuna"
    mine = d.open_study("", folder, study_name="s", budget=2, direction="maximize")
    other = d.open_study("", folder, study_name="s", budget=2, direction="maximize")
    theirs = other.ask()  # another worker takes one of the two trials
    timer = threading.Timer(1.0, lambda: other.tell(theirs, 0.5))
    timer.start()
    started = time.monotonic()
    d.optimize(mine, lambda t: t.suggest_float("x", 0, 0.1), wait_seconds=30, poll_seconds=0.05)
    timer.join()
    assert time.monotonic() - started >= 1.0  # it returned once the other trial was told
    assert [t.state for t in mine.get_trials()] == [optuna.trial.TrialState.COMPLETE] * 2
    assert mine.best_value == 0.5  # so its best is the study's


def test_a_worker_stops_waiting_for_a_trial_nobody_finishes(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "exp" / "optuna"
    study = d.open_study("journal://study.log", folder, study_name="s", budget=1, direction="maximize")
    d.open_study("journal://study.log", folder, study_name="s", budget=1, direction="maximize").ask()  # then dies
    d.optimize(study, lambda t: 1.0, wait_seconds=0.3, poll_seconds=0.05)
    assert "still running after" in caplog.text and "study.tell" in caplog.text


@pytest.mark.parametrize("spec", ["", "journal://study.log"])
def test_threads_never_take_the_same_trial(tmp_path: Path, spec: str) -> None:
    study = d.open_study(spec, tmp_path / "exp" / "optuna", study_name="s", budget=12, direction="maximize")
    taken: list[int] = []

    def objective(trial: object) -> float:
        taken.append(trial.number)  # type: ignore[attr-defined]
        time.sleep(0.02)
        return 1.0

    d.optimize(study, objective, n_jobs=4)
    assert sorted(taken) == list(range(12))  # each queued trial once, none beyond the budget
