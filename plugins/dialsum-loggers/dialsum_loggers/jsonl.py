"""The ``jsonl`` logger: ``metrics.jsonl``, one JSON object per lifecycle event.

This file is the machine-readable record of a run: ``dialsum report`` rebuilds plots and the
summary from it, and it is easy to load anywhere (``pandas.read_json(path, lines=True)``).

Every record has ``event`` (the hook name without ``dialsum_``: ``before_run``, ``after_epoch``,
``on_metrics``...), ``time`` (Unix seconds) and ``elapsed`` (seconds since the run started), the
position in the run (``stage``, ``fold``, ``trial``) when set, the context's ``tags`` when it has
any, and the hook's own arguments (``epoch``, ``metrics``, ``step``...). Each line is flushed as it
is written, so an interrupted run keeps everything up to its last event. The file is appended to:
running again into the same experiment folder adds a new segment that starts with ``before_run``;
an event sent before this logger's own ``before_run`` (another logger announcing its file from its
``dialsum_before_run``) is written right after it, so that it stays in its run's segment. The file
is announced to the other plugins at ``before_run`` (:mod:`dialsum_loggers.artifacts`).
"""

from __future__ import annotations

import json
import math
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from dialsum_core import hookimpl
from dialsum_core.errors import status_of
from dialsum_loggers.artifacts import announce_log, log_file
from dialsum_loggers.position import Position

FILENAME = "metrics.jsonl"


def _clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities become null (strict JSON has no such numbers)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        return _clean(value.item())
    if hasattr(value, "tolist"):
        return _clean(value.tolist())
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    return repr(value)


def _given(**fields: Any) -> dict[str, Any]:
    """The fields an emitter passed: an argument it left out (an older mode) is not written as null."""
    return {k: v for k, v in fields.items() if v is not None}


