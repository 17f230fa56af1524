"""``optuna``: search any training, LoRA or generation option for the best validation ROUGE.

The search space is declared in the recipe (``[modes.optuna.space."train.learning_rate"]``).
Each trial trains the first model of ``run.models`` with the sampled values applied to the recipe,
and its objective is the validation score named by ``metric`` (``rouge_mean``).

Pruning: each trial trains with ``ctx.trial`` set to a :class:`TrialReporter`. The model reports
every evaluation's scores to it (``ctx.trial.report(epoch, scores)``), stops training when it
answers ``True`` and returns a ``FitResult`` with ``pruned=True``; the trial is then pruned. A model
loader needs no knowledge of Optuna, only of :class:`dialsum_core.protocols.Trial`.

The study lives in ``optuna/study.db`` (or ``storage``) under the experiment's name, so running
the same experiment again resumes it and only runs the trials still missing. Workers started
separately that name the same ``storage`` (a journal file on a shared disk, an RDB URL) and
``study_name`` share one study and its ``trials`` budget (docs/scaling.md).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from pathlib import Path
from typing import Any

import attrs

from dialsum_core.context import RunContext
from dialsum_core.errors import DialsumError
from dialsum_core.processes import OneProcess
from dialsum_core.protocols import Processes
from dialsum_core.recipe import Recipe
from dialsum_core.recipe.model import absolute_paths
from dialsum_data import augmented
from dialsum_modes import plots, toolkit
from dialsum_modes import study as shared
from dialsum_modes.options import (
    BEST_PARAMS,
    BEST_RECIPE,
    GP_STARTUP_TRIALS,
    OptunaOptions,
    ParamSpec,
    apply_params,
    study_trials,
)
from dialsum_modes.sections import BEST_VALUE, STUDY_FOLDER

log = logging.getLogger("dialsum")


def suggest(trial: Any, key: str, spec: ParamSpec) -> Any:
    if spec.type == "categorical":
        return trial.suggest_categorical(key, list(spec.choices))
    if spec.type == "int":
        return trial.suggest_int(key, int(spec.low), int(spec.high), step=int(spec.step) or 1, log=spec.log)
    return trial.suggest_float(key, spec.low, spec.high, step=spec.step or None, log=spec.log)


#: Optuna's samplers take a seed below this (NumPy's): the study's seed is ``run.seed`` plus the
#: trials done, which passes it when ``run.seed`` is near the top of its range.
SEED_RANGE = 2 ** 32


def make_sampler(name: str, seed: int) -> Any:
    import optuna

    seed %= SEED_RANGE

    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed, n_startup_trials=GP_STARTUP_TRIALS)
    if name == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    return optuna.samplers.RandomSampler(seed=seed)


def make_pruner(options: OptunaOptions) -> Any:
    import optuna

    if options.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    if options.pruner == "percentile":
        return optuna.pruners.PercentilePruner(options.percentile, n_startup_trials=2, n_warmup_steps=0)
    if options.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource="auto")
    return optuna.pruners.NopPruner()


@attrs.define
class StudyResult:
    best_params: dict[str, Any]
    best_value: float
    best_trial: int
    best_scores: dict[str, float]
    summary: dict[str, Any]


class TrialReporter:
    """``ctx.trial`` for one Optuna trial (:class:`dialsum_core.protocols.Trial`).

    Training reports each evaluation's scores; the study's pruner answers whether to stop. Training a
    trial is collective under a multi-process launch (data-parallel training, sharded generation), so
    every process runs the same trial and stops it at the same epoch: rank 0 holds Optuna's trial and
    decides, the other processes are told through a broadcast.
    """

    def __init__(self, number: int, trial: Any, metric: str, processes: Processes | None = None):
        self.number = number
        self.metric = metric
        self._trial = trial
        self._processes = processes or OneProcess()
        self.pruned_at: int | None = None

    def report(self, step: int, scores: Any) -> bool:
        value = toolkit.epoch_score(dict(scores or {}), self.metric)
        if value is None:
            return False
        prune = None
        if self._trial is not None:
            self._trial.report(value, step=step)
            prune = self._trial.should_prune()
        prune = self._processes.broadcast(prune)
        if prune:
            self.pruned_at = step
        return bool(prune)

    def set_user_attr(self, key: str, value: Any) -> None:
        if self._trial is not None:
            self._trial.set_user_attr(key, value)


def run_study(ctx: RunContext, options: OptunaOptions, model: str, folder: str = STUDY_FOLDER,
              original: Recipe | None = None) -> StudyResult:
    """Run (or resume, or join) the study for ``model``; writes ``{folder}/best_params.json`` and
    ``best_recipe.toml``.

    Several workers (processes started separately, on one machine or many) that name the same
    study and storage share its ``trials`` budget (:func:`dialsum_modes.study.open_study`).
    Under a multi-process launch, rank 0 alone talks to the study and the other processes train
    each trial with it.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if not options.space:
        raise DialsumError("modes.optuna.space: empty search space")
    data = ctx.data()
    models = list(ctx.recipe.run.models)
    run = ctx.recipe.run
    total = study_trials(options, run)
    if total < options.trials:  # said as the debug epochs are, so that the recipe's number is not taken as run
        log.info("debug: %d trials instead of %d", total, options.trials)
    name = options.study_name or ctx.experiment.root.name
    trials_dir = ctx.experiment.checkpoints / folder

    def train_trial(trial: TrialReporter, params: dict[str, Any]) -> float:
        recipe = apply_params(ctx.recipe, params, models)
        # A trial trains anew with the values it draws: run.resume_from (refused in the optuna mode)
        # names the checkpoint of one fold in a full run's job, which its study's trials leave alone.
        if getattr(recipe.run, "resume_from", ""):  # a key of the model plugins that resume (dialsum-hf)
            recipe = recipe.evolve(run=attrs.evolve(recipe.run, resume_from=""))
        tctx = ctx.evolve(recipe=recipe, trial=trial)
        tctx.emit("dialsum_before_trial", trial=trial.number, params=params, metric=options.metric,
                  direction=options.direction)
        log.info("trial %d: %s", trial.number, _fmt_params(params))
        workdir = trials_dir / f"trial_{trial.number:04d}"
        workdir.mkdir(parents=True, exist_ok=True)
        trial.set_user_attr("workdir", str(workdir))
        value: float | None = None
        state = "fail"
        try:
            loader = tctx.build("model_loaders", model)
            # the trial's own recipe reads its data: a tuned key of the data's section (a file, a
            # clean-up option) changes what it trains on; unchanged, the reader answers from its cache
            tdata = tctx.data()
            train = augmented(tctx, tdata.train)
            m = loader.build(tctx.evolve(workdir=workdir), train)
            fit = toolkit.fit_result(m.fit(train, tdata.valid, tctx.evolve(workdir=workdir), workdir))
            if fit.pruned:
                state = "pruned"
                message = f"trial {trial.number} pruned after epoch {trial.pruned_at}"
                log.info("%s", message)
                toolkit.release(m)
                raise optuna.TrialPruned(message)
            preds = toolkit.generate(tctx, m, [e.dialogue for e in tdata.valid],
                                     f"predict valid (trial {trial.number})")
            toolkit.release(m)
            scores = tctx.score(preds, toolkit.references(tdata.valid))
            if options.metric not in scores:
                raise DialsumError(f"modes.optuna.metric: {options.metric!r} is not computed by run.metrics "
                                   f"(available: {', '.join(scores)})")
            trial.set_user_attr("scores", toolkit.round_scores(scores, 6))
            # where the trial's model is: kept for the best trial, named in results.json for whoever uploads it
            trial.set_user_attr("checkpoint", fit.best_checkpoint or str(workdir))
            value = float(scores[options.metric])
            state = "complete"
            return value
        finally:
            tctx.emit("dialsum_after_trial", trial=trial.number, params=params, value=value, state=state,
                      metric=options.metric, direction=options.direction)

    processes = ctx.processes
    if not processes.is_main:
        while (order := processes.broadcast(None)) is not None:
            number, params = order
            try:
                train_trial(TrialReporter(number, None, options.metric, processes), params)
            except optuna.TrialPruned:
                pass
            except Exception as exc:
                if getattr(exc, "raised_by_every_process", False):  # Processes.map_in_order: follow main's `finally`
                    processes.broadcast(None)
                    processes.broadcast(None)
                raise
        result = processes.broadcast(None)
        if result is None:
            raise DialsumError("optuna: the study stopped on the main process (see its log)")
        return result

    own = not options.storage  # the experiment's own study: this process is its only worker
    # Its only worker at a time: the fan-out jobs of a full run each run the study stage, and one
    # that found another's trial running would mark it failed as abandoned, failing that job. The
    # job that comes second waits, then finds the study done.
    with own_study_lock(ctx.experiment.root / folder / shared.STUDY_FILE) if own else contextlib.nullcontext():
        stamp = shared.study_stamp(ctx.recipe, ctx.plugins, options, model, data) if own else ""
        if own:
            db = ctx.experiment.root / folder / shared.STUDY_FILE
            problem = shared.other_recipe(db, name, stamp)  # before anything is written to the study
            if problem:
                raise DialsumError(f"modes.optuna: {problem}")
            close_abandoned(db, name)
        study = shared.open_study(
            options.storage, ctx.experiment.root / folder, study_name=name, budget=total, direction=options.direction,
            sampler=make_sampler(options.sampler, run.seed), pruner=make_pruner(options))
        if own and study.user_attrs.get(shared.RECIPE_ATTR) is None:
            study.set_user_attr(shared.RECIPE_ATTR, stamp)
        finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
        done = len(study.get_trials(deepcopy=False, states=finished))
        if own:
            # The sampler's seed follows the trials finished so far, so that a resumed study proposes
            # what the uninterrupted one would have (the workers of a shared study are seeded apart).
            study.sampler = make_sampler(options.sampler, run.seed + done)
        if done:
            log.info("optuna: resuming study %r with %d finished trials; %d to go", name, done, max(total - done, 0))
        ctx.emit("dialsum_before_stage", stage="optuna")

        def objective(trial: Any) -> float:
            params = {key: suggest(trial, key, spec) for key, spec in options.space.items()}
            processes.broadcast((trial.number, params))  # the other processes of a launch train it too
            return train_trial(TrialReporter(trial.number, trial, options.metric, processes), params)

        def after(study: Any, frozen: Any) -> None:
            nonlocal done
            done += 1
            if own:
                study.sampler = make_sampler(options.sampler, run.seed + done)
            toolkit.progress(ctx, "trials", done, total)
            best = _best(study)
            if frozen.value is not None:
                log.info("trial %d %s: %s %.4f (best %.4f, trial %d)", frozen.number, frozen.state.name.lower(),
                         options.metric, frozen.value, best.value if best else float("nan"),
                         best.number if best else -1)
            keep_best_checkpoint(study, best)

        def keep_best_checkpoint(study: Any, best: Any) -> None:
            for t in study.get_trials(deepcopy=False):
                if t.state.is_finished() and (best is None or t.number != best.number):
                    for wd in {t.user_attrs.get("workdir"), str(trials_dir / f"trial_{t.number:04d}") if own else None}:
                        if wd:  # the second: a trial killed before it could record its folder
                            shutil.rmtree(wd, ignore_errors=True)

        toolkit.progress(ctx, "trials", done, total)
        n_jobs = options.n_jobs
        if n_jobs > 1 and processes.world_size > 1:
            log.warning("optuna: n_jobs = %d under a multi-process launch: the processes train one trial at a time "
                        "together (n_jobs = 1)", n_jobs)
            n_jobs = 1
        if n_jobs > 1:
            # Trials run in threads, and each builds its loader there. A loader imports its libraries
            # when built, and first imports are not thread-safe (transformers resolves names lazily:
            # "cannot import name 'BartConfig'"), so build it once here, before any thread starts.
            ctx.build("model_loaders", model)
        result: StudyResult | None = None
        ended = False
        try:
            # Other workers of the study may still be running trials: wait for them (up to the study's
            # timeout) so that the best trial reported here is the study's.
            shared.optimize(study, objective, timeout=options.timeout or None, n_jobs=n_jobs, callbacks=[after],
                                 wait_seconds=float(options.timeout or 24 * 3600))
            ended = True
            processes.broadcast(None)  # the other processes of a launch: no more trials
            best = _best(study)
            if best is None:
                raise DialsumError(f"optuna: no trial of study {name!r} completed (all pruned or failed)")
            keep_best_checkpoint(study, best)  # also after a run killed between a trial's end and its clean-up
            summary = write_outputs(ctx, study, best, options, folder, model, original or ctx.recipe)
            ctx.emit("dialsum_after_stage", stage="optuna", metrics={options.metric: best.value})
            result = StudyResult(dict(best.params), float(best.value), best.number,
                                 dict(best.user_attrs.get("scores", {})), summary)
            return result
        finally:
            if not ended:
                processes.broadcast(None)
            processes.broadcast(result)


