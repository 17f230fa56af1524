"""Lifecycle events reach every logger in recipe order; a failing logger is dropped, not fatal."""

from __future__ import annotations

import logging

from dialsum_core import hookimpl
from dialsum_core.events import Events
from dialsum_core.manager import build_plugins


class Recorder:
    def __init__(self, name: str, seen: list[str]):
        self.name, self.seen = name, seen

    @hookimpl
    def dialsum_after_epoch(self, epoch, metrics):
        self.seen.append(f"{self.name}:{epoch}:{metrics['loss']}")


class Exploding:
    calls = 0

    @hookimpl
    def dialsum_after_epoch(self, epoch):
        Exploding.calls += 1
        raise OSError("disk full")


def test_fan_out_order_and_isolation(caplog) -> None:
    plugins = build_plugins(entry_points=False)
    seen: list[str] = []
    plugins.pm.register(Recorder("a", seen), name="logger:a")
    plugins.pm.register(Exploding(), name="logger:boom")
    plugins.pm.register(Recorder("b", seen), name="logger:b")
    events = Events(plugins.pm)
    with caplog.at_level(logging.WARNING, logger="dialsum"):
        for epoch in (1, 2):
            events.emit("dialsum_after_epoch", ctx=None, epoch=epoch, n_epochs=2, metrics={"loss": 0.5})
    assert seen == ["a:1:0.5", "b:1:0.5", "a:2:0.5", "b:2:0.5"]
    assert Exploding.calls == 1
    warnings = [r.getMessage() for r in caplog.records if "logger:boom" in r.getMessage()]
    assert len(warnings) == 1 and "disk full" in warnings[0]
