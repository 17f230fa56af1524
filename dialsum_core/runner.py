"""Running a recipe: validate, create the experiment folder, start the loggers, call the run mode.

Nothing is created before the recipe validates, so a bad recipe never leaves an empty experiment
folder behind. After that, whatever happens, ``results.json`` records how the run ended.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

import attrs

from dialsum_core import __version__, distributed
from dialsum_core.context import RunContext
from dialsum_core.events import Events
from dialsum_core.experiment import Experiment, default_name
from dialsum_core.manager import Plugins, build_plugins
from dialsum_core.recipe import Recipe
from dialsum_core.registry import TABLES

log = logging.getLogger("dialsum")


@attrs.frozen
class RunResult:
    experiment: Path
    results: dict[str, Any]


def used_registrations(recipe: Recipe, plugins: Plugins) -> list[tuple[str, str]]:
    """``(kind, name)`` of every plugin the recipe uses, in recipe order."""
    used = [("run_modes", recipe.run.mode)]
    used += [("model_loaders", n) for n in recipe.model_names(plugins)]
    used += [("loggers", n) for n in recipe.run.loggers]
    used += [("metrics", n) for n in recipe.run.metrics]
    if plugins.get("ensembles", recipe.run.ensemble):
        used.append(("ensembles", recipe.run.ensemble))
    if recipe.run.use_tta:
        used += [("augmenters", n) for n in recipe.run.tta_strategies]
    return [(k, n) for k, n in used if plugins.get(k, n) is not None]


def resolve(recipe: Recipe, plugins: Plugins, name: str) -> Recipe:
    """The recipe as it will run: name set, ``all`` expanded, every used plugin's options spelled out."""
    from dialsum_core.recipe import CONVERTER

    run = attrs.evolve(recipe.run, name=name, models=recipe.model_names(plugins))
    named = recipe.evolve(run=run)
    tables = {t: {k: dict(v) for k, v in getattr(recipe, t).items()} for t in TABLES.values()}
    versions = {"dialsum-core": __version__}
    for kind, reg_name in used_registrations(named, plugins):
        reg = plugins.require(kind, reg_name)
        tables[TABLES[kind]][reg_name] = CONVERTER.unstructure(named.options(kind, reg_name, plugins))
        versions[reg.distribution] = reg.version
    for dist in ("torch", "transformers", "peft"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return named.evolve(versions=versions, **tables)


def run_recipe(
    recipe: Recipe,
    plugins: Plugins | None = None,
    *,
    disable: Iterable[str] = (),
) -> RunResult:
    """Run ``recipe`` to the end; raises :class:`dialsum_core.errors.DialsumError` on bad input."""
    plugins = plugins or build_plugins(disable)
    recipe.validate(plugins)
    distributed.check_only(recipe, plugins)
    models = recipe.model_names(plugins)
    name = recipe.run.name or default_name(recipe.run.mode, models[0] if models else "model")
    # Scale-out: every process of a launch uses rank 0's name (the default one has a timestamp).
    name = distributed.broadcast(name)
    resolved = resolve(recipe, plugins, name)
    experiment = _open_experiment(Path(recipe.run.output_dir).expanduser(), name)
    # Scale-out: a fan-out job (run.only) keeps its config, results and logs in jobs/<selection>/.
    job = distributed.job_folder(resolved) + "/" if resolved.run.only else ""
    experiment.write_text(f"{job}config.toml", resolved.to_toml())
    log.setLevel(resolved.run.log_level if distributed.is_main_process() else logging.WARNING)
    events = Events(plugins.pm, plugins.origin)
    ctx = RunContext(recipe=resolved, plugins=plugins, experiment=experiment, events=events)
    loggers = _start_loggers(_logger_context(ctx, job)) if distributed.is_main_process() else []
    started = time.time()
    try:
        _log_header(ctx)
        ctx.emit("dialsum_before_run")
        mode = ctx.build("run_modes", resolved.run.mode)
        results = dict(mode.run(ctx) or {})
        results.setdefault("status", "complete")
    except BaseException as exc:
        failure = {
            "status": "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed",
            "error": f"{type(exc).__name__}: {exc}",
            "experiment": name,
            "mode": resolved.run.mode,
            "elapsed_seconds": round(time.time() - started, 3),
        }
        previous = experiment.read_json(f"{job}results.json")
        if isinstance(previous, dict):
            failure = {**previous, **failure}
        experiment.write_json(f"{job}results.json", failure)
        log.error("run failed: %s\n%s", failure["error"], "".join(traceback.format_exception(exc)).rstrip())
        ctx.emit("dialsum_on_error", error=exc)
        _stop_loggers(ctx, loggers)
        raise
    results = {
        "experiment": name,
        "mode": resolved.run.mode,
        "models": resolved.run.models,
        **results,
        "elapsed_seconds": round(time.time() - started, 3),
    }
    experiment.write_json(f"{job}results.json", results)
    ctx.emit("dialsum_after_run", results=results)
    _stop_loggers(ctx, loggers)
    return RunResult(experiment.root, results)


def _log_header(ctx: RunContext) -> None:
    plugins = ", ".join(f"{k}={v}" for k, v in ctx.recipe.versions.items())
    log.info("experiment %s (mode %s)", ctx.experiment.root, ctx.recipe.run.mode)
    log.info("versions: %s", plugins)
    if distributed.is_distributed():
        log.info("launch: %d processes; rank 0 writes the experiment folder", distributed.world_size())
    for broken in ctx.plugins.broken:
        log.warning("%s", broken.describe())


# -- scale-out (see dialsum_core.distributed) ----------------------------------------------------
def _open_experiment(output_dir: Path, name: str) -> Experiment:
    """The experiment folder: created by the main process; the others wait for it, then only read."""
    if not distributed.is_distributed():
        return Experiment.create(output_dir, name)
    with distributed.main_process_first():
        if distributed.is_main_process():
            return Experiment.create(output_dir, name)
        return distributed.ReplicaExperiment(Path(output_dir) / name)


def _logger_context(ctx: RunContext, job: str) -> RunContext:
    """Loggers of a fan-out job write into its ``jobs/<selection>/`` folder: parallel jobs never share
    a log file."""
    return ctx.evolve(experiment=Experiment(ctx.experiment.root / job)) if job else ctx


# -------------------------------------------------------------------------------------------------
def _start_loggers(ctx: RunContext) -> list[tuple[str, Any]]:
    """Build and register the recipe's loggers; one that cannot be built is reported and skipped."""
    started: list[tuple[str, Any]] = []
    for name in ctx.recipe.run.loggers:
        plugin_name = f"logger:{name}"
        try:
            obj = ctx.build("loggers", name)
            ctx.plugins.pm.register(obj, name=plugin_name)
        except Exception as exc:  # a logger must never stop a run from starting
            ctx.events.failed[plugin_name] = f"{type(exc).__name__}: {exc}"
            log.warning("%s could not start (%s); the run goes on without it", plugin_name,
                        ctx.events.failed[plugin_name])
            continue
        started.append((plugin_name, obj))
    return started


def _stop_loggers(ctx: RunContext, loggers: list[tuple[str, Any]]) -> None:
    for plugin_name, obj in reversed(loggers):
        close = getattr(obj, "close", None)
        if callable(close):
            # A logger that failed earlier is still closed (its handlers and files released), quietly.
            try:
                close()
            except Exception as exc:
                if plugin_name not in ctx.events.failed:
                    log.warning("%s failed to close: %s", plugin_name, exc)
        ctx.plugins.pm.unregister(obj, name=plugin_name)
