"""Bad input is refused by ``dialsum check`` (``Recipe.problems``) with one clear line per problem."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from modes_fixtures import *  # noqa: F403 - pytest fixtures

from dialsum_core import hookimpl
from dialsum_core.errors import RecipeError
from dialsum_core.recipe import write_recipe
from dialsum_modes.sections import TRAIN_PREDICTIONS

SPACE = ("modes.optuna.space.\"train.learning_rate\"", {"type": "float", "low": 1e-5, "high": 1e-3, "log": True})


def _problems(recipe, plugins) -> list[str]:
    return recipe.problems(plugins)


@pytest.mark.parametrize(("overrides", "run", "expected"), [
    ((), {"mode": "kfoldd"}, "run.mode: unknown run mode 'kfoldd'"),
    ((), {"mode": "optuna"}, "modes.optuna.space: empty search space"),
    ((("modes.kfold.k_folds", 1),), {"mode": "kfold", "ensemble": "best_score"}, "modes.kfold.k_folds: must be >= 2"),
    ((("modes.kfold.k_folds", 31),), {"mode": "kfold", "ensemble": "best_score"},
     "modes.kfold.k_folds: 31 folds but only 30 training dialogues"),
    ((("modes.kfold.k_folds", 20), ("data.debug_samples", 10)), {"mode": "kfold", "ensemble": "best_score",
                                                                 "debug": True},
     "modes.kfold.k_folds: 20 folds but only 10 training dialogues (debug subset)"),
    ((("modes.kfold.k_folds", 3),), {"mode": "kfold", "ensemble": "best_score", "ensemble_weights": [1.0, 2.0]},
     "run.ensemble_weights: 2 weights for 1 model and 3 folds"),
    ((), {"mode": "multi_model", "models": ["lead", "lead1"], "ensemble": "majority_vote",
          "ensemble_weights": [1.0, 2.0, 3.0]}, "run.ensemble_weights: 3 weights for 2 models"),
    ((("modes.optuna.space.\"train.learning_rte\"", {"low": 1e-5, "high": 1e-3}),), {"mode": "optuna"},
     "modes.optuna.space.train.learning_rte: cannot be set: \"'train.learning_rte' is not an option of [train]\""),
    ((("modes.optuna.space.\"train.learning_rate\"", {"low": 1e-3, "high": 1e-5}),), {"mode": "optuna"},
     "needs low < high"),
    ((("modes.optuna.space.\"train.learning_rate\"", {"low": 0.0, "high": 1e-3, "log": True}),),
     {"mode": "optuna"}, "log = true needs low > 0"),
    ((("modes.optuna.space.\"generation.num_beams\"", {"type": "categorical"}),), {"mode": "optuna"},
     "needs a non-empty 'choices' list"),
    ((("modes.optuna.space.\"train.epochs\"", {"type": "float", "low": 0.5, "high": 2.5}),), {"mode": "optuna"},
     "value 0.5 does not fit the recipe"),
    ((("modes.optuna.space.\"model.no_such_option\"", {"type": "int", "low": 1, "high": 3}),), {"mode": "optuna"},
     "no_such_option"),
    ((("modes.optuna.sampler", "grid"), SPACE), {"mode": "optuna"}, "modes.optuna.sampler: must be one of"),
    # refused before anything trains, not after the models (or the first trial) trained
    ((("modes.optuna.pruner", "percentile"), ("modes.optuna.percentile", 150.0), SPACE), {"mode": "optuna"},
     "modes.optuna.percentile: must be in [0, 100], got 150.0"),
    # read by the percentile pruner only: accepted and ignored beside another
    ((("modes.optuna.pruner", "median"), ("modes.optuna.percentile", 10.0), SPACE), {"mode": "optuna"},
     "modes.optuna.percentile: 10.0 is read by the percentile pruner only, and pruner = 'median'"),
    ((("modes.optuna.space.\"train.learning_rate\"", {"low": 1e-5, "high": 1e-3, "step": -1.0}),),
     {"mode": "optuna"}, "modes.optuna.space.train.learning_rate.step: must be >= 0, got -1.0"),
    ((("modes.optuna.space.\"models.lead1.max_turns\"", {"type": "int", "low": 1, "high": 3}),),
     {"mode": "optuna", "models": ["lead", "lead1"]}, "the study trains 'lead' (the first of run.models), not 'lead1'"),
    ((), {"mode": "multi_model", "models": ["lead"], "ensemble": "majority_vote", "ensemble_weights": [1.0, 2.0, 3.0]},
     "run.ensemble_weights: 3 weights for 1 model ['lead']; give one weight or none"),
    # a token-level strategy decodes several sources jointly on the plain dialogues: the TTA variants
    # were summarized, then ignored, silently
    ((("modes.kfold.k_folds", 3),), {"mode": "kfold", "ensemble": "weighted_avg", "use_tta": True,
                                     "tta_strategies": ["reorder"]},
     "run.ensemble: 'weighted_avg' decodes the models of the kfold mode jointly on the plain dialogues, so their "
     "TTA variants would be summarized, then ignored; use an output-level strategy"),
    ((), {"mode": "multi_model", "models": ["lead", "lead1"], "ensemble": "averaging", "use_tta": True,
          "tta_strategies": ["reorder"]}, "'averaging' decodes the models of the multi_model mode jointly"),
    # the single and optuna modes train and score each model alone: the weights were ignored, silently
    ((), {"mode": "single", "models": ["lead", "lead1"], "ensemble_weights": [1.0, 2.0]},
     "run.ensemble_weights: [1.0, 2.0] would be ignored: the single mode combines no models; leave "
     "run.ensemble_weights empty, or choose a mode that does (full, kfold, multi_model)"),
    ((SPACE,), {"mode": "optuna", "ensemble_weights": [1.0]},
     "run.ensemble_weights: [1.0] would be ignored: the optuna mode combines no models"),
    ((("modes.kfold.k_folds", 3),), {"mode": "kfold", "ensemble": "best_score", "only": ["fold=7"], "name": "k"},
     "run.only: selects fold 7, but the kfold mode has 3 folds (modes.kfold.k_folds)"),
    ((), {"mode": "single", "only": ["fold=1"], "name": "s"},
     "run.only: selects fold 1, but the single mode has no folds"),
    # TTA on with no augmenter: the run summarized as without it, silently
    ((), {"mode": "single", "use_tta": True, "tta_strategies": []},
     "run.tta_strategies: empty while run.use_tta is on; name the augmenters"),
    # Optuna cannot sample a range with an infinite end (OverflowError in the first trial)
    ((("modes.optuna.space.\"generation.repetition_penalty\"", {"low": 1.0, "high": float("inf")}),),
     {"mode": "optuna"}, "modes.optuna.space.generation.repetition_penalty: needs finite low, high and step"),
    ((("modes.optuna.space.\"train.learning_rate\"", {"low": 1e-5, "high": 1e-3, "step": float("inf")}),),
     {"mode": "optuna"}, "needs finite low, high and step"),
])
def test_bad_recipes_are_reported_at_check_time(make_recipe, plugins, overrides, run, expected) -> None:
    problems = _problems(make_recipe(*overrides, **run), plugins)
    assert any(expected in p for p in problems), problems


def test_a_study_storage_that_is_a_folder_is_refused(make_recipe, plugins, tmp_path) -> None:
    problems = _problems(make_recipe(("modes.optuna.storage", str(tmp_path)), SPACE, mode="optuna"), plugins)
    assert any(f"modes.optuna.storage: {str(tmp_path)!r} is a folder; name the study's file in it" in p
               for p in problems), problems


def test_a_space_whose_values_fit_together_is_accepted() -> None:
    """An int range on a grid that keeps every value valid, with the other parameters' values."""
    from click.testing import CliRunner

    from dialsum_core.cli import cli

    args = ["check", str(RECIPES / "optuna-tiny.toml"), "--set",
            'modes.optuna.space."model.d_model"={type="int", low=16, high=32, step=8}', "--set",
            'modes.optuna.space."model.attention_heads"={type="categorical", choices=[2, 4, 8]}']
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output


