"""The run modes' options classes (``[modes.NAME]``), their recipe checks and the search-space rules.

Cheap to import (the entry-point module and ``dialsum check`` load it): no optuna, no torch.
"""

from __future__ import annotations

import contextvars
from typing import Any

import attrs

from dialsum_core.experiment import CONFIG, RESULTS, SUBDIRS
from dialsum_core.protocols import TOKEN_LEVEL
from dialsum_core.validators import at_least, non_negative, one_of
from dialsum_modes.sections import MODE_FOLDERS, RANKED_BY, STUDY_FOLDER, logger_files
from dialsum_modes.study import STUDY_FILE

SAMPLERS = ("tpe", "gp", "random", "cmaes")
PRUNERS = ("median", "percentile", "hyperband", "none")
PARAM_TYPES = ("float", "int", "categorical")
#: A search-space key ``model.X`` means ``models."<first model>".X``: an option of the tuned model.
MODEL_KEY = "model"


#: What the experiment folder holds besides the study: the core's files and the folders the run
#: writes. A study file of one of these names would overwrite a file or take a folder's place.
EXPERIMENT_ENTRIES = (CONFIG, RESULTS, *SUBDIRS, *MODE_FOLDERS)
#: What the study writes in ``optuna/`` when its trials are done (besides ``study.db``): the best
#: trial's parameters and scores, and the recipe that trains with them.
BEST_PARAMS, BEST_RECIPE = "best_params.json", "best_recipe.toml"
STUDY_OUTPUTS = (BEST_PARAMS, BEST_RECIPE)


def _storage_inside(_inst: Any, _attr: Any, value: str) -> None:
    """A relative storage path stays in the experiment folder; an absolute path or a server URL names
    a study shared on purpose (see docs/scaling.md). A relative path may not be one of the folder's
    own entries: the run would only find out after the trials trained, when it writes
    ``optuna/best_params.json`` where the study file is (or opens a folder as the study)."""
    from pathlib import Path

    path = value.removeprefix("journal://")
    if value.startswith("journal://") and not path:
        raise ValueError(f"journal:// needs the journal file's path, e.g. journal://{STUDY_FOLDER}/journal.log")
    parts = [part.casefold() for part in Path(path).parts] if "://" not in path else []
    if parts and not Path(path).is_absolute() and (
            (len(parts) == 1 and parts[0] in EXPERIMENT_ENTRIES) or parts[0] in (CONFIG, RESULTS)
            or (len(parts) == 2 and parts[0] == STUDY_FOLDER and parts[1] in STUDY_OUTPUTS)):
        raise ValueError(f"{value!r} is a file or folder the run writes in the experiment folder; name the study's "
                         f"own file, e.g. {STUDY_FOLDER}/{STUDY_FILE}")
    if path.startswith("sqlite:///") and not path.startswith("sqlite:////"):
        raise ValueError(f"an SQLite URL with a relative path is relative to the current directory, got {value!r}; "
                         "give a plain relative path (inside the experiment folder) or an absolute one")
    if "://" not in path and not Path(path).is_absolute() and ".." in Path(path).parts:
        raise ValueError(f"a relative path must stay inside the experiment folder, got {value!r}; give an absolute "
                         "path or a URL to share a study between experiments")
    if path and "://" not in path and Path(path).is_dir():
        raise ValueError(f"{value!r} is a folder; name the study's file in it (e.g. {Path(path) / STUDY_FILE})")


@attrs.define
class SingleOptions:
    """``[modes.single]``: nothing to set; listed models are trained one by one and compared."""


#: Trials of a weight search (``multi_model``'s and ``full``'s final ensemble) unless the recipe says.
WEIGHT_SEARCH_TRIALS = 30
#: The trials a debug run's weight search runs at most.
DEBUG_WEIGHT_SEARCH_TRIALS = 8


@attrs.define
class KFoldOptions:
    """``[modes.kfold]``."""

    #: Number of folds (>= 2, and at most the number of training dialogues).
    k_folds: int = attrs.field(default=5, validator=at_least(2))
    #: Seed of the fold assignment (independent of ``run.seed``, as in the seed's ``--fold_seed``).
    fold_seed: int = 42
    #: Spread each topic evenly over the folds (topics rarer than ``k_folds`` are pooled).
    stratify: bool = True


