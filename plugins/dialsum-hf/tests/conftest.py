"""Shared fixtures: a real RunContext over a tiny CSV, and tiny saved models of each family."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dialsum_core.context import RunContext
from dialsum_core.testing import TINY_DIALOGUES, write_csv
from dialsum_hf.testing import run_context

HERE = Path(__file__).resolve().parent


def _deep_merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def rows(n: int = 24) -> list[tuple[str, str, str, str]]:
    """``n`` distinct rows built from the core's tiny dialogues (enough for a few batches)."""
    out = []
    for i in range(n):
        fname, dialogue, summary, topic = TINY_DIALOGUES[i % len(TINY_DIALOGUES)]
        out.append((f"{fname}_{i}", dialogue, summary, topic))
    return out


def base_recipe(data_dir: Path) -> dict[str, Any]:
    return {
        "run": {"models": ["scratch"], "loggers": [], "metrics": ["rouge"], "seed": 7,
                "output_dir": str(data_dir / "experiments")},
        "data": {"train_path": str(data_dir / "train.csv"), "dev_path": str(data_dir / "dev.csv"),
                 "max_length": 64, "max_target_length": 24},
        "train": {"epochs": 1, "batch_size": 8, "learning_rate": 5e-3, "warmup_ratio": 0.0, "logging_steps": 1},
        "generation": {"num_beams": 2, "max_new_tokens": 8, "min_new_tokens": 1, "batch_size": 4},
        "models": {"scratch": {"vocab_size": 300, "min_frequency": 1, "d_model": 16, "ffn_dim": 32,
                               "encoder_layers": 1, "decoder_layers": 1, "attention_heads": 2}},
    }


def make_context(data_dir: Path, patch: dict[str, Any] | None = None, name: str = "exp") -> RunContext:
    """A RunContext built as ``dialsum_core.runner`` builds it (without a run mode)."""
    return run_context(_deep_merge(base_recipe(data_dir), patch or {}), name)


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    write_csv(tmp_path / "train.csv", rows(24))
    write_csv(tmp_path / "dev.csv", rows(6))
    return tmp_path


@pytest.fixture
def context(data_dir: Path) -> Callable[..., RunContext]:
    return lambda patch=None, name="exp": make_context(data_dir, patch, name)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One tiny random model per architecture family, saved once per session."""
    from dialsum_hf.testing import FAMILIES, save_tiny_model

    root = tmp_path_factory.mktemp("tiny-models")
    texts = [t for _f, d, s, _t in TINY_DIALOGUES for t in (d, s)]
    return {family: save_tiny_model(family, root / family, texts, vocab_size=300, d_model=16, layers=1)
            for family in FAMILIES}


def shared_data() -> Path | None:
    env = os.environ.get("DIALSUM_SHARED_DATA")
    path = Path(env) if env else HERE.parents[2] / "../shared/data"
    path = path / "dialogsum-ko"
    return path if (path / "test.csv").is_file() else None
