"""The processes of a launch (torch.distributed): who they are, how work is shared, how they leave.

The arithmetic and the environment are checked in this process; the collectives in a real
two-process ``torchrun`` on CPU (gloo), as a launch runs them.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialsum_core.errors import DataError, DialsumError, RecipeError
from dialsum_core.manager import build_plugins
from dialsum_core.processes import OneProcess
from dialsum_core.protocols import Processes
from dialsum_launch.launch import launch
from dialsum_launch.processes import ProcessFailed, TorchProcesses, _describe, _restated, from_environment, shard_bounds
from dialsum_launch.supervise import exit_status


@given(st.integers(0, 200), st.integers(1, 9))
def test_shares_cover_the_input_in_order_and_differ_by_at_most_one(n: int, world: int) -> None:
    bounds = [shard_bounds(n, world, r) for r in range(world)]
    assert bounds[0][0] == 0 and bounds[-1][1] == n
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
    sizes = [stop - start for start, stop in bounds]
    assert max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True)


def test_a_process_alone_is_no_launch(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("RANK", "WORLD_SIZE"):
        monkeypatch.delenv(var, raising=False)
    assert from_environment() is None
    assert isinstance(build_plugins().processes(), OneProcess)  # the plugin leaves the core's default


def test_rank_and_world_come_from_the_launchers_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    processes = build_plugins().processes()
    assert isinstance(processes, TorchProcesses) and isinstance(processes, Processes)
    assert (processes.rank, processes.world_size, processes.is_main) == (3, 4, False)
    assert processes.shard(list(range(10))) == [8, 9]  # 3, 3, 2, 2 items
    with pytest.raises(DialsumError, match="already one of a launch"):
        launch("torchrun", 2, [], ["run", "r.toml"])


WORKER = """
import sys
from pathlib import Path

from dialsum_launch.processes import from_environment

p = from_environment()
name = p.broadcast(f"name-of-rank-{p.rank}")
# nested: the outer call shards, the inner one (a model's own sharded generation) does not
got = p.map_in_order(lambda xs: p.map_in_order(lambda ys: [f"{y}@{p.rank}" for y in ys], xs), list(range(5)))
p.barrier()
p.finish()
Path(sys.argv[1], f"rank{p.rank}.txt").write_text(f"{name} {got}", encoding="utf-8")  # one file each: no interleaving
"""


@pytest.mark.slow  # two processes import torch and join a gloo group: a few seconds
def test_two_processes_agree_share_in_order_and_leave_cleanly(tmp_path: Path) -> None:
    script = tmp_path / "worker.py"
    script.write_text(WORKER, encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--standalone",
                          str(script), str(tmp_path)], capture_output=True, text=True, timeout=240, check=False,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr[-3000:]
    expected = "name-of-rank-0 ['0@0', '1@0', '2@0', '3@1', '4@1']"
    assert [(tmp_path / f"rank{r}.txt").read_text(encoding="utf-8") for r in (0, 1)] == [expected, expected]
    assert "terminate called" not in out.stderr


def test_an_error_is_raised_again_as_the_failing_rank_raised_it_naming_the_rank() -> None:
    """What every process raises for one process's failure: a user error keeps its class and its
    attributes (a recipe's problems), a bug becomes a ProcessFailed."""
    data = _restated(_describe(1, DataError("dev.csv: row 7: an empty dialogue")))
    assert type(data) is DataError and str(data) == "rank 1: dev.csv: row 7: an empty dialogue"
    recipe = _restated(_describe(0, RecipeError(["run.models: empty", "data.train_path: not found"])))
    assert type(recipe) is RecipeError and recipe.problems == ["run.models: empty", "data.train_path: not found"]
    assert str(recipe).splitlines() == ["rank 0: run.models: empty", "data.train_path: not found"]
    named = _restated(_describe(1, DialsumError("rank 1: 3 results for 2 inputs")))
    assert str(named) == "rank 1: 3 results for 2 inputs"  # named once
    bug = _restated(_describe(1, ZeroDivisionError("division by zero")))
    assert type(bug) is ProcessFailed and str(bug) == "rank 1: ZeroDivisionError: division by zero"
    assert str(_restated(_describe(1, KeyError()))) == "rank 1: KeyError"


def test_a_launch_exits_as_its_processes_did() -> None:
    """The launcher stops the other processes (a signal: a negative code) once one exits."""
    assert exit_status([2, -15]) == 2 and exit_status([2, 2]) == 2 and exit_status([2]) == 2
    assert exit_status([130, -15]) == 130
    assert exit_status([1, 2]) == 1 and exit_status([1, -15]) == 1 and exit_status([-9]) == 1


FAILING_WORKER = """
import sys
from pathlib import Path

from dialsum_core.errors import DataError, DialsumError
from dialsum_launch.processes import ProcessFailed, from_environment

p = from_environment()


def share(xs):
    if p.rank == 1:  # only rank 1's share holds the bad dialogue
        raise DataError("dev.csv: row 7: an empty dialogue")
    return xs


def crash(xs):
    if p.rank == 0:
        raise ZeroDivisionError("division by zero")
    return xs


got = []
for fn in (share, crash):
    try:
        p.map_in_order(fn, list(range(4)))
    except (DialsumError, ProcessFailed) as exc:
        got.append(f"{type(exc).__name__}: {exc}")
# the processes are still in step: the next collective works
got.append(str(p.map_in_order(lambda xs: [x * 2 for x in xs], [1, 2, 3])))
p.finish()
Path(sys.argv[1], f"rank{p.rank}.txt").write_text("\\n".join(got), encoding="utf-8")
"""


@pytest.mark.slow  # two processes import torch and join a gloo group: a few seconds
def test_one_process_failing_its_share_fails_every_process_alike(tmp_path: Path) -> None:
    script = tmp_path / "worker.py"
    script.write_text(FAILING_WORKER, encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--standalone",
                          str(script), str(tmp_path)], capture_output=True, text=True, timeout=240, check=False,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr[-3000:]
    expected = "\n".join(["DataError: rank 1: dev.csv: row 7: an empty dialogue",
                          "ProcessFailed: rank 0: ZeroDivisionError: division by zero", "[2, 4, 6]"])
    assert [(tmp_path / f"rank{r}.txt").read_text(encoding="utf-8") for r in (0, 1)] == [expected, expected]