@attrs.define
class MultiModelOptions:
    """``[modes.multi_model]``."""

    #: Trials of the weight search on the validation split when ``run.ensemble_weights`` is empty
    #: (0 disables it: the ensemble's own defaults apply).
    weight_search_trials: int = attrs.field(default=WEIGHT_SEARCH_TRIALS, validator=at_least(0))


def _percent(_inst: Any, _attr: Any, value: float) -> None:
    if not 0 <= value <= 100:
        raise ValueError(f"must be in [0, 100], got {value!r}")


@attrs.define
class ParamSpec:
    """One search-space entry: ``[modes.optuna.space."train.learning_rate"]``."""

    #: `float`, `int` or `categorical`.
    type: str = attrs.field(default="float", validator=one_of(PARAM_TYPES))
    #: Lower bound of a `float` or `int` parameter.
    low: float = 0.0
    #: Upper bound of a `float` or `int` parameter (inclusive).
    high: float = 0.0
    #: Sample on a log scale (learning rates, weight decay).
    log: bool = False
    #: Grid step for ``float``/``int`` (0: continuous / step 1).
    step: float = attrs.field(default=0.0, validator=non_negative)
    #: Values of a ``categorical`` parameter (strings, numbers or booleans).
    choices: list[Any] = attrs.field(factory=list)

    def __attrs_post_init__(self) -> None:
        """An ``int`` parameter keeps whole bounds and step as ints (``low = 2``, not ``2.0``), so that
        the resolved ``config.toml`` and ``best_recipe.toml`` say what the user wrote; a fractional
        or infinite one stays a float, for the space's check to refuse with its value."""
        if self.type == "int":
            for name in ("low", "high", "step"):
                value = getattr(self, name)
                if isinstance(value, float) and value.is_integer():
                    setattr(self, name, int(value))


@attrs.define
class OptunaOptions:
    """``[modes.optuna]``: the study and its search space."""

    #: Trials of the study in all (the seed's `--optuna_trials`); a resumed study counts those done.
    trials: int = attrs.field(default=100, validator=at_least(1))
    #: Seconds for the whole study (0: no limit).
    timeout: int = attrs.field(default=7200, validator=at_least(0))
    #: `tpe`, `gp`, `random` or `cmaes` (the seed's `--optuna_sampler`).
    sampler: str = attrs.field(default="tpe", validator=one_of(SAMPLERS))
    #: `median`, `percentile`, `hyperband` or `none`, fed with the per-epoch validation score.
    pruner: str = attrs.field(default="median", validator=one_of(PRUNERS))
    #: Percentile kept by the ``percentile`` pruner (0 to 100).
    percentile: float = attrs.field(default=25.0, validator=_percent)
    #: Parallel trials (threads of one process); on one GPU they share its memory and compute (docs/modes/optuna.md).
    n_jobs: int = attrs.field(default=1, validator=at_least(1))
    #: ``""``: ``optuna/study.db`` in the experiment folder; ``journal://PATH`` (or a ``.log``/``.jsonl``
    #: path): a journal file several workers share; or an RDB URL such as ``postgresql+psycopg://user:pw@host/db``.
    storage: str = attrs.field(default="", validator=_storage_inside)
    #: ``""``: the experiment name, so re-running the same experiment resumes its study.
    study_name: str = ""
    #: `maximize` (ROUGE) or `minimize`.
    direction: str = attrs.field(default="maximize", validator=one_of(("maximize", "minimize")))
    #: Validation score to optimise (a key of the metrics' output).
    metric: str = RANKED_BY
    #: The search space: one `[modes.optuna.space."section.key"]` table per tuned option.
    space: dict[str, ParamSpec] = attrs.field(factory=dict)


@attrs.define
class FullOptions:
    """``[modes.full]``: the competition pipeline (``[modes.optuna]``/``[modes.kfold]`` configure the stages)."""

    #: Tune the first model with Optuna before the k-fold stage.
    tune: bool = True
    #: Weight-search trials of the final ensemble when ``run.ensemble_weights`` is empty.
    weight_search_trials: int = attrs.field(default=WEIGHT_SEARCH_TRIALS, validator=at_least(0))


