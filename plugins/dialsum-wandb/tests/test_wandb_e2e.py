"""`dialsum run` with every logger at once, offline, and a scan of every produced file for the API key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dialsum_core.manager import build_plugins
from dialsum_core.testing import TINY_DIALOGUES, write_csv

FAKE_KEY = "a1b2c3d4e5f60718293a4b5c6d7e8f90dialsum7"


def test_dialsum_run_with_all_five_loggers(tmp_path: Path) -> None:
    if build_plugins().get("run_modes", "single") is None:
        pytest.skip("the `single` run mode (dialsum-modes) is not installed")
    train = write_csv(tmp_path / "train.csv", TINY_DIALOGUES)
    test = write_csv(tmp_path / "test.csv", TINY_DIALOGUES[:2], with_summary=False)
    recipe = tmp_path / "all-loggers.toml"
    recipe.write_text(
        '[run]\nmode = "single"\nmodels = ["lead"]\nmetrics = ["rouge"]\nname = "all-loggers"\n'
        'loggers = ["file", "console", "jsonl", "tensorboard", "wandb"]\n'
        f'output_dir = "{tmp_path / "experiments"}"\n'
        f'[data]\ntrain_path = "{train.name}"\ntest_path = "{test.name}"\nvalid_fraction = 0.5\n'
        '[metrics.rouge]\ntokenizer = "whitespace"\n'
        '[loggers.wandb]\nproject = "dialsum-e2e"\n',
        encoding="utf-8",
    )
    home = tmp_path / "home"
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_API_KEY": FAKE_KEY, "WANDB_SILENT": "true",
           "WANDB_CONFIG_DIR": str(home / "config"), "WANDB_CACHE_DIR": str(home / "cache"),
           "WANDB_DATA_DIR": str(home / "data"), "HOME": str(home)}
    res = subprocess.run([sys.executable, "-m", "dialsum_core.cli", "run", str(recipe)], capture_output=True,
                         text=True, cwd=tmp_path, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "failed" not in res.stderr and "could not start" not in res.stderr, res.stderr[-3000:]
    exp = tmp_path / "experiments" / "all-loggers"
    assert json.loads((exp / "results.json").read_text(encoding="utf-8"))["status"] == "complete"
    log = (exp / "train.log").read_text(encoding="utf-8")
    assert "INFO    experiment " in log
    events = [json.loads(x)["event"] for x in (exp / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    assert events[0] == "before_run" and events[-1] == "after_run" and "after_epoch" in events
    assert list((exp / "tensorboard").glob("events.out.tfevents.*"))
    assert list((exp / "wandb").glob("offline-run-*/run-*.wandb"))
    report = subprocess.run([sys.executable, "-m", "dialsum_core.cli", "report", str(exp)], capture_output=True,
                            text=True, env=env, timeout=120)
    assert report.returncode == 0, report.stderr
    assert (exp / "report" / "report.md").exists()
    leaked = [p for p in tmp_path.rglob("*") if p.is_file() and not p.is_symlink()
              and FAKE_KEY.encode() in p.read_bytes()]
    assert leaked == []
    assert FAKE_KEY not in res.stdout + res.stderr + report.stdout + report.stderr
