"""The ``tensorboard`` logger: TensorBoard event files under ``tensorboard/`` in the experiment.

Written with the ``tensorboard`` package's own event writer and protocol buffers, so it needs
neither torch nor TensorFlow. Open with ``tensorboard --logdir experiments/NAME/tensorboard``.

Tags: ``train/<metric>`` per step, ``epoch/<metric>`` per epoch, ``fold/<metric>`` per fold (step K,
``MODEL/fold/`` when the fold names its model), ``trial/value`` per trial, prefixed by ``trial_N/``
and ``MODEL/fold_K/`` (folds counted from 1) inside trials and folds so the series of different
folds and models stay apart; the resolved recipe as text (``recipe``), plots written to
the experiment (``dialsum_on_artifact`` with kind ``plot``) as images, and the final numeric
results under ``results/``.
"""

from __future__ import annotations

import struct
import time
from pathlib import Path
from typing import Any

from dialsum_core import hookimpl
from dialsum_loggers.position import Position, numeric


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG header (0, 0 when it is not a PNG)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or len(data) < 24:
        return 0, 0
    width, height = struct.unpack(">II", data[16:24])
    return width, height


class TensorBoardLogger:
    def __init__(self, logdir: Path, flush_secs: int):
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        logdir.mkdir(parents=True, exist_ok=True)
        self.logdir = logdir
        self._writer: Any = EventFileWriter(str(logdir), flush_secs=flush_secs)
        self.position = Position()
        self._step = 0
        self._root: Path | None = None

    # -- writing ------------------------------------------------------------------------------
    def _write(self, summary: Any, step: int) -> None:
        from tensorboard.compat.proto.event_pb2 import Event

        if self._writer is not None:
            self._writer.add_event(Event(wall_time=time.time(), step=int(step), summary=summary))

    def scalars(self, prefix: str, metrics: dict[str, Any] | None, step: int) -> None:
        from tensorboard.compat.proto.summary_pb2 import Summary

        values = [Summary.Value(tag=f"{prefix}{k}", simple_value=v) for k, v in numeric(metrics).items()]
        if values:
            self._write(Summary(value=values), step)

    # -- events -------------------------------------------------------------------------------
    @hookimpl
    def dialsum_before_run(self, ctx: Any) -> None:
        from tensorboard.plugins.text.summary_v2 import text_pb

        self._root = ctx.experiment.root
        toml = ctx.recipe.to_toml()
        self._write(text_pb("recipe", "```toml\n" + toml + "\n```"), 0)

    @hookimpl
    def dialsum_before_stage(self, stage: str) -> None:
        self.position.enter("dialsum_before_stage", {"stage": stage})

    @hookimpl
    def dialsum_after_stage(self, stage: str, metrics: dict[str, Any]) -> None:
        self.scalars(f"stage/{stage}/", metrics, 0)
        self.position.leave("dialsum_after_stage")

    # The fold and trial events are declared by dialsum-modes; optional, so this logger works without it.
    @hookimpl(optionalhook=True)
    def dialsum_before_fold(self, ctx: Any, fold: int, n_folds: int) -> None:
        self.position.enter("dialsum_before_fold", {"fold": fold, "n_folds": n_folds, "model": ctx.tags.get("model")})
        self._step = 0

    @hookimpl(optionalhook=True)
    def dialsum_after_fold(self, fold: int, metrics: dict[str, Any]) -> None:
        model = self.position.model
        self.position.leave("dialsum_after_fold")
        self.scalars(f"{self.position.prefix()}{model + '/' if model else ''}fold/", metrics, fold + 1)

    @hookimpl(optionalhook=True)
    def dialsum_before_trial(self, trial: int) -> None:
        self.position.enter("dialsum_before_trial", {"trial": trial})
        self._step = 0

    @hookimpl(optionalhook=True)
    def dialsum_after_trial(self, trial: int, params: dict[str, Any], value: float | None) -> None:
        self.position.leave("dialsum_after_trial")
        data = {"value": value} if value is not None else {}
        data.update({f"param/{k}": v for k, v in numeric(params).items()})
        self.scalars("trial/", data, trial)

    @hookimpl
    def dialsum_after_epoch(self, epoch: int, metrics: dict[str, Any]) -> None:
        self.scalars(f"{self.position.prefix()}epoch/", metrics, epoch)

    @hookimpl
    def dialsum_on_metrics(self, metrics: dict[str, Any], step: int | None) -> None:
        self._step = step if step is not None else self._step + 1
        self.scalars(f"{self.position.prefix()}train/", metrics, self._step)

    @hookimpl
    def dialsum_on_artifact(self, path: str, kind: str) -> None:
        if kind != "plot" or self._root is None or not str(path).lower().endswith(".png"):
            return
        from tensorboard.compat.proto.summary_pb2 import Summary

        data = (self._root / path).read_bytes()
        width, height = _png_size(data)
        image = Summary.Image(encoded_image_string=data, width=width, height=height, colorspace=4)
        self._write(Summary(value=[Summary.Value(tag=f"plots/{Path(path).stem}", image=image)]), 0)

    @hookimpl
    def dialsum_after_run(self, results: dict[str, Any]) -> None:
        self.scalars("results/", results, 0)

    def close(self) -> None:
        if self._writer is not None:
            writer, self._writer = self._writer, None
            writer.close()


def build(options: Any, ctx: Any) -> TensorBoardLogger:
    return TensorBoardLogger(ctx.experiment.path(options.log_dir), options.flush_secs)
