"""The wandb logger on real runs, offline (``WANDB_MODE=offline``); the API key never reaches a file."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from dialsum_core.runner import run_recipe

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "dialsum-loggers" / "tests"))
from loggers_testkit import ListHandler, ScriptedPlugin, scripted_recipe
from wandb_testkit import *  # noqa: F403 - pytest fixtures
from wandb_testkit import FAKE_KEY, files_containing, settled


@pytest.fixture
def plugins(register_plugin):
    return register_plugin(ScriptedPlugin(), "scripted-mode")


def test_offline_run_is_complete_and_never_writes_the_api_key(tmp_path: Path, wandb_env: Path, plugins) -> None:
    recipe = scripted_recipe(
        tmp_path, ["file", "jsonl", "wandb"],
        loggers={"wandb": {"log_checkpoint": True, "tags": ["ci"], "project": "dialsum-tests"}},
    )
    with ListHandler() as seen:
        result = run_recipe(recipe, plugins)
    assert result.results["status"] == "complete"
    assert not [m for m in seen.messages if "logger 'wandb' from dialsum-wandb" in m], seen.messages
    runs = list((result.experiment / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    run_dir = runs[0]
    record = settled(next(run_dir.glob("run-*.wandb")), b"folds_table")
    for expected in (b"dialsum-tests", b"scripted", b"fold_1/epoch/eval_rouge_mean", b"fold_2/train/loss",
                     b"trials/value", b"folds_table", b"scripted-model", b"ci"):
        assert expected in record, expected
    tables = list((run_dir / "files" / "media" / "table").rglob("*.table.json"))
    prediction = next(t for t in tables if "predictions" in t.name)
    data = json.loads(prediction.read_text(encoding="utf-8"))
    assert data["columns"] == ["fname", "summary"] and len(data["data"]) >= 1
    assert list((run_dir / "files" / "media" / "images").rglob("*.png"))
    assert (run_dir / "files" / "train.log").exists()
    assert files_containing(tmp_path, FAKE_KEY) == []


def test_the_logs_are_attached_under_the_names_the_recipe_gives_them(tmp_path: Path, wandb_env: Path, plugins) -> None:
    """``save_log`` attaches the files the loggers announce, whatever their names."""
    recipe = scripted_recipe(
        tmp_path, ["file", "wandb", "jsonl"],
        loggers={"file": {"filename": "run.log"}, "jsonl": {"filename": "events.jsonl"}, "wandb": {"save_log": True}},
    )
    result = run_recipe(recipe, plugins)
    assert result.results["status"] == "complete"
    files = next((result.experiment / "wandb").glob("offline-run-*")) / "files"
    assert "scripted run done" in (files / "run.log").read_text(encoding="utf-8")
    assert '"event": "before_run"' in (files / "events.jsonl").read_text(encoding="utf-8")
    assert not (files / "train.log").exists() and not (files / "metrics.jsonl").exists()


def test_a_fan_out_job_attaches_the_logs_of_its_own_folder(tmp_path: Path, wandb_env: Path, dialsum_plugins) -> None:
    """A job's loggers write into ``jobs/fold_1/``; the paths they announce are relative to the experiment."""
    recipe = scripted_recipe(tmp_path, ["file", "jsonl", "wandb"], name="fan",
                             run={"mode": "kfold", "ensemble": "majority_vote", "only": ["fold=1"]},
                             modes={"kfold": {"k_folds": 2}})
    job = run_recipe(recipe, dialsum_plugins).experiment / "jobs" / "fold_1"
    files = next((job / "wandb").glob("offline-run-*")) / "files" / "jobs" / "fold_1"
    assert "INFO    experiment " in (files / "train.log").read_text(encoding="utf-8")
    assert (files / "metrics.jsonl").exists()