# ----------------------------------------------------------------------------------------------
# Checks (``dialsum check``): cheap, no heavy imports
# ----------------------------------------------------------------------------------------------
Problems = list[tuple[str, str]]


def count_train_dialogues(recipe: Any, plugins: Any) -> int | None:
    """The distinct training dialogues a k-fold run will deal into folds, or None when the data cannot be read.

    The splits come from whichever plugin reads the recipe's data (``dialsum_load_data``: the
    ``[data]`` keys are that plugin's, not ours) and are counted by the run's own rule
    (:func:`dialsum_modes.folds.dialogue_groups`), so that the check and the run agree. A data error
    is left to the reader's own check, which reports it with the file and the row.
    """
    from dialsum_modes.folds import dialogue_groups

    data = plugins.checked_data(recipe)
    return None if data is None else len(dialogue_groups(data.train))


def _check_fold_weights(recipe: Any, plugins: Any, k: int) -> Problems:
    """With one model, weights may also be given per fold (the ensembles check the per-model case)."""
    weights = list(recipe.run.ensemble_weights)
    models = list(recipe.run.models)
    if weights and len(models) == 1 and len(weights) not in (1, k):
        return [("run.ensemble_weights", f"{len(weights)} weights for 1 model and {k} folds; give one weight, "
                 f"one per fold ({k}), or none")]
    return []


def _check_unused_tta(recipe: Any, plugins: Any) -> Problems:
    """A token-level strategy (tagged ``token`` by dialsum-ensemble) decodes several sources jointly
    on the plain dialogues (:func:`dialsum_modes.toolkit.combine`): their TTA variants would be
    summarized, then never used. Call it for a mode that combines several sources."""
    strategy = plugins.get("ensembles", recipe.run.ensemble)
    if recipe.run.use_tta and strategy is not None and TOKEN_LEVEL in strategy.tags:
        return [("run.ensemble", f"{recipe.run.ensemble!r} decodes the models of the {recipe.run.mode} mode jointly "
                 "on the plain dialogues, so their TTA variants would be summarized, then ignored; use an "
                 "output-level strategy such as \"rouge_weighted\" or \"stacking\", or set run.use_tta = false")]
    return []


def _check_kfold_options(recipe: Any, plugins: Any) -> Problems:
    opts = recipe.options("run_modes", "kfold", plugins)
    found: Problems = []
    n = count_train_dialogues(recipe, plugins)
    if n is not None and opts.k_folds > n:
        found.append(("modes.kfold.k_folds", f"{opts.k_folds} folds but only {n} training dialogues"
                      + (" (debug subset)" if recipe.run.debug else "")))
    return found + _check_fold_weights(recipe, plugins, opts.k_folds)


def check_kfold(recipe: Any, plugins: Any) -> Problems:
    return _check_kfold_options(recipe, plugins) + _check_unused_tta(recipe, plugins)


def check_multi_model(recipe: Any, plugins: Any) -> Problems:
    """One model has one source here (its TTA variants share its weight): one weight, or none."""
    weights, models = list(recipe.run.ensemble_weights), list(recipe.run.models)
    if weights and len(models) == 1 and len(weights) != 1:
        return [("run.ensemble_weights", f"{len(weights)} weights for 1 model {models}; give one weight or none")]
    return _check_unused_tta(recipe, plugins) if len(models) > 1 else []


