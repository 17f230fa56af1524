"""A logger that fails (disk full, a folder it cannot create) is reported once; training goes on."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from loggers_testkit import DiskFullAt, ListHandler, ScriptedPlugin, scripted_recipe

from dialsum_core import hookimpl
from dialsum_core.runner import run_recipe

needs_dev_full = pytest.mark.skipif(
    not (os.path.exists("/dev/full") and os.path.isdir("/proc/self/fd")), reason="needs /dev/full and /proc (Linux)"
)


@pytest.fixture
def plugins(register_plugin):
    return register_plugin(ScriptedPlugin(), "scripted-mode")


def _prepare(tmp_path: Path) -> Path:
    """The experiment folder the run will reuse (``run.name`` is fixed), made before the run."""
    exp = tmp_path / "experiments" / "scripted"
    exp.mkdir(parents=True)
    return exp


@needs_dev_full
def test_jsonl_on_a_full_disk_is_dropped_once_and_the_run_completes(tmp_path: Path, register_plugin) -> None:
    register_plugin(ScriptedPlugin(), "scripted-mode")
    sabotage = DiskFullAt("metrics.jsonl")
    plugins = register_plugin(sabotage, "disk-full")
    exp = tmp_path / "experiments" / "scripted"
    with ListHandler() as seen:
        result = run_recipe(scripted_recipe(tmp_path, ["file", "jsonl", "console"]), plugins)
    assert result.results["status"] == "complete"
    failures = [m for m in seen.messages if "logger 'jsonl' from dialsum-loggers" in m]
    assert len(failures) == 1 and "No space left on device" in failures[0] and "disabled" in failures[0]
    log = (exp / "train.log").read_text(encoding="utf-8")
    assert sabotage.done and log.count("logger 'jsonl' from dialsum-loggers") == 1 and "scripted run done" in log
    assert json.loads((exp / "results.json").read_text(encoding="utf-8"))["status"] == "complete"


@needs_dev_full
def test_file_logger_on_a_full_disk_warns_once_and_restores_the_streams(
    tmp_path: Path, register_plugin, capsys
) -> None:
    import sys

    register_plugin(ScriptedPlugin(), "scripted-mode")
    sabotage = DiskFullAt("train.log")
    plugins = register_plugin(sabotage, "disk-full")
    exp = tmp_path / "experiments" / "scripted"
    streams = sys.stdout, sys.stderr
    with ListHandler() as seen:
        result = run_recipe(scripted_recipe(tmp_path, ["file", "jsonl"]), plugins)
    assert result.results["status"] == "complete" and sabotage.done
    assert [m for m in seen.messages if "logger:file" in m] == [
        next(m for m in seen.messages if "logger:file failed" in m)
    ]
    assert (sys.stdout, sys.stderr) == streams
    assert capsys.readouterr().out.splitlines() == ["fold 0 trained", "fold 1 trained"]
    events = [json.loads(x) for x in (exp / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    assert events[-1]["event"] == "after_run"
    log = (exp / "train.log").read_text(encoding="utf-8")
    assert "fold 0 trained" in log and "fold 1 trained" not in log  # what was written before stays


def test_a_logger_that_cannot_start_is_skipped(tmp_path: Path, plugins) -> None:
    exp = _prepare(tmp_path)
    (exp / "tensorboard").write_text("a file where the logger wants its folder", encoding="utf-8")
    with ListHandler() as seen:
        result = run_recipe(scripted_recipe(tmp_path, ["tensorboard", "jsonl"]), plugins)
    assert result.results["status"] == "complete"
    warnings = [m for m in seen.messages if "logger:tensorboard" in m]
    assert len(warnings) == 1 and "could not start" in warnings[0]
    events = [json.loads(x) for x in (exp / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    assert events[0]["event"] == "before_run" and events[-1]["event"] == "after_run"


@pytest.mark.parametrize(("key", "value"), [("loggers.console.refresh_per_second", float("nan")),
                                            ("loggers.console.max_rows", 0),
                                            ("loggers.jsonl.progress_interval", float("nan")),
                                            ("loggers.tensorboard.flush_secs", -1)])
def test_a_logger_option_out_of_range_is_a_recipe_problem_naming_the_key(key: str, value: float) -> None:
    """NaN is refused too: a NaN refresh rate or interval would make the display or the sampling
    of progress events misbehave for the whole run, silently."""
    from dialsum_core.manager import build_plugins
    from dialsum_core.recipe import Recipe

    plugins = build_plugins()
    recipe = Recipe.from_dict({}, schema=plugins.schema).override((key, value))
    problems = recipe.problems(plugins)
    assert any(f"{key}: must be" in p for p in problems), problems


class CtrlCAt:
    """Presses Ctrl-C when fold ``fold`` starts: a KeyboardInterrupt raised from inside the run."""

    def __init__(self, fold: int = 1):
        self.fold = fold

    @hookimpl(optionalhook=True)
    def dialsum_before_fold(self, fold: int) -> None:
        if fold == self.fold:
            raise KeyboardInterrupt


def test_an_interrupted_run_says_so_everywhere(tmp_path: Path, register_plugin, capsys) -> None:
    register_plugin(ScriptedPlugin(), "scripted-mode")
    plugins = register_plugin(CtrlCAt(), "ctrl-c")
    recipe = scripted_recipe(tmp_path, ["file", "console", "jsonl"], loggers={"console": {"force": True}})
    with pytest.raises(KeyboardInterrupt):
        run_recipe(recipe, plugins)
    exp = tmp_path / "experiments" / "scripted"
    assert json.loads((exp / "results.json").read_text(encoding="utf-8"))["status"] == "interrupted"
    last = json.loads((exp / "metrics.jsonl").read_text(encoding="utf-8").splitlines()[-1])
    assert (last["event"], last["status"]) == ("on_error", "interrupted")
    assert "✗ run interrupted: KeyboardInterrupt" in re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", capsys.readouterr().out)


@pytest.mark.parametrize(("tables", "key", "says"), [
    ({"file": {"filename": "results.json"}}, "loggers.file.filename", "results.json"),
    ({"jsonl": {"filename": "config.toml"}}, "loggers.jsonl.filename", "config.toml"),
    ({"jsonl": {"filename": "./Config.toml"}}, "loggers.jsonl.filename", "config.toml"),
    ({"file": {"filename": "metrics.jsonl"}}, "loggers.jsonl.filename", "loggers.file.filename"),
    ({"file": {"filename": "logs/run.txt"}, "jsonl": {"filename": "logs/run.txt"}}, "loggers.jsonl.filename",
     "loggers.file.filename"),
    # a file in the place of a folder the core makes, or inside a "folder" that is the core's file
    ({"file": {"filename": "predictions"}}, "loggers.file.filename", "the folder predictions/ the core makes"),
    ({"jsonl": {"filename": "Checkpoints"}}, "loggers.jsonl.filename", "the folder checkpoints/ the core makes"),
    ({"jsonl": {"filename": "results.json/m.jsonl"}}, "loggers.jsonl.filename", "a folder named results.json"),
    # the experiment folder itself: the logger could not open it, and the run went on without its log
    ({"file": {"filename": "."}}, "loggers.file.filename", "'.' is the experiment folder itself"),
    ({"jsonl": {"filename": "./"}}, "loggers.jsonl.filename", "'./' is the experiment folder itself"),
    # outside the experiment folder, where `dialsum report` would read it from
    ({"jsonl": {"filename": "../metrics.jsonl"}}, "loggers.jsonl.filename", "inside the experiment folder"),
    ({"jsonl": {"filename": "/tmp/metrics.jsonl"}}, "loggers.jsonl.filename", "inside the experiment folder"),
])
def test_a_log_file_name_the_core_or_the_other_logger_writes_is_refused(tables: dict, key: str, says: str,
                                                                         tmp_path: Path) -> None:
    """A log named ``results.json`` or ``config.toml`` would be overwritten by the core (or overwrite
    it), and two loggers writing one file garble both: refused by check, before anything runs."""
    from dialsum_core.manager import build_plugins
    from dialsum_core.recipe import Recipe

    plugins = build_plugins()

    def problems(loggers: list[str], tables: dict) -> list[str]:
        recipe = Recipe.from_dict({"run": {"mode": "single", "models": ["lead"], "loggers": loggers,
                                           "output_dir": str(tmp_path)}, "loggers": tables})
        return [p for p in recipe.problems(plugins) if ": loggers." in p or ": run." in p]

    found = problems(["file", "console", "jsonl"], tables)
    assert len(found) == 1 and f": {key}: " in found[0] and says in found[0], found
    assert problems(["file", "console", "jsonl"], {"file": {"filename": "run.log"}}) == []
    # one logger alone never clashes with the other's default name
    assert problems(["file"], {"file": {"filename": "metrics.jsonl"}}) == []


@pytest.mark.parametrize(("log_dir", "says"), [
    ("results.json", "where the results.json the core writes goes"),
    ("config.toml/tb", "where the config.toml the core writes goes"),
    ("train.log", "where the log file of loggers.file.filename goes"),
])
def test_a_tensorboard_folder_in_the_place_of_a_file_is_refused_before_the_run(log_dir: str, says: str,
                                                                                tmp_path: Path, plugins) -> None:
    """The event folder named ``results.json`` used to let the run train, then fail writing its results."""
    from dialsum_core.errors import RecipeError

    recipe = scripted_recipe(tmp_path, ["file", "tensorboard"], loggers={"tensorboard": {"log_dir": log_dir}})
    assert any(f"loggers.tensorboard.log_dir: {log_dir!r} makes a folder {says}" in p
               for p in recipe.problems(plugins)), recipe.problems(plugins)
    with pytest.raises(RecipeError, match=r"loggers\.tensorboard\.log_dir"):
        run_recipe(recipe, plugins)
    assert not (tmp_path / "experiments" / "scripted").exists()
    ok = scripted_recipe(tmp_path, ["file", "tensorboard"], loggers={"tensorboard": {"log_dir": "predictions/tb"}})
    assert not [p for p in ok.problems(plugins) if "loggers." in p]


def test_a_logger_listed_twice_is_refused_before_the_run(tmp_path: Path, plugins) -> None:
    """The second copy could not start, and the run ended with an empty metrics.jsonl."""
    from dialsum_core.errors import RecipeError

    recipe = scripted_recipe(tmp_path, ["file", "jsonl", "console", "jsonl"])
    assert [p for p in recipe.problems(plugins) if "run.loggers" in p] == [
        f"{recipe.source}: run.loggers: 'jsonl' listed more than once; list each logger once"]
    with pytest.raises(RecipeError, match=r"run\.loggers: 'jsonl' listed more than once"):
        run_recipe(recipe, plugins)
    assert not (tmp_path / "experiments" / "scripted").exists()
    assert not [p for p in scripted_recipe(tmp_path, ["file", "jsonl"]).problems(plugins) if "run.loggers" in p]