def test_unreachable_server_disables_wandb_and_the_run_goes_on(
    tmp_path: Path, wandb_env: Path, plugins, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Online mode against a dead server: one warning, the other loggers and the run carry on."""
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")
    recipe = scripted_recipe(tmp_path, ["jsonl", "wandb"], loggers={"wandb": {"mode": "online", "init_timeout": 5}})
    with ListHandler() as seen:
        result = run_recipe(recipe, plugins)
    assert result.results["status"] == "complete"
    warnings = [m for m in seen.messages if "logger 'wandb' from dialsum-wandb" in m]
    assert len(warnings) == 1 and "dialsum_before_run" in warnings[0], warnings
    lines = (result.experiment / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[-1])["event"] == "after_run"
    assert files_containing(tmp_path, FAKE_KEY) == []


def test_bad_options_are_reported_by_check(tmp_path: Path) -> None:
    from dialsum_core.manager import build_plugins
    from dialsum_core.recipe import Recipe

    recipe = Recipe.from_dict({"run": {"loggers": ["wandb"]}, "loggers": {"wandb": {"mode": "sometimes"}}})
    problems = recipe.problems(build_plugins())
    assert any("loggers.wandb.mode" in p for p in problems), problems


@pytest.mark.parametrize(("options", "key", "says"), [
    ({"project": "team/summaries"}, "loggers.wandb.project", "W&B refuses / in a project name"),
    ({"project": "p" * 129}, "loggers.wandb.project", "at most 128 characters, got 129"),
    ({"tags": ["kfold", ""]}, "loggers.wandb.tags", "tag 1 has 0 characters; W&B takes 1 to 64"),
    ({"tags": ["t" * 65]}, "loggers.wandb.tags", "tag 0 has 65 characters"),
])
def test_a_project_or_tag_wandb_refuses_is_reported_by_check(options: dict, key: str, says: str) -> None:
    """W&B refused them when the run started, and the logger was off for the whole run; its own
    settings refuse exactly these values, so check and W&B agree."""
    from wandb.sdk.wandb_settings import Settings

    from dialsum_core.manager import build_plugins
    from dialsum_core.recipe import Recipe

    recipe = Recipe.from_dict({"run": {"loggers": ["wandb"]}, "loggers": {"wandb": options}})
    problems = recipe.problems(build_plugins())
    assert any(f"{key}: " in p and says in p for p in problems), problems
    settings = {"project": options["project"]} if "project" in options else {"run_tags": tuple(options["tags"])}
    with pytest.raises(Exception, match=r"project name|Tag"):
        Settings(**settings)
    good = Recipe.from_dict({"run": {"loggers": ["wandb"]},
                             "loggers": {"wandb": {"project": "p" * 128, "tags": ["한국어", "t" * 64]}}})
    assert not [p for p in good.problems(build_plugins()) if "loggers.wandb" in p]
    Settings(project="p" * 128, run_tags=("한국어", "t" * 64))


def test_a_log_file_in_the_place_of_the_wandb_folder_is_refused_by_check() -> None:
    """W&B writes its run under ``wandb/`` in the experiment folder: a log file of that name made it
    fail to start (NotADirectoryError) and the run went on without it."""
    from dialsum_core.manager import build_plugins
    from dialsum_core.recipe import Recipe

    plugins = build_plugins()

    def problems(loggers: list[str], tables: dict) -> list[str]:
        recipe = Recipe.from_dict({"run": {"loggers": loggers}, "loggers": tables})
        return [p for p in recipe.problems(plugins) if "wandb" in p]

    for key, name in (("file", "wandb"), ("jsonl", "./WandB")):
        (line,) = problems(["file", "jsonl", "wandb"], {key: {"filename": name}})
        assert line.endswith(f"loggers.{key}.filename: {name!r} is the folder wandb/ the wandb logger writes its "
                             "run in; name the log file otherwise"), line
    # a log inside that folder, or named so without the wandb logger: fine
    assert problems(["file", "jsonl", "wandb"], {"jsonl": {"filename": "wandb/m.jsonl"}}) == []
    assert problems(["file", "jsonl"], {"file": {"filename": "wandb"}}) == []


def test_plugin_module_does_not_import_wandb() -> None:
    import subprocess

    code = "import sys, dialsum_wandb.plugin; print('wandb' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env={**os.environ})
    assert out.stdout.strip() == "False"


def test_the_logger_stays_valid_without_the_modes_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its fold and trial methods implement events of dialsum-modes: optional, so with that plugin
    disabled the logger still loads and starts."""
    from dialsum_core.context import RunContext
    from dialsum_core.events import Events
    from dialsum_core.experiment import Experiment
    from dialsum_core.manager import build_plugins, check_pending

    monkeypatch.setenv("DIALSUM_DISABLE_PLUGINS", "modes")
    plugins = build_plugins()
    assert plugins.broken == [] and "wandb" in plugins.infos and "dialsum_after_trial" not in plugins.hook_owners
    ctx = RunContext(recipe=scripted_recipe(tmp_path, ["wandb"]), plugins=plugins,
                     experiment=Experiment.create(tmp_path, "x"), events=Events(plugins.pm))
    plugins.pm.register(ctx.build("loggers", "wandb"), name="logger:wandb")
    check_pending(plugins)
    assert plugins.broken == [] and plugins.pm.get_plugin("logger:wandb") is not None
