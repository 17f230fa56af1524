"""Delivering lifecycle events to loggers, one implementation at a time.

pluggy stops a hook call at the first exception. For events that is wrong: a logger that lost its
network or filled its disk must not stop training. So each implementation is called on its own; one
that raises is reported once and skipped for the rest of the run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from dialsum_core import hookspecs

log = logging.getLogger("dialsum")


class Events:
    """Emit lifecycle hooks with per-implementation fault isolation."""

    def __init__(self, pm: Any, describe: Callable[[str], str] | None = None):
        """``describe(plugin_name)`` says who a failing plugin is (its distribution) in the warning."""
        self._pm = pm
        self._describe = describe or repr
        self.failed: dict[str, str] = {}

    def emit(self, hook_name: str, **kwargs: Any) -> None:
        caller = getattr(self._pm.hook, hook_name, None)
        if not hook_name.startswith(hookspecs.LIFECYCLE_PREFIXES) or caller is None or not caller.has_spec():
            raise ValueError(f"{hook_name!r} is not a lifecycle hook of the installed plugins")
        for impl in caller.get_hookimpls():
            name = impl.plugin_name
            if name in self.failed:
                continue
            try:
                impl.function(**{arg: kwargs.get(arg) for arg in impl.argnames})
            except Exception as exc:
                self.failed[name] = f"{type(exc).__name__}: {exc}"
                log.warning(
                    "%s failed in %s (%s); it is disabled for the rest of this run",
                    self._describe(name),
                    hook_name,
                    self.failed[name],
                )
