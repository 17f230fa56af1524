"""Starting a launch: the ``torchrun`` / ``accelerate launch`` command line that runs
``dialsum run`` in every process, with the recipe validated and the experiment named once."""

from __future__ import annotations

import logging
import os
import shlex
from collections.abc import Sequence

from dialsum_core.errors import DialsumError
from dialsum_launch.plugin import LAUNCHERS
from dialsum_launch.processes import from_environment

log = logging.getLogger("dialsum")


def launch_recipe(recipe_path: str, overrides: Sequence[str], disable: Sequence[str], launcher: str,
                  num_processes: int, launcher_args: str) -> int:
    """Validate here, fix the experiment name once, then run ``dialsum run`` under the launcher."""
    from dialsum_core.cli import load_checked
    from dialsum_core.experiment import default_name

    extra = split_launcher_args(launcher_args)
    refuse_nested()
    require_launcher(launcher)
    _, recipe = load_checked(recipe_path, overrides, disable)
    models = recipe.run.models
    # The default name has a timestamp: decide it here, once, for every process of the launch.
    default = default_name(recipe.run.mode, models[0] if models else "model")
    name = [] if recipe.run.name else ["--set", f"run.name={default}"]
    args = ["run", recipe_path, *(a for o in overrides for a in ("--set", o)), *name,
            *(a for d in disable for a in ("--disable-plugin", d))]
    return launch(launcher, num_processes, extra, args)


def split_launcher_args(launcher_args: str) -> list[str]:
    """``--launcher-args`` split as a shell would, or a :class:`DialsumError` naming the option: an
    unbalanced quote is a typing mistake, found before the recipe is validated or anything starts."""
    try:
        return shlex.split(launcher_args)
    except ValueError as exc:
        raise DialsumError(f"--launcher-args: cannot split {launcher_args!r} into arguments ({exc}); "
                           "balance its quotes") from None


def refuse_nested() -> None:
    """A :class:`DialsumError` when this process is one of a launch already (a job script that runs
    ``dialsum launch`` under torchrun or srun): every process would start a launch of its own."""
    processes = from_environment()
    if processes is not None:
        raise DialsumError(f"dialsum launch: this process is already one of a launch (WORLD_SIZE="
                           f"{processes.world_size} in the environment); under a launcher run `dialsum run "
                           "RECIPE`, which takes the launch's processes, or unset WORLD_SIZE")


#: The library each launcher is part of (``torchrun`` is torch's), as ``pip install`` names it.
LIBRARIES = {"torchrun": "torch", "accelerate": "accelerate"}


def require_launcher(launcher: str) -> None:
    """A :class:`DialsumError` naming the option when the launcher's library is not installed: found
    before the recipe is read, where the launcher itself would end in a ModuleNotFoundError traceback."""
    import importlib.util

    library = LIBRARIES.get(launcher)
    if library is None or importlib.util.find_spec(library) is not None:
        return
    # accelerate starts its processes with torch: torchrun is the way out only where torch is there
    torchrun = launcher != "torchrun" and importlib.util.find_spec(LIBRARIES["torchrun"]) is not None
    raise DialsumError(f"--launcher {launcher}: {library} is not installed (pip install {library})"
                       + ("; or choose --launcher torchrun" if torchrun else ""))


def free_port() -> int:
    """A TCP port nobody listens on now, for the rendezvous of a launch on this machine."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cuda_available() -> bool:
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


#: The launchers' own options for the number of processes, which --num-processes sets.
COUNT_OPTIONS = {"torchrun": ("--nproc-per-node", "--nproc_per_node"),
                 "accelerate": ("--num_processes", "--num-processes")}


def launch_command(launcher: str, num_processes: int, launcher_args: Sequence[str],
                   dialsum_args: Sequence[str]) -> list[str]:
    """The command that starts ``python -m dialsum_core <dialsum_args>`` under ``launcher``.

    ``num_processes`` 0 means the launcher's default: Accelerate's config (``accelerate config``,
    or one process per GPU), one process per GPU for torchrun. ``launcher_args`` go to the launcher
    as they are (``--config_file ds_zero2.yaml`` for DeepSpeed/FSDP, ``--nnodes`` and
    ``--rdzv-endpoint`` for several machines). Without a GPU the processes use the gloo backend.
    """
    import sys

    extra = list(launcher_args)
    counted = [a for a in extra if a.split("=", 1)[0] in COUNT_OPTIONS.get(launcher, ())]
    if num_processes and counted:  # the launcher would take the one given last, without a word
        raise DialsumError(f"--num-processes {num_processes} and --launcher-args {counted[0]!r} both say how "
                           "many processes to start; give one of them")
    cpu = not _cuda_available()
    if launcher == "accelerate":
        cmd = [sys.executable, "-m", "accelerate.commands.launch"]
        configured = any(a.startswith(("--config_file", "--use_deepspeed", "--use_fsdp", "--multi_gpu"))
                         for a in extra)
        if num_processes:
            cmd += ["--num_processes", str(num_processes)]
        # Accelerate's ``--multi_gpu`` is its torch.distributed launcher; without a GPU the processes
        # fall back to the gloo backend (``--cpu`` would start a single process).
        if (num_processes > 1 or (num_processes == 0 and not cpu)) and not configured and "--cpu" not in extra:
            cmd.append("--multi_gpu")
        if not any(a.startswith(("--main_process_port", "--num_machines", "--config_file")) for a in extra):
            cmd += ["--main_process_port", str(free_port())]  # parallel launches on one machine
    elif launcher == "torchrun":
        cmd = [sys.executable, "-m", "torch.distributed.run",
               "--nproc-per-node", str(num_processes) if num_processes else ("1" if cpu else "gpu")]
        if not any(a.startswith(("--nnodes", "--rdzv", "--master", "--standalone")) for a in extra):
            cmd.append("--standalone")
    else:
        raise DialsumError(f"--launcher: unknown launcher {launcher!r}; one of {', '.join(LAUNCHERS)}")
    return [*cmd, *extra, "-m", "dialsum_core", *dialsum_args]


def launch(launcher: str, num_processes: int, launcher_args: Sequence[str], dialsum_args: Sequence[str]) -> int:
    """Run the launch and wait for it; returns its exit status.

    The launcher runs under :mod:`dialsum_launch.supervise`, which gives the processes' own exit
    status (2 for a user error every process raised) instead of the launcher's traceback and 1.
    """
    import subprocess
    import sys

    refuse_nested()
    cmd = launch_command(launcher, num_processes, launcher_args, dialsum_args)
    log.info("launching: %s", " ".join(cmd))
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")  # N processes on one machine share its cores
    supervised = [sys.executable, "-m", "dialsum_launch.supervise", *cmd[1:]]  # cmd[1:]: -m LAUNCHER ...
    launcher_process = subprocess.Popen(supervised, env=env)
    try:
        return launcher_process.wait()
    except KeyboardInterrupt:
        # Ctrl-C reached the launcher and its processes too: they stop and record the run as
        # interrupted; waiting for them gives their exit status (130), where subprocess.run would kill
        # the launcher mid-way and click would add "Aborted!" with status 1.
        try:
            return launcher_process.wait()
        except KeyboardInterrupt:  # a second Ctrl-C: stop waiting
            launcher_process.kill()
            raise
