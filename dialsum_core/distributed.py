"""Scale-out helpers: several processes of one run, fan-out jobs, and studies shared by many workers.

dialsum does not start or synchronise processes itself. ``torchrun`` or ``accelerate launch`` start
them and set ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``; transformers' Trainer (through Accelerate) does
data-parallel training; Optuna's storages (a journal file, an RDB URL) share a study between
workers. This module is the thin layer the rest of dialsum calls so that:

* only the main process writes the experiment folder (:func:`is_main_process`,
  :class:`ReplicaExperiment`);
* every process agrees on values decided once, such as the experiment's timestamped name
  (:func:`broadcast`, which rank 0 decides);
* generation is split across processes and gathered back in input order (:func:`map_in_order`), so
  predictions are the same as those of one process;
* fan-out jobs (``run.only = ["fold=3"]``) train only their part of a stage (:func:`selected`);
* a study joined by several workers runs exactly the requested number of trials
  (:func:`open_study`, :func:`optimize`).

Importing it is cheap: torch, accelerate and optuna are imported only when a function needs them,
and a one-process run never imports them here at all.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from dialsum_core.errors import DialsumError, RecipeError
from dialsum_core.experiment import Experiment, safe_name

log = logging.getLogger("dialsum")
T = TypeVar("T")
R = TypeVar("R")

#: Keys a ``run.only`` entry may select on (``fold`` is 1-based, as fold folders are named).
ONLY_KEYS = ("fold", "model")


# ----------------------------------------------------------------------------------------------
# Who am I
# ----------------------------------------------------------------------------------------------
def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


def _dist() -> Any:
    """``torch.distributed`` when torch is already imported and a process group is up, else None."""
    import sys

    torch = sys.modules.get("torch")
    if torch is None:
        return None
    dist = torch.distributed
    return dist if dist.is_available() and dist.is_initialized() else None


def world_size() -> int:
    """Number of processes in this launch (1 without a launcher)."""
    dist = _dist()
    return dist.get_world_size() if dist else max(1, _env_int("WORLD_SIZE", 1))


def rank() -> int:
    """This process's global rank (0 without a launcher)."""
    dist = _dist()
    return dist.get_rank() if dist else _env_int("RANK", 0)


def local_rank() -> int:
    """This process's rank on its machine (which GPU it drives)."""
    return _env_int("LOCAL_RANK", 0)


def is_distributed() -> bool:
    return world_size() > 1


def is_main_process() -> bool:
    """The one process that writes files, logs and results."""
    return rank() == 0


def init() -> None:
    """Join the launch's process group (gloo on CPU, NCCL on GPUs) through Accelerate.

    ``accelerate.PartialState`` is what transformers' Trainer uses too, so the group it creates here
    is the one training then runs in. A no-op for one process.
    """
    if not is_distributed() or _dist() is not None:
        return
    from accelerate import PartialState

    PartialState()


def barrier() -> None:
    """Wait until every process of the launch gets here."""
    if is_distributed():
        init()
        _dist().barrier()


def broadcast(value: T) -> T:
    """Rank 0's ``value`` on every process (any picklable object)."""
    if not is_distributed():
        return value
    init()
    box = [value]
    _dist().broadcast_object_list(box, src=0)
    return box[0]


# ----------------------------------------------------------------------------------------------
# Sharded work, gathered in order
# ----------------------------------------------------------------------------------------------
def shard_bounds(n: int, world: int, index: int) -> tuple[int, int]:
    """``[start, stop)`` of process ``index``'s contiguous share of ``n`` items.

    Shares differ by at most one item and the first ``n % world`` processes take one more, the
    split ``accelerate.PartialState.split_between_processes`` makes.
    """
    per, extra = divmod(n, world)
    start = index * per + min(index, extra)
    return start, start + per + (1 if index < extra else 0)


def shard(items: Sequence[T]) -> list[T]:
    """This process's contiguous share of ``items`` (all of them for one process)."""
    start, stop = shard_bounds(len(items), world_size(), rank())
    return list(items[start:stop])


def gather_in_order(local: Sequence[T]) -> list[T]:
    """Every process's ``local`` list, concatenated in rank order, on every process.

    With :func:`shard`'s contiguous shares this restores the input order exactly.
    """
    if not is_distributed():
        return list(local)
    init()
    parts: list[Any] = [None] * world_size()
    _dist().all_gather_object(parts, list(local))
    return [x for part in parts for x in part]


_inside = threading.local()


