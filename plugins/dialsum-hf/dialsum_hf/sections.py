"""The recipe sections dialsum-hf owns: ``[train]``, ``[generation]`` and its keys of ``[run]``.

Only the Hugging Face loaders read them, so they live here and reach the recipe through the
``dialsum_register_sections`` hook. A third-party model loader may read them too (they are public,
``recipe.section("train")``), or contribute sections of its own.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import TYPE_CHECKING, Any

import attrs

from dialsum_core.recipe import PATH
from dialsum_core.validators import between, each, finite, fraction, non_negative, positive
from dialsum_hf.resume import check_resume
from dialsum_metrics import SELECTION_SCORE

if TYPE_CHECKING:
    from dialsum_core.manager import Plugins
    from dialsum_core.recipe import Recipe

log = logging.getLogger("dialsum")

SCHEDULERS = (
    "linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup",
    "inverse_sqrt", "reduce_lr_on_plateau", "cosine_with_min_lr", "warmup_stable_decay",
)


#: The score the Hugging Face models keep their best checkpoint by: the metrics' selection score
#: (the recipe check refuses metrics that cannot give it).
BEST_METRIC = SELECTION_SCORE


def steps_or_epochs(_inst: Any, _attr: Any, value: int) -> None:
    """-1 (train for the epochs) or a positive step count: the Trainer reads 0 and every other negative
    value as -1, so ``max_steps = 0`` trained every epoch without a word."""
    if not (value == -1 or value > 0):
        raise ValueError(f"must be -1 (train for train.epochs) or > 0, got {value!r}")


def whole_token(_inst: Any, _attr: Any, value: str) -> None:
    """A token added whole must have some text and no surrounding blanks: ``""`` is no token, and
    ``" "`` would swallow every space of every text (the tokenizer matches added tokens first)."""
    if not value.strip():
        raise ValueError(f"holds an empty or blank token {value!r}")
    if value != value.strip():
        raise ValueError(f"{value!r} starts or ends with a blank; write it without")


@attrs.define(kw_only=True)
class TrainSection:
    """``[train]``: optimisation options of the Hugging Face loaders."""

    #: Training epochs (1 when `run.debug` is on).
    epochs: int = attrs.field(default=3, validator=positive)
    #: Training batch size per device; 0: the largest that fits, found as `run.auto_batch` does
    #: (the seed's `--batch_size` left unset).
    batch_size: int = attrs.field(default=8, validator=non_negative)
    #: Evaluation batch size; 0: derived from `train.batch_size`.
    eval_batch_size: int = attrs.field(default=0, validator=non_negative)
    #: Peak learning rate.
    learning_rate: float = attrs.field(default=2e-5, validator=attrs.validators.and_(positive, finite))
    #: Batches accumulated before each optimiser step.
    gradient_accumulation_steps: int = attrs.field(default=1, validator=positive)
    #: Share of the training steps spent warming the learning rate up.
    warmup_ratio: float = attrs.field(default=0.1, validator=fraction)
    #: AdamW weight decay.
    weight_decay: float = attrs.field(default=0.01, validator=attrs.validators.and_(non_negative, finite))
    #: Learning-rate schedule (`linear`, `cosine`, `constant`... as in transformers);
    #: `cosine_with_min_lr` ends at a tenth of `learning_rate`, `warmup_stable_decay` decays over the
    #: last tenth of the steps.
    scheduler: str = "cosine"
    #: Mixed precision with float16 (GPU only).
    fp16: bool = False
    #: Mixed precision with bfloat16 (GPUs that support it).
    bf16: bool = False
    #: Stop after this many optimiser steps; -1: train for `train.epochs`.
    max_steps: int = attrs.field(default=-1, validator=steps_or_epochs)
    #: Report the training loss every this many steps.
    logging_steps: int = attrs.field(default=10, validator=positive)
    #: Label smoothing factor of the training loss.
    label_smoothing: float = attrs.field(default=0.0, validator=fraction)
    #: Stop after this many evaluations without improvement; 0: never stop early.
    early_stopping_patience: int = attrs.field(default=0, validator=non_negative)
    #: Checkpoints kept per model (the best one is always kept).
    save_total_limit: int = attrs.field(default=2, validator=positive)
    #: Save checkpoints while training (the best epoch is then the one kept, and a run can resume);
    #: false: only the final model is saved, at the end.
    save_checkpoints: bool = True
    #: Validate and save every this many optimiser steps; 0: at the end of every epoch. Each save
    #: validates (generation on the validation split), so a small interval slows training down.
    checkpoint_interval: int = attrs.field(default=0, validator=non_negative)
    #: Also save the optimizer, scheduler and random-number states in each checkpoint, so that
    #: `run.resume_from` continues exactly where a run stopped. They are PyTorch pickle files, so
    #: this is off by default: checkpoints then hold safetensors weights only, and a resumed run
    #: restarts the optimizer and the learning-rate schedule from the checkpoint's weights.
    save_training_state: bool = False

    def for_debug(self) -> TrainSection:
        """``run.debug``: one epoch, beside the core's few dialogues per split."""
        if self.epochs != 1:
            log.info("debug: training 1 epoch instead of %d", self.epochs)
        return attrs.evolve(self, epochs=1)


