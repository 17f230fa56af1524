"""The processes a run is one of (``ctx.processes``): one alone, or the one answer of a plugin.

The launcher's own implementation (torch.distributed) is tested with its plugin, dialsum-launch;
these tests hold the core's side: the one-process default, the choice between plugins, and how a
run uses the answer (who writes, what is decided once, how the processes leave).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from dialsum_core import hookimpl
from dialsum_core.errors import PluginError
from dialsum_core.experiment import ReplicaExperiment
from dialsum_core.manager import build_plugins
from dialsum_core.processes import OneProcess
from dialsum_core.protocols import Processes
from dialsum_core.recipe import Recipe
from dialsum_core.runner import run_recipe

ROOT = Path(__file__).resolve().parents[2]


class Follower:
    """Rank 1 of 2: the name it is told is rank 0's; it records what the run asks of it."""

    rank = 1
    world_size = 2
    is_main = False

    def __init__(self) -> None:
        self.calls: list[str] = []

    def broadcast(self, value: Any) -> Any:
        self.calls.append("broadcast")
        return "decided-by-rank-0"

    def barrier(self) -> None:
        self.calls.append("barrier")

    def map_in_order(self, fn: Callable[[list[Any]], Sequence[Any]], items: Sequence[Any]) -> list[Any]:
        return list(fn(list(items)))

    def finish(self, *, wait: bool = True) -> None:
        self.calls.append(f"finish(wait={wait})")


class Offers:
    """A plugin that answers ``dialsum_processes`` with ``processes`` (``None``: this process is alone)."""

    def __init__(self, processes: Processes | None):
        self.processes = processes
        self.asked = 0

    @hookimpl
    def dialsum_processes(self) -> Processes | None:
        self.asked += 1
        return self.processes


class Probe:
    """A run mode that writes one file through the experiment and reports what it ran with (or fails)."""

    def __init__(self, fail: bool):
        self.fail = fail

    @hookimpl
    def dialsum_register_run_modes(self, register: Any) -> None:
        register("probe", lambda options, ctx: self)

    def run(self, ctx: Any) -> dict[str, Any]:
        ctx.experiment.write_json("probe.json", {"written": True})
        if self.fail:
            raise RuntimeError("the mode failed")
        return {"world": ctx.processes.world_size, "mapped": ctx.processes.map_in_order(lambda xs: xs, [1, 2])}


def _recipe(out: Path) -> Recipe:
    return Recipe.from_dict({
        "run": {"mode": "probe", "models": ["lead"], "output_dir": str(out), "loggers": [], "metrics": []},
        "models": {"lead": {"tune": False}},
        "data": {"train_path": str(ROOT / "data" / "sample" / "dev.csv")},
    })


def test_alone_a_run_is_its_main_process_and_each_call_is_the_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    plugins = build_plugins(entry_points=False, extra=[("alone", Offers(None))])
    one = plugins.processes()
    assert isinstance(one, OneProcess) and isinstance(one, Processes) and plugins.processes() is one
    assert (one.rank, one.world_size, one.is_main) == (0, 1, True)
    assert one.broadcast("name") == "name" and one.map_in_order(lambda xs: [x * 2 for x in xs], (3, 1)) == [6, 2]
    one.barrier()
    one.finish()  # nothing to wait for, nothing to leave


def test_a_plugins_answer_is_the_runs_processes_asked_once_per_manager() -> None:
    follower = Follower()
    offers = Offers(follower)
    plugins = build_plugins(entry_points=False, extra=[("alone", Offers(None)), ("launch-like", offers)])
    assert plugins.processes() is follower and plugins.processes() is follower and offers.asked == 1


def test_two_plugins_offering_the_processes_is_an_error_naming_both() -> None:
    plugins = build_plugins(entry_points=False, extra=[("first", Offers(Follower())), ("second", Offers(Follower()))])
    with pytest.raises(PluginError, match=r"answered twice: by plugin 'first'.* and by plugin 'second'"):
        plugins.processes()


def test_a_launch_without_a_plugin_for_it_is_reported(monkeypatch: pytest.MonkeyPatch,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert isinstance(build_plugins(entry_points=False).processes(), OneProcess)
    assert "WORLD_SIZE is set but no plugin offers the processes" in caplog.text


def test_a_process_other_than_the_main_one_runs_the_mode_but_writes_nothing(tmp_path: Path) -> None:
    follower = Follower()
    plugins = build_plugins(extra=[("probe", Probe(fail=False)), ("launch-like", Offers(follower))])
    result = run_recipe(_recipe(tmp_path), plugins)
    assert result.experiment == tmp_path / "decided-by-rank-0" and not result.main  # the command stays quiet
    assert result.results["world"] == 2 and result.results["mapped"] == [1, 2]
    assert list(tmp_path.iterdir()) == []  # rank 0 creates and writes the folder
    assert follower.calls == ["broadcast", "barrier", "finish(wait=True)"]


def test_a_failed_run_leaves_its_processes_without_waiting_for_the_others(tmp_path: Path) -> None:
    follower = Follower()
    plugins = build_plugins(extra=[("probe", Probe(fail=True)), ("launch-like", Offers(follower))])
    with pytest.raises(RuntimeError, match="the mode failed"):
        run_recipe(_recipe(tmp_path), plugins)
    assert follower.calls[-1] == "finish(wait=False)"  # the others may never reach a barrier


def test_a_replica_reads_the_experiment_but_never_writes_it(tmp_path: Path) -> None:
    (tmp_path / "stages").mkdir()
    (tmp_path / "stages" / "a.json").write_text('{"status": "complete"}', encoding="utf-8")
    replica = ReplicaExperiment(tmp_path)
    replica.write_json("results.json", {"x": 1})
    replica.write_text("config.toml", "x = 1")
    replica.write_csv("predictions/p.csv", ["a"], [[1]])
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.json", "stages"]
    assert replica.read_json("stages/a.json") == {"status": "complete"}