def map_in_order(fn: Callable[[list[T]], Sequence[R]], items: Sequence[T]) -> list[R]:
    """``fn(items)`` computed by all processes together: each runs ``fn`` on its share, the
    results come back on every process in input order.

    Every process must call it with the same ``items`` (they all do: every process runs the same
    mode code). Nested calls (a mode's generation calling a model's sharded generation) run
    unsharded inside the outer share, so work is never split twice.
    """
    if not is_distributed() or getattr(_inside, "active", False):
        return list(fn(list(items)))
    _inside.active = True
    try:
        mine = shard(items)
        out = list(fn(mine)) if mine else []
    finally:
        _inside.active = False
    if len(out) != len(mine):
        raise DialsumError(f"rank {rank()}: {len(out)} results for {len(mine)} inputs")
    return gather_in_order(out)


# ----------------------------------------------------------------------------------------------
# The experiment folder on processes other than the main one
# ----------------------------------------------------------------------------------------------
class ReplicaExperiment(Experiment):
    """The experiment folder as seen by a non-main process: readable, never written.

    Modes run identically on every process (collectives need that); their writes through
    ``ctx.experiment`` simply do nothing here, so each file is written once, by rank 0.
    """

    def write_text(self, relative: str | Path, text: str) -> Path:
        return self.path(relative)

    def write_json(self, relative: str | Path, data: Any) -> Path:
        return self.path(relative)

    def write_csv(self, relative: str | Path, header: Sequence[str], rows: Any) -> Path:
        return self.path(relative)


@contextlib.contextmanager
def main_process_first() -> Iterator[None]:
    """The main process runs the block first (creating what the others then read)."""
    if not is_main_process():
        barrier()
    try:
        yield
    finally:
        if is_main_process():
            barrier()


# ----------------------------------------------------------------------------------------------
# Fan-out jobs: ``run.only``
# ----------------------------------------------------------------------------------------------
def parse_only(entries: Sequence[str]) -> dict[str, set[str]]:
    """``["fold=3", "model=kobart"]`` -> ``{"fold": {"3"}, "model": {"kobart"}}``.

    Entries with the same key are alternatives; different keys must all match.
    """
    found: dict[str, set[str]] = {}
    for entry in entries:
        key, sep, value = str(entry).partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not value or key not in ONLY_KEYS:
            raise RecipeError([f"run.only: {entry!r} is not KEY=VALUE with KEY one of {', '.join(ONLY_KEYS)}"])
        if key == "fold" and not (value.isdigit() and int(value) >= 1):
            raise RecipeError([f"run.only: {entry!r}: folds are numbered from 1"])
        found.setdefault(key, set()).add(str(int(value)) if key == "fold" else value)
    return found


def is_partial(recipe: Any) -> bool:
    """A fan-out job: the run trains only the units ``run.only`` selects and skips the final stages."""
    return bool(recipe.run.only)


def selected(recipe: Any, **unit: Any) -> bool:
    """Whether this run does the unit with these coordinates, e.g. ``selected(r, model="kobart", fold=3)``.

    Keys of ``run.only`` the unit does not have do not restrict it (``fold=3`` selects fold 3 of
    every model; a ``multi_model`` run ignores it).
    """
    only = parse_only(recipe.run.only)
    return all(str(value) in only[key] for key, value in unit.items() if key in only)


def job_folder(recipe: Any) -> str:
    """Where a fan-out job's own ``config.toml``, ``results.json`` and logs go: ``jobs/fold_3``."""
    return "jobs/" + safe_name("_".join(sorted(recipe.run.only)))


def check_only(recipe: Any, plugins: Any) -> None:
    """``run.only`` is well-formed, names models of the run, and the run has an explicit name."""
    if not recipe.run.only:
        return
    only = parse_only(recipe.run.only)
    where = recipe.where("run.only")
    if not recipe.run.name:
        raise RecipeError([f"{where}: run.only needs run.name, so that every job and the final run share "
                           "one experiment folder (e.g. --set run.name=kfold_kobart)"])
    models = recipe.model_names(plugins)
    unknown = sorted(only.get("model", set()) - set(models))
    if unknown:
        raise RecipeError([f"{where}: run.only selects {', '.join(unknown)}, not in run.models ({', '.join(models)})"])


# ----------------------------------------------------------------------------------------------
# Optuna studies shared by several workers
# ----------------------------------------------------------------------------------------------
class BudgetSpent(Exception):
    """Raised by the storage when a worker asks for a trial beyond the study's budget."""


BUDGET_ATTR = "dialsum:budget"