def check_space(recipe: Any, plugins: Any) -> Problems:
    """Every search-space entry must be well-formed and name an option the recipe can take, with
    each value it can draw and with the others' values."""
    import math

    from dialsum_core.recipe import io

    opts = recipe.options("run_modes", "optuna", plugins)
    found: Problems = []
    if not opts.space:
        return [("modes.optuna.space", 'empty search space; declare at least one parameter, e.g. '
                 '[modes.optuna.space."train.learning_rate"] type = "float", low = 1e-5, high = 1e-3, log = true')]
    models = list(recipe.run.models)
    roots = space_roots(recipe)
    probes: dict[str, list[Any]] = {}
    probe = _Prober(recipe, plugins, models)
    for key, spec in opts.space.items():
        where = f"modes.optuna.space.{key}"
        root = key.split(".", 1)[0]
        if root not in roots or "." not in key:
            unknown = f"no installed plugin contributes [{root}]; " if root not in roots else ""
            found.append((where, f"{unknown}a key starts with one of {', '.join(r + '.' for r in roots)}"))
            continue
        tuned = io.split_dotted(key, {r.name for r in plugins.registry})
        if tuned[0] == "models" and models and tuned[1] != models[0]:  # a study trains its first model only
            found.append((where, f"the study trains {models[0]!r} (the first of run.models), not {tuned[1]!r}: "
                          f"its options would change nothing; tune {MODEL_KEY}.OPTION"))
            continue
        if spec.type == "categorical":
            if not spec.choices:
                found.append((where, "a categorical parameter needs a non-empty 'choices' list"))
                continue
        else:
            if spec.choices:
                found.append((where, f"'choices' only applies to type = \"categorical\", not {spec.type!r}"))
            if not all(math.isfinite(v) for v in (spec.low, spec.high, spec.step)):
                found.append((where, f"needs finite low, high and step, got low = {spec.low}, high = {spec.high}, "
                              f"step = {spec.step}"))
                continue
            if not spec.low < spec.high:
                found.append((where, f"needs low < high, got low = {spec.low}, high = {spec.high}"))
                continue
            if spec.log and spec.low <= 0:
                found.append((where, f"log = true needs low > 0, got {spec.low}"))
                continue
            if spec.log and spec.step:
                found.append((where, "log = true cannot be combined with step"))
                continue
            if spec.type == "int" and (spec.low != int(spec.low) or spec.high != int(spec.high)):
                found.append((where, "an int parameter needs whole-number low and high"))
                continue
        values = draws(spec)
        for value in values:
            problem = probe.misfit({key: value})
            if problem:
                found.append((where, problem if problem.startswith("cannot be set") else
                              f"value {value!r} does not fit the recipe: {problem}"))
                break
        else:
            probes[key] = values
    if not found:
        found += _check_combinations(probe, probes)
    return found


def draws(spec: ParamSpec) -> list[Any]:
    """The values of a (well-formed) parameter that a check tries: its choices, its int grid or its ends."""
    if spec.type == "categorical":
        return list(spec.choices)
    return _int_grid(spec) if spec.type == "int" else [spec.low, spec.high]


_PROBING = contextvars.ContextVar("dialsum_modes_probing", default=False)


def tuned_for_nothing(recipe: Any, plugins: Any) -> Problems:
    """The parameters of the recipe's study whose key changes nothing in any trial (``model.lora_r`` while
    the model trains no LoRA, as the key's owner says through ``dialsum_ignored_keys``), unless another
    parameter can make it act (``model.use_lora`` tuned too): they spend the trials on noise, and
    ``best_params.json`` would report values that meant nothing. A warning, as for every ignored key: a
    recipe cannot drop a parameter of the recipe it extends."""
    if not _studies(recipe, plugins):
        return []
    token = _PROBING.set(True)  # the trials' recipes are asked too: not their study again
    try:
        probe = _Prober(recipe, plugins, list(recipe.run.models))
        probes = {k: draws(s) for k, s in recipe.options("run_modes", "optuna", plugins).space.items()}
        found: Problems = []
        for key, values in probes.items():
            target = ".".join(probe.split(resolve_key(key, probe.models), probe.names))
            why = probe.ignored({key: values[0]}).get(target)
            others = [(k, v) for k, vs in probes.items() if k != key for v in vs]
            if why is not None and all(target in probe.ignored({key: values[0], k: v}) for k, v in others):
                found.append((f"modes.optuna.space.{key}", f"{why}, in every trial of the study; drop it from the "
                              "space, or set (or tune) what makes it act"))
        return found
    finally:
        _PROBING.reset(token)


