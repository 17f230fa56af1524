"""``optuna``: search space from the recipe, pruning on per-epoch ROUGE, resumable study, best recipe."""

from __future__ import annotations

import csv
import json
from typing import Any

import optuna
import pytest
from modes_fixtures import *  # noqa: F403 - pytest fixtures
from modes_helpers import read_csv, results

from dialsum_core import hookimpl
from dialsum_core.errors import DialsumError
from dialsum_core.recipe import load_recipe

SPACE = (
    ("modes.optuna.space.\"model.max_turns\"", {"type": "int", "low": 1, "high": 4}),
    ("modes.optuna.space.\"model.strip_speaker\"", {"type": "categorical", "choices": [True, False]}),
)


def _study(res, name: str = "exp") -> optuna.Study:
    return optuna.load_study(study_name=name, storage=f"sqlite:///{res.experiment / 'optuna' / 'study.db'}")


def test_optuna_finds_best_params_writes_a_runnable_best_recipe_and_resumes(make_recipe, run) -> None:
    recipe = make_recipe(*SPACE, ("modes.optuna.trials", 3), ("modes.optuna.sampler", "random"),
                         ("modes.optuna.pruner", "none"), mode="optuna", models=["growing"],
                         save_visualizations=True)
    recipe = recipe.override(("train.epochs", 2))
    res = run(recipe)
    out = results(res)
    opt = out["optuna"]
    assert opt["n_trials"] == 3 and opt["complete"] == 3
    values = [t["value"] for t in opt["trials"]]
    assert opt["best_value"] == max(values) and out["best_rouge"] == round(max(values), 4)
    best = json.loads((res.experiment / "optuna" / "best_params.json").read_text())
    assert best["params"] == out["best_params"] and set(best["params"]) == {"model.max_turns", "model.strip_speaker"}
    assert sorted(p.name for p in (res.experiment / "optuna").iterdir()) == [
        "best_params.json", "best_recipe.toml", "study.db"]  # no study.db.lock left behind
    for name in ("optuna_history", "optuna_importances"):
        assert (res.experiment / "visualizations" / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    # the best recipe runs directly, in single mode, and reproduces the best trial's score
    best_recipe = load_recipe(res.experiment / "optuna" / "best_recipe.toml", ["run.name=best"])
    assert best_recipe.run.mode == "single"
    assert best_recipe.models["growing"]["max_turns"] == best["params"]["model.max_turns"]
    again = results(run(best_recipe))
    assert again["best_rouge"] == pytest.approx(best["value"], abs=1e-4)
    # re-running the same experiment resumes the study: 3 trials kept, 1 more run
    run(recipe.override(("modes.optuna.trials", 4)))
    trials = _study(res).get_trials()
    assert len(trials) == 4 and [t.params for t in trials[:3]] == [t["params"] for t in opt["trials"]]


def test_a_re_run_with_another_recipe_is_refused_before_it_touches_the_study(make_recipe, run, plugins) -> None:
    """A re-run under the same run.name resumes the study only with its recipe: with another space it
    ran no trial and reported the old space's best parameters in best_recipe.toml."""
    recipe = make_recipe(SPACE[0], ("modes.optuna.trials", 2), ("modes.optuna.sampler", "random"),
                         ("modes.optuna.pruner", "none"), mode="optuna", models=["growing"])
    res = run(recipe)
    written = {name: (res.experiment / name).read_bytes() for name in ("config.toml", "results.json")}
    # what a trial does not read may change: more trials, another sampler, the models of later stages
    more = recipe.override(("modes.optuna.trials", 3), ("modes.optuna.sampler", "tpe"),
                           ("run.models", ["growing", "lead"]))
    assert not more.problems(plugins)
    assert len(_study(res).get_trials()) == 2
    other = recipe.override(SPACE[1])
    problems = other.problems(plugins)
    assert len(problems) == 1 and ": modes.optuna: the study 'exp' in " in problems[0]
    assert "was run with another recipe" in problems[0]
    with pytest.raises(DialsumError, match="was run with another recipe"):
        run(other)
    assert {name: (res.experiment / name).read_bytes() for name in written} == written
    assert len(_study(res).get_trials()) == 2
    assert not recipe.override(SPACE[1], ("modes.optuna.study_name", "second")).problems(plugins)


def test_optuna_prunes_on_per_epoch_rouge_and_stops_training(make_recipe, run, register_plugin) -> None:
    epochs_seen: dict[int, int] = {}

    class Watch:
        @hookimpl
        def dialsum_after_epoch(self, ctx, epoch):
            trial = ctx.trial.number
            epochs_seen[trial] = max(epochs_seen.get(trial, 0), epoch)

    register_plugin(Watch(), "watch-epochs")
    recipe = make_recipe(("modes.optuna.space.\"model.strip_speaker\"", {"type": "categorical",
                                                                         "choices": [False, True]}),
                         ("modes.optuna.trials", 6), ("modes.optuna.sampler", "random"),
                         ("modes.optuna.pruner", "median"), mode="optuna", models=["growing"])
    res = run(recipe.override(("train.epochs", 4)))
    out = results(res)["optuna"]
    assert out["pruned"] >= 1 and out["complete"] >= 2
    for t in _study(res).get_trials():
        if t.state == optuna.trial.TrialState.PRUNED:
            assert len(t.intermediate_values) < 4
            assert epochs_seen[t.number] == max(t.intermediate_values) < 4  # training stopped there
        else:
            assert epochs_seen[t.number] == 4 and sorted(t.intermediate_values) == [1, 2, 3, 4]


@pytest.mark.parametrize(("sampler", "pruner"), [("tpe", "percentile"), ("gp", "hyperband"),
                                                 ("cmaes", "median"), ("random", "none")])
def test_every_sampler_and_pruner_runs(make_recipe, run, sampler, pruner) -> None:
    recipe = make_recipe(("modes.optuna.space.\"model.max_turns\"", {"type": "int", "low": 1, "high": 4}),
                         ("modes.optuna.space.\"generation.temperature\"",
                          {"type": "float", "low": 0.1, "high": 1.0, "log": True}),
                         ("modes.optuna.trials", 3), ("modes.optuna.sampler", sampler),
                         ("modes.optuna.pruner", pruner), mode="optuna", models=["growing"])
    out = results(run(recipe.override(("train.epochs", 2))))
    assert out["optuna"]["sampler"] == sampler and out["optuna"]["n_trials"] == 3
    assert 0.1 <= out["best_params"]["generation.temperature"] <= 1.0


def test_debug_runs_few_trials_of_one_epoch(make_recipe, run, caplog) -> None:
    recipe = make_recipe(*SPACE, ("modes.optuna.trials", 50), ("data.debug_samples", 8), mode="optuna",
                         models=["growing"], debug=True).override(("train.epochs", 5))
    with caplog.at_level("INFO", logger="dialsum"):
        out = results(run(recipe))
    assert out["optuna"]["n_trials"] == 3
    assert "debug: 3 trials instead of 50" in caplog.text  # said, as the debug epochs are: 50 did not run
    assert all(len(t["params"]) == 2 for t in out["optuna"]["trials"])


def test_a_history_entry_names_its_scores_by_the_protocols_rule() -> None:
    """``FitResult.history`` holds validation score ``S`` as ``eval_S``; ``ctx.trial.report`` gets them bare.
    Pruning and the learning curves read both through one function."""
    from dialsum_modes import toolkit

    assert toolkit.epoch_score({"epoch": 2, "eval_rouge_mean": 0.3, "rouge_mean": 0.1}, "rouge_mean") == 0.3
    assert toolkit.epoch_score({"rouge_mean": 0.25}, "rouge_mean") == 0.25
    assert toolkit.epoch_score({"eval_rouge_mean": True, "loss": 1.0}, "rouge_mean") is None


def test_a_study_with_the_largest_seed_runs_every_trial(make_recipe, run) -> None:
    """``run.seed`` may be 2**32 - 1; the sampler of each later trial is seeded with it plus the
    trials done, which Optuna refused after the first trial had trained."""
    recipe = make_recipe(*SPACE, ("modes.optuna.trials", 3), ("modes.optuna.pruner", "none"), mode="optuna",
                         models=["growing"], seed=2 ** 32 - 1)
    out = results(run(recipe))
    assert out["optuna"]["n_trials"] == 3 and out["optuna"]["complete"] == 3


def test_an_int_parameters_bounds_are_written_as_ints(make_recipe, plugins, tmp_path) -> None:
    """The resolved recipe (the run's ``config.toml``) writes an ``int`` parameter's bounds and step
    as the integers they are; a ``float`` parameter's stay floats."""
    import tomllib

    from dialsum_core.recipe import write_recipe
    from dialsum_core.runner import resolve

    recipe = make_recipe(("modes.optuna.space.\"model.max_turns\"", {"type": "int", "low": 1, "high": 4, "step": 1}),
                         ("modes.optuna.space.\"train.learning_rate\"", {"low": 1e-5, "high": 1e-3}),
                         mode="optuna", models=["growing"])
    text = write_recipe(resolve(recipe, plugins, "exp"), tmp_path / "config.toml").read_text(encoding="utf-8")
    space = tomllib.loads(text)["modes"]["optuna"]["space"]
    assert {k: space["model.max_turns"][k] for k in ("low", "high", "step")} == {"low": 1, "high": 4, "step": 1}
    assert all(type(space["model.max_turns"][k]) is int for k in ("low", "high", "step")), text
    assert "low = 1\n" in text and "high = 4\n" in text
    assert type(space["train.learning_rate"]["high"]) is float
    assert load_recipe(tmp_path / "config.toml").validate(plugins)  # and it runs again as written


#: A study run in a process of its own, with the test plugins; Ctrl-C ends it as the CLI does (130).
_STUDY = """
import sys
sys.path.insert(0, sys.argv[1])
from modes_helpers import TestPlugins
from dialsum_core.manager import build_plugins
from dialsum_core.recipe import load_recipe
from dialsum_core.runner import run_recipe

plugins = build_plugins()
plugins.add(TestPlugins(), "modes-test-plugins")
try:
    run_recipe(load_recipe(sys.argv[2]), plugins)
except KeyboardInterrupt:
    sys.exit(130)
"""


def test_ctrl_c_in_a_trial_prints_no_traceback_and_the_re_run_runs_the_trial_again(make_recipe, run,
                                                                                   tmp_path) -> None:
    """Optuna logged the interrupted trial with its whole traceback on the console; the run says
    ``interrupted`` once and its log file keeps the traceback. The re-run queues the trial again."""
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from dialsum_core.recipe import write_recipe

    started, go = tmp_path / "started", tmp_path / "go"
    recipe = make_recipe(("modes.optuna.space.\"generation.temperature\"", {"type": "float", "low": 0.5, "high": 1.0}),
                         ("modes.optuna.trials", 2), ("modes.optuna.pruner", "none"),
                         ("models.waiting.started", str(started)), ("models.waiting.go", str(go)),
                         mode="optuna", models=["waiting"], loggers=["file"])
    proc = subprocess.Popen([sys.executable, "-c", _STUDY, str(Path(__file__).parent),
                             str(write_recipe(recipe, tmp_path / "study.toml"))],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not started.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert started.exists(), "the first trial did not start training"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert "Traceback" not in err and "Trial 0 failed" in err
    experiment = Path(recipe.run.output_dir) / "exp"
    assert json.loads((experiment / "results.json").read_text())["status"] == "interrupted"
    assert "Traceback" in (experiment / "train.log").read_text()
    go.touch()
    out = results(run(recipe))["optuna"]
    assert out["complete"] == 2 and [t["state"] for t in out["trials"]] == ["fail", "complete", "complete"]


def test_a_second_process_on_the_experiments_study_waits_instead_of_failing_the_first(make_recipe,
                                                                                       tmp_path) -> None:
    """The fan-out jobs of a full run each run the study stage on the experiment's own study: the
    second took the first's running trial for an abandoned one and marked it failed, and the first
    then failed with a traceback (``Cannot tell a FAIL trial``). It now waits, then reuses the study."""
    import subprocess
    import sys
    import time
    from pathlib import Path

    from dialsum_core.recipe import write_recipe

    started, go = tmp_path / "started", tmp_path / "go"
    recipe = make_recipe(("modes.optuna.space.\"generation.temperature\"", {"type": "float", "low": 0.5, "high": 1.0}),
                         ("modes.optuna.trials", 1), ("modes.optuna.pruner", "none"),
                         ("models.waiting.started", str(started)), ("models.waiting.go", str(go)),
                         mode="optuna", models=["waiting"], loggers=["file"])
    path = write_recipe(recipe, tmp_path / "study.toml")
    log = Path(recipe.run.output_dir) / "exp" / "train.log"

    def start() -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-c", _STUDY, str(Path(__file__).parent), str(path)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def wait_for(found: Any) -> None:
        deadline = time.monotonic() + 120
        while not found() and time.monotonic() < deadline:
            time.sleep(0.05)

    first = start()
    second = None
    try:
        wait_for(started.exists)
        assert started.exists(), "the first trial did not start training"
        second = start()
        wait_for(lambda: any(m in (log.read_text() if log.exists() else "") for m in (
            "waiting for it to end", "left running by an interrupted run")))
        go.touch()
        outcomes = [(p.wait(timeout=120), p.stderr.read()) for p in (first, second)]
    finally:
        for p in (first, second):
            if p is not None:
                p.kill()
    assert [rc for rc, _ in outcomes] == [0, 0], outcomes
    assert "waiting for it to end to reuse it" in log.read_text()
    trials = optuna.load_study(study_name="exp", storage=f"sqlite:///{log.parent / 'optuna' / 'study.db'}").trials
    assert [t.state.name for t in trials] == ["COMPLETE"]
    assert sorted(p.name for p in (log.parent / "optuna").iterdir()) == [
        "best_params.json", "best_recipe.toml", "study.db"]


def test_run_resume_from_is_refused_in_the_optuna_mode_and_left_alone_by_a_full_jobs_trials(
        make_recipe, run, plugins, register_plugin, tmp_path) -> None:
    """Every trial resumed from ``run.resume_from``: one of another width failed with a traceback
    (``Error(s) in loading state_dict``), one of the same width continued the checkpoint's training
    instead of training with the values it drew. In a full run's job it names a fold's checkpoint."""
    fold = tmp_path / "old" / "checkpoints" / "lead" / "fold1"
    (fold / "checkpoint-1").mkdir(parents=True)
    (fold / "checkpoint-1" / "trainer_state.json").write_text("{}")
    space = ("modes.optuna.space.\"model.max_turns\"", {"type": "int", "low": 1, "high": 3})
    study = make_recipe(space, ("modes.optuna.trials", 2), mode="optuna", models=["lead"], resume_from=str(fold))
    assert any(p.split(": ", 2)[1] == "run.resume_from" and "every trial" in p for p in study.problems(plugins))
    seen: list[str] = []

    class Watch:
        @hookimpl
        def dialsum_before_trial(self, ctx, trial):
            seen.append(ctx.recipe.run.resume_from)

    register_plugin(Watch(), "watch-trials")
    job = make_recipe(space, ("modes.optuna.trials", 2), ("modes.kfold.k_folds", 2), mode="full", models=["lead"],
                      only=["fold=1"], resume_from=str(fold), ensemble="rouge_weighted")
    assert not job.problems(plugins)
    run(job)
    assert seen == ["", ""]


def test_the_best_recipe_of_a_full_runs_fan_out_job_runs(make_recipe, run, plugins) -> None:
    """The job's run.only (``fold=1``) and the fold ensemble's weights went into best_recipe.toml,
    whose single mode has no folds and combines nothing: ``dialsum run best_recipe.toml`` was refused."""
    space = ("modes.optuna.space.\"model.max_turns\"", {"type": "int", "low": 1, "high": 3})
    job = make_recipe(space, ("modes.optuna.trials", 2), ("modes.kfold.k_folds", 2), mode="full",
                      models=["lead", "lead1"], only=["fold=1"], ensemble="rouge_weighted", ensemble_weights=[1.0, 2.0])
    res = run(job)
    best = load_recipe(res.experiment / "optuna" / "best_recipe.toml", ["run.name=best"])
    assert best.run.mode == "single" and best.run.models == ["lead"]
    assert best.run.only == [] and best.run.ensemble_weights == []
    assert not best.problems(plugins)
    assert results(run(best))["status"] == "complete"


def test_a_full_run_resumes_the_study_its_recipe_ran_alone_in_the_optuna_mode(make_recipe, run, plugins) -> None:
    """docs/scaling.md: run a full recipe's study first with run.mode = optuna; the full run (other
    mode, its k-fold options) is the same recipe for the study, which it resumes with no new trial."""
    space = ("modes.optuna.space.\"model.max_turns\"", {"type": "int", "low": 1, "high": 3})
    study = make_recipe(space, ("modes.optuna.trials", 2), ("modes.kfold.k_folds", 2), mode="optuna",
                        models=["lead", "lead1"], ensemble="rouge_weighted", use_cache=True)
    res = run(study)
    full = study.override(("run.mode", "full"))
    assert not full.problems(plugins)
    out = results(run(full))
    assert out["status"] == "complete" and out["stages"]["optuna"]["n_trials"] == 2
    assert len(_study(res).get_trials()) == 2


class _CountingPlugin:
    """A lead model that records how many dialogues each of its trainings got."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    @hookimpl
    def dialsum_register_model_loaders(self, register: Any) -> None:
        from dialsum_lead.model import LeadLoader
        from dialsum_lead.plugin import LeadOptions

        sizes = self.sizes

        class Counting(LeadLoader):
            def build(self, ctx: Any, train: Any) -> Any:
                sizes.append(len(train))
                return super().build(ctx, train)

        register("counting", lambda o, c: Counting(o), options=LeadOptions, description="lead, counting")


@pytest.mark.parametrize(("mode", "sizes"), [("optuna", [12]), ("full", [12, 6, 6])])
def test_a_tuned_data_file_is_read_from_the_recipes_folder_by_each_trial(make_recipe, plugins, register_plugin,
                                                                         small_data, tmp_path, mode: str,
                                                                         sizes: list[int]) -> None:
    """``[modes.optuna.space."data.train_path"]`` with a path relative to the recipe that declares it: the
    check finds the file there, each trial trains on the file it drew (the data's reader is asked for the
    trial's recipe), and so do the folds of ``full`` after the study; best_recipe.toml names the file absolute."""
    from dialsum_core.recipe import write_recipe
    from dialsum_core.runner import run_recipe

    counting = _CountingPlugin()
    register_plugin(counting, "counting")
    folder = tmp_path / "recipes"
    folder.mkdir()
    rows = read_csv(small_data["train"])[:12]
    with (folder / "few.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    space = ("modes.optuna.space.\"data.train_path\"", {"type": "categorical", "choices": ["few.csv"]})
    recipe = make_recipe(space, ("modes.optuna.trials", 1), ("modes.kfold.k_folds", 2), mode=mode,
                         models=["counting"], ensemble="best_score")
    path = write_recipe(recipe, folder / "opt.toml", plugins)
    recipe = load_recipe(path, schema=plugins.schema)
    assert recipe.problems(plugins) == []
    res = run_recipe(recipe, plugins)
    assert counting.sizes == sizes  # the trial's file, not the 30 dialogues of the recipe's own train_path
    best = load_recipe(res.experiment / "optuna" / "best_recipe.toml", schema=plugins.schema)
    assert best.data.train_path == str((folder / "few.csv").resolve())
