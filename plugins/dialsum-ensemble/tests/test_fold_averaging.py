"""Token-level averaging of the k-fold models of the ``scratch`` loader, through the real k-fold mode.

Each fold model is trained on different dialogues; they can only be decoded jointly because the
loader trains the tokenizer once on the run's training split and every fold reuses it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("dialsum_hf")
pytest.importorskip("dialsum_modes")

from dialsum_core.context import RunContext
from dialsum_core.events import Events
from dialsum_core.experiment import Experiment
from dialsum_core.manager import build_plugins
from dialsum_core.recipe import Recipe
from dialsum_core.runner import run_recipe
from dialsum_core.testing import TINY_DIALOGUES, write_csv


def rows(n: int, prefix: str) -> list[tuple[str, str, str, str]]:
    return [(f"{prefix}_{i}", *TINY_DIALOGUES[i % len(TINY_DIALOGUES)][1:]) for i in range(n)]


def recipe(tmp_path: Path, ensemble: str) -> Recipe:
    return Recipe.from_dict({
        "run": {"mode": "kfold", "models": ["scratch"], "ensemble": ensemble, "loggers": [], "metrics": ["rouge"],
                "seed": 3, "output_dir": str(tmp_path / "experiments"), "name": "folds"},
        "data": {"train_path": str(write_csv(tmp_path / "train.csv", rows(16, "train"))),
                 "dev_path": str(write_csv(tmp_path / "dev.csv", rows(4, "dev"))),
                 "max_length": 64, "max_target_length": 24},
        "train": {"epochs": 1, "batch_size": 8, "learning_rate": 5e-3, "warmup_ratio": 0.0},
        "generation": {"num_beams": 2, "max_new_tokens": 8, "min_new_tokens": 1, "batch_size": 4},
        "models": {"scratch": {"vocab_size": 300, "min_frequency": 1, "d_model": 16, "ffn_dim": 32,
                               "encoder_layers": 1, "decoder_layers": 1, "attention_heads": 2}},
        "modes": {"kfold": {"k_folds": 2}},
    })


def test_fold_models_share_one_tokenizer_and_average(tmp_path: Path) -> None:
    import torch

    torch.set_num_threads(1)
    rec = recipe(tmp_path, "averaging")
    result = run_recipe(rec)  # with a tokenizer per fold this stops: "the models do not share a tokenizer"
    exp = result.experiment
    assert result.results["ensemble"]["strategy"] == "averaging"
    assert len(result.results["folds"]) == 2
    assert len(list((exp / "checkpoints" / "scratch" / "tokenizer").glob("*.json"))) == 1  # trained once

    sources = sorted((json.loads(p.read_text(encoding="utf-8"))["source"]
                      for p in (exp / "stages" / "sources").glob("*.json")), key=lambda s: s["name"])
    assert [s["name"] for s in sources] == ["scratch/fold1", "scratch/fold2"]
    plugins = build_plugins()
    ctx = RunContext(recipe=rec, plugins=plugins, experiment=Experiment(exp), events=Events(plugins.pm))
    loader = ctx.build("model_loaders", "scratch")
    models = [loader.load(ctx, Path(s["checkpoint"])) for s in sources]
    assert models[0].tokenizer_signature == models[1].tokenizer_signature
    # the folds saw different dialogues: their weights differ even though their ids agree
    assert not torch.equal(next(models[0].model.parameters()), next(models[1].model.parameters()))

    dialogues = [e.dialogue for e in ctx.data().valid]
    ens = ctx.build("ensembles", "weighted_avg")
    for k, weights in enumerate(([1.0, 0.0], [0.0, 1.0])):  # one positive weight: exactly that fold's own output
        assert ens.generate(models, weights, dialogues, ctx) == [c[0][0] for c in sources[k]["outputs"]["valid"]]
    joint = ctx.build("ensembles", "averaging").generate(models, [1.0, 1.0], dialogues, ctx)
    assert len(joint) == len(dialogues) and all(isinstance(t, str) for t in joint)

    # any other part of the run's training split (a fold of another k) gets the same tokenizer file
    other = loader.build(ctx, ctx.data().train[::3])
    assert other.tokenizer_signature == models[0].tokenizer_signature
    assert len(list((exp / "checkpoints" / "scratch" / "tokenizer").glob("*.json"))) == 1
