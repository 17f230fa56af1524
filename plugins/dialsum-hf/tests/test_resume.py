"""Exact resume: a training process killed for real (SIGKILL) and resumed ends like an uninterrupted one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dialsum_core.errors import DialsumError
from dialsum_hf.training import resolve_checkpoint

DRIVER = Path(__file__).with_name("resume_driver.py")


def _run(*args: object) -> None:
    subprocess.run([sys.executable, str(DRIVER), *map(str, args)], check=True, capture_output=True, timeout=300)


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_metrics(data_dir: Path) -> None:
    _run(data_dir, data_dir / "full", data_dir / "full.json")

    killed = subprocess.Popen([sys.executable, str(DRIVER), data_dir, data_dir / "killed", data_dir / "killed.json"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    second = data_dir / "killed" / "checkpoints" / "checkpoint-12" / "trainer_state.json"  # end of epoch 2 of 4
    deadline = time.time() + 240
    while not second.exists() and killed.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    assert killed.returncode == -signal.SIGKILL and not (data_dir / "killed.json").exists()

    _run(data_dir, data_dir / "resumed", data_dir / "resumed.json", data_dir / "killed")
    full = json.loads((data_dir / "full.json").read_text(encoding="utf-8"))
    resumed = json.loads((data_dir / "resumed.json").read_text(encoding="utf-8"))
    assert full.pop("epochs_begun") == [1, 2, 3, 4]
    begun = resumed.pop("epochs_begun")
    assert begun and begun[0] >= 3 and begun == list(range(begun[0], 5))  # it resumed, it did not start over
    assert len(full["history"]) == 4
    assert resumed == full  # every epoch's loss and scores, the best metric and the predictions


def test_resume_from_names_a_missing_or_empty_folder(context, tmp_path: Path) -> None:
    with pytest.raises(DialsumError, match="does not exist"):
        resolve_checkpoint(context({"run": {"resume_from": str(tmp_path / "nope")}}))
    (tmp_path / "empty" / "checkpoint-3").mkdir(parents=True)  # killed while writing: no trainer_state.json
    with pytest.raises(DialsumError, match="no complete checkpoint"):
        resolve_checkpoint(context({"run": {"resume_from": str(tmp_path / "empty")}}))
    # the seed's tip names its file checkpoints/last.pt: dialsum's checkpoints/last is a folder
    (tmp_path / "checkpoints" / "last").mkdir(parents=True)
    with pytest.raises(DialsumError, match=r"last\.pt does not exist; checkpoints are folders here: .*/last$"):
        resolve_checkpoint(context({"run": {"resume_from": str(tmp_path / "checkpoints" / "last.pt")}}))


def test_check_refuses_a_resume_from_the_run_would_refuse(tmp_path: Path) -> None:
    """Found by ``dialsum check``, before any experiment folder, not when training starts."""
    from dialsum_core.manager import build_plugins
    from dialsum_core.recipe import Recipe

    plugins = build_plugins()
    (tmp_path / "empty" / "checkpoint-3").mkdir(parents=True)
    for folder, message in (("nope", "does not exist"), ("empty", "no complete checkpoint")):
        recipe = Recipe.from_dict({"run": {"resume_from": str(tmp_path / folder)}}, schema=plugins.schema)
        problems = recipe.problems(plugins)
        assert any("run.resume_from:" in p and message in p for p in problems), problems
    (tmp_path / "empty" / "checkpoint-3" / "trainer_state.json").write_text('{"global_step": 3}', encoding="utf-8")
    ok = Recipe.from_dict({"run": {"resume_from": str(tmp_path / "empty")}}, schema=plugins.schema)
    assert not any("resume_from" in p for p in ok.problems(plugins))


def test_resume_from_is_checked_for_the_models_these_loaders_build_whoever_registered_them(tmp_path: Path) -> None:
    """The check refused a ``run.resume_from`` folder of another layout for a run of another package's loader
    (which reads the key its own way, or not at all); a preset another package registers on these loaders'
    options is built here, reads the key, and is still checked (the models are told by options class)."""
    from dialsum_core import hookimpl
    from dialsum_core.manager import build_plugins
    from dialsum_core.recipe import Recipe
    from dialsum_hf.plugin import PretrainedOptions, make_pretrained

    class Presets:
        @hookimpl
        def dialsum_register_model_loaders(self, register):
            register("my-bart", lambda o, c: make_pretrained(o, c, name="my-bart", family="seq2seq"),
                     options=PretrainedOptions, description="a preset of another package")

    plugins = build_plugins(extra=[("my-presets", Presets())])
    assert plugins.require("model_loaders", "my-bart").distribution != "dialsum-hf"
    (tmp_path / "theirs").mkdir()
    for model, refused in (("lead", False), ("my-bart", True)):
        recipe = Recipe.from_dict({"run": {"models": [model], "resume_from": str(tmp_path / "theirs")}},
                                  schema=plugins.schema)
        problems = [p for p in recipe.problems(plugins) if "run.resume_from" in p]
        assert bool(problems) is refused, (model, problems)


def test_resume_with_another_batch_size_is_refused_not_run_as_trained(context, tmp_path: Path) -> None:
    """The Trainer resumes by step count: a checkpoint of epoch 1 at batch 8 (step 45) resumed by a
    3-epoch run at batch 64 (run.auto_batch: 18 steps in all) trained nothing and reported the
    checkpoint's scores as the run's. The run says why and stops before training."""
    first = context({"train": {"epochs": 1, "batch_size": 8}}, name="first")
    data = first.data()
    model = first.build("model_loaders", "scratch").build(first, data.train)
    fit = model.fit(data.train, data.valid, first, tmp_path / "first")
    assert fit.details["global_step"] == 3  # 24 dialogues, batch 8

    again = context({"train": {"epochs": 2, "batch_size": 4}, "run": {"resume_from": str(tmp_path / "first")}},
                    name="again")
    model = again.build("model_loaders", "scratch").build(again, again.data().train)
    with pytest.raises(DialsumError, match=r"trained 3 optimiser steps per epoch at batch size 8, this run makes 6 "
                                           r"\(batch size 4\), so its step 3 \(epoch 1\)"):
        model.fit(again.data().train, again.data().valid, again, tmp_path / "again")
    assert not list((tmp_path / "again").glob("checkpoint-*"))  # stopped before a step was trained

    same = context({"train": {"epochs": 2, "batch_size": 8}, "run": {"resume_from": str(tmp_path / "first")}},
                   name="same")
    model = same.build("model_loaders", "scratch").build(same, same.data().train)
    resumed = model.fit(same.data().train, same.data().valid, same, tmp_path / "same")
    assert resumed.details["global_step"] == 6 and resumed.history[-1]["epoch"] == 2  # it trained epoch 2


def test_a_launch_counts_the_steps_of_each_process(tmp_path: Path) -> None:
    """Under a launch of 2 processes at batch 4, 24 dialogues make 3 steps per epoch in each: a
    checkpoint of that launch (step 3, epoch 1) resumes there, and is refused by one process at batch 4."""
    from dialsum_hf.resume import steps_mismatch, steps_per_process

    (tmp_path / "checkpoint-3").mkdir()
    (tmp_path / "checkpoint-3" / "trainer_state.json").write_text(
        json.dumps({"global_step": 3, "epoch": 1.0, "train_batch_size": 4}), encoding="utf-8")
    assert steps_per_process(24, 4, 1, 2) == 3 and steps_per_process(24, 4, 1, 1) == 6
    assert steps_mismatch(tmp_path / "checkpoint-3", steps_per_process(24, 4, 1, 2), 4) == ""
    assert "trained 3 optimiser steps per epoch at batch size 4, this run makes 6" in \
        steps_mismatch(tmp_path / "checkpoint-3", steps_per_process(24, 4, 1, 1), 4)
    assert steps_per_process(25, 4, 2, 1) == 4  # a last, shorter step counts
