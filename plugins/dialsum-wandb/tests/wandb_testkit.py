"""What the wandb tests share: an offline W&B confined to ``tmp_path``, and reading what it wrote."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

__all__ = ["wandb_env"]  # the fixtures, for `from wandb_testkit import *`

FAKE_KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f0dialsum9"  # 40 characters, like a real key


@pytest.fixture
def wandb_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Offline, with a (fake) key in the environment and every wandb folder inside ``tmp_path``."""
    home = tmp_path / "wandb-home"
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_API_KEY", FAKE_KEY)
    monkeypatch.setenv("WANDB_SILENT", "true")
    for var, sub in (("WANDB_CONFIG_DIR", "config"), ("WANDB_CACHE_DIR", "cache"), ("WANDB_DATA_DIR", "data"),
                     ("WANDB_ARTIFACT_DIR", "artifacts")):
        monkeypatch.setenv(var, str(home / sub))
    return home


def files_containing(root: Path, secret: str) -> list[Path]:
    needle = secret.encode()
    return [p for p in root.rglob("*") if p.is_file() and not p.is_symlink() and needle in p.read_bytes()]


def settled(path: Path, marker: bytes, timeout: float = 20.0) -> bytes:
    """The file's bytes once ``marker`` is in them: wandb's service may still be writing after finish()."""
    deadline = time.monotonic() + timeout
    data = path.read_bytes()
    while marker not in data and time.monotonic() < deadline:
        time.sleep(0.2)
        data = path.read_bytes()
    return data
