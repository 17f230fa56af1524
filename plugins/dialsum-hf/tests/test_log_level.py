"""``run.log_level = "DEBUG"`` (the seed's ``--log_level DEBUG``) adds the training steps to the log."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from dialsum_core import hookimpl


def test_debug_level_logs_every_logged_training_step(context, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ctx = context({"run": {"log_level": "DEBUG"}, "train": {"epochs": 2, "logging_steps": 1}})
    data = ctx.data()
    model = ctx.build("model_loaders", "scratch").build(ctx, data.train)
    with caplog.at_level(logging.DEBUG, logger="dialsum"):
        model.fit(data.train, data.valid, ctx, tmp_path / "ckpt")
    steps = [r.getMessage() for r in caplog.records
             if r.levelno == logging.DEBUG and re.match(r"step \d+/\d+: ", r.getMessage())]
    # 24 dialogues in batches of 8: three optimiser steps per epoch, each one logged
    assert [int(re.match(r"step (\d+)/6", s).group(1)) for s in steps if ": loss=" in s] == [1, 2, 3, 4, 5, 6], steps
    assert all("learning_rate=" in s for s in steps if ": loss=" in s), steps
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert not [m for m in infos if m.startswith("step ")], infos  # at INFO, the epochs only


def test_evaluations_every_few_steps_are_named_by_their_step(context, tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    """The seed's ``logging.checkpoint_interval`` (``train.checkpoint_interval``): three evaluations in a
    run of one epoch were logged as "epoch 1/1", "epoch 2/1" and "epoch 3/1"."""
    ctx = context({"train": {"epochs": 1, "checkpoint_interval": 1}})
    data = ctx.data()
    model = ctx.build("model_loaders", "scratch").build(ctx, data.train)
    with caplog.at_level(logging.INFO, logger="dialsum"):
        model.fit(data.train, data.valid, ctx, tmp_path / "ckpt")
    said = [r.getMessage().split(":")[0] for r in caplog.records
            if r.levelno == logging.INFO and r.getMessage().startswith(("epoch ", "evaluation "))]
    assert said == [f"evaluation {i} (step {i}/3)" for i in (1, 2, 3)], said


class _Epochs:
    def __init__(self) -> None:
        self.seen: list[tuple[int, int]] = []

    @hookimpl
    def dialsum_after_epoch(self, epoch: int, n_epochs: int, metrics: dict) -> None:
        self.seen.append((epoch, n_epochs))


@pytest.mark.parametrize("interval, expected", [(1, [(1, 3), (2, 3), (3, 3)]), (2, [(1, 2), (2, 2)])])
def test_evaluations_every_few_steps_are_counted_by_the_events_as_the_run_makes_them(
        context, tmp_path: Path, interval: int, expected: list[tuple[int, int]]) -> None:
    """The events carried the number of epochs (1) beside the count of evaluations: a progress bar read
    "epoch 2/1", and a search pruned a trial against the wrong total."""
    ctx = context({"train": {"epochs": 1, "checkpoint_interval": interval}})
    seen = _Epochs()
    ctx.plugins.add(seen, "epochs")
    data = ctx.data()
    ctx.build("model_loaders", "scratch").build(ctx, data.train).fit(data.train, data.valid, ctx, tmp_path / "ckpt")
    assert seen.seen == expected
