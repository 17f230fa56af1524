"""How every command ends when its output cannot be written or the user presses Ctrl-C: one line (or
none), a known status, never a traceback nor click's "Aborted!". Real processes: a closed pipe and a
signal behave there as they do for a user."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, make_dist

RECIPE = str(ROOT / "recipes" / "tiny.toml")
#: Commands that print to stdout, a small listing and a page far larger than a pipe's buffer among them.
PRINTING = [["plugins"], ["--help"], ["check", RECIPE], ["recipe-doc"]]


def dialsum(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "dialsum_core", *args], stderr=subprocess.PIPE, text=True,
                            **kwargs)


@pytest.mark.parametrize("args", PRINTING, ids=lambda a: a[0])
def test_a_reader_that_stops_reading_ends_the_output_quietly(args: list[str]) -> None:
    """``dialsum plugins | head -1`` exited 1, or printed a BrokenPipeError traceback, depending on when
    head left; under ``set -o pipefail`` that failed the script. Here the reader is gone before the
    first line: the command ends as it would have, status 0, nothing on stderr."""
    read, write = os.pipe()
    os.close(read)
    try:
        proc = dialsum(*args, stdout=write)
    finally:
        os.close(write)
    _, err = proc.communicate(timeout=300)
    assert (proc.returncode, err) == (0, "")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full, a device that is always full")
@pytest.mark.parametrize("args", PRINTING, ids=lambda a: a[0])
def test_output_that_cannot_be_written_is_one_error_line(args: list[str]) -> None:
    """``dialsum plugins > /dev/full`` printed an OSError traceback."""
    with open("/dev/full", "w") as full:
        proc = dialsum(*args, stdout=full)
        _, err = proc.communicate(timeout=300)
    assert proc.returncode == 2, err
    assert err.splitlines() == ["error: cannot write the output: No space left on device"]


SLOW_LOAD = """
import os, time
open(os.environ["DIALSUM_TEST_MARK"], "w").close()
time.sleep(120)
"""

SLOW_RENDER = '''
import os, time
import attrs
from dialsum_core import hookimpl


def _slowly():
    open(os.environ["DIALSUM_TEST_MARK"], "w").close()
    time.sleep(120)
    return 1


@attrs.define
class SlowOptions:
    #: Its default takes long to compute.
    n: int = attrs.Factory(_slowly)


@hookimpl
def dialsum_register_model_loaders(register):
    register("cli-slow-render", lambda options, ctx: None, options=SlowOptions, description="renders slowly")
'''


def interrupted(tmp_path: Path, source: str, module: str, *args: str,
                sig: int = signal.SIGINT) -> subprocess.CompletedProcess:
    """``dialsum ARGS`` with a plugin installed whose ``source`` takes long once it marks a file, given
    Ctrl-C (or ``sig``) as soon as the mark appears."""
    site, mark = tmp_path / "site", tmp_path / "mark"
    make_dist(site, f"dialsum-{module}", "0.1.0", module, source, {module: module})
    env = {**os.environ, "DIALSUM_TEST_MARK": str(mark),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}
    proc = dialsum(*args, stdout=subprocess.PIPE, env=env, cwd=tmp_path)
    deadline = time.monotonic() + 120
    while proc.poll() is None and not mark.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=300)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.mark.parametrize("args", [["plugins"], ["--help"], ["recipe-doc"], ["check", RECIPE]],
                         ids=lambda a: a[0])
def test_ctrl_c_while_plugins_load_is_one_line_and_status_130(tmp_path: Path, args: list[str]) -> None:
    """Every command said click's "Aborted!" and exited 1; ``dialsum run`` said "interrupted" and exited
    130, which a script tells from a failure."""
    res = interrupted(tmp_path, SLOW_LOAD, "cli_slow_load_plugin", *args)
    assert (res.returncode, res.stderr, res.stdout) == (130, "interrupted\n", "")


def test_ctrl_c_while_recipe_doc_renders_writes_nothing(tmp_path: Path) -> None:
    res = interrupted(tmp_path, SLOW_RENDER, "cli_slow_render_plugin", "recipe-doc", "-o", "recipe.md")
    assert (res.returncode, res.stderr) == (130, "interrupted\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mark", "site"]


SLOW_CHECK = '''
import os, time
from dialsum_core import hookimpl


def _check(recipe, plugins):
    open(os.environ["DIALSUM_TEST_MARK"], "w").close()
    time.sleep(120)
    return []


@hookimpl
def dialsum_register_sections(register):
    register("cli_slow_check", None, check=_check)
'''

SLOW_MODE = '''
import os, time
from dialsum_core import hookimpl


class Waits:
    def run(self, ctx):
        open(os.environ["DIALSUM_TEST_MARK"], "w").close()
        time.sleep(120)
        return {}


@hookimpl
def dialsum_register_run_modes(register):
    register("cli-slow-mode", lambda options, ctx: Waits(), description="waits")
'''


def test_ctrl_c_before_the_experiment_folder_exists_points_to_none(tmp_path: Path) -> None:
    """Interrupted while the recipe was checked, ``dialsum run`` said the partial results were "in the
    experiment folder", which did not exist."""
    res = interrupted(tmp_path, SLOW_CHECK, "cli_slow_check_plugin", "run", RECIPE, "--set",
                      f"run.output_dir={tmp_path / 'exp'}")
    assert (res.returncode, res.stderr.splitlines()[-1:]) == (130, ["interrupted"]), res.stderr
    assert not (tmp_path / "exp").exists()


def test_ctrl_c_during_a_run_names_the_folder_of_its_partial_results(tmp_path: Path) -> None:
    """"partial results are in the experiment folder" named none: with a timestamped name, which folder?"""
    res = interrupted(tmp_path, SLOW_MODE, "cli_slow_mode_plugin", "run", RECIPE, "--set", "run.mode=cli-slow-mode",
                      "--set", f"run.output_dir={tmp_path / 'exp'}", "--set", "run.name=stopped")
    assert res.returncode == 130, res.stderr
    assert res.stderr.splitlines()[-1] == f"interrupted; partial results are in {tmp_path / 'exp' / 'stopped'}"
    assert '"status": "interrupted"' in (tmp_path / "exp" / "stopped" / "results.json").read_text(encoding="utf-8")


def test_sigterm_during_a_run_ends_it_as_ctrl_c_does(tmp_path: Path) -> None:
    """A scheduler's time limit (SLURM sends SIGTERM, then SIGKILL) killed the run on the spot: its
    results.json said "running" for good, and no logger was closed (W&B's run left unfinished)."""
    res = interrupted(tmp_path, SLOW_MODE, "cli_slow_mode_plugin", "run", RECIPE, "--set", "run.mode=cli-slow-mode",
                      "--set", f"run.output_dir={tmp_path / 'exp'}", "--set", "run.name=stopped",
                      "--set", 'run.loggers=["jsonl"]', sig=signal.SIGTERM)
    folder = tmp_path / "exp" / "stopped"
    assert res.returncode == 143, res.stderr  # 128 + SIGTERM, as a shell reports a process it ended
    assert res.stderr.splitlines()[-1] == f"stopped by SIGTERM; partial results are in {folder}", res.stderr
    results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    assert (results["status"], results["error"]) == ("interrupted", "KeyboardInterrupt: stopped by SIGTERM")
    events = [json.loads(line)["event"] for line in (folder / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    assert events[-1] == "on_error", events  # the loggers were told and closed