def storage_spec(spec: str, folder: Path) -> tuple[str, str]:
    """``(kind, target)`` of a storage option: ``("journal", path)`` or ``("rdb", url)``.

    ``""``: ``folder/study.db`` (SQLite); ``journal://PATH`` or a ``*.log``/``*.jsonl`` path: an
    Optuna journal file, the choice for several workers on a shared disk; any other ``X://`` is an
    SQLAlchemy URL (PostgreSQL, MySQL) for workers on many machines; other paths are SQLite files.
    Relative paths are relative to ``folder``'s parent (the experiment folder).
    """
    root = folder.parent

    def resolved(p: str) -> Path:
        path = Path(p).expanduser()
        return (path if path.is_absolute() else root / path).resolve()

    if not spec:
        return "rdb", f"sqlite:///{(folder / 'study.db').resolve()}"
    if spec.startswith("journal://"):
        return "journal", str(resolved(spec[len("journal://"):]))
    if "://" in spec:
        return "rdb", spec
    if spec.endswith((".log", ".jsonl")):
        return "journal", str(resolved(spec))
    return "rdb", f"sqlite:///{resolved(spec)}"


class _MachineLock:
    """An exclusive lock for the threads and the processes of one machine, held on ``path``."""

    def __init__(self, path: Path):
        self.path = path
        self._threads = threading.Lock()
        self._file: Any = None

    def __enter__(self) -> None:
        self._threads.acquire()
        try:
            self._file = open(self.path, "a+b")  # closed in __exit__
            with contextlib.suppress(ImportError):  # no fcntl (Windows): the threads' lock only
                import fcntl

                fcntl.flock(self._file, fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise

    def __exit__(self, *exc: object) -> None:
        try:
            self._file.close()  # closing releases the flock
        finally:
            self._file = None
            self._threads.release()


def make_storage(spec: str, folder: Path) -> Any:
    """An Optuna storage that refuses to create trials beyond the budget :func:`open_study` enqueued."""
    import optuna
    from optuna.storages import JournalStorage, RDBStorage
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

    kind, target = storage_spec(spec, folder)

    class _Budgeted:
        def create_new_trial(self, study_id: int, template_trial: Any = None) -> int:
            # Enqueued trials (the budget, and retries of failed ones) carry a template; a bare
            # creation means a worker asked with nothing left to pop.
            if template_trial is None:
                raise BudgetSpent()
            return super().create_new_trial(study_id, template_trial)  # type: ignore[misc]

    if kind == "journal":
        Path(target).parent.mkdir(parents=True, exist_ok=True)

        class BudgetedJournal(_Budgeted, JournalStorage):
            pass

        # An open(O_EXCL) lock file works on local disks and on NFS v3+; it is what Optuna advises
        # when symlinks are not available (some network file systems).
        return BudgetedJournal(JournalFileBackend(target, lock_obj=JournalFileOpenLock(target)))

    class BudgetedRDB(RDBStorage):
        take_lock: _MachineLock | None = None

        # Optuna wraps an RDB storage in a cache that calls ``_create_new_trial`` directly.
        def _create_new_trial(self, study_id: int, template_trial: Any = None) -> Any:
            if template_trial is None:
                raise BudgetSpent()
            return super()._create_new_trial(study_id, template_trial)

        def set_trial_state_values(self, trial_id: int, state: Any, values: Any = None) -> bool:
            # Taking a queued trial reads "waiting" and writes "running": SQLite has no row lock
            # (SELECT ... FOR UPDATE) to make that atomic, so two threads or processes could both
            # take the same trial. PostgreSQL and MySQL lock the row themselves.
            if self.take_lock is None or state != optuna.trial.TrialState.RUNNING:
                return super().set_trial_state_values(trial_id, state, values)
            with self.take_lock:
                return super().set_trial_state_values(trial_id, state, values)

    lock = None
    if target.startswith("sqlite:///"):
        db = Path(target[len("sqlite:///"):])
        db.parent.mkdir(parents=True, exist_ok=True)
        lock = _MachineLock(db.with_name(db.name + ".lock"))
    # A worker that dies leaves a RUNNING trial; the heartbeat marks it failed and the retry
    # callback enqueues it again, so the budget is still met.
    retry = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None)  # Optuna >= 4.9
    engine = {"pool_pre_ping": True} if not target.startswith("sqlite") else None
    for attempt in range(4):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                callback = {"heartbeat_stale_trial_callback": retry(max_retry=1)} if retry else \
                    {"failed_trial_callback": optuna.storages.RetryFailedTrialCallback(max_retry=1)}
                storage = BudgetedRDB(target, heartbeat_interval=30, grace_period=120, engine_kwargs=engine,
                                      **callback)
            storage.take_lock = lock
            return storage
        except Exception as exc:
            # Workers that start together on a new database race to create Optuna's tables; the
            # losers find them created on the next attempt.
            if attempt == 3:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise DialsumError(f"modes.optuna.storage: cannot open {target!r} ({first})") from None
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def open_study(spec: str, folder: Path, *, study_name: str, budget: int, wait_seconds: float = 60.0,
               **create: Any) -> Any:
    """Create or join study ``study_name`` and make sure it holds ``budget`` trials in all.

    The worker that creates the study enqueues ``budget`` trials (their parameters are sampled when
    a worker takes one); every worker then takes enqueued trials until none is left, so several
    workers never run more than ``budget`` trials together and never the same one twice. A joiner
    waits up to ``wait_seconds`` for the creator to finish enqueuing, then tops the study up to
    ``budget`` trials that have not failed: a re-run with more ``trials`` adds the difference, and
    a re-run after a failure runs the failed trials' slots again. A joiner's sampler is reseeded,
    so that workers started with the same seed do not all propose the same parameters.
    """
    import optuna

    storage = make_storage(spec, folder)
    try:
        study = optuna.create_study(storage=storage, study_name=study_name, load_if_exists=False, **create)
        created = True
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(storage=storage, study_name=study_name, sampler=create.get("sampler"),
                                  pruner=create.get("pruner"))
        created = False
    if created:
        _enqueue(study, budget)
        return study
    study.sampler.reseed_rng()
    deadline = time.monotonic() + wait_seconds
    while study.user_attrs.get(BUDGET_ATTR) is None and time.monotonic() < deadline:
        time.sleep(0.2)
    have = int(study.user_attrs.get(BUDGET_ATTR) or 0)
    failed = optuna.trial.TrialState.FAIL
    holding = sum(1 for t in study.get_trials(deepcopy=False) if t.state != failed)
    if holding < budget:
        log.info("optuna: study %r holds %d of its %d trials; adding %d", study_name, holding, budget,
                 budget - holding)
        _enqueue(study, budget - holding, total=max(budget, have))
    return study


