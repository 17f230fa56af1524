"""Which checkpoint ``run.resume_from`` names, and which one a training ended with: one rule for both
(cheap to import: the ``[run]`` check uses it too)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def checkpoint_in(path: Path) -> str:
    """A ``checkpoint-N`` folder, or the latest complete one under ``path``.

    A checkpoint is complete once its ``trainer_state.json`` is written, which the Trainer does
    last, so a run killed while saving is never resumed from half a checkpoint. Raises
    ``ValueError`` saying what is missing."""
    if (path / "trainer_state.json").is_file():
        return str(path)
    if not path.exists():
        raise ValueError(f"{path} does not exist")
    found = []
    for state in path.rglob("checkpoint-*/trainer_state.json"):
        try:
            step = int(json.loads(state.read_text(encoding="utf-8")).get("global_step", -1))
        except (ValueError, OSError):
            continue
        found.append((step, state.stat().st_mtime, state.parent))
    if not found:
        raise ValueError(f"no complete checkpoint (checkpoint-N/trainer_state.json) under {path}")
    return str(max(found)[2])


def latest_checkpoint(path: Path) -> str:
    """The checkpoint a training that wrote into ``path`` ended with (``""`` when it saved none): its
    ``FitResult.last_checkpoint``. The rule is :func:`checkpoint_in`'s, which ``run.resume_from``
    follows, so the folder named is the one a resume takes; a folder counts by its
    ``trainer_state.json``, not its name (a ``checkpoint-best`` copy beside them is no step)."""
    try:
        return checkpoint_in(path)
    except ValueError:
        return ""


def check_resume(recipe: Any, plugins: Any) -> list[tuple[str, str]]:
    """``dialsum check`` refuses a ``run.resume_from`` that the run would refuse when training starts."""
    run = recipe.run
    if not run.resume_from:
        return []
    try:
        checkpoint_in(recipe.path_of("run.resume_from"))
    except ValueError as exc:
        return [("run.resume_from", str(exc))]
    return []
