"""``dialsum launch``: a real two-process launch on CPU (gloo backend), one thread per process.

Data-parallel training goes through transformers' Trainer; the experiment folder is written by
rank 0 only; generation is sharded over the processes and gathered in input order, so the
predictions are those one process makes from the same checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dialsum_launch.launch import free_port

from .conftest import LEAD_KFOLD, OPTUNA, TINY_SCRATCH, dialsum, read_json, read_rows, write_recipe

SCRATCH = """
[run]
mode = "single"
models = ["scratch"]
seed = 7
loggers = ["file", "jsonl"]
metrics = ["rouge"]

[metrics.rouge]
tokenizer = "whitespace"  # what is tested is not the score

[data]
max_length = 64
max_target_length = 24

[train]
epochs = 1
batch_size = 8
# Small steps keep the model close to its random start, so its summaries still differ per dialogue.
learning_rate = 1e-4
warmup_ratio = 0.0
logging_steps = 1
save_training_state = true  # the resume state (one RNG file per process) is checked below

[generation]
num_beams = 2
max_new_tokens = 8
min_new_tokens = 1
batch_size = 4
""" + TINY_SCRATCH



def _files(exp: Path) -> list[str]:
    """The experiment's files outside checkpoints/, relative to it."""
    return sorted(str(p.relative_to(exp)) for p in exp.rglob("*") if p.is_file() and "checkpoints" not in p.parts)