def own_study_lock(db: Path) -> Any:
    """The lock of the experiment's own study (``study.db.run.lock``, gone once released), held by
    the run that resumes or runs it until its outputs are written."""
    db.parent.mkdir(parents=True, exist_ok=True)
    return shared.MachineLock(db.with_name(db.name + ".run.lock"), on_wait=lambda: log.info(
        "optuna: another job of this experiment is running its study; waiting for it to end to reuse it"))


def close_abandoned(db: Path, study_name: str) -> list[int]:
    """Mark failed the trials of the experiment's own study that a killed run left running.

    That study has one worker, the process starting now, so a trial still running was abandoned.
    Failed, its slot is queued again by :func:`dialsum_modes.study.open_study` instead of
    being waited for until the storage's heartbeat gives up on it.
    """
    import optuna

    if not db.exists():
        return []
    try:
        study = optuna.load_study(study_name=study_name, storage=f"sqlite:///{db.resolve()}")
    except KeyError:  # the study was never created
        return []
    running = [t.number for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))]
    for number in running:
        study.tell(number, state=optuna.trial.TrialState.FAIL)
    if running:
        log.info("optuna: trials %s were left running by an interrupted run; marked failed and queued again", running)
    return running


def _best(study: Any) -> Any:
    import optuna

    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not complete:
        return None
    return study.best_trial