def _studies(recipe: Any, plugins: Any) -> bool:
    """Whether ``recipe``'s run holds a study (and is not one of its trials, being probed)."""
    mode = recipe.run.mode
    return not _PROBING.get() and (mode == "optuna" or (
        mode == "full" and recipe.options("run_modes", "full", plugins).tune))


def varied_values(recipe: Any, plugins: Any) -> dict[str, list[Any]]:
    """``dialsum_varied_values``: the study's parameters, as keys of the recipe, with the values a check tries."""
    if not _studies(recipe, plugins):
        return {}
    models = list(recipe.run.models)
    found = {}
    for key, spec in recipe.options("run_modes", "optuna", plugins).space.items():
        try:
            found[resolve_key(key, models)] = draws(spec)
        except KeyError:  # no model to apply it to: the space's check says so
            continue
    return found


#: At most this many values of one int parameter are tried one by one (``d_model`` from 16 to 64
#: fails on every odd value when the heads are 2); a wider range is tried at its ends.
MAX_GRID = 64
#: At most this many combinations of the parameters' values are tried together.
MAX_COMBINATIONS = 256


def _int_grid(spec: ParamSpec) -> list[int]:
    """The values an int parameter can take (its grid, when short), else its ends."""
    low, high, step = int(spec.low), int(spec.high), int(spec.step) or 1
    if spec.log or (high - low) // step + 1 > MAX_GRID:
        return [low, high]
    return list(range(low, high + 1, step))


class _Prober:
    """Tries a recipe with some search-space values set, as a trial of the study would run it.

    A value is refused by the options classes (the type of its key), and also by the checks of
    whoever owns the tuned key: the ``check`` of every part of a tuned section (dialsum-hf's
    ``[train]`` refuses fp16 without CUDA) and that of the plugin whose table holds a tuned option
    (``models.NAME.x``, ``model.x``). Otherwise ``dialsum check`` passes a space whose trials train
    and whose ``best_recipe.toml`` is refused. Only the owners' checks run, not the whole
    ``Recipe.problems`` (which would re-read the data for each value), and each check's problems
    on the recipe as written are left out: they are reported once by the recipe's own check.
    """

    def __init__(self, recipe: Any, plugins: Any, models: list[str]):
        from dialsum_core.recipe import io

        self.recipe, self.plugins, self.models = recipe, plugins, models
        self.names = {r.name for r in plugins.registry}
        self.used = set(recipe.used(plugins))
        self.split = io.split_dotted
        self.before: dict[int, set[tuple[str, str]]] = {}  # a check's problems without the probe's values

    def owners(self, key: str) -> list[Any]:
        """The checks that own search-space key ``key``: its section's parts', or its plugin's."""
        from dialsum_core.registry import KIND_OF_TABLE

        parts = self.split(resolve_key(key, self.models), self.names)
        if parts[0] in self.recipe.schema.tables:
            return [p.check for p in self.recipe.schema.parts if p.table == parts[0] and p.check is not None]
        kind = KIND_OF_TABLE.get(parts[0])
        reg = self.plugins.get(kind.name, parts[1]) if kind is not None and len(parts) > 1 else None
        return [reg.check] if reg is not None and reg.check is not None and (kind.name, parts[1]) in self.used else []

    def run_check(self, check: Any, recipe: Any) -> set[tuple[str, str]]:
        try:
            return {(str(k), str(m)) for k, m in check(recipe, self.plugins)}
        except Exception as exc:  # a check that trips over the value is a misfit too
            return {("", f"the check of its owner failed: {type(exc).__name__}: {exc}")}

    def ignored(self, params: dict[str, Any]) -> dict[str, str]:
        """``{key: why}``: the keys the recipe with ``params`` set ignores, as their owners say."""
        trial_recipe = apply_params(self.recipe, params, self.models)
        return {".".join(self.split(k, self.names)): why for k, why in trial_recipe.ignored_keys(self.plugins)
                if k != "run"}  # a plugin that could not tell is named by the recipe's own check

    def misfit(self, params: dict[str, Any]) -> str | None:
        """Why the recipe with ``params`` set is refused, or None."""
        from dialsum_core.errors import RecipeError

        try:
            trial_recipe = apply_params(self.recipe, params, self.models)
            for name in self.models:
                trial_recipe.options("model_loaders", name, self.plugins)
        except RecipeError as exc:
            return str(exc).splitlines()[0].split(": ", 1)[-1]
        except (KeyError, ValueError) as exc:
            return f"cannot be set: {exc}"
        checks = {id(c): c for key in params for c in self.owners(key)}
        for ident, check in checks.items():
            if ident not in self.before:
                self.before[ident] = self.run_check(check, self.recipe)
            new = sorted(self.run_check(check, trial_recipe) - self.before[ident])
            if new:
                key, message = new[0]
                return f"{key}: {message}" if key else message
        return None


