"""A launch where one process fails ends as a one-process run does.

Each process generates its own share of the dialogues, so a model that refuses one dialogue fails on
the one process whose share holds it. That process's error is exchanged at the collective, so every
process raises it: the same one ``error:`` line (naming the rank), rank 0's ``results.json`` records
it, and ``dialsum launch`` exits 2 -- no traceback, no process left dying in a gloo collective.
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

#: A model with a hard limit on its input, like a hosted model's context: a longer dialogue is a
#: user error (raise the limit, or shorten the data), found only by the process whose share holds it.
CAPPED = """
from pathlib import Path

import attrs

from dialsum_core import hookimpl
from dialsum_core.errors import DialsumError
from dialsum_core.protocols import FitResult


@attrs.define
class CappedOptions:
    max_chars: int = 100
    #: "user": a dialogue over the limit is the user's error; "bug": the model crashes on it.
    fails_as: str = "user"


class CappedModel:
    def __init__(self, options):
        self.options = options

    def fit(self, train, valid, ctx, output_dir):
        return FitResult(history=[], best_checkpoint=str(output_dir), last_checkpoint=str(output_dir))

    def generate(self, dialogues, ctx):
        for d in dialogues:
            if len(d) > self.options.max_chars:
                if self.options.fails_as == "bug":
                    raise ZeroDivisionError("the model crashed")
                raise DialsumError(f"models.capped: a dialogue of {len(d)} characters is longer than "
                                   f"max_chars = {self.options.max_chars}")
        return [d.splitlines()[0] for d in dialogues]

    def save(self, path):
        pass


class CappedLoader:
    def __init__(self, options):
        self.options = options

    def build(self, ctx, train):
        return CappedModel(self.options)

    def load(self, ctx, path):
        return CappedModel(self.options)


@hookimpl
def dialsum_register_model_loaders(register):
    register("capped", lambda options, ctx: CappedLoader(options), options=CappedOptions,
             description="first line; refuses dialogues longer than max_chars")
"""

SINGLE = """
[run]
mode = "single"
models = ["capped"]
loggers = ["file", "jsonl"]
metrics = []
"""

#: Every trial of the study is trained and validated by both processes together.
OPTUNA = """
[run]
mode = "optuna"
models = ["capped"]
loggers = ["file", "jsonl"]
metrics = ["rouge"]

[modes.optuna]
trials = 2
pruner = "none"

[modes.optuna.space."model.max_chars"]
type = "int"
low = 100
high = 101

[metrics.rouge]
tokenizer = "whitespace"
"""

DATA = """

[data]
train_path = "{data}/train.csv"
dev_path = "{data}/dev.csv"
test_path = "{data}/test.csv"

[models.capped]
fails_as = "{fails_as}"
"""


def _site(folder: Path, name: str = "capped", source: str = CAPPED) -> Path:
    """A folder that installs the ``name`` model when put on PYTHONPATH (every process imports it)."""
    folder.mkdir()
    (folder / f"dialsum_{name}.py").write_text(source, encoding="utf-8")
    info = folder / f"dialsum_{name}-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: dialsum-{name}\nVersion: 0.1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[dialsum]\n{name} = dialsum_{name}\n", encoding="utf-8")
    return folder


def _dialogue(split: str, i: int, turns: int = 2) -> str:
    return "\n".join(f"#Person{1 + t % 2}#: line {t} of {split} dialogue {i}." for t in range(turns))


def _data(folder: Path) -> Path:
    """Four short training dialogues; four validation ones, the last (in rank 1's share) too long."""
    folder.mkdir()
    for name, count in (("train.csv", 4), ("dev.csv", 4)):
        with (folder / name).open("w", encoding="utf-8", newline="") as fh:
            split = name.removesuffix(".csv")
            rows = [[f"{split}_{i}", _dialogue(split, i, 20 if split == "dev" and i == 3 else 2), f"summary {i}"]
                    for i in range(count)]
            csv.writer(fh).writerows([["fname", "dialogue", "summary"], *rows])
    with (folder / "test.csv").open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([["fname", "dialogue"], *([f"test_{i}", _dialogue("test", i)] for i in range(4))])
    return folder


def _launch(tmp_path: Path, fails_as: str, mode: str = SINGLE,
            *sets: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    recipe = tmp_path / "capped.toml"
    recipe.write_text(mode + DATA.format(data=_data(tmp_path / "data"), fails_as=fails_as), encoding="utf-8")
    site = _site(tmp_path / "site")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONWARNINGS": "ignore",
           "PYTHONPATH": os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)}
    out = subprocess.run([sys.executable, "-m", "dialsum_core", "launch", str(recipe), "--set",
                          f"run.output_dir={tmp_path / 'exp'}", "--set", "run.name=one-fails", "--num-processes", "2",
                          *(arg for kv in sets for arg in ("--set", kv))],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240, check=False)
    return out, tmp_path / "exp" / "one-fails"


