"""The launch command lines: what ``dialsum launch`` runs under each launcher."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dialsum_core.errors import DialsumError
from dialsum_launch.launch import launch_command

ROOT = Path(__file__).resolve().parents[3]


def test_launch_commands_pass_launcher_options_through() -> None:
    acc = launch_command("accelerate", 4, ["--config_file", "ds_zero2.yaml"], ["run", "r.toml"])
    assert acc[1:3] == ["-m", "accelerate.commands.launch"]
    assert acc[acc.index("--num_processes") + 1] == "4" and "--multi_gpu" not in acc  # the config decides
    assert acc[acc.index("--config_file") + 1] == "ds_zero2.yaml"
    assert acc[-4:] == ["-m", "dialsum_core", "run", "r.toml"]
    tr = launch_command("torchrun", 2, [], ["run", "r.toml", "--set", "run.name=x"])
    assert tr[1:5] == ["-m", "torch.distributed.run", "--nproc-per-node", "2"] and "--standalone" in tr
    multi = launch_command("torchrun", 8, ["--nnodes", "2", "--rdzv-endpoint", "node1:29500"], ["run", "r.toml"])
    assert "--standalone" not in multi and multi[multi.index("--nnodes") + 1] == "2"
    with pytest.raises(Exception, match="unknown launcher"):
        launch_command("mpirun", 2, [], [])


def test_launcher_args_with_an_unbalanced_quote_are_one_error_line(tmp_path: Path) -> None:
    """Found before the recipe is read: a typing mistake in --launcher-args never starts a launcher."""
    res = subprocess.run(
        [sys.executable, "-m", "dialsum_core", "launch", str(ROOT / "recipes" / "single-tiny.toml"),
         "--num-processes", "2", "--launcher-args", "--rdzv-endpoint 'node1:29500"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
    assert res.stderr.strip().splitlines() == [
        "error: --launcher-args: cannot split \"--rdzv-endpoint 'node1:29500\" into arguments "
        "(No closing quotation); balance its quotes"]


@pytest.mark.parametrize(("launcher", "missing", "why"), [
    ("accelerate", "accelerate", "--launcher accelerate: accelerate is not installed (pip install accelerate); "
                                 "or choose --launcher torchrun"),
    ("torchrun", "torch", "--launcher torchrun: torch is not installed (pip install torch)"),
])
def test_a_launcher_whose_library_is_not_installed_is_one_error_line(tmp_path: Path, launcher: str, missing: str,
                                                                     why: str) -> None:
    """Found before the recipe is read or any process starts; the launcher's own ModuleNotFoundError
    traceback (exit 1) said neither which option chose it nor what to install."""
    site = tmp_path / "site"
    site.mkdir()
    # The library made unimportable for the processes this test starts, as if it were not installed.
    (site / "sitecustomize.py").write_text(f"import sys\nsys.modules[{missing!r}] = None\n", encoding="utf-8")
    res = subprocess.run(
        [sys.executable, "-m", "dialsum_core", "launch", str(ROOT / "recipes" / "single-tiny.toml"),
         "--launcher", launcher, "--num-processes", "1", "--set", f'run.output_dir="{tmp_path / "out"}"'],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(site)},
    )
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
    assert res.stderr.strip().splitlines() == [f"error: {why}"]
    assert not (tmp_path / "out").exists()


def test_a_launch_inside_a_launch_says_what_to_run_instead(tmp_path: Path) -> None:
    """``dialsum launch`` in a process a launcher started (WORLD_SIZE set) was told to "drop --launcher",
    an option it may not have given and whose absence changes nothing; and only after the recipe was
    validated."""
    res = subprocess.run(
        [sys.executable, "-m", "dialsum_core", "launch", str(ROOT / "recipes" / "single-tiny.toml"),
         "--set", "run.no_such_key=1"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env={**os.environ, "WORLD_SIZE": "2"},
    )
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
    assert res.stderr.strip().splitlines() == [
        "error: dialsum launch: this process is already one of a launch (WORLD_SIZE=2 in the environment); "
        "under a launcher run `dialsum run RECIPE`, which takes the launch's processes, or unset WORLD_SIZE"]


@pytest.mark.parametrize(("launcher", "given"), [("torchrun", ["--nproc-per-node", "2"]),
                                                 ("torchrun", ["--nproc_per_node=2"]),
                                                 ("accelerate", ["--num_processes", "2"])])
def test_two_process_counts_are_refused(launcher: str, given: list[str]) -> None:
    """--num-processes 4 with the launcher's own count in --launcher-args: the launcher took the one
    given last (2), and the count asked for on dialsum's command line was dropped without a word."""
    with pytest.raises(DialsumError, match=f"--num-processes 4 and --launcher-args '{given[0]}' both say"):
        launch_command(launcher, 4, given, ["run", "r.toml"])
    assert launch_command(launcher, 0, given, ["run", "r.toml"])[-len(given) - 4:-4] == given  # one count: fine
