"""The ``file`` logger: ``train.log`` in the experiment folder.

It attaches a handler to the ``dialsum`` logger at ``run.log_level`` (so the run's header, the
data report, warnings and the traceback of an uncaught error all land there: the runner logs the
traceback with ``log.error`` before re-raising) and, with ``capture_output``, copies every line
printed to stdout/stderr while the run lasts (see :mod:`dialsum_loggers.streams`).

The handler is attached when the logger is built, before ``dialsum_before_run``, so the run's
first lines are in the file too; at ``dialsum_before_run`` the file is announced to the other
plugins (:mod:`dialsum_loggers.artifacts`). A write that fails (disk full) is reported once on the
remaining handlers and the logger goes quiet; training goes on.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from dialsum_core import hookimpl
from dialsum_loggers.artifacts import announce_log, log_file
from dialsum_loggers.streams import Capture

FORMAT = "%(asctime)s %(levelname)-7s %(message)s"
DATEFMT = "%Y-%m-%d %H:%M:%S"
NAME = "logger:file"


class _QuietOnFailure(logging.FileHandler):
    """A file handler that reports its first failure once, then drops records instead of raising."""

    def __init__(self, path: Path, owner: FileLogger):
        super().__init__(path, mode="a", encoding="utf-8")
        self.owner = owner

    def emit(self, record: logging.LogRecord) -> None:
        if not self.owner.failed:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:
        import sys

        self.owner.fail(sys.exc_info()[1] or RuntimeError("unknown write error"))


class FileLogger:
    """Writes ``train.log``; see the module docstring."""

    def __init__(self, path: Path, level: str, capture_output: bool, logger: logging.Logger):
        self.path = Path(path)
        self.failed = False
        self._log = logger
        self._lock = threading.RLock()
        self.handler = _QuietOnFailure(self.path, self)
        self.handler.setLevel(level)
        self.handler.setFormatter(logging.Formatter(FORMAT, DATEFMT))
        self.handler._dialsum_file = True  # type: ignore[attr-defined]
        logger.addHandler(self.handler)
        self.capture = Capture(self._print_line, self.fail) if capture_output else None

    def _print_line(self, stream: str, line: str) -> None:
        """A printed line goes to the file as it was shown, without a log prefix."""
        if self.failed:
            return
        with self.handler.lock or self._lock:
            stream_fh = self.handler.stream
            stream_fh.write(line + "\n")
            stream_fh.flush()

    def fail(self, exc: BaseException) -> None:
        with self._lock:
            if self.failed:
                return
            self.failed = True
        self._log.warning(
            "%s failed (%s: %s); it is disabled for the rest of this run", NAME, type(exc).__name__, exc
        )

    @hookimpl
    def dialsum_before_run(self, ctx: Any) -> None:
        announce_log(ctx, self.path)

    @hookimpl
    def dialsum_on_error(self, error: BaseException) -> None:
        # The runner has already logged the traceback; make sure it is on disk before anything else.
        if not self.failed:
            self.handler.flush()

    def close(self) -> None:
        if self.capture is not None:
            self.capture.stop()
            self.capture = None
        self._log.removeHandler(self.handler)
        try:
            self.handler.close()
        except Exception:  # a full disk at the very end changes nothing
            pass


def build(options: Any, ctx: Any) -> FileLogger:
    return FileLogger(log_file(ctx, options.filename), ctx.recipe.run.log_level, options.capture_output, ctx.log)
