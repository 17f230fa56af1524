"""The launch command lines: what ``dialsum launch`` runs under each launcher."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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
