"""One process alone: ``ctx.processes`` when no plugin reports a launch (``dialsum_processes``).

Run modes and models call the same :class:`dialsum_core.protocols.Processes` methods whether or not
a launcher started several processes; alone, each one is the identity or nothing at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


class OneProcess:
    """The only process of its run: the main one, with nobody to agree with or wait for."""

    rank = 0
    world_size = 1
    is_main = True

    def broadcast(self, value: T) -> T:
        return value

    def barrier(self) -> None:
        pass

    def map_in_order(self, fn: Callable[[list[T]], Sequence[R]], items: Sequence[T]) -> list[R]:
        return list(fn(list(items)))

    def finish(self, *, wait: bool = True) -> None:
        pass
