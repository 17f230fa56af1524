"""Real ``dialsum run`` processes on small real data, and what a finished experiment folder must hold.

Shared by the kill-and-resume and safety tests: both start the CLI as a user would (a subprocess,
so a SIGKILL kills exactly what a user's crash would) and then read back every file it produced.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import tomli_w

from dialsum_core.testing import write_csv
from dialsum_data import load_csv

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"


#: A from-scratch BART small enough to train, evaluate and predict in seconds on a CPU.
TINY_SCRATCH: dict[str, dict[str, Any]] = {
    "run": {"models": ["scratch"], "seed": 7},
    "data": {"max_length": 64, "max_target_length": 24},
    "train": {"epochs": 1, "batch_size": 8, "learning_rate": 5e-3, "warmup_ratio": 0.0, "logging_steps": 1},
    "generation": {"num_beams": 1, "max_new_tokens": 8, "min_new_tokens": 1, "batch_size": 8},
    "models": {"scratch": {"vocab_size": 300, "min_frequency": 1, "d_model": 16, "ffn_dim": 32,
                           "encoder_layers": 1, "decoder_layers": 1, "attention_heads": 2}},
}


def small_data(folder: Path, n_train: int = 30, n_dev: int = 8, n_test: int = 6) -> dict[str, Path]:
    """The first rows of the project's sample data: enough for k-fold, quick to score."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for split, n in (("train", n_train), ("dev", n_dev), ("test", n_test)):
        rows = load_csv(SAMPLE / f"{split}.csv", require_summary=split != "test")[:n]
        out[split] = write_csv(folder / f"{split}.csv", [(e.fname, e.dialogue, e.summary, e.topic) for e in rows],
                               with_summary=split != "test")
    return out


def lead_recipe(data: dict[str, Path], output_dir: Path, /, **sections: dict[str, Any]) -> dict[str, Any]:
    """A recipe for the fast ``lead`` model with whitespace ROUGE; ``sections`` are merged in (one level deep)."""
    recipe: dict[str, Any] = {
        "run": {"mode": "single", "models": ["lead"], "loggers": ["jsonl", "file"], "metrics": ["rouge"],
                "output_dir": str(output_dir)},
        "data": {"train_path": str(data["train"]), "dev_path": str(data["dev"]), "test_path": str(data["test"])},
        "metrics": {"rouge": {"tokenizer": "whitespace"}},
    }
    for key, value in sections.items():
        recipe[key] = {**recipe.get(key, {}), **value}
    return recipe


def write_recipe(path: Path, recipe: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomli_w.dumps(recipe), encoding="utf-8")
    return path


def cli_args(recipe: Path, *sets: str) -> list[str]:
    return [sys.executable, "-m", "dialsum_core.cli", "run", str(recipe), *(a for s in sets for a in ("--set", s))]


def dialsum_run(recipe: Path, *sets: str, env: dict[str, str] | None = None, cwd: Path | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``dialsum run RECIPE --set ...`` to the end."""
    return subprocess.run(cli_args(recipe, *sets), capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, cwd=cwd or recipe.parent)


def files_under(root: Path) -> Iterator[Path]:
    return (p for p in sorted(root.rglob("*")) if p.is_file())


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def assert_whole(root: Path) -> dict[str, int]:
    """Every file under ``root`` is complete: no temporary left, each JSON/JSONL/TOML/CSV parses.

    Returns how many files of each kind were read (so a test can say what it checked).
    """
    seen: dict[str, int] = {}
    for path in files_under(root):
        rel = path.relative_to(root)
        assert not path.name.endswith((".tmp", "-journal", "-wal")), f"temporary file left: {rel}"
        suffix = path.suffix
        if suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))
        elif suffix == ".jsonl":
            read_jsonl(path)
        elif suffix == ".toml":
            tomllib.loads(path.read_text(encoding="utf-8"))
        elif suffix == ".csv":
            with path.open(encoding="utf-8", newline="") as fh:
                rows = list(csv.reader(fh))
            assert rows and all(len(r) == len(rows[0]) for r in rows), f"ragged or empty CSV: {rel}"
        else:
            continue
        seen[suffix] = seen.get(suffix, 0) + 1
    return seen


def normalised(results: dict[str, Any], root: Path) -> Any:
    """``results.json`` without what may differ between two runs: the time and the folder's name."""
    out = {k: v for k, v in results.items() if k != "elapsed_seconds"}
    optuna = out.get("optuna")
    if optuna:
        finished = [{k: v for k, v in t.items() if k != "number"} for t in optuna["trials"]
                    if t["state"] == "complete"]
        # the best trial's number, and so its checkpoint folder, depends on where the run was killed
        varies = ("trials", "n_trials", "failed", "best_trial", "best_checkpoint", "study_name")
        out["optuna"] = {**{k: v for k, v in optuna.items() if k not in varies}, "trials": finished}
        out = {k: v for k, v in out.items() if k not in ("best_checkpoint", "best_checkpoint_chosen_by")}
    return _replace(out, str(root), "<experiment>", root.name, "<name>")


def _replace(value: Any, *pairs: str) -> Any:
    if isinstance(value, str):
        for old, new in zip(pairs[::2], pairs[1::2], strict=True):
            value = value.replace(old, new)
        return value
    if isinstance(value, dict):
        return {k: _replace(v, *pairs) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, *pairs) for v in value]
    return value
