"""The launcher of a launch, run by ``dialsum launch`` in place of ``python -m torch.distributed.run``
or ``python -m accelerate.commands.launch`` with the same arguments, so that the launch ends as one
process does: exit status 2 for a user error, and no launcher traceback on top of the processes'
own ``error:`` lines.

Run alone, a launcher reports any process that exits non-zero with a ``ChildFailedError`` traceback
and exit status 1. Here the processes' exit statuses decide (:func:`exit_status`); the launcher's
log line about a process that exited 2 is left out: that process has already printed its error.

    python -m dialsum_launch.supervise -m torch.distributed.run --nproc-per-node 2 ... -m dialsum_core run r.toml
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterable, Sequence

from dialsum_core.errors import DialsumError

#: What the launchers run when the command asks for them by module.
TORCHRUN = "torch.distributed.run"
ACCELERATE = "accelerate.commands.launch"


def exit_status(codes: Iterable[int]) -> int:
    """The exit status of a launch whose processes exited with ``codes`` (the non-zero ones).

    The processes stopped by the launcher once another failed end by a signal (a negative code).
    When every process that exited by itself gave the same status, it is the launch's: 2 for a user
    error every process raised together (:meth:`dialsum_launch.processes.TorchProcesses.map_in_order`),
    130 for an interrupted run. Anything else (a bug on one rank, processes that disagree, a process
    killed by a signal) is 1.
    """
    own = {c for c in codes if c > 0}
    return own.pop() if len(own) == 1 else 1


#: The launcher's logger of its processes' ends.
ENDS_LOGGER = "torch.distributed.elastic.multiprocessing.api"


class _HeldBack(logging.Filter):
    """Holds back the launcher's lines about processes ending ("failed (exitcode: 2) local_rank: ...",
    "Sending process N closing signal SIGTERM"): told only when the launch did not end with a user
    error, which the processes have already printed as their one ``error:`` line."""

    def __init__(self) -> None:
        super().__init__()
        self.held: list[logging.LogRecord] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith(("failed (exitcode:", "Sending process")):
            self.held.append(record)
            return False
        return True

    def release(self, logger: logging.Logger) -> None:
        logger.removeFilter(self)
        for record in self.held:
            logger.handle(record)


def run_launcher(module: str, args: Sequence[str]) -> int:
    """Run the launcher ``module`` with ``args`` in this process; its exit status."""
    held = _HeldBack()
    logger = logging.getLogger(ENDS_LOGGER)
    logger.addFilter(held)
    status = 1
    try:
        status = _run(module, args)
    finally:
        if status != 2:
            held.release(logger)
    return status


def _run(module: str, args: Sequence[str]) -> int:
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    try:
        if module == TORCHRUN:
            from torch.distributed.run import parse_args, run

            run(parse_args(list(args)))
        elif module == ACCELERATE:
            from accelerate.commands.launch import launch_command, launch_command_parser

            launch_command(launch_command_parser().parse_args(list(args)))
        else:
            raise DialsumError(f"--launcher: no launcher module {module!r}")
    except ChildFailedError as exc:
        return exit_status(f.exitcode for f in exc.failures.values())
    except subprocess.CalledProcessError as exc:  # accelerate's one-process and DeepSpeed launchers
        return exit_status([exc.returncode])
    except SignalException as exc:  # Ctrl-C (or a kill) reached the launcher: its processes were stopped
        return 128 + int(exc.sigval)  # and have said so; the shell's status for a process ended by it
    except KeyboardInterrupt:  # a launcher that leaves Ctrl-C to Python
        return 130
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) < 2 or argv[0] != "-m":
        print("usage: python -m dialsum_launch.supervise -m LAUNCHER_MODULE ARGS...", file=sys.stderr)
        return 2
    try:
        return run_launcher(argv[1], argv[2:])
    except DialsumError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
