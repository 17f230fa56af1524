"""Several processes of one run: who writes, values decided once, generation shared in order.

dialsum does not start or synchronise processes itself. ``torchrun`` or ``accelerate launch`` start
them and set ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``; the model loaders' trainers (through Accelerate) do
data-parallel training. This module is the thin layer the rest of dialsum calls so that:

* only the main process writes the experiment folder (:func:`is_main_process`,
  :class:`ReplicaExperiment`);
* every process agrees on values decided once, such as the experiment's timestamped name
  (:func:`broadcast`, which rank 0 decides);
* generation is split across processes and gathered back in input order (:func:`map_in_order`), so
  predictions are the same as those of one process;

Fan-out jobs and studies shared by several workers belong to the run modes that offer them.

Importing it is cheap: torch and accelerate are imported only when a function needs them,
and a one-process run never imports them here at all.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from dialsum_core.errors import DialsumError
from dialsum_core.experiment import Experiment

log = logging.getLogger("dialsum")
T = TypeVar("T")
R = TypeVar("R")


# ----------------------------------------------------------------------------------------------
# Who am I
# ----------------------------------------------------------------------------------------------
def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


def _dist() -> Any:
    """``torch.distributed`` when torch is already imported and a process group is up, else None."""
    import sys

    torch = sys.modules.get("torch")
    if torch is None:
        return None
    dist = torch.distributed
    return dist if dist.is_available() and dist.is_initialized() else None


def world_size() -> int:
    """Number of processes in this launch (1 without a launcher)."""
    dist = _dist()
    return dist.get_world_size() if dist else max(1, _env_int("WORLD_SIZE", 1))


def rank() -> int:
    """This process's global rank (0 without a launcher)."""
    dist = _dist()
    return dist.get_rank() if dist else _env_int("RANK", 0)


def local_rank() -> int:
    """This process's rank on its machine (which GPU it drives)."""
    return _env_int("LOCAL_RANK", 0)


def is_distributed() -> bool:
    return world_size() > 1


def is_main_process() -> bool:
    """The one process that writes files, logs and results."""
    return rank() == 0


def init() -> None:
    """Join the launch's process group (gloo on CPU, NCCL on GPUs) through Accelerate.

    ``accelerate.PartialState`` is what Hugging Face's Trainer uses too, so the group it creates here
    is the one training then runs in. A no-op for one process.
    """
    if not is_distributed() or _dist() is not None:
        return
    from accelerate import PartialState

    PartialState()


def barrier() -> None:
    """Wait until every process of the launch gets here."""
    if is_distributed():
        init()
        _dist().barrier()


def finish(*, wait: bool = True) -> None:
    """Leave the launch's process group: every process waits for the others (``wait``), then the
    group is destroyed, so that no process exits while its communication threads still run (which
    aborts it with "terminate called without an active exception")."""
    dist = _dist()
    if dist is None:
        return
    with contextlib.suppress(Exception):
        if wait:
            dist.barrier()
        dist.destroy_process_group()


def broadcast(value: T) -> T:
    """Rank 0's ``value`` on every process (any picklable object)."""
    if not is_distributed():
        return value
    init()
    box = [value]
    _dist().broadcast_object_list(box, src=0)
    return box[0]


# ----------------------------------------------------------------------------------------------
# Sharded work, gathered in order
# ----------------------------------------------------------------------------------------------
def shard_bounds(n: int, world: int, index: int) -> tuple[int, int]:
    """``[start, stop)`` of process ``index``'s contiguous share of ``n`` items.

    Shares differ by at most one item and the first ``n % world`` processes take one more, the
    split ``accelerate.PartialState.split_between_processes`` makes.
    """
    per, extra = divmod(n, world)
    start = index * per + min(index, extra)
    return start, start + per + (1 if index < extra else 0)


def shard(items: Sequence[T]) -> list[T]:
    """This process's contiguous share of ``items`` (all of them for one process)."""
    start, stop = shard_bounds(len(items), world_size(), rank())
    return list(items[start:stop])


def gather_in_order(local: Sequence[T]) -> list[T]:
    """Every process's ``local`` list, concatenated in rank order, on every process.

    With :func:`shard`'s contiguous shares this restores the input order exactly.
    """
    if not is_distributed():
        return list(local)
    init()
    parts: list[Any] = [None] * world_size()
    _dist().all_gather_object(parts, list(local))
    return [x for part in parts for x in part]


_inside = threading.local()


def map_in_order(fn: Callable[[list[T]], Sequence[R]], items: Sequence[T]) -> list[R]:
    """``fn(items)`` computed by all processes together: each runs ``fn`` on its share, the
    results come back on every process in input order.

    Every process must call it with the same ``items`` (they all do: every process runs the same
    mode code). Nested calls (a mode's generation calling a model's sharded generation) run
    unsharded inside the outer share, so work is never split twice.
    """
    if not is_distributed() or getattr(_inside, "active", False):
        return list(fn(list(items)))
    _inside.active = True
    try:
        mine = shard(items)
        out = list(fn(mine)) if mine else []
    finally:
        _inside.active = False
    if len(out) != len(mine):
        raise DialsumError(f"rank {rank()}: {len(out)} results for {len(mine)} inputs")
    return gather_in_order(out)


# ----------------------------------------------------------------------------------------------
# The experiment folder on processes other than the main one
# ----------------------------------------------------------------------------------------------
class ReplicaExperiment(Experiment):
    """The experiment folder as seen by a non-main process: readable, never written.

    Modes run identically on every process (collectives need that); their writes through
    ``ctx.experiment`` simply do nothing here, so each file is written once, by rank 0.
    """

    def write_text(self, relative: str | Path, text: str) -> Path:
        return self.path(relative)

    def write_json(self, relative: str | Path, data: Any) -> Path:
        return self.path(relative)

    def write_csv(self, relative: str | Path, header: Sequence[str], rows: Any) -> Path:
        return self.path(relative)


@contextlib.contextmanager
def main_process_first() -> Iterator[None]:
    """The main process runs the block first (creating what the others then read)."""
    if not is_main_process():
        barrier()
    try:
        yield
    finally:
        if is_main_process():
            barrier()
