"""Which checkpoint ``run.resume_from`` names, and which one a training ended with: one rule for both
(cheap to import: the ``[run]`` check uses it too)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from dialsum_hf.folders import TOKENIZER_JSON, read_json


def checkpoint_in(path: Path) -> str:
    """A ``checkpoint-N`` folder, or the latest complete one under ``path``.

    A checkpoint is complete once its ``trainer_state.json`` is written, which the Trainer does
    last, so a run killed while saving is never resumed from half a checkpoint. Raises
    ``ValueError`` saying what is missing."""
    if (path / "trainer_state.json").is_file():
        return str(path)
    if not path.exists():
        folder = path.with_suffix("")  # the seed named its checkpoint files checkpoints/last.pt
        hint = f"; checkpoints are folders here: {folder}" if path.suffix == ".pt" and folder.is_dir() else ""
        raise ValueError(f"{path} does not exist{hint}")
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
    """``dialsum check`` refuses a ``run.resume_from`` that the run would refuse when training starts: the
    checkpoint of a model this plugin builds (another loader reads the key its own way, or not at all)."""
    from dialsum_hf.plugin import hf_models

    run = recipe.run
    resuming = hf_models(recipe, plugins) if run.resume_from else []
    if not resuming:
        return []
    if len(resuming) > 1:  # each would load the one checkpoint: another model's weights, or a clash of shapes
        return [("run.resume_from", f"names one checkpoint, and run.models trains {len(resuming)} models that would "
                 f"each resume from it ({', '.join(resuming)}); resume one model at a time (run.models = [NAME])")]
    try:
        checkpoint = Path(checkpoint_in(recipe.path_of("run.resume_from")))
    except ValueError as exc:
        return [("run.resume_from", str(exc))]
    return [("run.resume_from", problem) for problem in checkpoint_mismatch(recipe, plugins, checkpoint)]


def _json(path: Path) -> dict[str, Any]:
    return read_json(path) or {}


def steps_per_process(n_examples: int, batch_size: int, accumulation: int, world_size: int) -> int:
    """Optimiser steps per epoch of each process of a launch of ``world_size`` (each steps through
    its share of the batches), as the Trainer counts them in a checkpoint's ``global_step``."""
    return max(1, math.ceil(n_examples / (batch_size * accumulation * max(1, world_size))))


def steps_mismatch(checkpoint: Path, steps_per_epoch: int, batch_size: int) -> str:
    """Why ``checkpoint``'s step count means another point of training in this run ("" when it does not).

    The Trainer resumes by step: it skips the first ``global_step`` steps of this run. When the run
    counts other steps per epoch than the checkpoint's (another batch size, as ``run.auto_batch``
    finds, other ``train.gradient_accumulation_steps`` or other data), that skips other epochs than
    were trained: a checkpoint of epoch 1 at batch 8 (step 45) ended a 3-epoch run at batch 64
    (18 steps) before its first step, and the run reported the checkpoint's scores as if trained.
    The steps per epoch of the checkpoint are its ``global_step`` over its ``epoch``."""
    state = _json(checkpoint / "trainer_state.json")
    step, epoch = state.get("global_step"), state.get("epoch")
    if not isinstance(step, int) or not isinstance(epoch, int | float) or step <= 0 or epoch <= 0:
        return ""
    saved = round(step / epoch)
    if abs(saved - steps_per_epoch) <= 1:  # the epoch is stored rounded
        return ""
    was = f" at batch size {state['train_batch_size']}" if isinstance(state.get("train_batch_size"), int) else ""
    return (f"{checkpoint} was trained {saved} optimiser steps per epoch{was}, this run makes {steps_per_epoch} "
            f"(batch size {batch_size}), so its step {step} (epoch {epoch:g}) would stand for another point of "
            "training; resume with the train.batch_size (run.auto_batch = false), "
            "train.gradient_accumulation_steps and data it was trained with, or leave run.resume_from empty")


#: ``scratch`` config values -> the recipe keys that set them.
SCRATCH_KEYS = {
    "d_model": "d_model", "encoder_layers": "encoder_layers", "decoder_layers": "decoder_layers",
    "encoder_attention_heads": "attention_heads", "encoder_ffn_dim": "ffn_dim",
    "max_position_embeddings": "data.max_length, data.max_target_length or generation.max_new_tokens",
}


