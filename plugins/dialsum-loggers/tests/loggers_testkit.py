"""A scripted run mode for logger tests: real data, the real ``lead`` model, every kind of event.

It walks through what the real modes do (a k-fold stage with step metrics, epochs, progress and
generation; an optuna-like stage with trials; prediction and plot files) in well under a second,
so the loggers can be tested on runs made by the real runner without any neural model.
"""

from __future__ import annotations

import logging
import statistics
from pathlib import Path
from typing import Any

import attrs

from dialsum_core import hookimpl
from dialsum_core.recipe import Recipe
from dialsum_core.testing import TINY_DIALOGUES, write_csv


@attrs.define
class ScriptedOptions:
    folds: int = 2
    steps: int = 4
    trials: int = 3
    #: Raise after the folds (a run that fails half way).
    fail: bool = False
    #: Write a PNG plot and announce it.
    plot: bool = True


class ScriptedMode:
    def __init__(self, options: ScriptedOptions):
        self.o = options

    def run(self, ctx: Any) -> dict[str, Any]:
        o = self.o
        data = ctx.data()
        loader = ctx.build("model_loaders", "lead")
        ctx.emit("dialsum_before_stage", stage="kfold")
        fold_scores = []
        for fold in range(o.folds):
            ctx.emit("dialsum_before_fold", fold=fold, n_folds=o.folds)
            fctx = ctx.evolve(workdir=ctx.experiment.checkpoints / f"fold_{fold}", tags={"fold": fold})
            model = loader.build(fctx, data.train)
            for step in range(1, o.steps + 1):
                # with the fraction of the epoch done, as the Hugging Face Trainer logs it
                fctx.emit("dialsum_on_metrics", metrics={"loss": 2.0 / (step + fold), "learning_rate": 1e-3 / step,
                                                         "epoch": step / o.steps}, step=step)
                fctx.emit("dialsum_on_progress", task="train", completed=step, total=o.steps)
            valid = data.valid[: max(1, len(data.valid) - fold)]  # folds differ a little
            model.fit(data.train, valid, fctx, fctx.out)
            print(f"fold {fold} trained")
            preds = model.generate([e.dialogue for e in valid], fctx)
            fctx.emit("dialsum_on_progress", task="generate", completed=len(preds), total=len(preds))
            scores = ctx.score(preds, [list(e.summaries) for e in valid])
            fold_scores.append(scores["rouge_mean"])
            ctx.emit("dialsum_after_fold", fold=fold, n_folds=o.folds, metrics=scores)
        ctx.emit("dialsum_after_stage", stage="kfold", metrics={"rouge_mean": statistics.fmean(fold_scores)})
        ctx.emit("dialsum_on_artifact", path="checkpoints/fold_0", kind="checkpoint")
        if o.fail:
            raise RuntimeError("boom in the scripted mode")
        ctx.emit("dialsum_before_stage", stage="optuna")
        for trial in range(o.trials):
            params = {"learning_rate": 1e-4 * (trial + 1), "num_beams": 2 + trial}
            # the study's objective, named as the real search modes name it
            study = {"metric": "rouge_mean", "direction": "maximize"}
            ctx.emit("dialsum_before_trial", trial=trial, params=params, **study)
            state = "pruned" if trial == 1 else "complete"
            value = None if state == "pruned" else 0.2 + 0.05 * trial
            ctx.emit("dialsum_after_trial", trial=trial, params=params, value=value, state=state, **study)
        ctx.emit("dialsum_after_stage", stage="optuna", metrics={"best_value": 0.3})
        rows = [(e.fname, p) for e, p in zip(valid, preds, strict=True)]
        ctx.experiment.write_csv("predictions/valid_predictions.csv", ["fname", "summary"], rows)
        ctx.emit("dialsum_on_artifact", path="predictions/valid_predictions.csv", kind="prediction")
        if o.plot:
            _plot(ctx.experiment.visualizations / "01_fold_rouge.png", fold_scores)
            ctx.emit("dialsum_on_artifact", path="visualizations/01_fold_rouge.png", kind="plot")
        logging.getLogger("dialsum").info("scripted run done")
        return {"rouge_mean": round(statistics.fmean(fold_scores), 4), "best_checkpoint": "checkpoints/fold_0",
                "folds": {str(i): s for i, s in enumerate(fold_scores)}}


def _plot(path: Path, values: list[float]) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2))
    ax.bar(range(len(values)), values)
    fig.savefig(path)
    plt.close(fig)


class ScriptedPlugin:
    @hookimpl
    def dialsum_register_run_modes(self, register: Any) -> None:
        register("scripted", lambda options, ctx: ScriptedMode(options), options=ScriptedOptions,
                 description="test mode that emits every kind of event")


def scripted_recipe(tmp_path: Path, active: list[str], name: str = "scripted", **tables: Any) -> Recipe:
    """A recipe for the scripted mode on the tiny Korean dialogues, writing under ``tmp_path``."""
    train = write_csv(tmp_path / "data" / "train.csv", TINY_DIALOGUES)
    data: dict[str, Any] = {
        "run": {"mode": "scripted", "models": ["lead"], "loggers": active, "metrics": ["rouge"],
                "name": name, "output_dir": str(tmp_path / "experiments")},
        "data": {"train_path": str(train), "valid_fraction": 0.5},
        "metrics": {"rouge": {"tokenizer": "whitespace"}},
    }
    for key, value in tables.items():
        data[key] = {**data.get(key, {}), **value}
    return Recipe.from_dict(data)


class ListHandler(logging.Handler):
    """Collects the ``dialsum`` log records of a test (the CLI may have turned propagation off)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def __enter__(self) -> ListHandler:
        logging.getLogger("dialsum").addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger("dialsum").removeHandler(self)


class DiskFullAt:
    """Makes the disk 'fill up' under one open file when fold ``fold`` starts.

    It finds the process' descriptor of ``filename`` in ``/proc/self/fd`` and puts ``/dev/full``
    in its place, so the logger's next write fails with ENOSPC exactly as on a full disk.
    """

    def __init__(self, filename: str, fold: int = 1):
        self.filename, self.fold = filename, fold
        self.done = False

    @hookimpl(optionalhook=True)
    def dialsum_before_fold(self, fold: int) -> None:
        import os

        if fold != self.fold or self.done:
            return
        for fd in os.listdir("/proc/self/fd"):
            try:
                target = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                continue
            if target.endswith("/" + self.filename):
                full = os.open("/dev/full", os.O_WRONLY)
                os.dup2(full, int(fd))
                os.close(full)
                self.done = True