def _enqueue(study: Any, n: int, total: int | None = None) -> None:
    for _ in range(n):
        study.enqueue_trial({}, user_attrs={"dialsum:slot": True})
    study.set_user_attr(BUDGET_ATTR, total if total is not None else n)


def optimize(study: Any, objective: Callable[[Any], float], *, timeout: float | None = None, n_jobs: int = 1,
             callbacks: Sequence[Callable[[Any, Any], None]] = (), wait_seconds: float = 0.0,
             poll_seconds: float = 1.0) -> None:
    """``study.optimize`` until the study's budget is spent (by this worker or others) or ``timeout``.

    ``n_jobs`` threads run trials side by side in this process, as Optuna does. Then, for up to
    ``wait_seconds``, wait for the trials other workers are still running, so that the best trial
    this worker reports is the study's (a trial that a dead worker left running is failed by the
    RDB storages' heartbeat, and its retry is run here; the journal storage has no heartbeat).
    """
    import optuna
    from optuna.storages import fail_stale_trials

    states = optuna.trial.TrialState
    started = time.monotonic()
    waited_since: float | None = None
    reported: list[int] = []
    while True:
        left = None if not timeout else timeout - (time.monotonic() - started)
        if left is not None and left <= 0:
            return
        if study.get_trials(deepcopy=False, states=(states.WAITING,)):
            waited_since = None
            with contextlib.suppress(BudgetSpent):
                study.optimize(objective, n_trials=None if left else 10 ** 9, timeout=left, n_jobs=n_jobs,
                               callbacks=list(callbacks))
            continue
        running = [t.number for t in study.get_trials(deepcopy=False, states=(states.RUNNING,))]
        if not running:
            return
        waited_since = waited_since or time.monotonic()
        if time.monotonic() - waited_since >= wait_seconds:
            if wait_seconds:
                log.warning("optuna: trials %s are still running after %.0f s; going on without them (a worker "
                            "that died leaves its trial running: mark it failed with study.tell(N, "
                            "state=TrialState.FAIL))", running, wait_seconds)
            return
        if running != reported:
            log.info("optuna: waiting for trials %s, run by other workers", running)
            reported = running
        with contextlib.suppress(Exception), warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            fail_stale_trials(study)  # storages with a heartbeat only
        time.sleep(poll_seconds)


# ----------------------------------------------------------------------------------------------
# Starting a launch from ``dialsum run --launcher``
# ----------------------------------------------------------------------------------------------
LAUNCHERS = ("none", "accelerate", "torchrun")


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
    """Run the launch and wait for it; returns its exit status."""
    import subprocess

    if is_distributed():
        raise DialsumError("--launcher: this process is already one of a launch (WORLD_SIZE is set); "
                           "drop --launcher")
    cmd = launch_command(launcher, num_processes, launcher_args, dialsum_args)
    log.info("launching: %s", " ".join(cmd))
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")  # N processes on one machine share its cores
    return subprocess.run(cmd, env=env, check=False).returncode
