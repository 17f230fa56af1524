"""The typed shape of a recipe's core tables.

Every field has a default, so a recipe only says what differs. Plugin tables (``[models.NAME]``,
``[modes.NAME]``, ``[ensembles.NAME]``, ``[augmenters.NAME]``, ``[loggers.NAME]``,
``[metrics.NAME]``) are typed by the options class each plugin registers, not here.

Values that mean "not set" are empty strings or zero rather than ``None`` because TOML has no null:
a resolved recipe must always be writable back to TOML.
"""

from __future__ import annotations

import unicodedata
from typing import Any

import attrs
from attrs import validators as v

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _positive(_inst: Any, attr: attrs.Attribute, value: float) -> None:
    if not value > 0:  # written so that NaN is refused too
        raise ValueError(f"must be > 0, got {value!r}")


def _non_negative(_inst: Any, attr: attrs.Attribute, value: float) -> None:
    if not value >= 0:
        raise ValueError(f"must be >= 0, got {value!r}")


def _fraction(_inst: Any, attr: attrs.Attribute, value: float) -> None:
    if not 0 <= value < 1:
        raise ValueError(f"must be in [0, 1), got {value!r}")


@attrs.define(kw_only=True)
class RunSection:
    """``[run]``: what to run and which plugins to combine."""

    #: Run mode (a registered run mode: `single`, `kfold`, `multi_model`, `optuna`, `full`...).
    mode: str = "single"
    #: Experiment folder name under `run.output_dir`; empty: `{mode}_{model}_{timestamp}`.
    name: str = ""
    #: Folder that holds the experiment folders.
    output_dir: str = "experiments"
    #: Seed of every random choice (data split, initialisation, sampling, augmentation).
    seed: int = 42
    #: Quick check: a few dialogues per split (`data.debug_samples`) and one epoch.
    debug: bool = False
    #: Model loaders or presets to train (see `dialsum models`); `["all"]` expands to every preset.
    models: list[str] = attrs.field(factory=lambda: ["scratch"])
    #: Loggers that receive the run's events, in this order; their options go in `[loggers.NAME]`.
    loggers: list[str] = attrs.field(factory=lambda: ["file", "console", "jsonl"])
    #: Metrics computed on validation predictions; their options go in `[metrics.NAME]`.
    metrics: list[str] = attrs.field(factory=lambda: ["rouge", "bleu"])
    #: Ensemble strategy used when several models, folds or TTA variants are combined.
    ensemble: str = "weighted_avg"
    #: One weight per combined source; empty: the run mode or the ensemble chooses them.
    ensemble_weights: list[float] = attrs.field(factory=list)
    #: Test-time augmentation: also summarise augmented variants and ensemble them.
    use_tta: bool = False
    #: Augmenters used when `run.use_tta` is on; their options go in `[augmenters.NAME]`.
    tta_strategies: list[str] = attrs.field(factory=lambda: ["paraphrase"])
    #: Variants each augmenter makes per dialogue.
    tta_num_aug: int = attrs.field(default=3, validator=_positive)
    #: Write plots (learning curves, fold scores, trials) to `visualizations/`.
    save_visualizations: bool = False
    #: Write validation and test predictions (and `submission.csv`) to `predictions/`.
    save_predictions: bool = True
    #: Before training, report the device, its memory, bf16 support and whether the model fits.
    gpu_check: bool = False
    #: Find the largest training batch size that fits in memory (halving on out-of-memory).
    auto_batch: bool = False
    #: Checkpoint or experiment folder to resume from; empty: start from scratch.
    resume_from: str = ""
    #: Level of `train.log` and the console: `DEBUG`, `INFO`, `WARNING` or `ERROR`.
    log_level: str = attrs.field(default="INFO", validator=v.in_(LOG_LEVELS))
    #: Run only part of the work, e.g. `["fold=3"]` for one fold of a k-fold run (for parallel jobs).
    only: list[str] = attrs.field(factory=list)


@attrs.define(kw_only=True)
class PreprocessingSection:
    """``[data.preprocessing]``: the seed's text clean-up switches."""

    #: Repair literal `\n` and `<br>` sequences, collapse repeated characters and spaces.
    remove_noise: bool = True
    #: Normalise spaced-out tags such as `# Person 1 #` to `#Person1#`.
    simplify_tokens: bool = True


@attrs.define(kw_only=True)
class DataSection:
    """``[data]``: where the CSV files are; relative paths are relative to the recipe file."""

    #: Training CSV (`fname, dialogue, summary, topic`); required.
    train_path: str = ""
    #: Validation CSV; empty: hold out `data.valid_fraction` of the training file.
    dev_path: str = ""
    #: Extra reference files (`fname, summary`) for `data.dev_path`, e.g. a second translation of
    #: its summaries: each file adds one reference to every validation dialogue. Each must list
    #: exactly the dialogues of `data.dev_path` (an unknown or a missing `fname` is an error), so
    #: every dialogue is scored against the same number of references, averaged per dialogue.
    dev_references: list[str] = attrs.field(factory=list)
    #: Test CSV (`fname, dialogue`) to predict for the submission; empty: no test predictions.
    test_path: str = ""
    #: Longest dialogue input, in tokens (longer ones are truncated).
    max_length: int = attrs.field(default=1024, validator=_positive)
    #: Longest training summary, in tokens.
    max_target_length: int = attrs.field(default=256, validator=_positive)
    #: Share of the training file held out for validation when `data.dev_path` is empty.
    valid_fraction: float = attrs.field(default=0.1, validator=_fraction)
    #: Training dialogues kept when `run.debug` is on (a quarter of that for validation and test).
    debug_samples: int = attrs.field(default=32, validator=_positive)
    #: Extra tokens added to the tokenizer besides the `#...#` tags found in the data.
    special_tokens: list[str] = attrs.field(factory=list)
    #: Text clean-up switches (`[data.preprocessing]`).
    preprocessing: PreprocessingSection = attrs.field(factory=PreprocessingSection)


