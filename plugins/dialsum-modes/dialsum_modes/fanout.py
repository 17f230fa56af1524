"""Fan-out jobs: ``run.only = ["fold=3"]`` trains only that part of a run, in ``jobs/fold_3/``.

Several jobs started at once (one per GPU or machine) share the experiment folder; each trained
unit is saved in ``stages/sources/``, where the final run (the same recipe without ``run.only``)
finds and reuses it before ensembling (docs/scaling.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dialsum_core.errors import DialsumError
from dialsum_core.experiment import safe_name

#: Keys a ``run.only`` entry may select on (``fold`` is 1-based, as fold folders are named).
ONLY_KEYS = ("fold", "model")


def parse_only(entries: Sequence[str]) -> tuple[dict[str, set[str]], list[str]]:
    """``["fold=3", "model=kobart"]`` -> ``({"fold": {"3"}, "model": {"kobart"}}, problems)``.

    Entries with the same key are alternatives; different keys must all match.
    """
    found: dict[str, set[str]] = {}
    problems = []
    for entry in entries:
        key, sep, value = str(entry).partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not value or key not in ONLY_KEYS:
            problems.append(f"{entry!r} is not KEY=VALUE with KEY one of {', '.join(ONLY_KEYS)}")
        elif key == "fold" and not (value.isdigit() and int(value) >= 1):
            problems.append(f"{entry!r}: folds are numbered from 1")
        else:
            found.setdefault(key, set()).add(str(int(value)) if key == "fold" else value)
    return found, problems


def fold_name(model: str, fold: int | str) -> str:
    """The source (and checkpoint folder, ``checkpoints/MODEL/foldN``) of fold ``fold`` (1-based) of ``model``."""
    return f"{model}/fold{fold}"


def fold_count(recipe: Any, plugins: Any) -> int:
    """The folds of the recipe's run: ``modes.kfold.k_folds`` in the modes with a k-fold stage (``kfold``
    and ``full``), none in the others."""
    return recipe.options("run_modes", "kfold", plugins).k_folds if recipe.run.mode in ("kfold", "full") else 0


def is_partial(recipe: Any) -> bool:
    """A fan-out job: the run trains only the units ``run.only`` selects and skips the final stages."""
    return bool(recipe.run.only)


def selected(recipe: Any, **unit: Any) -> bool:
    """Whether this run does the unit with these coordinates, e.g. ``selected(r, model="kobart", fold=3)``.

    Keys of ``run.only`` the unit does not have do not restrict it (``fold=3`` selects fold 3 of
    every model; a ``multi_model`` run ignores it).
    """
    only, _ = parse_only(recipe.run.only)
    return all(str(value) in only[key] for key, value in unit.items() if key in only)


def job_folder(recipe: Any) -> str:
    """Where a fan-out job's own ``config.toml``, ``results.json`` and logs go: ``jobs/fold_3``."""
    return "jobs/" + safe_name("_".join(sorted(recipe.run.only))) if recipe.run.only else ""


class JobRunning(DialsumError):
    """Another job with the same ``run.only`` is running on this experiment: both would write one
    ``jobs/<selection>/`` folder (``config.toml``, ``results.json``, the logs)."""


#: The job locks this process holds, by lock file: taken when the runner asks a mode for its job
#: folder (before anything is written there), released once ``results.json`` is written.
_HELD: dict[Path, tuple[int, Any]] = {}


def _job_lock_path(ctx: Any) -> Path | None:
    folder = job_folder(ctx.recipe)
    return ctx.experiment.path(f"{folder}.lock") if folder and ctx.processes.is_main else None