class JsonlLogger:
    def __init__(self, path: Path, progress_interval: float):
        self.path = Path(path)
        self.progress_interval = progress_interval
        self.position = Position()
        self._fh: IO[str] | None = self.path.open("a", encoding="utf-8")
        self._started = time.time()
        self._last_progress: dict[str, float] = {}
        #: The events received before this run's ``before_run``, recorded right after it.
        self._early: list[tuple[str, Any, dict[str, Any]]] | None = []

    def record(self, hook: str, ctx: Any, **fields: Any) -> None:
        if self._fh is None:
            return
        if self._early is not None and hook != "dialsum_before_run":
            self._early.append((hook, ctx, fields))
            return
        now = time.time()
        rec: dict[str, Any] = {
            "event": hook.removeprefix("dialsum_"),
            "time": round(now, 3),
            "elapsed": round(now - self._started, 3),
            **self.position.labels(),
        }
        tags = getattr(ctx, "tags", None)
        if tags:
            rec["tags"] = tags
        rec.update(fields)
        self._fh.write(json.dumps(_clean(rec), ensure_ascii=False, default=_default) + "\n")
        self._fh.flush()
        self._record_early()

    def _record_early(self) -> None:
        early, self._early = self._early or [], None
        for hook, ctx, fields in early:
            self.record(hook, ctx, **fields)

    def _event(self, hook: str, ctx: Any, **fields: Any) -> None:
        self.position.enter(hook, fields)
        self.record(hook, ctx, **fields)
        self.position.leave(hook)

    # -- run --------------------------------------------------------------------------------------
    @hookimpl
    def dialsum_before_run(self, ctx: Any) -> None:
        self._started = time.time()
        run = ctx.recipe.run
        self._event(
            "dialsum_before_run", ctx, experiment=ctx.experiment.root.name, mode=run.mode,
            models=list(run.models), versions=dict(ctx.recipe.versions),
        )
        announce_log(ctx, self.path)

    @hookimpl
    def dialsum_after_run(self, ctx: Any, results: dict[str, Any]) -> None:
        self._event("dialsum_after_run", ctx, results=results)

    @hookimpl
    def dialsum_on_error(self, ctx: Any, error: BaseException) -> None:
        self._event(
            "dialsum_on_error", ctx, status=status_of(error), error=f"{type(error).__name__}: {error}",
            traceback="".join(traceback.format_exception(error)),
        )

    # -- nested work ------------------------------------------------------------------------------
    @hookimpl
    def dialsum_before_stage(self, ctx: Any, stage: str) -> None:
        self._event("dialsum_before_stage", ctx, stage=stage)

    @hookimpl
    def dialsum_after_stage(self, ctx: Any, stage: str, metrics: dict[str, Any]) -> None:
        self._event("dialsum_after_stage", ctx, stage=stage, metrics=metrics or {})

    # The fold and trial events are declared by dialsum-modes; optional, so this logger works without it.
    @hookimpl(optionalhook=True)
    def dialsum_before_fold(self, ctx: Any, fold: int, n_folds: int) -> None:
        self._event("dialsum_before_fold", ctx, fold=fold, n_folds=n_folds)

    @hookimpl(optionalhook=True)
    def dialsum_after_fold(self, ctx: Any, fold: int, n_folds: int, metrics: dict[str, Any]) -> None:
        self._event("dialsum_after_fold", ctx, fold=fold, n_folds=n_folds, metrics=metrics or {})

    @hookimpl
    def dialsum_before_epoch(self, ctx: Any, epoch: int, n_epochs: int) -> None:
        self._event("dialsum_before_epoch", ctx, epoch=epoch, n_epochs=n_epochs)

    @hookimpl
    def dialsum_after_epoch(self, ctx: Any, epoch: int, n_epochs: int, metrics: dict[str, Any]) -> None:
        self._event("dialsum_after_epoch", ctx, epoch=epoch, n_epochs=n_epochs, metrics=metrics or {})

    @hookimpl(optionalhook=True)
    def dialsum_before_trial(
        self, ctx: Any, trial: int, params: dict[str, Any], metric: str | None, direction: str | None
    ) -> None:
        self._event("dialsum_before_trial", ctx, trial=trial, params=params or {},
                    **_given(metric=metric, direction=direction))

    @hookimpl(optionalhook=True)
    def dialsum_after_trial(
        self, ctx: Any, trial: int, params: dict[str, Any], value: float | None, state: str,
        metric: str | None, direction: str | None,
    ) -> None:
        self._event("dialsum_after_trial", ctx, trial=trial, params=params or {}, value=value, state=state,
                    **_given(metric=metric, direction=direction))

    @hookimpl
    def dialsum_on_metrics(self, ctx: Any, metrics: dict[str, Any], step: int | None) -> None:
        where = {"epoch": self.position.epoch} if self.position.epoch is not None else {}
        self._event("dialsum_on_metrics", ctx, step=step, **where, metrics=metrics or {})

    @hookimpl
    def dialsum_on_progress(self, ctx: Any, task: str, completed: int, total: int | None) -> None:
        """Throttled: the first and last update of a task, and at most one per ``progress_interval``."""
        now = time.time()
        last = self._last_progress.get(task)
        finished = total is not None and completed >= total
        if last is not None and not finished and completed > 0 and now - last < self.progress_interval:
            return
        self._last_progress[task] = now
        self._event("dialsum_on_progress", ctx, task=task, completed=completed, total=total)

    @hookimpl
    def dialsum_on_artifact(self, ctx: Any, path: str, kind: str) -> None:
        self._event("dialsum_on_artifact", ctx, path=str(path), kind=kind)

    def close(self) -> None:
        self._record_early()  # a run that never started: its events are still kept
        if self._fh is not None:
            fh, self._fh = self._fh, None
            fh.close()


def build(options: Any, ctx: Any) -> JsonlLogger:
    return JsonlLogger(log_file(ctx, options.filename), options.progress_interval)


def read_events(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The records of ``path`` and how many lines could not be read (a run killed mid-write)."""
    records: list[dict[str, Any]] = []
    bad = 0
    for line in _lines(Path(path)):
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            bad += 1
            continue
        if isinstance(rec, dict) and "event" in rec:
            records.append(rec)
        else:
            bad += 1
    return records, bad


def last_segment(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records of the last run written to the file (from its last ``before_run``)."""
    starts = [i for i, r in enumerate(records) if r.get("event") == "before_run"]
    return records[starts[-1]:] if starts else records


def _lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if line.strip():
                yield line