@attrs.define(kw_only=True)
class TrainSection:
    """``[train]``: optimisation options shared by every model loader."""

    #: Training epochs.
    epochs: int = attrs.field(default=3, validator=_positive)
    #: Training batch size per device.
    batch_size: int = attrs.field(default=8, validator=_positive)
    #: Evaluation batch size; 0: derived from `train.batch_size`.
    eval_batch_size: int = attrs.field(default=0, validator=_non_negative)
    #: Peak learning rate.
    learning_rate: float = attrs.field(default=2e-5, validator=_positive)
    #: Batches accumulated before each optimiser step.
    gradient_accumulation_steps: int = attrs.field(default=1, validator=_positive)
    #: Share of the training steps spent warming the learning rate up.
    warmup_ratio: float = attrs.field(default=0.1, validator=_fraction)
    #: AdamW weight decay.
    weight_decay: float = attrs.field(default=0.01, validator=_non_negative)
    #: Learning-rate schedule (`linear`, `cosine`, `constant`... as in transformers).
    scheduler: str = "cosine"
    #: Mixed precision with float16 (GPU only).
    fp16: bool = False
    #: Mixed precision with bfloat16 (GPUs that support it).
    bf16: bool = False
    #: Stop after this many optimiser steps; -1: train for `train.epochs`.
    max_steps: int = -1
    #: Report the training loss every this many steps.
    logging_steps: int = attrs.field(default=10, validator=_positive)
    #: Label smoothing factor of the training loss.
    label_smoothing: float = attrs.field(default=0.0, validator=_fraction)
    #: Stop after this many evaluations without improvement; 0: never stop early.
    early_stopping_patience: int = attrs.field(default=0, validator=_non_negative)
    #: Checkpoints kept per model (the best one is always kept).
    save_total_limit: int = attrs.field(default=2, validator=_positive)
    #: Also save the optimizer, scheduler and random-number states in each checkpoint, so that
    #: `run.resume_from` continues exactly where a run stopped. They are PyTorch pickle files, so
    #: this is off by default: checkpoints then hold safetensors weights only, and a resumed run
    #: restarts the optimizer and the learning-rate schedule from the checkpoint's weights.
    save_training_state: bool = False


@attrs.define(kw_only=True)
class GenerationSection:
    """``[generation]``: decoding options (the seed's values are the defaults)."""

    #: Longest generated summary, in tokens.
    max_new_tokens: int = attrs.field(default=100, validator=_positive)
    #: Shortest generated summary, in tokens.
    min_new_tokens: int = attrs.field(default=30, validator=_non_negative)
    #: Beam width; 1: greedy or sampling.
    num_beams: int = attrs.field(default=4, validator=_positive)
    #: Sample instead of searching (then `temperature` and `top_p` apply).
    do_sample: bool = False
    #: Sampling temperature.
    temperature: float = attrs.field(default=0.5, validator=_positive)
    #: Nucleus sampling: keep the smallest set of tokens whose probability reaches `top_p`.
    top_p: float = attrs.field(default=0.9, validator=_positive)
    #: Penalty on tokens already generated (1.0: none).
    repetition_penalty: float = attrs.field(default=1.5, validator=_positive)
    #: Never repeat an n-gram of this size; 0: allowed.
    no_repeat_ngram_size: int = attrs.field(default=3, validator=_non_negative)
    #: Beam-search length penalty (> 1 favours longer summaries).
    length_penalty: float = 1.0
    #: Generation batch size; 0: `train.eval_batch_size`, else derived from `train.batch_size`.
    batch_size: int = attrs.field(default=0, validator=_non_negative)


#: Core tables in the order they are written back to TOML.
SECTIONS: dict[str, type] = {
    "run": RunSection,
    "data": DataSection,
    "train": TrainSection,
    "generation": GenerationSection,
}


#: Recipe keys that hold a path dialsum opens or creates.
PATH_KEYS = ("run.output_dir", "run.name", "run.resume_from", "data.train_path", "data.dev_path", "data.test_path")


def path_problems(run: RunSection, data: DataSection) -> list[tuple[str, str]]:
    """Paths no file system takes (a NUL or a line break is a mistake, never a name), and an
    experiment name that is not one folder under ``run.output_dir``, so that the experiment
    folder is always the one dialsum reports."""
    found = []
    sections = {"run": run, "data": data}
    for key in PATH_KEYS:
        section, field = key.split(".")
        value = getattr(sections[section], field)
        if any(unicodedata.category(c) == "Cc" for c in value):
            found.append((key, f"control characters are not allowed in a path, got {value!r}"))
    for value in data.dev_references:
        if any(unicodedata.category(c) == "Cc" for c in value):
            found.append(("data.dev_references", f"control characters are not allowed in a path, got {value!r}"))
    if run.name in (".", "..") or "/" in run.name or "\\" in run.name:
        found.append(("run.name", f"must be a folder name (no slashes, not '.' or '..'), got {run.name!r}"))
    return found
