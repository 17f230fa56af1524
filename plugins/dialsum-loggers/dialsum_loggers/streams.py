"""Copying what the process prints into ``train.log``, as the seed's ``Logger(print_also=True)`` did.

Libraries print to ``sys.stdout`` and ``sys.stderr`` (``print()`` in user code, warnings, tqdm bars).
While a ``file`` logger is active both streams are replaced by a :class:`LineTee` that passes every
write to the terminal unchanged and hands each *complete* line to its sinks as a terminal would
show it: of a carriage-return progress bar only the last state of the line is kept, so the log file
is not flooded with bar frames.

A sink that raises (disk full) is dropped and reported once through ``on_error``; ``print()`` in the
training code never sees the failure.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any, TextIO

Sink = Callable[[str, str], None]
"""``sink(stream_name, line)``: called with each complete line, without its newline."""

_MAX_PENDING = 1 << 16


class LineTee:
    """A text stream that writes through to ``terminal`` and copies whole lines to sinks."""

    def __init__(self, terminal: TextIO, name: str):
        self.original = terminal
        #: Where the text is shown. The console logger points it at its live display while one runs.
        self.terminal: Any = terminal
        self.name = name
        self._sinks: list[tuple[Sink, Callable[[BaseException], None]]] = []
        self._pending = ""
        self._lock = threading.RLock()

    # -- the stream interface ---------------------------------------------------------------------
    def write(self, text: str) -> int:
        self.terminal.write(text)
        with self._lock:
            if not self._sinks:
                return len(text)
            self._pending += text
            if "\n" in self._pending:
                *lines, self._pending = self._pending.split("\n")
                for line in lines:
                    shown = line.removesuffix("\r").rsplit("\r", 1)[-1].rstrip()
                    if shown:
                        self._emit(shown)
            elif len(self._pending) > _MAX_PENDING:
                self._pending = self._pending.rsplit("\r", 1)[-1][-_MAX_PENDING:]
        return len(text)

    def flush(self) -> None:
        self.terminal.flush()

    def isatty(self) -> bool:
        return bool(getattr(self.original, "isatty", lambda: False)())

    def fileno(self) -> int:
        return self.original.fileno()

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def __getattr__(self, name: str) -> Any:  # encoding, errors, buffer...
        return getattr(self.original, name)

    # -- sinks --------------------------------------------------------------------------------
    def add_sink(self, sink: Sink, on_error: Callable[[BaseException], None]) -> None:
        with self._lock:
            self._sinks.append((sink, on_error))

    def remove_sink(self, sink: Sink) -> None:
        with self._lock:
            self._sinks = [(s, e) for s, e in self._sinks if s is not sink]
            if not self._sinks:
                self._pending = ""

    @property
    def has_sinks(self) -> bool:
        return bool(self._sinks)

    def _emit(self, line: str) -> None:
        for sink, on_error in list(self._sinks):
            try:
                sink(self.name, line)
            except Exception as exc:  # a full disk must not break print()
                self.remove_sink(sink)
                on_error(exc)


def installed(stream_name: str) -> LineTee | None:
    """The tee currently installed as ``sys.stdout``/``sys.stderr``, if any."""
    stream = getattr(sys, stream_name)
    return stream if isinstance(stream, LineTee) else None


class Capture:
    """Copies complete stdout and stderr lines to ``sink`` until :meth:`stop`."""

    def __init__(self, sink: Sink, on_error: Callable[[BaseException], None]):
        self.sink = sink
        self._tees: list[tuple[str, LineTee]] = []
        for name in ("stdout", "stderr"):
            tee = installed(name)
            if tee is None:
                tee = LineTee(getattr(sys, name), name)
                setattr(sys, name, tee)
            tee.add_sink(sink, on_error)
            self._tees.append((name, tee))

    def stop(self) -> None:
        for name, tee in self._tees:
            tee.remove_sink(self.sink)
            # Only unwind if nothing was stacked on top of us meanwhile; a sinkless tee is a no-op.
            if not tee.has_sinks and getattr(sys, name) is tee:
                setattr(sys, name, tee.original)
        self._tees = []
