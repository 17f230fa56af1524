"""The fold and trial events belong to dialsum-modes: they reach the loggers from a real k-fold run,
and the loggers that listen to them stay valid when that plugin is disabled."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from loggers_testkit import scripted_recipe

from dialsum_core.context import RunContext
from dialsum_core.events import Events
from dialsum_core.experiment import Experiment
from dialsum_core.manager import build_plugins, check_pending
from dialsum_core.runner import run_recipe

LOGGERS = ["file", "console", "jsonl", "tensorboard"]


def test_fold_events_of_the_kfold_mode_reach_the_loggers(tmp_path: Path, dialsum_plugins) -> None:
    assert dialsum_plugins.hook_owners["dialsum_before_fold"] == "modes"
    recipe = scripted_recipe(tmp_path, ["jsonl"], name="kfold", run={"mode": "kfold", "ensemble": "majority_vote"},
                             modes={"kfold": {"k_folds": 2}})
    exp = run_recipe(recipe, dialsum_plugins).experiment
    lines = (exp / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    events = [json.loads(line) for line in lines]
    assert [(e["fold"], e["n_folds"]) for e in events if e["event"] == "before_fold"] == [(0, 2), (1, 2)]
    after = [e for e in events if e["event"] == "after_fold"]
    assert [e["fold"] for e in after] == [0, 1] and all("rouge_mean" in e["metrics"] for e in after)


def test_the_loggers_stay_valid_without_the_modes_plugin(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DIALSUM_DISABLE_PLUGINS", "modes")
    plugins = build_plugins()
    assert "modes" not in plugins.infos and "dialsum_after_fold" not in plugins.hook_owners
    assert plugins.broken == [] and plugins.infos["loggers"].distribution == "dialsum-loggers"
    recipe = scripted_recipe(tmp_path, LOGGERS)
    ctx = RunContext(recipe=recipe, plugins=plugins, experiment=Experiment.create(tmp_path, "x"),
                     events=Events(plugins.pm))
    loggers = [(f"logger:{name}", ctx.build("loggers", name)) for name in LOGGERS]
    try:
        for name, obj in loggers:
            plugins.pm.register(obj, name=name)  # their fold and trial methods are optional hooks
        check_pending(plugins)
        assert plugins.broken == []
        ctx.emit("dialsum_after_epoch", epoch=1, n_epochs=1, metrics={"loss": 0.5})
        # nobody declares the fold events here, so nobody may emit them
        with pytest.raises(ValueError, match="dialsum_after_fold"):
            ctx.emit("dialsum_after_fold", fold=0, n_folds=2, metrics={})
        assert ctx.events.failed == {}
    finally:
        for name, obj in reversed(loggers):
            obj.close()
            plugins.pm.unregister(obj, name=name)
    assert '"event": "after_epoch"' in (ctx.experiment.root / "metrics.jsonl").read_text(encoding="utf-8")