def test_good_recipes_have_no_problem(make_recipe, plugins) -> None:
    assert _problems(make_recipe(SPACE, mode="optuna"), plugins) == []
    assert _problems(make_recipe(("modes.kfold.k_folds", 3), mode="kfold", ensemble="best_score",
                                 ensemble_weights=[1.0, 0.5, 0.5]), plugins) == []
    assert _problems(make_recipe(("modes.kfold.k_folds", 2), SPACE, mode="full", models=["lead", "lead1"],
                                 ensemble="best_score", ensemble_weights=[1.0, 0.5]), plugins) == []
    # one model's TTA variants are its only sources: the strategy votes on them
    assert not [p for p in _problems(make_recipe(mode="multi_model", ensemble="weighted_avg", use_tta=True,
                                                 tta_strategies=["reorder"]), plugins) if "TTA" in p]


def test_dialsum_check_prints_one_line_and_exits_2(make_recipe, tmp_path) -> None:
    path = write_recipe(make_recipe(("modes.kfold.k_folds", 1), mode="kfold", ensemble="majority_vote"),
                        tmp_path / "bad.toml")
    proc = subprocess.run([sys.executable, "-m", "dialsum_core.cli", "check", str(path)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: {path}: modes.kfold.k_folds: must be >= 2, got 1"]


RECIPES = Path(__file__).resolve().parents[3] / "recipes"


@pytest.mark.parametrize(("recipe", "overrides", "expected"), [
    ("kfold-tiny", ["run.mode=kfoldd"], "--set: run.mode: unknown run mode 'kfoldd' (did you mean 'kfold'?)"),
    ("optuna-tiny", ["modes.optuna.space={}"], "--set: modes.optuna.space: empty search space; declare"),
    ("kfold-tiny", ["modes.kfold.k_folds=1"], "--set: modes.kfold.k_folds: must be >= 2, got 1"),
    ("kfold-tiny", ["modes.kfold.k_folds=33"],
     "--set: modes.kfold.k_folds: 33 folds but only 32 training dialogues (debug subset)"),
    ("kfold", ["modes.kfold.k_folds=401"], "--set: modes.kfold.k_folds: 401 folds but only 400 training dialogues"),
    ("full", ["modes.kfold.k_folds=1"], "--set: modes.kfold.k_folds: must be >= 2, got 1"),
    ("full-tiny", ["modes.optuna.space={}"], "--set: modes.optuna.space: empty search space; declare"),
    ("multi_model", ["run.ensemble_weights=[0.5, 0.5]"], "--set: run.ensemble_weights: 2 weights for 3 models"),
    ("kfold", ["run.ensemble_weights=[1.0, 2.0]"],
     "--set: run.ensemble_weights: 2 weights for 1 model and 5 folds; give one weight, one per fold (5), or none"),
    # an infinite weight makes the votes inf / inf: NaN scores, then a traceback in the plots
    ("multi_model-tiny", ["run.ensemble_weights=[inf, 1.0]"], "--set: run.ensemble_weights: must be a finite number"),
    # values that each fit but not together: the trial that draws both would fail after others trained
    ("optuna-tiny", ['modes.optuna.space."model.d_model".choices=[6]',
                     'modes.optuna.space."model.attention_heads"={type="categorical", choices=[2, 4]}'],
     "--set: modes.optuna.space: a trial can draw model.d_model = 6, model.attention_heads = 4, which does not fit "
     "the recipe: models.scratch.attention_heads: must divide d_model (6), got 4"),
    ("full-tiny", ['modes.optuna.space."model.d_model".choices=[6, 32]',
                   'modes.optuna.space."model.attention_heads"={type="int", low=2, high=4, step=2}'],
     "--set: modes.optuna.space: a trial can draw model.d_model = 6, model.attention_heads = 4"),
    # a value inside an int range, not only its ends
    ("optuna-tiny", ['modes.optuna.space."model.d_model"={type="int", low=16, high=18}'],
     "--set: modes.optuna.space.model.d_model: value 17 does not fit the recipe: "
     "models.scratch.attention_heads: must divide d_model (17), got 2"),
    ("optuna-tiny", ["modes.optuna.storage=optuna"],
     "--set: modes.optuna.storage: 'optuna' is a file or folder the run writes in the experiment folder"),
    ("full-tiny", ["modes.optuna.storage=train.log"],
     "--set: modes.optuna.storage: 'train.log' is the file the file logger writes (loggers.file.filename)"),
])
def test_shipped_recipes_with_bad_input_fail_check_with_one_line(recipe, overrides, expected) -> None:
    """``dialsum check`` on a shipped recipe made wrong by one ``--set``: exit 2, one error line."""
    from click.testing import CliRunner

    from dialsum_core.cli import cli

    args = ["check", str(RECIPES / f"{recipe}.toml"), *(a for o in overrides for a in ("--set", o))]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {expected}"), result.stderr


@pytest.mark.parametrize(("storage", "loggers", "expected"), [
    ("optuna", [], "'optuna' is a file or folder the run writes in the experiment folder"),
    ("journal://optuna", [], "'journal://optuna' is a file or folder the run writes"),
    ("config.toml", [], "'config.toml' is a file or folder the run writes"),
    ("optuna/best_params.json", [], "'optuna/best_params.json' is a file or folder the run writes"),
    ("journal://", [], "journal:// needs the journal file's path"),
    ("train.log", ["file"], "'train.log' is the file the file logger writes (loggers.file.filename)"),
])
def test_a_study_storage_the_run_writes_otherwise_is_refused(make_recipe, plugins, storage, loggers,
                                                               expected) -> None:
    """A study file where the experiment keeps its own outputs (the ``optuna/`` folder, a log) would
    stop the run after the trials trained, or in their middle; the check names it first."""
    for mode in ("optuna", "full"):
        recipe = make_recipe(("modes.optuna.storage", storage), SPACE, mode=mode, loggers=loggers)
        problems = _problems(recipe, plugins)
        assert any(f"modes.optuna.storage: {expected}" in p for p in problems), (mode, problems)


def test_a_study_storage_beside_the_outputs_is_accepted(make_recipe, plugins) -> None:
    for storage in ("optuna/study.db", "journal://optuna/journal.log", "study.db", "predictions/study.db"):
        assert _problems(make_recipe(("modes.optuna.storage", storage), SPACE, mode="optuna", loggers=["file"]),
                         plugins) == [], storage


def test_a_run_with_its_study_in_the_optuna_folders_place_is_refused_before_training(make_recipe, run) -> None:
    """It used to train every trial and then fail writing ``optuna/best_params.json`` over the study."""
    recipe = make_recipe(("modes.optuna.storage", "optuna"), SPACE, mode="optuna")
    with pytest.raises(RecipeError, match=r"modes\.optuna\.storage: 'optuna' is a file or folder"):
        run(recipe)
    assert not (Path(recipe.run.output_dir) / "exp").exists()


@pytest.mark.parametrize("filename", ["stages", "Optuna", "./jobs"])
def test_a_log_file_in_the_place_of_a_folder_the_modes_make_is_refused(make_recipe, plugins, run,
                                                                       filename) -> None:
    """A log named ``stages`` used to let the model train, then fail saving it in ``stages/sources/``."""
    recipe = make_recipe(("loggers.file.filename", filename), loggers=["file"])
    expected = f"loggers.file.filename: {filename!r} is the folder "
    assert any(expected in p for p in _problems(recipe, plugins)), _problems(recipe, plugins)
    with pytest.raises(RecipeError, match=r"loggers\.file\.filename"):
        run(recipe)
    assert not (Path(recipe.run.output_dir) / "exp").exists()
    assert _problems(make_recipe(("loggers.file.filename", "stages.log"), loggers=["file"]), plugins) == []


def test_the_gp_sampler_without_its_libraries_is_refused(make_recipe, plugins) -> None:
    """Optuna's ``gp`` sampler imports scipy only after ten random trials: without it the study
    failed once those had trained. The check looks the libraries up, so it answers for this machine;
    a study of ten trials or fewer never needs them."""
    import importlib.util

    missing = [m for m in ("scipy", "torch") if importlib.util.find_spec(m) is None]
    for mode in ("optuna", "full"):
        problems = [p for p in _problems(make_recipe(("modes.optuna.sampler", "gp"), ("modes.optuna.trials", 11),
                                                     SPACE, mode=mode), plugins)
                    if "modes.optuna.sampler" in p]
        if missing:
            assert len(problems) == 1 and f"'gp' needs {' and '.join(missing)} after its first 10 trials" in problems[0]
        else:
            assert problems == []
    assert _problems(make_recipe(("modes.optuna.sampler", "gp"), ("modes.optuna.trials", 10), SPACE, mode="optuna"),
                     plugins) == []
    assert _problems(make_recipe(("modes.optuna.sampler", "cmaes"), SPACE, mode="optuna"), plugins) == []


@pytest.mark.parametrize(("storage", "expected"), [
    ("bad://x", "bad:// is no database SQLAlchemy knows"),
    ("nosuchdb+nosuchdriver://u:p@host/db", "nosuchdb+nosuchdriver:// is no database SQLAlchemy knows"),
])
def test_a_study_storage_url_no_database_answers_is_refused(make_recipe, plugins, storage, expected) -> None:
    """The run used to create the experiment before finding it could not open the storage."""
    problems = _problems(make_recipe(("modes.optuna.storage", storage), SPACE, mode="optuna"), plugins)
    assert any(f"modes.optuna.storage: {expected}" in p for p in problems), problems


def test_a_study_storage_url_needs_its_driver(make_recipe, plugins) -> None:
    """The driver is looked up as the run will import it; the answer depends on what is installed."""
    import importlib.util

    problems = _problems(make_recipe(("modes.optuna.storage", "mysql+pymysql://u:p@host/db"), SPACE,
                                     mode="optuna"), plugins)
    if importlib.util.find_spec("pymysql") is None:
        assert any("modes.optuna.storage: the driver of mysql+pymysql:// is not installed" in p for p in problems)
    else:
        assert problems == []
    assert _problems(make_recipe(("modes.optuna.storage", "sqlite:////tmp/study.db"), SPACE, mode="optuna"),
                     plugins) == []


def test_a_space_value_the_owning_sections_check_refuses_is_reported(make_recipe, plugins) -> None:
    """A value the options class takes but the check of its section refuses (dialsum-hf's [train]
    check: fp16 beside bf16) would train its trials, then write a ``best_recipe.toml`` that
    ``dialsum check`` refuses: it is refused by the search space's check instead."""
    space = ("modes.optuna.space.\"train.fp16\"", {"type": "categorical", "choices": [False, True]})
    problems = _problems(make_recipe(("train.bf16", True), space, mode="optuna"), plugins)
    assert any("modes.optuna.space.train.fp16: value True does not fit the recipe: train.fp16: fp16 and bf16 "
               "are both on" in p for p in problems), problems


def test_a_space_value_the_model_loaders_check_refuses_is_reported(make_recipe, plugins) -> None:
    """``model.X`` is checked by the registration of the tuned model too (dialsum-hf's check refuses
    ``merge_lora`` without ``use_lora``), alone and combined with the other parameters' values."""
    alone = ("modes.optuna.space.\"model.merge_lora\"", {"type": "categorical", "choices": [False, True]})
    problems = _problems(make_recipe(alone, mode="optuna", models=["kobart"]), plugins)
    assert any("modes.optuna.space.model.merge_lora: value True does not fit the recipe: "
               "models.kobart.merge_lora: merge_lora needs use_lora = true" in p for p in problems), problems
    both = ("modes.optuna.space.\"model.use_lora\"", {"type": "categorical", "choices": [True, False]})
    recipe = make_recipe(("models.kobart.use_lora", True), alone, both, mode="optuna", models=["kobart"])
    problems = _problems(recipe, plugins)
    assert any("a trial can draw model.merge_lora = True, model.use_lora = False, which does not fit the recipe: "
               "models.kobart.merge_lora: merge_lora needs use_lora = true" in p for p in problems), problems


@pytest.mark.parametrize(("overrides", "run", "expected"), [
    ((("modes.kfold.k_folds", 3),), {"mode": "kfold", "ensemble": "best_score"},
     "run.save_train_predictions: the kfold mode writes no train_predictions.csv (its out-of-fold predictions"),
    ((SPACE,), {"mode": "optuna"}, "run.save_train_predictions: the optuna mode writes no train_predictions.csv;"),
    ((("modes.kfold.k_folds", 2), SPACE), {"mode": "full", "models": ["lead", "lead1"], "ensemble": "best_score"},
     "run.save_train_predictions: the full mode writes no train_predictions.csv (its out-of-fold predictions"),
    ((), {"mode": "single", "save_predictions": False},
     "run.save_train_predictions: on while run.save_predictions is off"),
], ids=["kfold", "optuna", "full", "no predictions"])
def test_train_predictions_no_file_would_hold_are_refused(make_recipe, plugins, overrides, run, expected) -> None:
    """The whole training set was predicted (as long as predicting it takes) and then written nowhere:
    these modes' models train on parts of it, or no prediction is saved at all."""
    problems = _problems(make_recipe(*overrides, save_train_predictions=True, **run), plugins)
    assert any(expected in p for p in problems), problems


def test_train_predictions_are_accepted_where_the_mode_writes_them(make_recipe, plugins) -> None:
    assert _problems(make_recipe(mode="single", save_train_predictions=True), plugins) == []
    assert _problems(make_recipe(mode="multi_model", models=["lead", "lead1"], ensemble="best_score",
                                 save_train_predictions=True), plugins) == []


def test_a_key_the_study_makes_act_is_not_said_to_change_nothing(make_recipe, plugins) -> None:
    """``lora_r`` set while ``use_lora`` is false, and a space tuning ``model.use_lora``: the trials that turn
    LoRA on train adapters of that rank, yet check and run warned that lora_r changes nothing; so for a
    warm-up under a constant schedule when the space tunes ``train.scheduler``. Keys no trial makes act are
    still warned about."""
    base = (("models.kobart.use_lora", False), ("models.kobart.lora_r", 8), ("train.scheduler", "constant"),
            ("train.warmup_ratio", 0.2))
    use_lora = ("modes.optuna.space.\"model.use_lora\"", {"type": "categorical", "choices": [False, True]})
    scheduler = ("modes.optuna.space.\"train.scheduler\"", {"type": "categorical", "choices": ["constant", "linear"]})
    assert make_recipe(*base, SPACE, use_lora, scheduler, mode="optuna", models=["kobart"]).ignored(plugins) == []
    warned = make_recipe(*base, SPACE, use_lora, mode="optuna", models=["kobart"]).ignored(plugins)
    assert len(warned) == 1 and "train.warmup_ratio: changes nothing: the 'constant' schedule" in warned[0], warned
    warned = make_recipe(*base, SPACE, scheduler, mode="optuna", models=["kobart"]).ignored(plugins)
    assert len(warned) == 1 and "models.kobart.lora_r: changes nothing" in warned[0], warned
    # a mode without a study runs the recipe as written: both change nothing there
    assert len(make_recipe(*base, mode="single", models=["kobart"]).ignored(plugins)) == 2


def test_a_space_parameter_no_trial_uses_is_warned_about_unless_another_can_make_it_act(make_recipe, plugins) -> None:
    """``model.lora_r`` tuned for a model that trains no LoRA (the shipped optuna recipe with
    ``run.models = ["kobart"]``): every trial spends a draw on it and ``best_params.json`` reports a
    value that meant nothing. Warned (its owner, dialsum-hf, says the key changes nothing), not refused:
    a recipe extending another cannot drop a parameter of its space."""
    lora = ("modes.optuna.space.\"model.lora_r\"", {"type": "categorical", "choices": [8, 16, 32]})
    recipe = make_recipe(lora, SPACE, mode="optuna", models=["kobart"])
    assert _problems(recipe, plugins) == []
    warned = recipe.ignored(plugins)
    assert len(warned) == 1 and "modes.optuna.space.model.lora_r: changes nothing: models.kobart.use_lora is " \
        "false, so no LoRA adapters are trained (set it to true for them), in every trial of the study" in warned[0]
    # the learning rate acts in every trial; lora_r acts where LoRA is on, in the recipe or in a trial
    assert make_recipe(lora, SPACE, ("models.kobart.use_lora", True), mode="optuna", models=["kobart"]
                       ).ignored(plugins) == []
    both = ("modes.optuna.space.\"model.use_lora\"", {"type": "categorical", "choices": [False, True]})
    assert make_recipe(lora, both, mode="optuna", models=["kobart"]).ignored(plugins) == []
    # the full mode's study is the same; without its search stage there is no study to warn about
    assert make_recipe(lora, SPACE, ("modes.kfold.k_folds", 2), mode="full", models=["kobart"]).ignored(plugins)
    assert make_recipe(lora, SPACE, ("modes.kfold.k_folds", 2), ("modes.full.tune", False), mode="full",
                       models=["kobart"]).ignored(plugins) == []


class _WritesTrainPredictions:
    """A third party's mode that writes train_predictions.csv, which it declares by the tag alone."""

    @hookimpl
    def dialsum_register_run_modes(self, register: Any) -> None:
        register("bagging", lambda o, c: None, tags=(TRAIN_PREDICTIONS,), description="a third party's mode")


def test_the_modes_a_train_predictions_refusal_suggests_are_those_tagged_so(make_recipe, register_plugin) -> None:
    """The refusal names every installed mode that writes the file, a third party's too, not a fixed list."""
    plugins = register_plugin(_WritesTrainPredictions(), "bagging-plugin")
    problems = _problems(make_recipe(("modes.kfold.k_folds", 3), mode="kfold", ensemble="majority_vote",
                                     save_train_predictions=True), plugins)
    assert any("use a mode that writes it (bagging, multi_model, single)" in p for p in problems), problems
