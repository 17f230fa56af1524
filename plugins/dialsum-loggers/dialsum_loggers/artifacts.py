"""The files the loggers write, announced to the other plugins.

The ``file`` and ``jsonl`` loggers write files whose names are options (``[loggers.file]
filename``, ``[loggers.jsonl] filename``). Each announces its file when the run starts with the
core event ``dialsum_on_artifact`` and kind :data:`LOG`, so that a plugin that wants the logs (the
``wandb`` logger attaches them to its run) learns their names from the event instead of assuming
the default ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: The ``kind`` of ``dialsum_on_artifact`` for a log file (documented in docs/logging.md).
LOG = "log"
#: The ``kind`` the run modes announce a prediction file with (``dialsum report`` reads the validation
#: predictions' reference columns among them).
PREDICTION = "prediction"


def announce_log(ctx: Any, path: Path) -> None:
    """Announce the log file ``path`` to every plugin, relative to the run's experiment folder as the
    event wants (a fan-out job's loggers write into its ``jobs/...`` folder, below that one)."""
    root = Path(ctx.experiment.root)
    rel = path.relative_to(root) if path.is_relative_to(root) else path
    ctx.emit("dialsum_on_artifact", path=rel.as_posix(), kind=LOG)


def log_file(ctx: Any, filename: str) -> Path:
    """The log file ``filename`` inside the run's experiment folder, with the folders above it made:
    a name such as ``logs/train.log`` is a valid option, and the logger could not open it otherwise
    (the run would go on without its log)."""
    path = Path(ctx.experiment.path(filename))
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
