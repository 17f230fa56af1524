"""Where in a run an event happens: stage, fold, trial and epoch.

Events are flat (an epoch event does not say which fold it belongs to), but they nest in time, so
each logger follows the before/after events to know the current position and can label what it
records ("fold 2, epoch 3").
"""

from __future__ import annotations

from typing import Any

import attrs


@attrs.define
class Position:
    stage: str | None = None
    fold: int | None = None
    n_folds: int | None = None
    #: Whose fold it is (the fold event's ``ctx.tags["model"]``): a k-fold run of several models has
    #: a fold 1 per model, whose series must not land on one another's.
    model: str | None = None
    trial: int | None = None
    epoch: int | None = None
    n_epochs: int | None = None

    def enter(self, hook: str, kw: dict[str, Any]) -> None:
        """Update on a ``before_*`` event (call before recording it)."""
        if hook == "dialsum_before_stage":
            self.stage = kw.get("stage")
        elif hook == "dialsum_before_fold":
            self.fold, self.n_folds, self.model = kw.get("fold"), kw.get("n_folds"), kw.get("model")
            self.epoch = None
        elif hook == "dialsum_before_trial":
            self.trial = kw.get("trial")
            self.epoch = None
        elif hook == "dialsum_before_epoch":
            self.epoch, self.n_epochs = kw.get("epoch"), kw.get("n_epochs")

    def leave(self, hook: str) -> None:
        """Update on an ``after_*`` event (call after recording it)."""
        if hook == "dialsum_after_stage":
            self.stage = None
        elif hook == "dialsum_after_fold":
            self.fold = self.n_folds = self.model = None
        elif hook == "dialsum_after_trial":
            self.trial = None

    def labels(self) -> dict[str, Any]:
        """The set parts of the position, for a record (stage, fold, trial)."""
        out: dict[str, Any] = {}
        if self.stage is not None:
            out["stage"] = self.stage
        if self.fold is not None:
            out["fold"] = self.fold
        if self.trial is not None:
            out["trial"] = self.trial
        return out

    def prefix(self) -> str:
        """``trial_3/``, ``MODEL/fold_1/`` (folds counted from 1, as everywhere but the events), or both,
        to keep the series of different trials, models and folds apart."""
        return fold_prefix(self.trial, self.model, self.fold)


def fold_prefix(trial: int | None, model: str | None, fold: int | None) -> str:
    """The one spelling of a position in the names of series (tensorboard tags, W&B keys)."""
    parts = [] if trial is None else [f"trial_{trial}"]
    if fold is not None:
        parts += [*([model] if model else []), f"fold_{fold + 1}"]
    return "".join(p + "/" for p in parts)


def numeric(metrics: dict[str, Any] | None) -> dict[str, float]:
    """The finite-or-not numbers of a metrics mapping (booleans and strings left out)."""
    out: dict[str, float] = {}
    for key, value in (metrics or {}).items():
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            out[str(key)] = float(value)
        elif hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
            try:
                out[str(key)] = float(value.item())
            except (TypeError, ValueError):
                continue
    return out
