"""Best-checkpoint selection and early stopping skip checkpoints with degenerate summaries.

The scratch BART below, trained on 16 dialogues of the shipped sample data, first writes one
string for every validation dialogue (a collapse that scores well on Korean morphemes), then, as
it memorises its training summaries, varied ones that score a little lower. ROUGE alone keeps the
collapsed checkpoint; the guard must keep the best varied one.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from dialsum_hf.testing import run_context

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "sample"
#: fewer than half of the summaries distinct: degenerate (dialsum_metrics.is_degenerate's default)
DEGENERATE_BELOW = 0.5


def collapsing_run(tmp_path: Path, epochs: int, patience: int = 0) -> tuple[Any, Any]:
    if not (SAMPLE / "train.csv").exists():
        pytest.skip(f"sample data not found at {SAMPLE}")
    ctx = run_context({
        "run": {"models": ["scratch"], "loggers": [], "metrics": ["rouge"], "seed": 7,
                "output_dir": str(tmp_path / "experiments")},
        "data": {"train_path": str(SAMPLE / "train.csv"), "dev_path": str(SAMPLE / "dev.csv"),
                 "max_length": 64, "max_target_length": 24},
        "train": {"epochs": epochs, "batch_size": 8, "learning_rate": 5e-3, "warmup_ratio": 0.0,
                  "logging_steps": 5, "save_total_limit": 1, "early_stopping_patience": patience},
        "generation": {"num_beams": 1, "max_new_tokens": 12, "min_new_tokens": 2, "batch_size": 16},
        "models": {"scratch": {"vocab_size": 300, "min_frequency": 1, "d_model": 64, "ffn_dim": 128,
                               "encoder_layers": 1, "decoder_layers": 1, "attention_heads": 2, "dropout": 0.0}},
    }, "exp")
    data = ctx.data()
    # 16 dialogues seen 10 times an epoch: enough steps per evaluation to memorise them in a few epochs
    train, valid = list(data.train[:16]) * 10, data.valid[:8]
    model = ctx.build("model_loaders", "scratch").build(ctx, train)
    return model.fit(train, valid, ctx, tmp_path / "ckpt"), ctx


def degenerate(entry: dict[str, Any]) -> bool:
    return entry["eval_distinct_ratio"] < DEGENERATE_BELOW


@pytest.mark.parametrize("patience", [0, 1], ids=["selection", "early-stopping"])
def test_collapsed_checkpoint_is_never_kept_while_a_varied_one_exists(tmp_path: Path, caplog, patience: int) -> None:
    caplog.set_level(logging.INFO, logger="dialsum")
    result, _ = collapsing_run(tmp_path, epochs=6, patience=patience)
    history = result.history
    varied = [h for h in history if not degenerate(h)]
    collapsed = [h for h in history if degenerate(h)]
    assert varied and collapsed
    best_varied = max(h["eval_rouge_mean"] for h in varied)
    # the situation the guard exists for: a collapsed epoch outscores every varied one
    assert max(h["eval_rouge_mean"] for h in collapsed) > best_varied, history
    # early stopping (patience 1) did not stop during the collapsed epochs 2 and 3, before any varied one
    assert any(not degenerate(h) for h in history[3:]), history
    assert result.details["best_metric"] == best_varied
    assert result.details["best_degenerate"] is False
    best_epoch = next(h["epoch"] for h in history if h["eval_rouge_mean"] == best_varied and not degenerate(h))
    state = Path(result.best_checkpoint, "trainer_state.json")
    assert state.is_file()  # kept on disk despite save_total_limit = 1
    steps = json.loads(state.read_text(encoding="utf-8"))["global_step"]
    assert steps == best_epoch * 20  # 160 examples / batch 8 per epoch
    assert "not kept as the best" in caplog.text
    assert "skipped although their rouge_mean was higher" in caplog.text


def test_when_every_checkpoint_is_degenerate_the_best_of_them_is_kept_with_a_warning(tmp_path: Path,
                                                                                     caplog) -> None:
    caplog.set_level(logging.INFO, logger="dialsum")
    result, _ = collapsing_run(tmp_path, epochs=2)
    history = result.history
    assert all(degenerate(h) for h in history), history
    assert result.details["best_metric"] == max(h["eval_rouge_mean"] for h in history)
    assert result.details["best_degenerate"] is True
    assert "every evaluation gave degenerate validation summaries" in caplog.text


def test_degenerate_evaluations_are_said_once_and_a_degenerate_result_still_warns(tmp_path: Path, caplog) -> None:
    """Early evaluations of any training give near-identical summaries: each one logged two warnings (the
    metric's and the training's), a wall of them in the first epochs of the demo. The run says it once,
    marks each such epoch's line, and still warns when the model kept, or predictions scored, are degenerate."""
    caplog.set_level(logging.INFO, logger="dialsum")
    result, ctx = collapsing_run(tmp_path, epochs=2)
    assert all(degenerate(h) for h in result.history), result.history
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    said = [w for w in warnings if "degenerate" in w or "identical" in w]
    assert len(said) == 2, said
    assert said[0].startswith("epoch 1: most validation summaries are identical (") and "(said once)" in said[0]
    assert said[1].startswith("every evaluation gave degenerate validation summaries"), said
    epochs = [r.getMessage() for r in caplog.records
              if r.getMessage().startswith("epoch ") and r.levelno == logging.INFO]
    assert len(epochs) == 2 and all(e.endswith(" (degenerate)") for e in epochs), epochs
    # scoring the kept model's degenerate predictions, after training, still warns
    caplog.clear()
    valid = ctx.data().valid[:8]
    model = ctx.build("model_loaders", "scratch").load(ctx, Path(result.best_checkpoint))
    ctx.score(model.generate([e.dialogue for e in valid], ctx), [list(e.summaries) for e in valid])
    assert [r for r in caplog.records if r.getMessage().startswith("degenerate predictions: ")], caplog.text
