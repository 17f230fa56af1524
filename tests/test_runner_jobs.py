"""A run mode's job folder (``RunMode.job_folder``): asked once, and once it is given, whatever fails
is recorded in the job's ``results.json`` and told to the plugins (``dialsum_on_error``), so a mode
that holds the folder for its job (a lock) always hears the run end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dialsum_core import hookimpl
from dialsum_core.manager import build_plugins
from dialsum_core.recipe import Recipe
from dialsum_core.runner import run_recipe

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


class JobbedMode:
    """A third party's mode that runs its work in ``jobs/one/`` and records what it is told."""

    def __init__(self) -> None:
        self.asked = 0
        self.ended: list[str] = []

    def job_folder(self, ctx: Any) -> str:
        self.asked += 1
        return "jobs/one"

    def run(self, ctx: Any) -> dict[str, Any]:
        return {"done": True}

    @hookimpl
    def dialsum_register_run_modes(self, register: Any) -> None:
        register("jobbed", lambda options, ctx: self, description="runs in a job folder")

    @hookimpl
    def dialsum_after_run(self) -> None:
        self.ended.append("after_run")

    @hookimpl
    def dialsum_on_error(self, error: BaseException) -> None:
        self.ended.append(f"on_error: {type(error).__name__}")


def _recipe(plugins: Any, out: Path) -> Recipe:
    data = {"train_path": str(SAMPLE / "train.csv"), "dev_path": str(SAMPLE / "dev.csv")}
    run = {"mode": "jobbed", "models": ["scratch"], "loggers": [], "name": "exp", "output_dir": str(out)}
    return Recipe.from_dict({"run": run, "data": data}, schema=plugins.schema)


def test_the_job_folder_is_asked_once(tmp_path: Path) -> None:
    mode = JobbedMode()
    plugins = build_plugins(extra=[("jobbed", mode)])
    result = run_recipe(_recipe(plugins, tmp_path), plugins)
    assert mode.asked == 1 and mode.ended == ["after_run"]
    assert result.results_path == tmp_path / "exp" / "jobs" / "one" / "results.json"
    assert json.loads(result.results_path.read_text(encoding="utf-8"))["done"] is True


def test_a_config_that_cannot_be_written_ends_the_run_as_a_failure_the_plugins_hear(tmp_path: Path) -> None:
    """``config.toml`` was written before the run's ``try``: its failure left no ``results.json`` and
    no ``dialsum_on_error``, so a mode holding its job folder never heard that the run ended."""
    mode = JobbedMode()
    plugins = build_plugins(extra=[("jobbed", mode)])
    (tmp_path / "exp" / "jobs" / "one" / "config.toml").mkdir(parents=True)  # a folder in the file's place
    with pytest.raises(OSError):
        run_recipe(_recipe(plugins, tmp_path), plugins)
    assert mode.ended == ["on_error: IsADirectoryError"]
    results = json.loads((tmp_path / "exp" / "jobs" / "one" / "results.json").read_text(encoding="utf-8"))
    assert results["status"] == "failed" and "IsADirectoryError" in results["error"]


class StoppedWhileReporting:
    """A logger whose end-of-run work (a report it draws) is stopped by Ctrl-C or a scheduler's SIGTERM."""

    def __init__(self) -> None:
        self.closed = False

    @hookimpl
    def dialsum_after_run(self) -> None:
        raise KeyboardInterrupt("stopped by SIGTERM")

    def close(self) -> None:
        self.closed = True


class OffersIt:
    def __init__(self, logger: StoppedWhileReporting) -> None:
        self.logger = logger

    @hookimpl
    def dialsum_register_loggers(self, register: Any) -> None:
        register("reporting", lambda options, ctx: self.logger, description="stopped while it reports")


def test_a_run_stopped_after_its_results_still_closes_its_loggers(tmp_path: Path) -> None:
    """A stop during ``dialsum_after_run`` (a report drawn at the end of the run) skipped every logger's
    ``close``: a W&B run left unfinished, a live display left on the terminal."""
    logger = StoppedWhileReporting()
    plugins = build_plugins(extra=[("jobbed", JobbedMode()), ("offers-it", OffersIt(logger))])
    recipe = _recipe(plugins, tmp_path).override(("run.loggers", ["reporting"]))
    with pytest.raises(KeyboardInterrupt):
        run_recipe(recipe, plugins)
    assert logger.closed
    results = json.loads((tmp_path / "exp" / "jobs" / "one" / "results.json").read_text(encoding="utf-8"))
    assert results["status"] == "complete"  # it was: the stop came after its results
