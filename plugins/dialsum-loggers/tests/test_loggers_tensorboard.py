"""TensorBoard event files from a real run, read back with TensorBoard's own reader."""

from __future__ import annotations

from pathlib import Path

import pytest
from loggers_testkit import ScriptedPlugin, scripted_recipe

from dialsum_core.runner import run_recipe


@pytest.fixture
def plugins(register_plugin):
    return register_plugin(ScriptedPlugin(), "scripted-mode")


def test_scalars_text_and_plots_reach_tensorboard(tmp_path: Path, plugins) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    exp = run_recipe(scripted_recipe(tmp_path, ["tensorboard"]), plugins).experiment
    acc = EventAccumulator(str(exp / "tensorboard"), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    acc.Reload()
    tags = acc.Tags()
    loss = acc.Scalars("fold_2/train/loss")  # folds counted from 1, as in results.json
    assert [e.step for e in loss] == [1, 2, 3, 4] and loss[0].value == pytest.approx(1.0)
    assert "fold_1/train/loss" in tags["scalars"] and "fold_1/epoch/eval_rouge_mean" in tags["scalars"]
    folds = acc.Scalars("fold/rouge_mean")
    assert [e.step for e in folds] == [1, 2] and all(0 < e.value < 1 for e in folds)
    assert [e.step for e in acc.Scalars("trial/value")] == [0, 2]  # the pruned trial has no value
    assert acc.Scalars("results/rouge_mean")[0].value == pytest.approx(0.2629, abs=1e-3)
    image = acc.Images("plots/01_fold_rouge")[0]
    assert image.width == 300 and image.height == 200 and image.encoded_image_string[:4] == b"\x89PNG"
    recipe_text = acc.Tensors("recipe")[0].tensor_proto.string_val[0].decode()
    assert 'mode = "scripted"' in recipe_text