def _check_combinations(probe: _Prober, probes: dict[str, list[Any]]) -> Problems:
    """Values that each fit the recipe may not fit together (``d_model`` and ``attention_heads``:
    the heads must divide the width): a trial that draws them would fail after the trials before it
    trained. Every combination is tried when there are few; otherwise those of the values at the ends."""
    import itertools
    import math

    if len(probes) < 2:
        return []
    if math.prod(len(v) for v in probes.values()) > MAX_COMBINATIONS:
        probes = {k: list(dict.fromkeys([v[0], v[-1]])) for k, v in probes.items()}
        if math.prod(len(v) for v in probes.values()) > MAX_COMBINATIONS:
            return []
    for combination in itertools.product(*probes.values()):
        params = dict(zip(probes, combination, strict=True))
        problem = probe.misfit(params)
        if problem:
            for key in list(params):  # name only the values that clash: drop those it fails without
                fewer = {k: v for k, v in params.items() if k != key}
                if probe.misfit(fewer):
                    params = fewer
            problem = probe.misfit(params) or problem
            drawn = ", ".join(f"{k} = {v!r}" for k, v in params.items())
            return [("modes.optuna.space", f"a trial can draw {drawn}, which does not fit the recipe: {problem}; "
                     "narrow the ranges or choices so that every combination is valid")]
    return []


def space_roots(recipe: Any) -> list[str]:
    """What a search-space key may start with: a section the installed plugins contribute
    (``recipe.schema.tables``: ``train`` only where a plugin declares it), a plugin table
    (``models``, ``modes``...) or :data:`MODEL_KEY`.

    Read from the recipe rather than listed here: the sections belong to whichever plugins are
    installed, so a third party's section is tuned like a bundled one and a section nobody
    contributes is refused by the check instead of failing in the first trial. ``[run]`` is not
    tuned: it says what the study is (its mode, its models, where it writes), not how a model learns.
    """
    return [*(t for t in recipe.schema.tables if t != "run"), *recipe.tables, MODEL_KEY]


def resolve_key(key: str, models: list[str]) -> str:
    """``model.lora_r`` -> ``models."<first model>".lora_r``; other keys are used as written."""
    if key.startswith(f"{MODEL_KEY}."):
        if not models:
            raise KeyError(f"{key}: no model to apply it to")
        return f'models."{models[0]}".{key[len(MODEL_KEY) + 1:]}'
    return key


def apply_params(recipe: Any, params: dict[str, Any], models: list[str]) -> Any:
    """The recipe with a trial's parameters set; a key in a section must name one of its options
    (a plugin table's keys are checked by its plugin's options class).

    Each value counts as set by the file that declared its parameter in the space, so that a
    relative path among the choices (a data file, a lexicon) is read from that file's folder, as
    every path of a recipe is, rather than from the working directory."""
    from dialsum_core.recipe import io

    for key in params:
        parts = io.split_dotted(key)
        if parts[0] in recipe.schema.tables:
            node = recipe.section(parts[0])
            for part in parts[1:-1]:
                node = getattr(node, part, None)
            if node is None or not attrs.has(type(node)) or parts[-1] not in attrs.fields_dict(type(node)):
                raise KeyError(f"{key!r} is not an option of [{'.'.join(parts[:-1])}]")
    out = recipe.override(*((resolve_key(k, models), val) for k, val in params.items()))
    for key, value in params.items():
        where = recipe.where(f"modes.optuna.space.{key}.choices")  # the values a path can be among
        target = ".".join(io.split_dotted(resolve_key(key, models)))
        out.provenance.update(dict.fromkeys(io.leaves({target: value}), where))
    return out


