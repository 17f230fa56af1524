"""Running a recipe: validate, create the experiment folder, start the loggers, call the run mode.

Nothing is created before the recipe validates, so a bad recipe never leaves an empty experiment
folder behind. After that, whatever happens, ``results.json`` records how the run ended.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

import attrs

from dialsum_core import __version__
from dialsum_core.context import RunContext, for_debug
from dialsum_core.errors import status_of
from dialsum_core.events import Events
from dialsum_core.experiment import CONFIG, RESULTS, Experiment, ReplicaExperiment, default_name
from dialsum_core.manager import Plugins, build_plugins
from dialsum_core.protocols import Processes
from dialsum_core.recipe import Recipe, io
from dialsum_core.registry import KIND, KINDS

log = logging.getLogger("dialsum")


@attrs.frozen
class RunResult:
    experiment: Path
    results: dict[str, Any]
    #: ``results.json`` of this run (inside the folder the run mode chose for a partial job).
    results_path: Path | None = None
    #: Whether this process is the main one of its launch: the one that reports the results.
    main: bool = True


def _requirement_versions(distribution: str) -> dict[str, str]:
    """Installed versions of what ``distribution`` depends on (the libraries a plugin runs on)."""
    import re

    found: dict[str, str] = {}
    try:
        requires = metadata.requires(distribution) or []
    except metadata.PackageNotFoundError:  # a plugin object registered in-process, not a distribution
        return found
    for req in requires:
        if "extra ==" in req:
            continue
        name = re.split(r"[ ;<>=!~\[(]", req.strip(), maxsplit=1)[0]
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


def resolve(recipe: Recipe, plugins: Plugins, name: str) -> Recipe:
    """The recipe as it will run: name set, the options of every plugin used or given a table spelled out,
    every path made absolute (an unused table's too) so that ``config.toml`` runs again from anywhere."""
    from dialsum_core.recipe import CONVERTER
    from dialsum_core.recipe.model import absolute_paths

    run = attrs.evolve(recipe.run, name=name)
    named = recipe.evolve(run=run)
    tables = {t: {k: dict(v) for k, v in named.tables[t].items()} for t in named.tables}
    versions = {"dialsum-core": __version__}
    given = ((k.name, n) for k in KINDS for n in named.tables[k.table])  # a table the run does not use, too
    owners = [(p.distribution, p.version) for p in named.schema.parts]  # its data's reader is chosen by no name
    for kind, reg_name in dict.fromkeys([*named.used(plugins), *given]):
        reg = plugins.require(kind, reg_name)
        tables[KIND[kind].table][reg_name] = CONVERTER.unstructure(named.options(kind, reg_name, plugins))
        owners.append((reg.distribution, reg.version))
    for dist, version in dict.fromkeys(owners):
        if dist not in versions:  # many names, one distribution: its metadata read once
            versions[dist] = version
            versions.update({k: v for k, v in _requirement_versions(dist).items() if k not in versions})
    resolved = named.evolve(versions=versions, **tables)
    paths = absolute_paths(resolved, plugins)
    absolute = resolved.override(*paths)
    keys = (".".join(io.split_dotted(key)) for key, _ in paths)
    absolute.provenance.update({key: recipe.where(key) for key in keys})  # errors still name the file
    return absolute


def run_recipe(
    recipe: Recipe,
    plugins: Plugins | None = None,
    *,
    disable: Iterable[str] = (),
) -> RunResult:
    """Run ``recipe`` to the end; raises :class:`dialsum_core.errors.DialsumError` on bad input."""
    plugins = plugins or build_plugins(disable)
    processes = plugins.processes()
    recipe = plugins.resolve(recipe).validate(plugins)
    models = recipe.run.models
    name = recipe.run.name or default_name(recipe.run.mode, models[0] if models else "model")
    # Scale-out: every process of a launch uses rank 0's name (the default one has a timestamp).
    name = processes.broadcast(name)
    resolved = resolve(recipe, plugins, name)
    experiment = _open_experiment(processes, Path(recipe.run.output_dir).expanduser(), name)
    # the others run the same code on the same data: their warnings would repeat the main one's
    log.setLevel(resolved.run.log_level if processes.is_main else logging.ERROR)
    events = Events(plugins.pm, plugins.origin)
    ctx = RunContext(recipe=for_debug(resolved), plugins=plugins, experiment=experiment, events=events,
                     processes=processes)
    mode = ctx.build("run_modes", resolved.run.mode)
    # A partial job of a fan-out (the mode says which) keeps its config, results and logs in its own folder.
    job = mode.job_folder(ctx) if callable(getattr(mode, "job_folder", None)) else ""
    job = f"{job}/" if job else ""
    loggers: list[tuple[str, Any]] = []
    started = time.time()
    try:  # from here on, whatever fails is recorded in results.json and told to the plugins
        experiment.write_text(f"{job}{CONFIG}", resolved.to_toml())
        # a run killed outright (SIGKILL, power loss) must not leave an earlier run's "complete" behind
        experiment.write_json(f"{job}{RESULTS}", {"status": "running", "experiment": name, "mode": resolved.run.mode})
        loggers = _start_loggers(_logger_context(ctx, job)) if processes.is_main else []
        _log_header(ctx)
        ctx.emit("dialsum_before_run")
        results = dict(mode.run(ctx) or {})
        results.setdefault("status", "complete")
    except BaseException as exc:
        failure = {
            "status": status_of(exc),
            "error": f"{type(exc).__name__}: {exc}".removesuffix(": "),  # Ctrl-C has no message
            "experiment": name,
            "mode": resolved.run.mode,
            "elapsed_seconds": round(time.time() - started, 3),
        }
        previous = experiment.read_json(f"{job}{RESULTS}")
        if isinstance(previous, dict):
            failure = {**previous, **failure}
        experiment.write_json(f"{job}{RESULTS}", failure)
        # The traceback goes with the record: the run's log file keeps it; the console shows a known
        # user error (or Ctrl-C) once, as the command's `error:` line (see cli.UserErrorsOnce).
        log.error("run failed: %s", failure["error"], exc_info=exc)
        if isinstance(exc, KeyboardInterrupt):  # the command's one line says where (a job's folder or the run's)
            exc.add_note(f"partial results are in {experiment.root / job}")
        ctx.emit("dialsum_on_error", error=exc)
        _stop_loggers(ctx, loggers)
        processes.finish(wait=False)  # the others may never reach a barrier
        raise
    results = {
        "experiment": name,
        "mode": resolved.run.mode,
        "models": resolved.run.models,
        **results,
        "elapsed_seconds": round(time.time() - started, 3),
    }
    path = experiment.write_json(f"{job}{RESULTS}", results)
    ended = False
    try:
        ctx.emit("dialsum_after_run", results=results)
        ended = True
    finally:  # a stop now (Ctrl-C while a logger reports) still closes every logger
        _stop_loggers(ctx, loggers)
        processes.finish(wait=ended)  # after a stop, the others may never reach a barrier
    return RunResult(experiment.root, results, Path(path), processes.is_main)


def _log_header(ctx: RunContext) -> None:
    plugins = ", ".join(f"{k}={v}" for k, v in ctx.recipe.versions.items())
    log.info("experiment %s (mode %s)", ctx.experiment.root, ctx.recipe.run.mode)
    log.info("versions: %s", plugins)
    if ctx.processes.world_size > 1:
        log.info("launch: %d processes; rank 0 writes the experiment folder", ctx.processes.world_size)
    ignored = ctx.recipe.ignored(ctx.plugins) if ctx.processes.is_main else []
    for line in [b.describe() for b in ctx.plugins.broken] + ignored:
        log.warning("%s", line)


# -- scale-out (see dialsum_core.protocols.Processes) --------------------------------------------
def _open_experiment(processes: Processes, output_dir: Path, name: str) -> Experiment:
    """The experiment folder: created by the main process; the others wait for it, then only read."""
    try:
        if processes.is_main:
            return Experiment.create(output_dir, name)
    finally:
        processes.barrier()  # reached by the main process even when it fails: nobody waits forever
    return ReplicaExperiment(Path(output_dir) / name)


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