def checkpoint_mismatch(recipe: Any, plugins: Any, checkpoint: Path) -> list[str]:
    """Why the weights of ``checkpoint`` cannot be loaded into the model the recipe builds.

    The Trainer finds out only when it loads them, with a size-mismatch traceback per tensor; the
    checkpoint's ``dialsum_model.json`` (which model) and ``config.json`` (its shapes) say it before
    anything is loaded. A checkpoint without them (not written by dialsum) is left to the Trainer.
    """
    from dialsum_core.errors import DialsumError
    from dialsum_hf.model import METADATA
    from dialsum_hf.plugin import PretrainedOptions, ScratchOptions, local_model_path, scratch_architecture

    meta = _json(checkpoint / METADATA)
    loader, models = meta.get("loader"), list(dict.fromkeys(recipe.run.models))
    if not loader or not models:
        return []
    if loader not in models:
        return [f"{checkpoint} is a checkpoint of model {loader!r}, which run.models {models} does not train"]
    try:
        opts, saved = recipe.options("model_loaders", loader, plugins), meta.get("options") or {}
    except DialsumError:  # options the recipe check reports on their own
        return []
    found: list[str] = []
    if isinstance(opts, ScratchOptions):
        config = _json(checkpoint / "config.json")
        for name, value in scratch_architecture(opts, recipe).items():
            if name in SCRATCH_KEYS and name in config and config[name] != value:
                keys = SCRATCH_KEYS[name] if "." in SCRATCH_KEYS[name] else f"models.{loader}.{SCRATCH_KEYS[name]}"
                found.append(f"{checkpoint} has {name} = {config[name]}; the recipe's {keys} make it {value}")
        found += [f"{checkpoint} was trained with models.{loader}.{k} = {saved[k]}, the recipe has {getattr(opts, k)} "
                  "(another tokenizer)" for k in ("vocab_size", "min_frequency") if k in saved
                  and saved[k] != getattr(opts, k)]
        if not found and meta.get("tokenizer_key"):
            found += _other_tokenizer(recipe, plugins, checkpoint, opts, str(meta["tokenizer_key"]))
    elif isinstance(opts, PretrainedOptions):
        local = local_model_path(recipe, loader, opts.model_name_or_path)
        base = str(local) if local is not None else opts.model_name_or_path
        if meta.get("base_model") and meta["base_model"] != base:
            found.append(f"{checkpoint} was trained from {meta['base_model']}, models.{loader}.model_name_or_path "
                         f"is {opts.model_name_or_path}")
        if "adapter" in meta and bool(meta["adapter"]) != opts.use_lora:
            found.append(f"{checkpoint} holds {'LoRA adapters' if meta['adapter'] else 'a full model'}, "
                         f"models.{loader}.use_lora is {str(opts.use_lora).lower()}")
        if not found:
            found += _tags_not_in(checkpoint, recipe)
    return found


def _other_tokenizer(recipe: Any, plugins: Any, checkpoint: Path, opts: Any, saved_key: str) -> list[str]:
    """A ``scratch`` checkpoint whose tokenizer was learned from other training data than the recipe's.

    The run would train a tokenizer on its own data and load the checkpoint's weights into a model of
    that vocabulary: a size mismatch traceback, or, at an equal size, ids that now mean other words.
    The data are read as the run reads them (the data check has read them already); the tokenizer is
    never trained here, only the key its file would have is compared.
    """
    from dialsum_hf.tokenizer import scratch_corpus, tokenizer_key

    if (data := plugins.checked_data(recipe)) is None:
        return []
    texts, tags, alphabet = scratch_corpus(data.train, recipe.section("data").special_tokens,
                                           [*data.valid, *data.test])
    if tokenizer_key(texts, tags, opts.vocab_size, opts.min_frequency, alphabet=alphabet) == saved_key:
        return []
    return [f"{checkpoint} was trained with a tokenizer learned from other data (data.train_path, the characters "
            "of the dialogues of data.dev_path or data.test_path, data.special_tokens, run.debug or "
            "data.debug_samples differ); resume with the data it was trained on, or leave run.resume_from empty "
            "to start afresh"]


def tokenizer_vocabulary(folder: Path) -> set[str] | None:
    """The token strings of the ``tokenizer.json`` in ``folder`` (its model's and the added ones), read
    as plain JSON; ``None`` when there is none to read."""
    data = _json(folder / TOKENIZER_JSON)
    vocab = data.get("model", {}).get("vocab") if isinstance(data.get("model"), dict) else None
    if vocab is None:
        return None
    pieces = set(vocab) if isinstance(vocab, dict) else {v[0] for v in vocab if isinstance(v, list) and v}
    return pieces | {t.get("content") for t in data.get("added_tokens", []) if isinstance(t, dict)}


def _tags_not_in(checkpoint: Path, recipe: Any) -> list[str]:
    """The tokens a pretrained loader always adds (the known dialogue tags and ``data.special_tokens``)
    that the checkpoint's tokenizer lacks: the run adds them and grows the embeddings, and the
    checkpoint's weights no longer fit (the Trainer's resume fails with a size-mismatch traceback)."""
    from dialsum_hf.tokenizer import special_tokens

    vocab = tokenizer_vocabulary(checkpoint)
    if vocab is None:
        return []
    missing = [t for t in special_tokens((), recipe.section("data").special_tokens) if t not in vocab]
    if not missing:
        return []
    return [f"{checkpoint} has no token {', '.join(missing)}, which the run adds to the tokenizer (data.special_tokens "
            "and the dialogue tags), so its embeddings would not fit the model; resume with the data.special_tokens "
            "it was trained with"]
