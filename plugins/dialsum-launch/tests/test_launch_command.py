"""The launch command lines: what ``dialsum launch`` runs under each launcher."""

from __future__ import annotations

import pytest

from dialsum_launch.launch import launch_command


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