def _assert_written_once(exp: Path, stdout: str) -> None:
    """One run's worth of logs and events: rank 1 wrote nothing."""
    log = (exp / "train.log").read_text(encoding="utf-8").splitlines()
    for marker in (" experiment /", " data: "):
        assert sum(marker in line for line in log) == 1, (marker, log[:20])
    events = [json.loads(line)["event"] for line in (exp / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    assert events.count("before_run") == 1 and events.count("after_run") == 1
    assert stdout.count("results: ") == 1


def _one_process_predictions(exp: Path, checkpoint: Path, dialogues: list[str]) -> list[str]:
    """The checkpoint loaded and run in this (single) process, with the run's own resolved recipe."""
    from dialsum_core.context import RunContext
    from dialsum_core.events import Events
    from dialsum_core.experiment import Experiment
    from dialsum_core.manager import build_plugins
    from dialsum_core.recipe import load_recipe

    recipe = load_recipe(exp / "config.toml")
    plugins = build_plugins()
    ctx = RunContext(recipe=recipe, plugins=plugins, experiment=Experiment(exp), events=Events(plugins.pm))
    model = ctx.build("model_loaders", "scratch").load(ctx, checkpoint)
    return list(model.generate(dialogues, ctx))


@pytest.mark.slow  # two processes import torch and train on 2 CPU threads: about a minute
def test_torchrun_two_processes_train_write_once_and_predict_as_one(small_data: Path, tmp_path: Path) -> None:
    recipe = write_recipe(tmp_path / "scratch.toml", small_data, SCRATCH)
    out = dialsum("launch", str(recipe), "--set", f"run.output_dir={tmp_path / 'exp'}", "--set", "run.name=ddp",
                  "--launcher", "torchrun", "--num-processes", "2", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-4000:]
    assert [p.name for p in (tmp_path / "exp").iterdir()] == ["ddp"]
    exp = tmp_path / "exp" / "ddp"
    assert _files(exp) == ["config.toml", "metrics.jsonl", "predictions/submission.csv",
                           "predictions/test_predictions.csv", "predictions/valid_predictions.csv", "results.json",
                           "stages/sources/scratch.json", "train.log"]
    _assert_written_once(exp, out.stdout)
    results = read_json(exp / "results.json")
    assert results["status"] == "complete"

    # Two processes trained together: one RNG state each in the checkpoint, and 40 dialogues in
    # batches of 8 per process make 3 optimisation steps (5 for one process).
    checkpoint = Path(results["models_results"]["scratch"]["checkpoint"])
    assert sorted(p.name for p in checkpoint.glob("rng_state*.pth")) == ["rng_state_0.pth", "rng_state_1.pth"]
    assert read_json(checkpoint / "trainer_state.json")["global_step"] == 3

    # Sharded generation, gathered in order == one process generating from the same checkpoint.
    valid = read_rows(exp / "predictions" / "valid_predictions.csv")
    test = read_rows(exp / "predictions" / "test_predictions.csv")
    sharded = [r["summary"] for r in valid] + [r["summary"] for r in test]
    dialogues = [r["dialogue"] for r in read_rows(small_data / "dev.csv")]
    dialogues += [r["dialogue"] for r in read_rows(small_data / "test.csv")]
    assert [r["fname"] for r in test] == [r["fname"] for r in read_rows(small_data / "test.csv")]
    assert _one_process_predictions(exp, checkpoint, dialogues) == sharded
    # Rank 0 decoded only its half of each split (its own progress events say so). A model this
    # small says the same for every dialogue; the k-fold test below checks the order with an
    # extractive model whose summaries all differ.
    assert _generated_totals(exp) == {5, 4}  # 10 validation, 8 test dialogues over 2 processes


def _generated_totals(exp: Path) -> set[int]:
    events = [json.loads(line) for line in (exp / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    return {e["total"] for e in events if e["event"] == "on_progress" and e["task"] == "generate"}


# What `accelerate config` writes; a DeepSpeed or FSDP configuration is passed the same way.
ACCELERATE_CONFIG = """compute_environment: LOCAL_MACHINE
distributed_type: MULTI_GPU
num_machines: 1
num_processes: 2
machine_rank: 0
gpu_ids: all
mixed_precision: "no"
main_process_port: {port}
"""


@pytest.mark.slow  # two processes start and run three folds: about half a minute
def test_accelerate_launch_with_a_config_file_runs_a_kfold_as_one_process_does(small_data: Path,
                                                                               tmp_path: Path) -> None:
    recipe = write_recipe(tmp_path / "lead.toml", small_data, LEAD_KFOLD)
    config = tmp_path / "accelerate.yaml"
    config.write_text(ACCELERATE_CONFIG.format(port=free_port()), encoding="utf-8")
    args = ("run", str(recipe), "--set", f"run.output_dir={tmp_path / 'exp'}")
    # the number of processes comes from the configuration file: it reached the launcher
    out = dialsum("launch", *args[1:], "--set", "run.name=two", "--launcher", "accelerate", "--launcher-args",
                  f"--config_file {config}", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-4000:]
    assert "launch: 2 processes" in (tmp_path / "exp" / "two" / "train.log").read_text(encoding="utf-8")
    one = dialsum(*args, "--set", "run.name=one", cwd=tmp_path)
    assert one.returncode == 0, one.stderr[-4000:]
    two_exp, one_exp = tmp_path / "exp" / "two", tmp_path / "exp" / "one"
    _assert_written_once(two_exp, out.stdout)
    assert _files(two_exp) == _files(one_exp)
    for name in ("submission.csv", "valid_predictions.csv", "oof_predictions.csv"):
        assert read_rows(two_exp / "predictions" / name) == read_rows(one_exp / "predictions" / name)
    submission = [r["summary"] for r in read_rows(two_exp / "predictions" / "submission.csv")]
    assert len(set(submission)) == len(submission)  # a shard gathered out of order would show
    two, one_res = read_json(two_exp / "results.json"), read_json(one_exp / "results.json")
    assert two["valid"] == one_res["valid"] and two["cv"] == one_res["cv"]



@pytest.mark.slow  # two processes start and run three trials together: about half a minute
def test_torchrun_optuna_trains_each_trial_with_every_process(small_data: Path, tmp_path: Path) -> None:
    import optuna

    recipe = write_recipe(tmp_path / "optuna.toml", small_data,
                          OPTUNA.format(model="lead", trials=3, n_jobs=2, storage=""))
    out = dialsum("launch", str(recipe), "--set", f"run.output_dir={tmp_path / 'exp'}", "--set", "run.name=study",
                  "--launcher", "torchrun", "--num-processes", "2", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-4000:]
    exp = tmp_path / "exp" / "study"
    _assert_written_once(exp, out.stdout)
    log = (exp / "train.log").read_text(encoding="utf-8")
    assert "launch: 2 processes" in log and "one trial at a time together (n_jobs = 1)" in log
    # rank 0 alone talks to the study; the other process followed each trial (the sharded
    # generation inside a trial needs both, so a process that ran another trial would hang)
    trials = optuna.load_study(study_name="shared", storage=f"sqlite:///{exp / 'optuna' / 'study.db'}").get_trials()
    assert [t.number for t in trials] == [0, 1, 2]
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    assert read_json(exp / "results.json")["optuna"]["n_trials"] == 3
