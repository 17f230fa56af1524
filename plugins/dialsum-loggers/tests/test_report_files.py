"""What the report lists of a run: its files as they are in the folder (a training that saves a
checkpoint every epoch and keeps the last one, ``train.save_total_limit``, announced every one of them,
and the files announced last, predictions and plots, are the ones a reader looks for), and a traceback
for a run that failed, not for one the user stopped."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from loggers_testkit import scripted_recipe

from dialsum_core import hookimpl
from dialsum_core.manager import build_plugins
from dialsum_core.runner import run_recipe
from dialsum_loggers.report import build_report

EPOCHS = 60


class RotatingMode:
    """Saves a checkpoint per epoch and removes the one before, as a save limit of one does, then writes
    and announces its predictions."""

    def run(self, ctx: Any) -> dict[str, Any]:
        exp = ctx.experiment
        for epoch in range(1, EPOCHS + 1):
            exp.write_text(f"checkpoints/rotating/checkpoint-{epoch}/weights.txt", str(epoch))
            ctx.emit("dialsum_on_artifact", path=f"checkpoints/rotating/checkpoint-{epoch}", kind="checkpoint")
            if epoch > 1:
                shutil.rmtree(exp.path(f"checkpoints/rotating/checkpoint-{epoch - 1}"))
        exp.write_csv("predictions/valid_predictions.csv", ["fname", "summary", "reference"], [["d0", "a", "a"]])
        ctx.emit("dialsum_on_artifact", path="predictions/valid_predictions.csv", kind="prediction")
        exp.write_csv("predictions/submission.csv", ["fname", "summary"], [["t0", "a"]])
        ctx.emit("dialsum_on_artifact", path="predictions/submission.csv", kind="prediction")
        ctx.emit("dialsum_on_artifact", path="predictions/submission.csv", kind="prediction")  # said twice
        return {"rouge_mean": 0.5}


class RotatingPlugin:
    @hookimpl
    def dialsum_register_run_modes(self, register: Any) -> None:
        register("rotating", lambda options, ctx: RotatingMode(), description="keeps its last checkpoint only")


def test_files_lists_what_is_in_the_folder_once_and_the_predictions_after_many_checkpoints(tmp_path: Path) -> None:
    plugins = build_plugins(extra=[("rotating-checkpoints", RotatingPlugin())])
    recipe = scripted_recipe(tmp_path, ["jsonl"], name="rotating", run={"mode": "rotating"})
    exp = run_recipe(recipe, plugins).experiment
    md = build_report(exp, plugins=plugins).markdown.read_text(encoding="utf-8")
    files = md.split("## Files\n")[1].split("\n## ")[0]
    listed = [line for line in files.splitlines() if line.startswith("- ")]
    assert listed == [
        "- log: `metrics.jsonl`",
        f"- checkpoint: `checkpoints/rotating/checkpoint-{EPOCHS}`",
        "- prediction: `predictions/valid_predictions.csv`",
        "- prediction: `predictions/submission.csv`",
    ], files
    assert f"{EPOCHS - 1} announced files are no longer in the folder" in files


class StoppedMode:
    """Stopped by Ctrl-C after its first checkpoint: the interrupt reaches the main thread here."""

    def run(self, ctx: Any) -> dict[str, Any]:
        ctx.experiment.write_text("checkpoints/stopped/checkpoint-1/weights.txt", "1")
        ctx.emit("dialsum_on_artifact", path="checkpoints/stopped/checkpoint-1", kind="checkpoint")
        raise KeyboardInterrupt


class StoppedPlugin:
    @hookimpl
    def dialsum_register_run_modes(self, register: Any) -> None:
        register("stopped", lambda options, ctx: StoppedMode(), description="stopped by Ctrl-C")


def test_an_interrupted_run_has_no_traceback_section(tmp_path: Path) -> None:
    """Ctrl-C is no failure to debug: its traceback (the line training was in) filled the report of
    every stopped run, below the status that already says it was interrupted."""
    plugins = build_plugins(extra=[("stopped-by-user", StoppedPlugin())])
    with pytest.raises(KeyboardInterrupt):
        run_recipe(scripted_recipe(tmp_path, ["jsonl"], name="stopped", run={"mode": "stopped"}), plugins)
    md = build_report(tmp_path / "experiments" / "stopped", plugins=plugins).markdown.read_text(encoding="utf-8")
    assert "- **status**: interrupted" in md and "- **error**: `KeyboardInterrupt`" in md
    assert "## Traceback" not in md, md
    assert "- checkpoint: `checkpoints/stopped/checkpoint-1`" in md


def test_a_recorded_path_no_file_can_have_is_counted_as_gone(tmp_path: Path) -> None:
    """A hand-edited prediction record with a NUL in its path: the report counts it among the files that
    are gone; looking for the validation predictions among the announced files stopped it with a
    ValueError (embedded null byte)."""
    import json

    plugins = build_plugins(extra=[("rotating-checkpoints", RotatingPlugin())])
    exp = run_recipe(scripted_recipe(tmp_path, ["jsonl"], name="nul", run={"mode": "rotating"}), plugins).experiment
    with (exp / "metrics.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"event": "on_artifact", "time": 0.0, "elapsed": 0.0, "path": "bad\u0000name",
                             "kind": "prediction"}) + "\n")
    md = build_report(exp, plugins=plugins).markdown.read_text(encoding="utf-8")
    assert f"{EPOCHS} announced files are no longer in the folder" in md
