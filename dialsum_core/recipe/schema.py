"""The typed shape of a recipe's core tables.

Every field has a default, so a recipe only says what differs. Plugin tables (``[models.NAME]``,
``[modes.NAME]``, ``[ensembles.NAME]``, ``[augmenters.NAME]``, ``[loggers.NAME]``,
``[metrics.NAME]``) are typed by the options class each plugin registers, not here.

Values that mean "not set" are empty strings or zero rather than ``None`` because TOML has no null:
a resolved recipe must always be writable back to TOML.
"""

from __future__ import annotations

from typing import Any

import attrs
from attrs import validators as v

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _positive(_inst: Any, attr: attrs.Attribute, value: float) -> None:
    if value <= 0:
        raise ValueError(f"must be > 0, got {value!r}")


def _non_negative(_inst: Any, attr: attrs.Attribute, value: float) -> None:
    if value < 0:
        raise ValueError(f"must be >= 0, got {value!r}")


def _fraction(_inst: Any, attr: attrs.Attribute, value: float) -> None:
    if not 0 <= value < 1:
        raise ValueError(f"must be in [0, 1), got {value!r}")


@attrs.define(kw_only=True)
class RunSection:
    """``[run]``: what to run and which plugins to combine."""

    mode: str = "single"
    name: str = ""
    output_dir: str = "experiments"
    seed: int = 42
    debug: bool = False
    models: list[str] = attrs.field(factory=lambda: ["scratch"])
    loggers: list[str] = attrs.field(factory=lambda: ["file", "console", "jsonl"])
    metrics: list[str] = attrs.field(factory=lambda: ["rouge", "bleu"])
    ensemble: str = "weighted_avg"
    ensemble_weights: list[float] = attrs.field(factory=list)
    use_tta: bool = False
    tta_strategies: list[str] = attrs.field(factory=lambda: ["paraphrase"])
    tta_num_aug: int = attrs.field(default=3, validator=_positive)
    save_visualizations: bool = False
    save_predictions: bool = True
    gpu_check: bool = False
    auto_batch: bool = False
    resume_from: str = ""
    log_level: str = attrs.field(default="INFO", validator=v.in_(LOG_LEVELS))
    only: list[str] = attrs.field(factory=list)


@attrs.define(kw_only=True)
class PreprocessingSection:
    """``[data.preprocessing]``: the seed's text clean-up switches."""

    remove_noise: bool = True
    simplify_tokens: bool = True


@attrs.define(kw_only=True)
class DataSection:
    """``[data]``: where the CSV files are; relative paths are relative to the recipe file."""

    train_path: str = ""
    dev_path: str = ""
    test_path: str = ""
    max_length: int = attrs.field(default=1024, validator=_positive)
    max_target_length: int = attrs.field(default=256, validator=_positive)
    valid_fraction: float = attrs.field(default=0.1, validator=_fraction)
    debug_samples: int = attrs.field(default=32, validator=_positive)
    special_tokens: list[str] = attrs.field(factory=list)
    preprocessing: PreprocessingSection = attrs.field(factory=PreprocessingSection)


@attrs.define(kw_only=True)
class TrainSection:
    """``[train]``: optimisation options shared by every model loader."""

    epochs: int = attrs.field(default=3, validator=_positive)
    batch_size: int = attrs.field(default=8, validator=_positive)
    eval_batch_size: int = attrs.field(default=0, validator=_non_negative)
    learning_rate: float = attrs.field(default=2e-5, validator=_positive)
    gradient_accumulation_steps: int = attrs.field(default=1, validator=_positive)
    warmup_ratio: float = attrs.field(default=0.1, validator=_fraction)
    weight_decay: float = attrs.field(default=0.01, validator=_non_negative)
    scheduler: str = "cosine"
    fp16: bool = False
    bf16: bool = False
    max_steps: int = -1
    logging_steps: int = attrs.field(default=10, validator=_positive)
    label_smoothing: float = attrs.field(default=0.0, validator=_fraction)
    early_stopping_patience: int = attrs.field(default=0, validator=_non_negative)
    save_total_limit: int = attrs.field(default=2, validator=_positive)


@attrs.define(kw_only=True)
class GenerationSection:
    """``[generation]``: decoding options (the seed's values are the defaults)."""

    max_new_tokens: int = attrs.field(default=100, validator=_positive)
    min_new_tokens: int = attrs.field(default=30, validator=_non_negative)
    num_beams: int = attrs.field(default=4, validator=_positive)
    do_sample: bool = False
    temperature: float = attrs.field(default=0.5, validator=_positive)
    top_p: float = attrs.field(default=0.9, validator=_positive)
    repetition_penalty: float = attrs.field(default=1.5, validator=_positive)
    no_repeat_ngram_size: int = attrs.field(default=3, validator=_non_negative)
    length_penalty: float = 1.0
    batch_size: int = attrs.field(default=0, validator=_non_negative)


#: Core tables in the order they are written back to TOML.
SECTIONS: dict[str, type] = {
    "run": RunSection,
    "data": DataSection,
    "train": TrainSection,
    "generation": GenerationSection,
}