def hold_job(ctx: Any, owner: object) -> str:
    """The job folder of ``ctx``'s run, held for ``owner`` (the run's mode) until the run ends.

    A second job with exactly the same selection, started while the first runs, fails here with
    one line naming the selection and the holder, before it writes a file. The lock is the one the
    units use (:class:`dialsum_modes.study.MachineLock`): a job whose process died left the
    ``flock`` with it, so its selection can run again at once.
    """
    from dialsum_modes.study import LockHeld, MachineLock

    folder = job_folder(ctx.recipe)
    path = _job_lock_path(ctx)
    if path is None or _HELD.get(path, (None,))[0] == id(owner):  # asked again by the same run
        return folder
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = MachineLock(path, wait=False)
    try:
        lock.__enter__()
    except LockHeld as held:
        raise JobRunning(f"run.only: another job with the selection {list(ctx.recipe.run.only)} is running on "
                         f"{ctx.experiment.root} ({held.holder or 'its holder is unknown'}) and writes {folder}/; "
                         "wait for it to end, or select other units") from None
    _HELD[path] = (id(owner), lock)
    return folder


def release_job(ctx: Any) -> None:
    """Let another job with this selection run: this one's ``results.json`` is written."""
    path = _job_lock_path(ctx)
    held = _HELD.pop(path, None) if path is not None else None
    if held is not None:
        held[1].__exit__(None, None, None)


def problems(recipe: Any, plugins: Any) -> list[tuple[str, str]]:
    """``run.only`` is well-formed, names models of the run, and the run has an explicit name."""
    if not recipe.run.only:
        return []
    only, found = parse_only(recipe.run.only)
    out = [("run.only", p) for p in found]
    if not recipe.run.name:
        out.append(("run.only", "needs run.name, so that every job and the final run share one experiment "
                    "folder (e.g. --set run.name=kfold_kobart)"))
    models = list(recipe.run.models)
    unknown = sorted(only.get("model", set()) - set(models))
    if unknown:
        out.append(("run.only", f"selects {', '.join(unknown)}, not in run.models ({', '.join(models)})"))
    if recipe.run.mode == "optuna":
        out.append(("run.only", "the optuna mode has no folds or models to fan out; start several workers on "
                    "one study storage instead (docs/scaling.md)"))
    elif only.get("fold"):  # the k-fold stage of kfold and full reads [modes.kfold]
        k = fold_count(recipe, plugins)
        beyond = sorted((f for f in only["fold"] if int(f) > k), key=int)
        if beyond:
            has = f"has {k} folds (modes.kfold.k_folds)" if k else "has no folds"
            out.append(("run.only", f"selects fold {', '.join(beyond)}, but the {recipe.run.mode} mode {has}"))
    return out


def resume_problems(recipe: Any, plugins: Any) -> list[tuple[str, str]]:
    """``run.resume_from`` in a ``kfold`` or ``full`` run names the checkpoint of one fold.

    The training of every fold the run trains resumes from ``run.resume_from`` (its latest complete
    checkpoint, found anywhere under the folder given): each fold would continue another fold's
    model, trained on the dialogues it holds out, and report that model's history and a leaked
    out-of-fold score without a word. So a k-fold run resumes one fold at a time (``run.only``),
    from a folder of that fold.
    """
    resume = str(getattr(recipe.run, "resume_from", "") or "")
    k = fold_count(recipe, plugins) if resume else 0
    if not k:
        return []
    only, _ = parse_only(recipe.run.only)
    folds = sorted(only.get("fold", {str(f) for f in range(1, k + 1)}), key=int)
    example = "EXPERIMENT/checkpoints/" + fold_name("MODEL", "{}")
    if len(folds) != 1:
        return [("run.resume_from", f"every fold of the {recipe.run.mode} run ({', '.join(folds)}) would resume from "
                 "this one checkpoint, another fold's model; resume one fold at a time with run.only = "
                 f"[\"fold=N\"] and run.resume_from = {example.format('N')}, or leave it empty (re-running the "
                 "experiment under its run.name reuses the folds it completed)")]
    path = recipe.path_of("run.resume_from")
    parts = Path(path).resolve().parts if Path(path).exists() else Path(path).parts
    if fold_name("", folds[0]).strip("/") not in parts:
        return [("run.resume_from", f"{resume} is not a folder of fold {folds[0]}, which run.only selects: its "
                 f"latest checkpoint may be another fold's; name that fold's folder ({example.format(folds[0])})")]
    return []
