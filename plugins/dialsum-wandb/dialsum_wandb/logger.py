"""A dialsum run as one W&B run.

* The run is named after the experiment, grouped by ``group`` (default: the experiment name) and
  typed by the run mode (``job_type``); the resolved recipe is its config.
* Step metrics go to ``train/*`` against ``train/step``, epoch metrics to ``epoch/*`` against
  ``epoch/epoch``; inside folds and trials every key is prefixed ``MODEL/fold_K/`` (folds counted
  from 1, the model's name when the fold names it) / ``trial_N/`` so each fold, model and trial gets
  its own curves. Fold and trial results also become the tables ``folds`` (with a model column)
  and ``trials``.
* Prediction CSVs and PNG plots announced with ``dialsum_on_artifact`` are logged as tables and
  images; the best model's checkpoint (the one ``results.json`` names, see :func:`best_checkpoint`)
  as a ``model`` artifact when ``log_checkpoint`` is set.
* The log files the loggers announce (``dialsum_on_artifact`` with kind ``log``: the ``file``
  logger's ``train.log``, the ``jsonl`` logger's ``metrics.jsonl``, under whatever names the recipe
  gives them) are attached to the run's files when it ends (``save_log``).
* W&B's own output capture is switched off (``train.log`` already has the output). Files go under
  the experiment folder (``wandb/``). The API key is only ever read by wandb from its usual places
  (``WANDB_API_KEY``, ``~/.netrc``); nothing here writes it.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from dialsum_core import hookimpl
from dialsum_core.errors import status_of


def _numbers(metrics: dict[str, Any] | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in (metrics or {}).items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[str(key)] = float(value)
    return out


def _flat(results: dict[str, Any], prefix: str = "", depth: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in results.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and depth < 2:
            out.update(_flat(value, name + "/", depth + 1))
        elif isinstance(value, bool | int | float | str):
            out[name] = value
    return out


def best_checkpoint(results: dict[str, Any]) -> tuple[str, str] | None:
    """The checkpoint of the model a run stands for, and why it is that one: the run mode names it in
    ``results.json`` (``best_checkpoint``, ``best_checkpoint_chosen_by``), since only the mode knows
    which of its models is best. ``None`` when it names none."""
    path = results.get("best_checkpoint")
    if not isinstance(path, str) or not path:
        return None
    why = results.get("best_checkpoint_chosen_by")
    return path, why if isinstance(why, str) and why else "best_checkpoint in results.json"


class WandbLogger:
    def __init__(self, options: Any, ctx: Any):
        import wandb  # noqa: F401 - fail at build time, with a clear message, when it is missing

        self.options = options
        self.run: Any = None
        self._fold: int | None = None
        self._model: str | None = None
        self._trial: int | None = None
        self._defined: set[str] = set()
        self._root: Path = ctx.experiment.root
        self._checkpoint: Path | None = None
        #: The log files announced so far, with the folder their announced paths are relative to.
        self._logs: list[tuple[Path, Path]] = []
        self._folds: list[list[Any]] = []
        self._fold_columns: list[str] = []
        self._trials: list[list[Any]] = []
        self._step = 0

    # -- helpers ------------------------------------------------------------------------------
    def _prefix(self) -> str:
        """``trial_N/``, ``MODEL/fold_K/`` (folds counted from 1, as in results.json), or both."""
        parts = [] if self._trial is None else [f"trial_{self._trial}"]
        if self._fold is not None:
            parts += [*([self._model] if self._model else []), f"fold_{self._fold + 1}"]
        return "".join(p + "/" for p in parts)

    def _log_against(self, section: str, axis: str, x: float, metrics: dict[str, Any] | None) -> None:
        values = _numbers(metrics)
        if self.run is None or not values:
            return
        base = f"{self._prefix()}{section}"
        if base not in self._defined:
            self.run.define_metric(f"{base}/{axis}", hidden=True)
            self.run.define_metric(f"{base}/*", step_metric=f"{base}/{axis}")
            self._defined.add(base)
        self.run.log({f"{base}/{axis}": x, **{f"{base}/{k}": v for k, v in values.items()}})

    # -- events -------------------------------------------------------------------------------
    @hookimpl
    def dialsum_before_run(self, ctx: Any) -> None:
        import wandb

        o = self.options
        name = o.name or ctx.experiment.root.name
        self.run = wandb.init(
            project=o.project,
            entity=o.entity or None,
            group=o.group or ctx.experiment.root.name,
            name=name,
            job_type=ctx.recipe.run.mode,
            tags=list(o.tags) or None,
            config=ctx.recipe.to_dict(),
            dir=str(self._root),
            mode=o.mode or None,
            reinit="create_new",
            settings=wandb.Settings(init_timeout=o.init_timeout, console="off"),
        )

    # The fold and trial events are declared by dialsum-modes; optional, so this logger works without it.
    @hookimpl(optionalhook=True)
    def dialsum_before_fold(self, ctx: Any, fold: int) -> None:
        self._fold, self._model = fold, ctx.tags.get("model")

    @hookimpl(optionalhook=True)
    def dialsum_after_fold(self, fold: int, metrics: dict[str, Any]) -> None:
        model, self._fold, self._model = self._model, None, None
        values = _numbers(metrics)
        for key in values:
            if key not in self._fold_columns:
                self._fold_columns.append(key)
        self._folds.append([model or "", fold + 1, values])
        self._log_against(f"{model}/folds" if model else "folds", "fold", fold + 1, values)

    @hookimpl(optionalhook=True)
    def dialsum_before_trial(self, trial: int) -> None:
        self._trial = trial

    @hookimpl(optionalhook=True)
    def dialsum_after_trial(self, trial: int, params: dict[str, Any], value: float | None, state: str) -> None:
        self._trial = None
        self._trials.append([trial, state, value, dict(params or {})])
        data = {"value": value} if value is not None else {}
        data.update({f"param/{k}": v for k, v in _numbers(params).items()})
        self._log_against("trials", "trial", trial, data)

    @hookimpl
    def dialsum_after_epoch(self, epoch: int, metrics: dict[str, Any]) -> None:
        self._log_against("epoch", "epoch", epoch, metrics)

    @hookimpl
    def dialsum_on_metrics(self, metrics: dict[str, Any], step: int | None) -> None:
        self._step = step if step is not None else self._step + 1
        self._log_against("train", "step", self._step, metrics)

    @hookimpl
    def dialsum_after_stage(self, stage: str, metrics: dict[str, Any]) -> None:
        if self.run is not None and _numbers(metrics):
            self.run.log({f"stage/{stage}/{k}": v for k, v in _numbers(metrics).items()})

    @hookimpl
    def dialsum_on_artifact(self, ctx: Any, path: str, kind: str) -> None:
        root = Path(ctx.experiment.root)  # the folder the event's paths are relative to
        full = root / path
        if kind == "log":  # kept even before the run starts: loggers announce their files then
            self._logs.append((root if full.is_relative_to(root) else full.parent, full))
            return
        if self.run is None:
            return
        import wandb

        name = Path(path).with_suffix("").as_posix().replace("/", "_")
        if kind == "checkpoint":
            self._checkpoint = full
        elif kind == "prediction" and self.options.log_predictions and full.suffix == ".csv":
            with full.open(encoding="utf-8", newline="") as fh:
                rows = list(csv.reader(fh))
            if rows:
                data = rows[1 : 1 + self.options.max_prediction_rows]
                self.run.log({f"predictions/{name}": wandb.Table(columns=rows[0], data=data)})
        elif kind == "plot" and self.options.log_plots and full.suffix.lower() == ".png":
            self.run.log({f"plots/{name}": wandb.Image(str(full))})

    @hookimpl
    def dialsum_after_run(self, results: dict[str, Any]) -> None:
        if self.run is None:
            return
        import wandb

        self.run.summary.update(_flat(results))
        if self._folds:
            columns = ["model", "fold", *self._fold_columns]
            rows = [[model, f, *[m.get(c) for c in self._fold_columns]] for model, f, m in self._folds]
            self.run.log({"folds_table": wandb.Table(columns=columns, data=rows)})
        if self._trials:
            rows = [[t, s, v, str(p)] for t, s, v, p in self._trials]
            self.run.log({"trials_table": wandb.Table(columns=["trial", "state", "value", "params"], data=rows)})
        if self.options.log_checkpoint:
            self._log_checkpoint(results)
        self._finish(0)

    @hookimpl
    def dialsum_on_error(self, error: BaseException) -> None:
        self._finish(255 if status_of(error) == "interrupted" else 1)

    def _log_checkpoint(self, results: dict[str, Any]) -> None:
        import logging

        import wandb

        log = logging.getLogger("dialsum")
        found = best_checkpoint(results)
        if found is not None:
            best, why = found
            path: Path | None = Path(best)
        elif self._checkpoint is not None:
            path, why = self._checkpoint, "the last checkpoint announced (results.json names no best model)"
            log.warning("wandb: results.json names no best model; uploading %s, the last checkpoint announced",
                        path)
        else:
            return
        if path is not None and not path.is_absolute() and not path.exists():
            path = self._root / path
        if path is None or not path.exists():
            log.warning("wandb: checkpoint %s not found; nothing uploaded", path)
            return
        safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in self._root.name)
        artifact = wandb.Artifact(f"{safe}-model", type="model", metadata={"path": str(path), "chosen_by": why})
        if path.is_dir():
            artifact.add_dir(str(path))
        else:
            artifact.add_file(str(path))
        self.run.log_artifact(artifact, aliases=["best"])
        log.info("wandb: model artifact from %s (%s)", path, why)

    def _finish(self, exit_code: int) -> None:
        if self.run is None:
            return
        run, self.run = self.run, None
        for root, log_file in self._logs if self.options.save_log else ():
            if log_file.exists():
                run.save(str(log_file), base_path=str(root), policy="now")
        run.finish(exit_code=exit_code)

    def close(self) -> None:
        self._finish(0)
