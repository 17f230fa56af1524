"""What dialsum-hf prints: no transformers progress bar, no "missing keys" alarm for tied weights."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

BARS = ("Writing model shards", "Loading weights")


class Records(logging.Handler):
    """Every record of transformers' loggers (they do not propagate to the root logger)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def transformers_log():
    handler = Records()
    logger = logging.getLogger("transformers")
    logger.addHandler(handler)
    yield handler.messages
    logger.removeHandler(handler)


def test_training_saving_and_loading_draw_no_transformers_bar(context, tiny_models, tmp_path: Path, capfd) -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.enable_progress_bar()  # as in a fresh process: transformers draws its bars by default
    ctx = context({"train": {"epochs": 1}})
    data = ctx.data()
    model = ctx.build("model_loaders", "scratch").build(ctx, data.train)
    model.fit(data.train, data.valid, ctx, tmp_path / "ckpt")
    model.save(tmp_path / "saved")
    ctx.build("model_loaders", "scratch").load(ctx, tmp_path / "saved")
    seq2seq = context({"run": {"models": ["hf-seq2seq"]}, "models": {"hf-seq2seq": {
        "model_name_or_path": str(tiny_models["bart"]), "torch_dtype": "float32"}}}, name="pre")
    seq2seq.build("model_loaders", "hf-seq2seq").build(seq2seq, data.train)

    err = capfd.readouterr().err
    assert not [bar for bar in BARS if bar in err], err[-2000:]


def test_resume_reports_missing_keys_only_when_they_are_not_tied(context, tmp_path: Path,
                                                                   transformers_log: list[str]) -> None:
    from safetensors.torch import load_file, save_file

    first = context({"train": {"epochs": 1}}, name="first")
    data = first.data()
    model = first.build("model_loaders", "scratch").build(first, data.train)
    checkpoint = Path(model.fit(data.train, data.valid, first, tmp_path / "first").best_checkpoint)
    # scratch is a BART: the checkpoint stores the tied embedding matrix once, as model.shared.weight
    assert "lm_head.weight" not in load_file(str(checkpoint / "model.safetensors"))

    def resume(source: Path, name: str) -> list[str]:
        transformers_log.clear()
        ctx = context({"train": {"epochs": 2}, "run": {"resume_from": str(source)}}, name=name)
        ctx.build("model_loaders", "scratch").build(ctx, data.train).fit(data.train, data.valid, ctx,
                                                                          tmp_path / name)
        return [m for m in transformers_log if "missing keys" in m]

    assert resume(checkpoint, "resumed") == []

    # A weight that is genuinely absent is still reported, and only that one.
    broken = tmp_path / "broken" / checkpoint.name
    shutil.copytree(checkpoint, broken)
    weights = load_file(str(broken / "model.safetensors"))
    del weights["model.encoder.layernorm_embedding.weight"]
    save_file(weights, str(broken / "model.safetensors"), metadata={"format": "pt"})
    [warning] = resume(broken, "broken")
    assert "model.encoder.layernorm_embedding.weight" in warning
    assert "lm_head.weight" not in warning and "embed_tokens" not in warning


def test_checkpoints_saved_within_a_second_are_no_alarm_about_the_filesystem(
        context, tmp_path: Path, transformers_log: list[str]) -> None:
    """A small model saves its checkpoints less than a second apart, and transformers, sorting them by
    time, said "mtime may not be reliable on this filesystem" in the console and train.log of every
    tiny run: a claim about the user's disk that is not so, for the numerical order it then takes."""
    import os

    from transformers.trainer_utils import sort_checkpoints

    ctx = context({"train": {"epochs": 1}}, name="order")
    data = ctx.data()
    ctx.build("model_loaders", "scratch").build(ctx, data.train).fit(data.train, data.valid, ctx, tmp_path / "fit")
    saved = tmp_path / "saved"
    for step in (10, 5):
        (saved / f"checkpoint-{step}").mkdir(parents=True)
        os.utime(saved / f"checkpoint-{step}", (1_700_000_000, 1_700_000_000))  # saved in the same second
    logging.Logger.warning_once.cache_clear()  # said once a process: the fit may have said it already
    ordered = sort_checkpoints(str(saved), use_mtime=True)
    assert [Path(p).name for p in ordered] == ["checkpoint-5", "checkpoint-10"]
    assert not [m for m in transformers_log if "mtime may not be reliable" in m], transformers_log
