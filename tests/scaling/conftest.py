"""Small data, recipes and a subprocess runner for the scale-out tests.

Multi-process tests run real launches (``torchrun``/``accelerate launch``, gloo backend on CPU) as
subprocesses; each process is limited to one thread so two of them fit on a small CI machine.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"


@pytest.fixture(scope="session")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 training, 10 validation and 8 test dialogues cut from the bundled sample data."""
    src = SAMPLE / "train.csv"
    if not src.exists():
        pytest.skip(f"sample data not found at {SAMPLE}")
    folder = tmp_path_factory.mktemp("data")
    with src.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    for name, part in (("train.csv", body[:40]), ("dev.csv", body[40:50])):
        with (folder / name).open("w", encoding="utf-8", newline="") as fh:
            csv.writer(fh).writerows([header, *part])
    with (folder / "test.csv").open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([["fname", "dialogue"], *([f"test_{i}", r[1]] for i, r in enumerate(body[50:58]))])
    return folder


def write_recipe(path: Path, data: Path, body: str) -> Path:
    """A recipe over ``small_data`` with quiet loggers; ``body`` adds or overrides tables."""
    head = f"""
[data]
train_path = "{data / 'train.csv'}"
dev_path = "{data / 'dev.csv'}"
test_path = "{data / 'test.csv'}"
"""
    path.write_text(body.replace("[data]\n", head.lstrip(), 1) if "[data]\n" in body else body + head,
                    encoding="utf-8")
    return path


def dialsum(*args: str, cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """``python -m dialsum_core ARGS`` in a fresh process (what a user or a scheduler runs)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1",
           "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-m", "dialsum_core", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