def _fmt_params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


def best_recipe(recipe: Recipe, params: dict[str, Any], model: str) -> Recipe:
    """A recipe that trains ``model`` with ``params`` in ``single`` mode, runnable from anywhere
    (the run's recipe already holds absolute paths).

    What only the study's run meant is left out: a fan-out job's ``run.only`` (``fold=2``: the
    single mode has no folds), its ``run.resume_from`` (a fold's checkpoint) and the ensemble's
    ``run.ensemble_weights`` (one model combines nothing); ``dialsum check`` refused them there."""
    out = apply_params(recipe, params, list(recipe.run.models))
    resume = {"resume_from": ""} if getattr(out.run, "resume_from", "") else {}  # dialsum-hf's key
    run = attrs.evolve(out.run, mode="single", name="", models=[model], only=[], ensemble_weights=[], **resume)
    return out.evolve(run=run, versions={})


def write_outputs(ctx: RunContext, study: Any, best: Any, options: OptunaOptions, folder: str, model: str,
                  original: Recipe) -> dict[str, Any]:
    import optuna

    trials = study.get_trials(deepcopy=False)
    states = [t.state for t in trials]
    summary: dict[str, Any] = {
        "study_name": study.study_name,
        "sampler": options.sampler,
        "pruner": options.pruner,
        "direction": options.direction,
        "metric": options.metric,
        "n_trials": len(trials),
        "complete": states.count(optuna.trial.TrialState.COMPLETE),
        "pruned": states.count(optuna.trial.TrialState.PRUNED),
        "failed": states.count(optuna.trial.TrialState.FAIL),
        "best_trial": best.number,
        BEST_VALUE: round(float(best.value), 6),
        "best_params": dict(best.params),
        "best_checkpoint": best.user_attrs.get("checkpoint", ""),
        "trials": [{"number": t.number, "state": t.state.name.lower(),
                    "value": None if t.value is None else round(float(t.value), 6),
                    "params": dict(t.params)} for t in trials],
    }
    exp = ctx.experiment
    exp.write_json(f"{folder}/{BEST_PARAMS}", {
        "model": model, "best_trial": best.number, "value": best.value, "metric": options.metric,
        "params": dict(best.params), "scores": best.user_attrs.get("scores", {}),
    })
    best_rec = best_recipe(original, dict(best.params), model)
    # a path among the space's choices was relative to the recipe that declared it: spelled out
    exp.write_text(f"{folder}/{BEST_RECIPE}", best_rec.override(*absolute_paths(best_rec, ctx.plugins)).to_toml())
    files = {"best_params": f"{folder}/{BEST_PARAMS}", "best_recipe": f"{folder}/{BEST_RECIPE}"}
    for rel in files.values():
        ctx.emit("dialsum_on_artifact", path=rel, kind="optuna")
    if ctx.recipe.run.save_visualizations:
        summary["visualizations"] = plots.for_study(ctx, study, options.metric, prefix=folder.replace("/", "_"))
    summary["files"] = files
    return summary


class OptunaMode(toolkit.Mode):
    options: OptunaOptions

    def run(self, ctx: RunContext) -> dict[str, Any]:
        original = ctx.recipe
        model = ctx.recipe.run.models[0]
        result = run_study(ctx, self.options, model, original=original)
        scores = result.best_scores
        log.info("optuna: best %s %.4f (trial %d): %s", self.options.metric, result.best_value, result.best_trial,
                 _fmt_params(result.best_params))
        return {
            "optuna": result.summary,
            "best_params": result.best_params,
            **toolkit.final_scores(scores, default=result.best_value),
            **toolkit.name_best(ctx, [(f"trial {result.best_trial}", {}, result.summary["best_checkpoint"])],
                                "trial of the study"),
        }
