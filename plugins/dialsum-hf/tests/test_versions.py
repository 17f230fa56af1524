"""Training arguments across the transformers releases dialsum supports (feature detection)."""

from __future__ import annotations

import dataclasses

from dialsum_hf.training import versioned_arguments


@dataclasses.dataclass
class Release517:
    """The fields of transformers 5.17's ``TrainingArguments`` that changed later."""

    gradient_checkpointing: bool = False
    train_sampling_strategy: str = "random"
    warmup_steps: float = 0
    warmup_ratio: float | None = None


@dataclasses.dataclass
class Release446:
    """... and of the 4.x releases: integer warm-up steps and a separate ratio."""

    gradient_checkpointing: bool = False
    group_by_length: bool = False
    warmup_steps: int = 0
    warmup_ratio: float = 0.0


def test_each_release_gets_the_names_it_knows() -> None:
    from transformers import Seq2SeqTrainingArguments

    for cls in (Release517, Release446, Seq2SeqTrainingArguments):
        args = versioned_arguments(cls, warmup_ratio=0.1, gradient_checkpointing=True)
        known = {f.name for f in dataclasses.fields(cls)}
        assert set(args) <= known, cls
    assert versioned_arguments(Release517, warmup_ratio=0.1, gradient_checkpointing=True) == {
        "gradient_checkpointing": True, "train_sampling_strategy": "group_by_length", "warmup_steps": 0.1}
    assert versioned_arguments(Release446, warmup_ratio=0.1, gradient_checkpointing=False) == {
        "gradient_checkpointing": False, "group_by_length": True, "warmup_ratio": 0.1}


def test_the_installed_release_builds_the_arguments(context, tmp_path) -> None:
    from dialsum_hf.training import training_arguments

    ctx = context({"train": {"warmup_ratio": 0.25}})
    args = training_arguments(ctx, tmp_path, 4, 2, 10, True)
    checkpointing = getattr(args, "activation_checkpointing", None)
    assert (checkpointing if checkpointing is not None else args.gradient_checkpointing) is True
    assert args.get_warmup_steps(100) == 25
