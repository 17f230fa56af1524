"""The experiment folder: layout, default names, atomic writes, and no writes outside it."""

from __future__ import annotations

import os
import signal
from datetime import datetime
from pathlib import Path

import pytest

from dialsum_core.atomic import atomic_open, signals_held
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


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_held_renames_takes_effect_after_them(signum: int) -> None:
    """The reports held Ctrl-C back by ignoring it, so one pressed during their renames was lost, and
    SIGTERM (a scheduler's stop) was not held at all: it reached the handler between two renames."""
    class Stopped(Exception):
        pass

    def stop(_signum: int, _frame: object) -> None:
        raise Stopped

    done = []
    previous = signal.signal(signum, stop)
    try:
        with pytest.raises(Stopped), signals_held():
            os.kill(os.getpid(), signum)
            done.append("first rename")
            done.append("second rename")
        assert done == ["first rename", "second rename"]
        assert signal.getsignal(signum) is stop  # given back as it was
    finally:
        signal.signal(signum, previous)


def test_a_signal_held_outside_the_main_thread_is_left_alone() -> None:
    """Only the main thread may set a handler: elsewhere the block runs as it is, without failing."""
    import threading

    ran: list[BaseException | str] = []

    def work() -> None:
        try:
            with signals_held():
                ran.append("renamed")
        except BaseException as exc:
            ran.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert ran == ["renamed"]
