"""One-process behaviour of dialsum_core.distributed: sharding arithmetic and replicas."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialsum_core import distributed as d


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