#: The failing process's error, named by its rank: what every process prints and rank 0 records.
MESSAGE = r"rank 1: models\.capped: a dialogue of \d+ characters is longer than max_chars = 100"


@pytest.mark.slow  # two processes start and join a gloo group: a few seconds
@pytest.mark.parametrize("mode", [SINGLE, OPTUNA], ids=["single", "optuna"])
def test_a_user_error_on_one_process_ends_the_launch_as_one_process_would(tmp_path: Path, mode: str) -> None:
    out, exp = _launch(tmp_path, "user", mode)
    assert out.returncode == 2, out.stderr[-4000:]
    assert "Traceback" not in out.stderr and "transport/tcp" not in out.stderr, out.stderr[-4000:]
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert errors and len(set(errors)) == 1 and re.fullmatch(f"error: {MESSAGE}", errors[0]), out.stderr[-4000:]
    assert out.stderr.rstrip().endswith(errors[0])  # nothing after it: no launcher line about the processes
    results = json.loads((exp / "results.json").read_text(encoding="utf-8"))
    assert results["status"] == "failed" and re.fullmatch(f"DialsumError: {MESSAGE}", results["error"]), results


@pytest.mark.slow  # two processes start and join a gloo group: a few seconds
def test_a_bug_on_one_process_ends_every_process_without_a_gloo_error(tmp_path: Path) -> None:
    out, exp = _launch(tmp_path, "bug")
    assert out.returncode == 1, out.stderr[-4000:]
    assert "transport/tcp" not in out.stderr, out.stderr[-4000:]  # no process died in a gloo collective
    assert "ZeroDivisionError: the model crashed" in out.stderr
    results = json.loads((exp / "results.json").read_text(encoding="utf-8"))
    assert results["status"] == "failed" and "rank 1" in results["error"]
    assert "ZeroDivisionError: the model crashed" in results["error"]


@pytest.mark.slow  # two processes start and join a gloo group: a few seconds
def test_a_warning_of_a_launch_is_said_once_not_once_per_process(tmp_path: Path) -> None:
    """Every process runs the same run-mode code on the same data, so each said every warning: a launch
    on 8 GPUs printed each one 8 times. The main process says it; the others log errors only."""
    out, _ = _launch(tmp_path, "user", SINGLE, "models.capped.max_chars=10000", "run.debug=true")
    assert out.returncode == 0, out.stderr[-4000:]
    warned = [line.split(" WARNING ", 1)[1] for line in out.stderr.splitlines() if " WARNING " in line]
    assert any(w.startswith("debug run:") for w in warned), out.stderr[-4000:]
    assert len(warned) == len(set(warned)), warned


#: A model whose training waits (up to a minute) after saying it started: the moment to press Ctrl-C.
WAITING = """
import time
from pathlib import Path

from dialsum_core import hookimpl


class WaitingModel:
    def fit(self, train, valid, ctx, output_dir):
        Path(ctx.experiment.root.parent / "training-started").touch()
        time.sleep(60)

    def generate(self, dialogues, ctx):
        return ["" for _ in dialogues]

    def save(self, path):
        pass


class WaitingLoader:
    def build(self, ctx, train):
        return WaitingModel()

    def load(self, ctx, path):
        return WaitingModel()


@hookimpl
def dialsum_register_model_loaders(register):
    register("waiting", lambda options, ctx: WaitingLoader(), description="trains for a minute")
"""


@pytest.mark.slow  # a process starts under torchrun and trains until interrupted: a few seconds
def test_ctrl_c_ends_the_launch_as_it_ends_a_run(tmp_path: Path) -> None:
    """Ctrl-C reaches the whole foreground process group. The run said "interrupted" and recorded it,
    then dialsum launch killed its launcher (which printed a SignalException traceback when it
    lived long enough) and click added "Aborted!" with exit status 1; dialsum run exits 130."""
    site = _site(tmp_path / "site", "waiting", WAITING)
    recipe = tmp_path / "waiting.toml"
    recipe.write_text(SINGLE.replace('"capped"', '"waiting"') + DATA.format(data=_data(tmp_path / "data"),
                                                                             fails_as="user").split("[models")[0],
                      encoding="utf-8")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore",
           "PYTHONPATH": os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)}
    proc = subprocess.Popen([sys.executable, "-m", "dialsum_core", "launch", str(recipe), "--set",
                             f"run.output_dir={tmp_path / 'exp'}", "--set", "run.name=stopped", "--num-processes", "1"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    started = tmp_path / "exp" / "training-started"
    deadline = time.monotonic() + 200
    while proc.poll() is None and not started.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert started.exists(), proc.communicate()[1][-4000:] if proc.poll() is not None else "training never started"
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-4000:]
    assert "Traceback" not in err and "Aborted!" not in err, err[-4000:]
    assert f"interrupted; partial results are in {tmp_path / 'exp' / 'stopped'}" in err
    results = json.loads((tmp_path / "exp" / "stopped" / "results.json").read_text(encoding="utf-8"))
    assert results["status"] == "interrupted"
