"""The processes of one launch over ``torch.distributed``: ``ctx.processes`` when a launcher started several.

dialsum does not start or synchronise processes itself. ``torchrun`` or ``accelerate launch`` (through
``dialsum launch``, or by hand) start them and set ``RANK`` and ``WORLD_SIZE``; the model loaders'
trainers (through Accelerate) do data-parallel training. This is the thin layer the rest of dialsum
reaches through :class:`dialsum_core.protocols.Processes`, so that:

* only the main process writes the experiment folder (``is_main``; the core gives the others a
  read-only view of it);
* every process agrees on values decided once, such as the experiment's timestamped name
  (``broadcast``, which rank 0 decides);
* generation is split across processes and gathered back in input order (``map_in_order``), so
  predictions are the same as those of one process.

Importing it is cheap: torch and accelerate are imported only when a collective needs them, and a
process that runs alone never gets here (:func:`from_environment` answers ``None``).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from dialsum_core.errors import DialsumError

T = TypeVar("T")
R = TypeVar("R")


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


def from_environment() -> TorchProcesses | None:
    """The launch this process is one of, as its launcher's environment says (``RANK``,
    ``WORLD_SIZE``); ``None`` for a process that runs alone."""
    world = _env_int("WORLD_SIZE", 1)
    return TorchProcesses(_env_int("RANK", 0), world) if world > 1 else None


def _dist() -> Any:
    """``torch.distributed`` when torch is already imported and a process group is up, else None."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    dist = torch.distributed
    return dist if dist.is_available() and dist.is_initialized() else None


def shard_bounds(n: int, world: int, index: int) -> tuple[int, int]:
    """``[start, stop)`` of process ``index``'s contiguous share of ``n`` items.

    Shares differ by at most one item and the first ``n % world`` processes take one more, the
    split ``accelerate.PartialState.split_between_processes`` makes.
    """
    per, extra = divmod(n, world)
    start = index * per + min(index, extra)
    return start, start + per + (1 if index < extra else 0)


#: Set while this thread runs its share of a :meth:`TorchProcesses.map_in_order`: a nested call (a
#: mode's generation calling a model's sharded generation) then runs unsharded inside the outer share.
_inside = threading.local()


class TorchProcesses:
    """The processes of a launch; the process group is joined on the first collective."""

    def __init__(self, rank: int, world_size: int):
        self.rank = rank
        self.world_size = world_size

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def _group(self) -> Any:
        """``torch.distributed`` with the launch's process group joined (gloo on CPU, NCCL on GPUs).

        It is joined through ``accelerate.PartialState``, what Hugging Face's Trainer uses too, so the
        group created here is the one training then runs in.
        """
        if _dist() is None:
            from accelerate import PartialState

            PartialState()
        dist = _dist()
        if dist is None:
            raise DialsumError(f"rank {self.rank}: WORLD_SIZE is {self.world_size} but no process group could "
                               "be joined (was this process started by torchrun or accelerate launch?)")
        return dist

    def broadcast(self, value: T) -> T:
        """Rank 0's ``value`` on every process (any picklable object)."""
        box = [value]
        self._group().broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        self._group().barrier()

    def finish(self, *, wait: bool = True) -> None:
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

    def shard(self, items: Sequence[T]) -> list[T]:
        """This process's contiguous share of ``items``."""
        start, stop = shard_bounds(len(items), self.world_size, self.rank)
        return list(items[start:stop])

    def gather_in_order(self, local: Sequence[T]) -> list[T]:
        """Every process's ``local`` list, concatenated in rank order, on every process: with
        :meth:`shard`'s contiguous shares this restores the input order exactly."""
        parts: list[Any] = [None] * self.world_size
        self._group().all_gather_object(parts, list(local))
        return [x for part in parts for x in part]

    def map_in_order(self, fn: Callable[[list[T]], Sequence[R]], items: Sequence[T]) -> list[R]:
        """``fn(items)`` computed by all processes together: each runs ``fn`` on its share, the
        results come back on every process in input order.

        Every process must call it with the same ``items`` (they all do: every process runs the same
        mode code). Nested calls run unsharded inside the outer share, so work is never split twice.
        """
        if getattr(_inside, "active", False):
            return list(fn(list(items)))
        _inside.active = True
        try:
            mine = self.shard(items)
            out = list(fn(mine)) if mine else []
        finally:
            _inside.active = False
        if len(out) != len(mine):
            raise DialsumError(f"rank {self.rank}: {len(out)} results for {len(mine)} inputs")
        return self.gather_in_order(out)
