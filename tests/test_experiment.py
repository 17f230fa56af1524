"""The experiment folder: layout, default names, atomic writes, and no writes outside it."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest

from dialsum_core.atomic import atomic_open
from dialsum_core.errors import DialsumError
from dialsum_core.experiment import Experiment, default_name


def test_layout_and_default_name(tmp_path: Path) -> None:
    exp = Experiment.create(tmp_path, default_name("kfold", "solar-10.7b", datetime(2026, 1, 2, 3, 4, 5)))
    assert exp.root.name == "kfold_solar_10.7b_20260102_030405"
    for sub in ("checkpoints", "predictions", "visualizations"):
        assert (exp.root / sub).is_dir()


def test_paths_cannot_escape(tmp_path: Path) -> None:
    exp = Experiment.create(tmp_path, "e")
    for bad in ("../x.json", "/etc/passwd", "predictions/../../y"):
        with pytest.raises(DialsumError, match="outside the experiment folder"):
            exp.write_json(bad, {})
    with pytest.raises(DialsumError):
        Experiment.create(tmp_path, "../up")


def test_atomic_write_leaves_old_file_on_crash(tmp_path: Path) -> None:
    target = tmp_path / "results.json"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError), atomic_open(target) as fh:
        fh.write("half of the new")
        raise RuntimeError("crash mid-write")
    assert target.read_text(encoding="utf-8") == "old"
    assert os.listdir(tmp_path) == ["results.json"]


def test_atomic_writes_keep_the_usual_file_mode(tmp_path: Path) -> None:
    """Results used to be written -rw------- (mkstemp's mode), unreadable by anyone else."""
    old = os.umask(0o022)
    try:
        exp = Experiment.create(tmp_path, "modes")
        written = [exp.write_json("results.json", {"a": 1}), exp.write_text("config.toml", "x = 1\n"),
                   exp.write_csv("predictions/submission.csv", ["fname", "summary"], [["a", "b"]])]
        assert {oct(p.stat().st_mode & 0o777) for p in written} == {"0o644"}
        os.chmod(written[0], 0o640)  # an existing file keeps the mode its owner gave it
        exp.write_json("results.json", {"a": 2})
        assert oct(written[0].stat().st_mode & 0o777) == "0o640"
    finally:
        os.umask(old)
