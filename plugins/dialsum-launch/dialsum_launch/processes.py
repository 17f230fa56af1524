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
  predictions are the same as those of one process;
* a process whose share of that work fails says so at the gather, so that every process raises the
  same error (the failing rank's, named) instead of the others dying in a collective it left
  (:class:`ProcessFailed` for a bug; the user's own :class:`DialsumError` class for a user error).

Importing it is cheap: torch and accelerate are imported only when a collective needs them, and a
process that runs alone never gets here (:func:`from_environment` answers ``None``).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import pickle
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


class ProcessFailed(RuntimeError):
    """A bug (any exception but a :class:`DialsumError`) in one process's share of a collective,
    raised on every process of the launch: ``rank N: <type>: <message>``."""


def _describe(rank: int, exc: Exception) -> dict[str, Any]:
    """What the other processes need to raise ``exc`` again: picklable whatever ``exc`` holds."""
    state = dict(getattr(exc, "__dict__", {}))
    try:
        pickle.dumps(state)
    except Exception:  # an attribute that cannot travel: the message is what matters
        state = {}
    cls = type(exc)
    return {"rank": rank, "module": cls.__module__, "qualname": cls.__qualname__, "message": str(exc),
            "user": isinstance(exc, DialsumError), "state": state}


def _named(rank: int, message: str) -> str:
    prefix = f"rank {rank}:"
    return message if message.startswith(prefix) else f"{prefix} {message}"


def _user_class(module: str, qualname: str) -> type[DialsumError]:
    """The failing process's own :class:`DialsumError` class (same code in every process), else
    :class:`DialsumError` itself."""
    try:
        found: Any = importlib.import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
    except Exception:
        return DialsumError
    return found if isinstance(found, type) and issubclass(found, DialsumError) else DialsumError


def _restated(failure: dict[str, Any]) -> Exception:
    """The error every process raises for ``failure``: a user error keeps its class and attributes,
    its message names the rank; a bug becomes a :class:`ProcessFailed`."""
    rank = failure["rank"]
    if not failure["user"]:
        kind = failure["qualname"]
        return ProcessFailed(_named(rank, f"{kind}: {failure['message']}".removesuffix(": ")))
    message = _named(rank, failure["message"])
    cls = _user_class(failure["module"], failure["qualname"])
    try:  # not cls(message): a subclass's __init__ may take other arguments (RecipeError: problems)
        error = cls.__new__(cls)
        error.__dict__.update(failure["state"])
        error.args = (message,)
    except Exception:
        error = DialsumError(message)
    return error


def _caused_by(exc: BaseException | None, error: BaseException) -> bool:
    """Whether ``exc`` is ``error`` or was raised (directly or not) while handling it."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if exc is error:
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


#: The key in the launch's store by which the main process says it recorded a failure.
FAILURE_RECORDED = "dialsum/failure-recorded"

#: Set while this thread runs its share of a :meth:`TorchProcesses.map_in_order`: a nested call (a
#: mode's generation calling a model's sharded generation) then runs unsharded inside the outer share.
_inside = threading.local()


class TorchProcesses:
    """The processes of a launch; the process group is joined on the first collective."""

    def __init__(self, rank: int, world_size: int):
        self.rank = rank
        self.world_size = world_size
        #: The error every process raised together at the last failed collective (see :meth:`finish`).
        self._failed_together: BaseException | None = None

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
        aborts it with "terminate called without an active exception").

        A run that failed does not wait (``wait=False``: the others may never reach a barrier), except
        when the error being handled is one every process raised together (:meth:`map_in_order`):
        they all get here, and the others then leave only once the main process has recorded it in
        ``results.json`` (the launcher stops every process as soon as one of them exits).
        """
        dist = _dist()
        if dist is None:
            return
        together = self._failed_together is not None and _caused_by(sys.exc_info()[1], self._failed_together)
        if together and not wait:
            self._wait_for_the_main_process(dist)
        with contextlib.suppress(Exception):
            if wait:
                dist.barrier()
            dist.destroy_process_group()

    def _wait_for_the_main_process(self, dist: Any, timeout: float = 60.0) -> None:
        """After an error every process raised together: the main process says (through the launch's
        store, not a collective, which the others could be in step with no more) that it recorded the
        error; the others wait for that, at most ``timeout`` seconds."""
        from datetime import timedelta

        with contextlib.suppress(Exception):
            store = dist.distributed_c10d._get_default_store()
            if self.is_main:
                store.set(FAILURE_RECORDED, "1")
            else:
                store.wait([FAILURE_RECORDED], timedelta(seconds=timeout))

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
        mine = self.shard(items)
        failure: dict[str, Any] | None = None
        error: Exception | None = None
        out: list[R] = []
        _inside.active = True
        try:
            out = list(fn(mine)) if mine else []
            if len(out) != len(mine):
                raise DialsumError(f"{len(out)} results for {len(mine)} inputs")
        except Exception as exc:  # told to the others at the gather, so that they do not wait for it
            error, failure = exc, _describe(self.rank, exc)
            out = []
        finally:
            _inside.active = False
        parts: list[Any] = [None] * self.world_size
        self._group().all_gather_object(parts, (failure, out))
        failures = [f for f, _ in parts if f is not None]
        if failures:  # the first failing rank's error, on every process
            agreed = _restated(failures[0])
            agreed.raised_by_every_process = True  # type: ignore[attr-defined]  # see dialsum_modes.tune
            self._failed_together = agreed
            raise agreed from error  # this process's own error (if any) stays in its log file
        return [x for _, part in parts for x in part]