def check_optuna_mode(recipe: Any, plugins: Any) -> Problems:
    """The optuna mode: its study (:func:`check_optuna`), and no ``run.resume_from``, which every trial
    would resume from (the trials of ``full``'s study ignore it: there it names a fold's).

    ``run.use_tta`` and ``run.use_cache`` are not read by the trials, but are accepted: a full recipe
    runs its study alone first with ``--set run.mode=optuna`` (docs/scaling.md), keeping them for
    its later stages."""
    found = check_optuna(recipe, plugins)
    if getattr(recipe.run, "resume_from", ""):
        found.append(("run.resume_from", "every trial of the optuna mode would resume from this one checkpoint, "
                      "continuing its training instead of training with the values it draws; leave it empty "
                      "(re-running the experiment resumes its study, and runs an interrupted trial again)"))
    return found


def check_optuna(recipe: Any, plugins: Any) -> Problems:
    """What a study refuses, for the optuna mode and the full mode's search stage alike."""
    found = [problem for check in (check_space, _check_study_metric, _check_storage_logs, _check_storage_url,
                                   _check_sampler, _check_percentile) for problem in check(recipe, plugins)]
    return found or _check_resumed_study(recipe, plugins)


def _check_resumed_study(recipe: Any, plugins: Any) -> Problems:
    """A named experiment whose own study exists is resumed by the run, and only with the recipe that
    started it (:func:`dialsum_modes.study.other_recipe`): said here, before the run rewrites the
    experiment's ``config.toml`` and ``results.json``. The stamp is taken of the recipe as the run
    executes it (resolved, shortened by ``run.debug``) and of the data it reads."""
    import logging
    from pathlib import Path

    from dialsum_core.context import for_debug
    from dialsum_core.errors import DialsumError
    from dialsum_core.runner import resolve
    from dialsum_modes import study

    opts, name, models = recipe.options("run_modes", "optuna", plugins), recipe.run.name, list(recipe.run.models)
    db = Path(recipe.run.output_dir).expanduser() / name / STUDY_FOLDER / STUDY_FILE if name else None
    if opts.storage or not models or db is None or not db.is_file():
        return []
    quiet = logging.getLogger("dialsum")
    level = quiet.level
    try:
        quiet.setLevel(logging.WARNING)  # the sections say what run.debug shortens when the run applies it
        runs = for_debug(resolve(recipe, plugins, name))
    except DialsumError:  # reported by the checks that own it
        return []
    finally:
        quiet.setLevel(level)
    if (data := plugins.checked_data(runs)) is None:
        return []
    stamp = study.study_stamp(runs, plugins, runs.options("run_modes", "optuna", plugins), models[0], data)
    problem = study.other_recipe(db, opts.study_name or name, stamp)
    return [("modes.optuna", problem)] if problem else []


def study_trials(options: OptunaOptions, run: Any) -> int:
    """The trials the study runs: ``trials``, at most :data:`DEBUG_TRIALS` in a debug run."""
    return min(options.trials, DEBUG_TRIALS) if run.debug else options.trials


def _check_storage_url(recipe: Any, plugins: Any) -> Problems:
    """A server URL must name a database SQLAlchemy knows, with its driver installed: the run opens the
    storage only once the experiment exists. Looked up here (SQLAlchemy and the driver are imported
    when a URL is given, nothing is connected to)."""
    value = recipe.options("run_modes", "optuna", plugins).storage
    if "://" not in value or value.startswith("journal://"):
        return []
    try:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError
    except ImportError:  # optuna's RDB storages need it: the run says so when it opens the storage
        return []
    try:
        dialect = make_url(value).get_dialect()
    except (ArgumentError, NoSuchModuleError, ValueError):
        scheme = value.split("://", 1)[0]
        return [("modes.optuna.storage", f"{scheme}:// is no database SQLAlchemy knows; give a journal file "
                 "(journal://PATH), an SQLite path, or a URL such as postgresql+psycopg://user:pw@host/db")]
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        return [("modes.optuna.storage", f"the driver of {value.split('://', 1)[0]}:// is not installed ({exc}); "
                 "install it, or name an installed one (postgresql+psycopg:// with pip install \"psycopg[binary]\")")]
    return []


