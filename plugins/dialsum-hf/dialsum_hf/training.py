"""Fine-tuning with transformers' ``Seq2SeqTrainer``.

The Trainer does the optimisation, mixed precision, checkpointing, exact resume (optimizer,
scheduler, RNG and sampler state, saved only with ``train.save_training_state`` because those
files are pickles; checkpoints are safetensors weights otherwise) and keeps the best checkpoint.
dialsum adds: evaluation by generating summaries of the validation split and scoring them with
the recipe's metrics after each epoch (the best checkpoint is chosen by ``rouge_mean``), lifecycle
events for the loggers, the automatic batch size, and the dialsum metadata written into every
checkpoint so that any of them can be loaded back as a model.

A checkpoint whose validation summaries are degenerate (fewer than half of them distinct: a model
that writes one string for every dialogue) is never chosen as the best while a non-degenerate one
exists, and does not stop training early before one exists: on Korean morphemes such a constant
outscores honest summaries, so ROUGE alone would keep the collapsed model.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from dialsum_core.errors import DataError, DialsumError
from dialsum_core.protocols import FitResult
from dialsum_hf.features import Collator
from dialsum_hf.generation import own_bars
from dialsum_hf.model import HFModel, say_once
from dialsum_hf.quiet import quiet_checkpoint_order, quiet_lora_warnings, quiet_progress_bars
from dialsum_hf.resume import checkpoint_in, latest_checkpoint, steps_mismatch, steps_per_process
from dialsum_hf.sections import BEST_METRIC, cuda_available
from dialsum_metrics import is_degenerate, output_stats, quiet_degenerate

#: What the Trainer ranks checkpoints by (``metric_for_best_model``, never logged): ``rouge_mean``,
#: minus :data:`DEGENERATE_PENALTY` for a checkpoint with degenerate validation summaries. Every
#: degenerate checkpoint then ranks below every other, and among themselves by ROUGE, which is the
#: rule "skip degenerate checkpoints unless all are" in the one number the Trainer compares (so it
#: also protects that checkpoint from ``save_total_limit`` and drives early stopping).
SELECTION_METRIC = "selection"
DEGENERATE_PENALTY = 2.0
#: What the Trainer pickles beside the weights of a checkpoint (see ``train.save_training_state``).
TRAINING_ARGS = "training_args.bin"
OPTIMIZER_STATE = "optimizer.pt"


def _callbacks() -> tuple[type, type]:
    from transformers import Seq2SeqTrainer, TrainerCallback

    class EventsCallback(TrainerCallback):
        """Trainer callbacks -> dialsum lifecycle events; dialsum metadata into every checkpoint."""

        def __init__(self, hf: HFModel, ctx: Any, n_epochs: int):
            self.hf, self.ctx, self.n_epochs = hf, ctx, n_epochs

        def on_epoch_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.ctx.emit("dialsum_before_epoch", epoch=math.floor(state.epoch or 0) + 1, n_epochs=self.n_epochs)

        def on_epoch_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            control.should_log = True  # one loss entry per epoch at least, for the epoch's metrics

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.ctx.emit("dialsum_on_progress", task="train", completed=state.global_step, total=state.max_steps)

        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any) -> None:
            if logs:
                self.ctx.emit("dialsum_on_metrics", metrics=dict(logs), step=state.global_step)
                # run.log_level = "DEBUG" (the seed's --log_level DEBUG): every logged step, not
                # only the epochs, in train.log and on the console
                self.ctx.log.debug("step %d/%d: %s", state.global_step, state.max_steps, _fmt(logs))

        def on_save(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            from dialsum_hf.saving import write_metadata

            ckpt = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            # Under a multi-process launch only the process that saved the checkpoint completes it.
            if args.should_save and ckpt.is_dir():
                write_metadata(self.hf, ckpt)
                if args.save_only_model:  # the pickled TrainingArguments: never read back by dialsum
                    (ckpt / TRAINING_ARGS).unlink(missing_ok=True)
                self.ctx.emit("dialsum_on_artifact", path=_relative(self.ctx, ckpt), kind="checkpoint")

    class DialsumTrainer(Seq2SeqTrainer):
        """Evaluation = generate the validation summaries and score them with ``ctx.score``."""

        def __init__(self, *args: Any, hf: HFModel, ctx: Any, valid: Sequence[Any], n_epochs: int, **kw: Any):
            super().__init__(*args, **kw)
            if self.model_accepts_loss_kwargs and not loss_counts_items(self.model):
                # transformers then neither divides the loss by the accumulation steps nor lets the
                # model do it: the pieces' losses (and gradients) would add up
                self.model_accepts_loss_kwargs = False
            self._hf, self._ctx, self._valid, self._n_epochs = hf, ctx, valid, n_epochs
            self.eval_seconds = self.eval_cpu_seconds = 0.0
            self.pruned = False
            #: global step -> (rouge_mean, degenerate) of each evaluation
            self.evaluations: dict[int, tuple[float, bool]] = {}

        def evaluate(self, eval_dataset: Any = None, ignore_keys: Any = None,
                     metric_key_prefix: str = "eval", **kw: Any) -> dict[str, float]:
            started, cpu = time.perf_counter(), time.process_time()
            preds = self._hf.generate([e.dialogue for e in self._valid], self._ctx)
            with quiet_degenerate():  # said below, once a run, with what it means for the checkpoint
                scores = self._ctx.score(preds, [list(e.summaries) for e in self._valid])
            elapsed = time.perf_counter() - started
            self.eval_seconds += elapsed
            self.eval_cpu_seconds += time.process_time() - cpu
            metrics = {f"{metric_key_prefix}_{k}": float(v) for k, v in scores.items()}
            metrics[f"{metric_key_prefix}_runtime"] = round(elapsed, 4)
            self.log(metrics)
            degenerate = is_degenerate(preds)
            rouge = float(scores.get(BEST_METRIC, 0.0))
            self.evaluations[self.state.global_step] = (rouge, degenerate)
            metrics[f"{metric_key_prefix}_{SELECTION_METRIC}"] = selection_value(rouge, degenerate)
            self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
            history = epoch_history(self.state.log_history)
            latest = history[-1] if history else {"epoch": 1}
            # train.checkpoint_interval evaluates every so many steps: the entries count evaluations,
            # which the log names by their step (not "epoch 2/1" in a run of one epoch); the events
            # count them as their "epochs", of as many as the run makes, so that no display reads 2/1
            if every := self._ctx.recipe.train.checkpoint_interval:
                where = short = f"evaluation {latest['epoch']} (step {self.state.global_step}/{self.state.max_steps})"
                planned = max(latest["epoch"], math.ceil(self.state.max_steps / every))
            else:
                where, short = f"epoch {latest['epoch']}/{self._n_epochs}", f"epoch {latest['epoch']}"
                planned = self._n_epochs
            self._ctx.log.info("%s: %s%s", where, _fmt(latest), DEGENERATE_MARK if degenerate else "")
            if degenerate:  # usual early in training: the choice of the best (fit's end) warns when it matters
                stats = output_stats(preds)
                say_once(self._ctx, logging.WARNING, f"{short}: most validation summaries are identical "
                         f"({stats.distinct} distinct of {stats.n}), as is usual early in training; such a checkpoint "
                         f"is not kept as the best while one with varied summaries exists, and is marked"
                         f"{DEGENERATE_MARK} on its line (said once)", topic="degenerate evaluation")
            self._ctx.emit("dialsum_after_epoch", epoch=latest["epoch"], n_epochs=planned,
                           metrics={k: v for k, v in latest.items() if k != "epoch"})
            trial = self._ctx.trial
            if trial is not None and trial.report(latest["epoch"], scores) and latest["epoch"] < planned:
                self.pruned = True
                self.control.should_training_stop = True
            return metrics

        def _issue_warnings_after_load(self, load_result: Any) -> None:
            """On resume, leave out of the Trainer's "missing keys" warning the weights that are tied.

            A checkpoint stores a tied matrix once (BART's ``model.shared.weight``); the names that
            share it (``lm_head.weight``, the encoder's and decoder's ``embed_tokens.weight``) are
            therefore absent from the file, yet loaded all the same. Listed as missing they read as
            a broken checkpoint. Keys that are truly absent are still reported.
            """
            tied = tied_missing_keys(self.model, load_result.missing_keys)
            if tied:
                self._ctx.log.debug("resume: %s not stored in the checkpoint: tied to weights it holds",
                                    ", ".join(tied))
                load_result = load_result._replace(
                    missing_keys=[k for k in load_result.missing_keys if k not in tied])
            super()._issue_warnings_after_load(load_result)

    return EventsCallback, DialsumTrainer


def tied_missing_keys(model: Any, missing: Sequence[str]) -> list[str]:
    """The ``missing`` state-dict keys whose tensor is the very tensor of a key that was loaded.

    Decided from the model in memory (same storage, same shape), not from the architecture's
    declared tied keys, so it holds for any model and never hides a weight that is only similar.
    """
    if not missing:
        return []
    state = model.state_dict(keep_vars=True)
    absent = set(missing)
    loaded = {(t.data_ptr(), tuple(t.shape)) for k, t in state.items() if k not in absent and t.numel()}
    return [k for k in missing if k in state and state[k].numel()
            and (state[k].data_ptr(), tuple(state[k].shape)) in loaded]


#: What ends the line of an evaluation whose validation summaries are degenerate.
DEGENERATE_MARK = " (degenerate)"


def selection_value(rouge: float, degenerate: bool) -> float:
    """The number checkpoints are ranked by (see :data:`SELECTION_METRIC`)."""
    return rouge - DEGENERATE_PENALTY if degenerate else rouge


def _early_stopping(patience: int) -> Any:
    from transformers import EarlyStoppingCallback

    class GuardedEarlyStopping(EarlyStoppingCallback):
        """Early stopping on :data:`SELECTION_METRIC` that waits for a non-degenerate checkpoint.

        While every evaluation so far gave degenerate summaries the model has not started to
        summarize, and stopping would keep a collapsed model: the patience only counts once the
        best checkpoint is a real one. After that a degenerate evaluation is no improvement.
        """

        def on_evaluate(self, args: Any, state: Any, control: Any, metrics: dict[str, float], **kw: Any) -> None:
            if state.best_metric is None or state.best_metric < -DEGENERATE_PENALTY / 2:
                self.early_stopping_patience_counter = 0
                return
            super().on_evaluate(args, state, control, metrics, **kw)

    return GuardedEarlyStopping(early_stopping_patience=patience)


def loss_counts_items(model: Any) -> bool:
    """Whether ``model``'s own loss divides by the ``num_items_in_batch`` the Trainer passes it.

    The Trainer passes that count to any model whose ``forward`` takes ``**kwargs`` and then leaves
    the division by ``train.gradient_accumulation_steps`` to it; transformers' models that honour
    the count compute their loss with ``self.loss_function`` (Llama, GPT-NeoX...), while the
    encoder-decoders (BART, T5, Pegasus) take the mean of their own batch and ignore it."""
    import inspect

    base = model.get_base_model() if hasattr(model, "get_base_model") else model  # under peft's wrapper
    try:
        source = inspect.getsource(type(base).forward)
    except (OSError, TypeError):  # no source to read: transformers' own rule
        return True
    return "loss_function" in source


def _fmt(metrics: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items() if k != "epoch")


def _relative(ctx: Any, path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(ctx.experiment.root.resolve()))
    except ValueError:
        return str(path)


def epoch_history(log_history: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per evaluation: the mean training loss since the previous one and the eval scores."""
    out: list[dict[str, Any]] = []
    losses: list[float] = []
    for entry in log_history:
        if "loss" in entry:
            losses.append(float(entry["loss"]))
        if f"eval_{BEST_METRIC}" in entry:
            row: dict[str, Any] = {"epoch": len(out) + 1}
            if losses:
                row["loss"] = sum(losses) / len(losses)
            row.update({k: v for k, v in entry.items() if k.startswith("eval_") and k != "eval_runtime"})
            out.append(row)
            losses = []
    return out


def resolve_checkpoint(ctx: Any) -> str | None:
    """``run.resume_from``: a ``checkpoint-N`` folder, or any folder above some (the latest complete
    one is used), relative to the recipe file that names it."""
    if not ctx.recipe.run.resume_from:
        return None
    try:
        return checkpoint_in(ctx.recipe.path_of("run.resume_from"))
    except ValueError as exc:
        raise DialsumError(f"{ctx.recipe.where('run.resume_from')}: run.resume_from: {exc}") from None


#: Held while a worker thread sets a trainer up (see :func:`shared_trainer_setup`).
_TRAINER_SETUP = threading.Lock()


@contextlib.contextmanager
def shared_trainer_setup() -> Iterator[bool]:
    """Trainers of parallel threads (Optuna's ``n_jobs``) share accelerate's process-wide state.

    Each new ``TrainingArguments`` resets that state (``AcceleratorState._reset_state``), pulling it
    from under the trainers other threads are running ("`AcceleratorState` object has no attribute
    `distributed_type`"). In a worker thread the state is created once and reused
    (``use_configured_state``), and trainers are set up one thread at a time. Yields whether it did so;
    the main thread keeps transformers' behaviour (a fresh state per run, so runs in one process may
    differ in mixed precision).
    """
    if threading.current_thread() is threading.main_thread():
        yield False
        return
    from accelerate import PartialState

    with _TRAINER_SETUP:
        PartialState(cpu=not cuda_available())
        yield True


#: ``cosine_with_min_lr`` ends at this share of the peak learning rate (transformers has no default).
MIN_LR_RATE = 0.1
#: ``warmup_stable_decay`` decays over this last share of the optimiser steps (transformers has no
#: default for the length of the decay); the rate is held at its peak between warm-up and decay.
DECAY_SHARE = 0.1


def scheduler_kwargs(name: str, total_steps: int) -> dict[str, Any]:
    """The arguments the schedule ``name`` requires beyond warm-up and training steps.

    Two schedules of ``train.scheduler`` fail inside ``Trainer.train`` without them; dialsum gives
    them the fixed values above rather than more recipe keys, as both are rarely worth tuning."""
    if name == "cosine_with_min_lr":
        return {"min_lr_rate": MIN_LR_RATE}
    if name == "warmup_stable_decay":
        return {"num_decay_steps": max(1, round(DECAY_SHARE * total_steps))}
    return {}


def training_arguments(ctx: Any, output_dir: Path, batch_size: int, n_valid: int, steps_per_epoch: int,
                       gradient_checkpointing: bool, *, shared_state: bool = False) -> Any:
    from transformers import Seq2SeqTrainingArguments

    t, r = ctx.recipe.train, ctx.recipe.run
    by_steps = t.max_steps > 0 or t.checkpoint_interval > 0
    every = (t.checkpoint_interval or max(1, min(t.max_steps, steps_per_epoch))) if by_steps else None
    strategy = "steps" if by_steps else "epoch"
    kwargs = dict(
        output_dir=str(output_dir),
        per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=t.eval_batch_size or batch_size,
        num_train_epochs=t.epochs,
        max_steps=t.max_steps,
        learning_rate=t.learning_rate,
        lr_scheduler_type=t.scheduler,
        lr_scheduler_kwargs=scheduler_kwargs(t.scheduler, t.max_steps if t.max_steps > 0
                                             else steps_per_epoch * t.epochs),
        weight_decay=t.weight_decay,
        gradient_accumulation_steps=t.gradient_accumulation_steps,
        label_smoothing_factor=t.label_smoothing,
        fp16=t.fp16,
        bf16=t.bf16,
        seed=r.seed,
        data_seed=r.seed,
        logging_steps=t.logging_steps,
        eval_strategy=strategy if n_valid else "no",
        save_strategy=strategy if t.save_checkpoints else "no",
        eval_steps=every,
        save_steps=every,
        save_total_limit=t.save_total_limit,
        # Optimizer, scheduler and RNG states are pickles: only when the recipe asks for them.
        save_only_model=not t.save_training_state,
        # The best checkpoint is tracked by the Trainer and loaded by dialsum (see load_best).
        load_best_model_at_end=False,
        metric_for_best_model=SELECTION_METRIC,
        greater_is_better=True,
        report_to=[],
        disable_tqdm=not own_bars(ctx),
        remove_unused_columns=False,
        dataloader_pin_memory=False,
        use_cpu=not cuda_available(),
    )
    if shared_state:
        kwargs["accelerator_config"] = {"use_configured_state": True}
    kwargs.update(versioned_arguments(Seq2SeqTrainingArguments, warmup_ratio=float(t.warmup_ratio),
                                      gradient_checkpointing=gradient_checkpointing))
    return Seq2SeqTrainingArguments(**kwargs)


def versioned_arguments(cls: type, *, warmup_ratio: float, gradient_checkpointing: bool) -> dict[str, Any]:
    """The arguments whose name or type changed between the transformers releases dialsum supports.

    Detected from the dataclass's own fields rather than from a version number, so that a release
    that renames one of them (``gradient_checkpointing`` became ``activation_checkpointing``, the
    ``group_by_length`` flag became ``train_sampling_strategy``, a float ``warmup_steps`` below 1
    replaced ``warmup_ratio``) is met with the name it knows, and the deprecated spelling, which
    warns on the newer releases, is never passed to them.
    """
    import dataclasses

    fields = {f.name: f for f in dataclasses.fields(cls)}
    out: dict[str, Any] = {}
    if "activation_checkpointing" in fields:
        out["activation_checkpointing"] = gradient_checkpointing
    else:
        out["gradient_checkpointing"] = gradient_checkpointing
    if "train_sampling_strategy" in fields:
        out["train_sampling_strategy"] = "group_by_length"
    else:
        out["group_by_length"] = True
    if "warmup_ratio" in fields and "float" not in str(fields["warmup_steps"].type):
        out["warmup_ratio"] = warmup_ratio
    else:  # a float below 1 is a fraction of the training steps
        out["warmup_steps"] = warmup_ratio
    return out


def _best_evaluation(trainer: Any) -> tuple[float, bool]:
    """``(rouge_mean, degenerate)`` of the checkpoint the Trainer kept as best (NaN when none).

    This process's evaluation of that step when it ran one; else (a resumed run whose best
    checkpoint predates the resume) the Trainer's own ``best_metric``, the selection value saved in
    its state.
    """
    value = trainer.state.best_metric
    if value is None:
        return float("nan"), False
    if trainer.state.best_global_step in trainer.evaluations:
        return trainer.evaluations[trainer.state.best_global_step]
    degenerate = value < -DEGENERATE_PENALTY / 2
    return float(value + DEGENERATE_PENALTY if degenerate else value), degenerate


def load_best(hf: HFModel, checkpoint: Path) -> None:
    """Load the best checkpoint's weights into the model in memory.

    ``from_pretrained`` is used for full models because it maps saved parameter names back to the
    in-memory ones (the Trainer's plain ``load_state_dict`` misses renamed heads such as GPT-NeoX's).
    """
    if hf.is_peft:
        from peft import set_peft_model_state_dict
        from safetensors.torch import load_file

        set_peft_model_state_dict(hf.model, load_file(str(checkpoint / "adapter_model.safetensors")))
        return
    dtype = next(hf.model.parameters()).dtype
    fresh = type(hf.model).from_pretrained(str(checkpoint), dtype=dtype, use_safetensors=True)
    hf.model.load_state_dict(fresh.state_dict())
    del fresh


def fit(hf: HFModel, train: Sequence[Any], valid: Sequence[Any], ctx: Any, output_dir: Path) -> FitResult:
    from transformers import PrinterCallback, set_seed

    if not train:
        raise DataError("no training examples")
    if not valid:
        raise DataError("no validation examples: best-checkpoint selection needs a validation split")
    t, r = ctx.recipe.train, ctx.recipe.run
    set_seed(r.seed)
    quiet_progress_bars()  # every checkpoint is saved through save_pretrained
    quiet_checkpoint_order()  # the save limit sorts the checkpoints of each save
    hf.say_cut([(f"{what} dialogues", [e.dialogue for e in examples])
                for what, examples in (("training", train), ("validation", valid), ("test", ctx.data().test))], ctx)
    hf.say_cut_summaries([e.summary for e in train], ctx)
    features = hf.encode_pairs([e.dialogue for e in train], [e.summary for e in train], ctx)
    batch_size = t.batch_size
    if r.auto_batch or not batch_size:
        from dialsum_hf.gpu import auto_batch_size

        batch_size = auto_batch_size(hf, features, ctx, start=min(hf.options.auto_batch_max, len(features)))
    steps_per_epoch = max(1, math.ceil(len(features) / (batch_size * t.gradient_accumulation_steps)))
    n_epochs = math.ceil(t.max_steps / steps_per_epoch) if t.max_steps > 0 else t.epochs
    events_cb, trainer_cls = _callbacks()
    callbacks: list[Any] = [events_cb(hf, ctx, n_epochs)]
    if t.early_stopping_patience:
        callbacks.append(_early_stopping(t.early_stopping_patience))
    with shared_trainer_setup() as shared_state:
        args = training_arguments(ctx, output_dir, batch_size, len(valid), steps_per_epoch,
                                  bool(getattr(hf.options, "gradient_checkpointing", False)),
                                  shared_state=shared_state)
        trainer = trainer_cls(
            model=hf.model, args=args, train_dataset=features, eval_dataset=list(valid),
            data_collator=Collator(hf.tokenizer.pad_token_id, hf.model),
            processing_class=hf.tokenizer, callbacks=callbacks, hf=hf, ctx=ctx, valid=list(valid),
            n_epochs=n_epochs,
        )
    trainer.remove_callback(PrinterCallback)  # logs go to ctx.log and the loggers, not stdout
    resume = resolve_checkpoint(ctx)
    if resume:
        per_process = steps_per_process(len(features), batch_size, t.gradient_accumulation_steps,
                                        ctx.processes.world_size)
        if problem := steps_mismatch(Path(resume), per_process, batch_size):
            raise DialsumError(f"{ctx.recipe.where('run.resume_from')}: run.resume_from: {problem}")
        ctx.log.info("resuming from %s", resume)
        if not (Path(resume) / OPTIMIZER_STATE).is_file():
            ctx.log.warning("%s holds the weights only (train.save_training_state = false when it was saved): "
                            "the optimizer and the learning-rate schedule start again", resume)
    started, cpu = time.perf_counter(), time.process_time()
    quiet_lora_warnings()  # every checkpoint of a LoRA model is saved through peft
    output = trainer.train(resume_from_checkpoint=resume)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    hf.model = trainer.model
    history = epoch_history(trainer.state.log_history)
    best = trainer.state.best_model_checkpoint
    best_metric, best_degenerate = _best_evaluation(trainer)
    last = latest_checkpoint(output_dir) if t.save_checkpoints else ""
    if not t.save_checkpoints:  # the final model, saved once
        hf.save(output_dir)
        best = str(output_dir)
    elif best is None:  # no evaluation ran (e.g. max_steps hit before the first)
        best = last or str(output_dir)
    elif trainer.state.best_global_step != trainer.state.global_step:
        load_best(hf, Path(best))
        ctx.log.info("best checkpoint (%s = %.4f): %s", BEST_METRIC, best_metric, best)
    skipped = [r for r, degenerate in trainer.evaluations.values() if degenerate and r > best_metric]
    if best_degenerate:
        ctx.log.warning("every evaluation gave degenerate validation summaries (most of them identical): the "
                        "best of them is kept, but it does not summarize; train longer or on more data")
    elif skipped:
        ctx.log.info("%d checkpoint(s) with degenerate validation summaries skipped although their %s was higher "
                     "(up to %.4f)", len(skipped), BEST_METRIC, max(skipped))
    tokens = sum(len(f["input_ids"]) + (len(f["labels"]) if hf.is_encoder_decoder else 0) for f in features)
    return FitResult(history=history, best_checkpoint=str(best), last_checkpoint=last, pruned=trainer.pruned, details={
        "best_metric": best_metric,
        "best_degenerate": best_degenerate,
        "batch_size": batch_size,
        "global_step": trainer.state.global_step,
        "train_loss": float(output.training_loss),
        "train_seconds": round(seconds, 3),
        "eval_seconds": round(trainer.eval_seconds, 3),
        # CPU time of this process (all its threads): unlike wall time, hardly changed by other
        # processes sharing the machine, hence comparable between runs on a busy host
        "train_cpu_seconds": round(cpu_seconds, 3),
        "eval_cpu_seconds": round(trainer.eval_cpu_seconds, 3),
        "train_tokens_per_epoch": tokens,
    })
