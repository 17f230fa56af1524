"""Small data, recipes and a subprocess runner for the scale-out tests.

Multi-process tests run real launches (``torchrun``/``accelerate launch``, gloo backend on CPU) as
subprocesses; each process is limited to one thread so two of them fit on a small CI machine.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
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


#: The tiny scratch BART of the scratch-model recipes (a few seconds of training on 2 CPU cores).
TINY_SCRATCH = """
[models.scratch]
vocab_size = 300
min_frequency = 1
d_model = 16
ffn_dim = 32
encoder_layers = 1
decoder_layers = 1
attention_heads = 2
"""


#: Three folds of the lead model: fast, and its summaries differ per dialogue.
LEAD_KFOLD = """
[run]
mode = "kfold"
models = ["lead"]
loggers = ["file", "jsonl"]
metrics = ["rouge"]
ensemble = "majority_vote"

[modes.kfold]
k_folds = 3

[metrics.rouge]
tokenizer = "whitespace"  # what is tested is not the score

[data]
"""

#: A study of ``{model}`` named ``shared``: ``{trials}`` trials, ``{n_jobs}`` threads, in ``{storage}``.
OPTUNA = """
[run]
mode = "optuna"
models = ["{model}"]
loggers = ["file", "jsonl"]
metrics = ["rouge"]

[modes.optuna]
trials = {trials}
n_jobs = {n_jobs}
sampler = "tpe"
pruner = "none"
storage = "{storage}"
study_name = "shared"

[modes.optuna.space."model.max_turns"]
type = "int"
low = 1
high = 4

[modes.optuna.space."model.strip_speaker"]
type = "categorical"
choices = [true, false]

[metrics.rouge]
tokenizer = "whitespace"  # what is tested is not the score

[data]
"""


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


def dialsum_env(site: Path | None = None) -> dict[str, str]:
    """The environment of a ``dialsum`` process: one thread, offline, plus ``site`` on the path."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1",
           "PYTHONWARNINGS": "ignore"}
    if site is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(site), env.get("PYTHONPATH", "")) if p)
    return env


def dialsum_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "dialsum_core", *args]


def dialsum(*args: str, cwd: Path, timeout: float = 240, site: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m dialsum_core ARGS`` in a fresh process (what a user or a scheduler runs)."""
    return subprocess.run(dialsum_command(*args), cwd=cwd, env=dialsum_env(site), capture_output=True, text=True,
                          timeout=timeout, check=False)


SLOW_LEAD = """
import time

from dialsum_core import hookimpl
from dialsum_lead.plugin import LeadOptions


def make(options, ctx):
    from dialsum_lead.model import LeadLoader, LeadModel

    class SlowModel(LeadModel):
        def fit(self, train, valid, ctx, output_dir):
            time.sleep(1.0)
            return super().fit(train, valid, ctx, output_dir)

    class SlowLoader(LeadLoader):
        def build(self, ctx, train):
            return SlowModel(self.options)

    return SlowLoader(options)


@hookimpl
def dialsum_register_model_loaders(register):
    register("slow-lead", make, options=LeadOptions, description="lead that takes a second to train")
"""


@pytest.fixture(scope="session")
def slow_lead_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder that installs ``slow-lead`` (the lead model, one second per training) when put on
    PYTHONPATH: trials of separate workers then overlap for sure."""
    site = tmp_path_factory.mktemp("site")
    (site / "dialsum_slow_lead.py").write_text(SLOW_LEAD, encoding="utf-8")
    info = site / "dialsum_slow_lead-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: dialsum-slow-lead\nVersion: 0.1.0\n",
                                   encoding="utf-8")
    (info / "entry_points.txt").write_text("[dialsum]\nslow-lead = dialsum_slow_lead\n", encoding="utf-8")
    return site


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throw-away PostgreSQL server on loopback (``initdb`` + ``pg_ctl``), as an SQLAlchemy URL.

    Skips when the PostgreSQL server programs or the ``psycopg`` driver are not installed. Run as
    root, the server runs as the ``postgres`` user (PostgreSQL refuses root).
    """
    initdb = shutil.which("initdb")
    if initdb is None or shutil.which("pg_ctl") is None:
        pytest.skip("PostgreSQL server programs (initdb, pg_ctl) not found")
    if importlib.util.find_spec("psycopg") is None:
        pytest.skip("the psycopg driver is not installed (pip install 'psycopg[binary]')")
    as_user: list[str] = []
    # Not under pytest's temporary folder: the server's user must be able to reach it.
    folder = Path(tempfile.mkdtemp(prefix="dialsum-postgres-"))
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: PostgreSQL cannot start")
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(folder, "postgres")
    from dialsum_launch.launch import free_port

    port = free_port()
    data = folder / "data"

    def run(*cmd: str) -> None:
        done = subprocess.run([*as_user, *cmd], capture_output=True, text=True, timeout=120, check=False)
        if done.returncode:
            pytest.skip(f"PostgreSQL could not start: {(done.stderr or done.stdout).strip()[-300:]}")

    run("initdb", "-D", str(data), "-A", "trust", "-U", "dialsum")
    run("pg_ctl", "-D", str(data), "-l", str(folder / "server.log"), "-w", "-o",
        f"-k {folder} -c listen_addresses=127.0.0.1 -p {port}", "start")
    try:
        yield f"postgresql+psycopg://dialsum@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, "pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop"], capture_output=True,
                       timeout=120, check=False)
        shutil.rmtree(folder, ignore_errors=True)