#: The random trials the ``gp`` sampler starts with (passed to Optuna's ``GPSampler``); it imports
#: its libraries only after them, to fit its Gaussian process.
GP_STARTUP_TRIALS = 10
#: What a sampler needs once it fits a model of the trials done: its libraries, and the trials it
#: samples at random before (a study of no more trials never needs them).
SAMPLER_NEEDS = {"gp": (("scipy", "torch"), GP_STARTUP_TRIALS)}
#: The trials a debug run's study runs at most.
DEBUG_TRIALS = 3


def _check_sampler(recipe: Any, plugins: Any) -> Problems:
    """The sampler's own libraries are installed (looked up, not imported) when the study runs long
    enough to need them: without them the study failed once its random startup trials had trained."""
    import importlib.util

    opts = recipe.options("run_modes", "optuna", plugins)
    libraries, startup = SAMPLER_NEEDS.get(opts.sampler, ((), 0))
    trials = study_trials(opts, recipe.run)
    missing = [m for m in libraries if importlib.util.find_spec(m) is None]
    if missing and trials > startup:
        return [("modes.optuna.sampler", f"{opts.sampler!r} needs {' and '.join(missing)} after its first {startup} "
                 f"trials, which is not installed (pip install {' '.join(missing)}); or choose another sampler, "
                 f"e.g. \"tpe\", or run at most {startup} trials")]
    return []


def _check_percentile(recipe: Any, plugins: Any) -> Problems:
    """``percentile`` is read by the ``percentile`` pruner only: set (to another value than its
    default) beside another pruner, it would be accepted and ignored."""
    opts = recipe.options("run_modes", "optuna", plugins)
    default = attrs.fields(OptunaOptions).percentile.default
    if opts.pruner != "percentile" and opts.percentile != default:
        return [("modes.optuna.percentile", f"{opts.percentile} is read by the percentile pruner only, and pruner = "
                 f"{opts.pruner!r}; set pruner = \"percentile\", or remove percentile")]
    return []


def _check_storage_logs(recipe: Any, plugins: Any) -> Problems:
    """A relative study file may not be the file a logger of the run writes (``train.log``): the
    study would read the log's lines as its own and fail in the middle of the trials."""
    from pathlib import Path

    value = recipe.options("run_modes", "optuna", plugins).storage
    storage = value.removeprefix("journal://")
    if not storage or "://" in storage or Path(storage).is_absolute():
        return []
    return [("modes.optuna.storage", f"{value!r} is the file the {name} logger writes (loggers.{name}.filename); "
             f"name the study's own file, e.g. {STUDY_FOLDER}/{STUDY_FILE}")
            for name, filename in logger_files(recipe, plugins).items()
            if Path(filename).as_posix().casefold() == Path(storage).as_posix().casefold()][:1]


def _check_study_metric(recipe: Any, plugins: Any) -> Problems:
    """The score a study maximises must be one the recipe's metrics give: otherwise the first trial
    trains to the end before the study finds no value to record."""
    from dialsum_metrics import gives

    metric, metrics = recipe.options("run_modes", "optuna", plugins).metric, list(recipe.run.metrics)
    if gives(metrics, plugins, metric) is False:
        return [("modes.optuna.metric", f"{metric!r} is not a score of run.metrics {metrics}; name one they give "
                 "(e.g. rouge_mean of \"rouge\"), or add the metric that gives it")]
    return []


def check_full(recipe: Any, plugins: Any) -> Problems:
    found = _check_kfold_options(recipe, plugins) + _check_unused_tta(recipe, plugins)
    if recipe.options("run_modes", "full", plugins).tune:
        found += [(key, msg + ("; or set modes.full.tune = false to skip the optuna stage"
                               if msg.startswith("empty search space") else ""))
                  for key, msg in check_optuna(recipe, plugins)]
    return found