@attrs.define(kw_only=True)
class GenerationSection:
    """``[generation]``: decoding options (the seed's values are the defaults)."""

    #: Longest generated summary, in tokens.
    max_new_tokens: int = attrs.field(default=100, validator=positive)
    #: Shortest generated summary, in tokens.
    min_new_tokens: int = attrs.field(default=30, validator=non_negative)
    #: Beam width; 1: greedy or sampling.
    num_beams: int = attrs.field(default=4, validator=positive)
    #: Sample instead of searching (then `temperature` and `top_p` apply).
    do_sample: bool = False
    #: Sampling temperature.
    temperature: float = attrs.field(default=0.5, validator=attrs.validators.and_(positive, finite))
    #: Nucleus sampling: keep the smallest set of tokens whose probability reaches `top_p`.
    top_p: float = attrs.field(default=0.9, validator=attrs.validators.and_(positive, between(0, 1)))
    #: Penalty on tokens already generated (1.0: none).
    repetition_penalty: float = attrs.field(default=1.5, validator=attrs.validators.and_(positive, finite))
    #: Never repeat an n-gram of this size; 0: allowed.
    no_repeat_ngram_size: int = attrs.field(default=3, validator=non_negative)
    #: Beam-search length penalty (> 1 favours longer summaries).
    length_penalty: float = attrs.field(default=1.0, validator=finite)
    #: Generation batch size; 0: `train.eval_batch_size`, else derived from `train.batch_size`.
    batch_size: int = attrs.field(default=0, validator=non_negative)


@attrs.define(kw_only=True)
class HfDataKeys:
    """dialsum-hf's keys of ``[data]``: how dialogues and summaries become tokens."""

    #: Longest dialogue input, in tokens (longer ones are truncated, and the log says how many).
    max_length: int = attrs.field(default=1024, validator=positive)
    #: Longest training summary, in tokens (longer ones are truncated, and the log says how many).
    max_target_length: int = attrs.field(default=256, validator=positive)
    #: Extra tokens added to the tokenizer besides the `#...#` tags found in the data.
    special_tokens: list[str] = attrs.field(factory=list, validator=each(whole_token))


@attrs.define(kw_only=True)
class HfRunKeys:
    """dialsum-hf's keys of ``[run]`` (the seed's command-line switches of the same names)."""

    #: Before training, report the device, its memory, bf16 support and whether the model fits.
    gpu_check: bool = False
    #: Find the largest training batch size that fits in memory (halving on out-of-memory).
    auto_batch: bool = False
    #: Checkpoint or experiment folder to resume from; empty: start from scratch.
    resume_from: str = attrs.field(default="", metadata=PATH)


def cuda_available() -> bool:
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


def check_train(recipe: Recipe, plugins: Plugins) -> list[tuple[str, str]]:
    """``[train]`` problems that would only show once a model trains (checked once per recipe)."""
    train = recipe.section("train")
    found: list[tuple[str, str]] = []
    if train.scheduler not in SCHEDULERS:
        found.append(("train.scheduler", f"unknown scheduler {train.scheduler!r}; one of {', '.join(SCHEDULERS)}"))
    if train.fp16 and train.bf16:
        found.append(("train.fp16", "fp16 and bf16 are both on; choose one"))
    if train.save_training_state and not train.save_checkpoints:
        found.append(("train.save_training_state", "keeps the optimizer state in each checkpoint, and "
                      "train.save_checkpoints = false saves none; turn one of them off or the other on"))
    if train.fp16 and not cuda_available():
        found.append(("train.fp16", "fp16 training needs a CUDA GPU and none is visible; use bf16 or float32"))
    return found


def check_generation(recipe: Recipe, plugins: Plugins) -> list[tuple[str, str]]:
    """Lengths that contradict each other: ``generate`` keeps the maximum and drops the minimum
    without a word, so every summary comes out shorter than the recipe asked."""
    gen = recipe.section("generation")
    found = []
    if gen.min_new_tokens > gen.max_new_tokens:
        found.append(("generation.min_new_tokens", f"{gen.min_new_tokens} is more than generation.max_new_tokens "
                      f"({gen.max_new_tokens}); lower it or raise the maximum"))
    # The seed's --temperature and --top_p: values of sampling, which this plugin's search (do_sample
    # off) never reads, so that a changed one would change nothing without a word.
    if not gen.do_sample and _trains_hf_models(recipe, plugins):
        defaults = attrs.fields_dict(GenerationSection)
        for key in ("temperature", "top_p"):
            value, default = getattr(gen, key), defaults[key].default
            if value != default:
                found.append((f"generation.{key}", f"{value} would be ignored: it applies when sampling "
                              f"(generation.do_sample = true; beam search otherwise); turn that on, or leave "
                              f"{key} at {default}"))
    return found


def _trains_hf_models(recipe: Recipe, plugins: Plugins) -> bool:
    """Whether ``run.models`` names a loader of this plugin (others may read ``[generation]`` their way)."""
    from dialsum_hf.plugin import hf_models

    return bool(hf_models(recipe, plugins))


def register_sections(register: Any) -> None:
    register("train", TrainSection, description="Optimisation options of the Hugging Face loaders",
             check=check_train)
    register("generation", GenerationSection, description="Decoding options of the Hugging Face loaders",
             check=check_generation)
    register("data", HfDataKeys, description="Token lengths and extra tokens")
    register("run", HfRunKeys, description="GPU check, automatic batch size and resuming",
             defaults={"models": ["scratch"]}, check=check_resume)
