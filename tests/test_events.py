"""Lifecycle events reach every logger in recipe order; a failing logger is dropped, not fatal; a plugin
can declare events of its own, checked like the core's."""

from __future__ import annotations

import logging

import pytest

from dialsum_core import hookimpl
from dialsum_core.events import Events
from dialsum_core.hookspecs import hookspec
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


# ------------------------------------------------------------------------------------------------
# Events a plugin declares (``dialsum_add_hookspecs``)
# ------------------------------------------------------------------------------------------------
class RoundEvents:
    @hookspec
    def dialsum_after_round(ctx, round: int, metrics: dict) -> None:
        """A round of a plugin's own mode finished."""


class Rounds:
    """A plugin whose mode emits ``dialsum_after_round``: it declares the event itself."""

    @hookimpl
    def dialsum_add_hookspecs(self, add):
        add(RoundEvents)


class RoundListener:
    def __init__(self, seen: list[int]):
        self.seen = seen

    @hookimpl(optionalhook=True)
    def dialsum_after_round(self, round):
        self.seen.append(round)


class WrongRoundListener:
    @hookimpl(optionalhook=True)
    def dialsum_after_round(self, round, score):
        pass


class RequiredRoundListener:
    @hookimpl
    def dialsum_after_round(self, round):
        pass


def test_an_event_a_plugin_declares_reaches_listeners_registered_before_and_after_it() -> None:
    seen: list[int] = []
    plugins = build_plugins(entry_points=False, extra=[("early", RoundListener(seen)), ("rounds", Rounds()),
                                                        ("late", RoundListener(seen))])
    assert plugins.broken == [] and plugins.hook_owners == {"dialsum_after_round": "rounds"}
    Events(plugins.pm).emit("dialsum_after_round", ctx=None, round=3, metrics={})
    assert seen == [3, 3]


def test_a_listener_registered_before_the_event_is_declared_is_checked_against_it() -> None:
    extra = [("wrong", WrongRoundListener()), ("rounds", Rounds()), ("fine", RoundListener([]))]
    plugins = build_plugins(entry_points=False, extra=extra)
    (broken,) = plugins.broken
    assert broken.name == "wrong" and "dialsum_after_round" in broken.error and "score" in broken.error
    assert plugins.pm.get_plugin("wrong") is None and plugins.pm.get_plugin("rounds") is not None
    assert plugins.pm.get_plugin("fine") is not None


def test_without_the_declaring_plugin_only_optional_listeners_are_valid() -> None:
    plugins = build_plugins(entry_points=False, extra=[("optional", RoundListener([])),
                                                       ("required", RequiredRoundListener())])
    assert [b.name for b in plugins.broken] == ["required"] and "dialsum_after_round" in plugins.broken[0].error
    with pytest.raises(ValueError, match="dialsum_after_round"):
        Events(plugins.pm).emit("dialsum_after_round", ctx=None, round=1, metrics={})


def test_a_plugin_cannot_declare_an_event_twice() -> None:
    plugins = build_plugins(entry_points=False, extra=[("rounds", Rounds()), ("again", Rounds())])
    (broken,) = plugins.broken
    assert broken.name == "again" and "'dialsum_after_round' is already registered" in broken.error
    assert plugins.hook_owners == {"dialsum_after_round": "rounds"}


@pytest.mark.parametrize("name", ["dialsum_after_epok", "dialsum_register_metrics", "dialsum_on_nothing"])
def test_only_declared_lifecycle_hooks_can_be_emitted(name: str) -> None:
    with pytest.raises(ValueError, match="is not a lifecycle hook"):
        Events(build_plugins(entry_points=False).pm).emit(name, ctx=None)
