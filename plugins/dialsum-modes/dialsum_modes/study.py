"""Optuna studies shared by several workers: each runs trials until the study's budget is spent.

Several workers (processes started separately, on one machine or many) that name the same
``storage`` (a journal file on a shared disk, an RDB URL) and ``study_name`` share one study and its
``trials`` budget; the experiment's own study (``optuna/study.db``) is the one-worker case. See
docs/scaling.md.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from dialsum_core.errors import DialsumError

log = logging.getLogger("dialsum")


class BudgetSpent(Exception):
    """Raised by the storage when a worker asks for a trial beyond the study's budget."""


BUDGET_ATTR = "dialsum:budget"
#: The SQLite file of a study with no ``storage`` given, in its folder (``optuna/`` of the experiment).
STUDY_FILE = "study.db"


#: The study's user attribute holding :func:`study_stamp` of the recipe that started it.
RECIPE_ATTR = "dialsum:recipe"
#: ``[run]`` keys a study's trials do not read: the models of later stages (a trial trains the
#: first one, named in the stamp), test-time augmentation and the training-set predictions.
_STAGE_RUN_KEYS = {"models": [], "use_tta": False, "tta_strategies": [], "tta_num_aug": 1,
                   "save_train_predictions": False}


def study_stamp(recipe: Any, plugins: Any, options: Any, model: str, data: Any) -> str:
    """What decides the trials of an experiment's own study: the recipe as a source's fingerprint takes
    it (:func:`dialsum_modes.toolkit.fingerprint`: less the neutral keys, with the data by content),
    the tuned model and its table, and the space, metric and direction of ``[modes.optuna]``.

    ``recipe`` is the one the run executes (resolved, shortened by ``run.debug``). Left out: the
    study's budget (``trials``, ``timeout``, ``n_jobs``: a re-run raises ``trials`` to add more), its
    sampler and pruner, and what only the later stages of ``full`` read (``[modes.kfold]``, the
    other models, TTA).
    """
    import hashlib
    from types import SimpleNamespace

    import attrs

    from dialsum_modes.toolkit import fingerprint

    models = {k: v for k, v in recipe.tables.get("models", {}).items() if k == model}
    recipe = recipe.evolve(run=attrs.evolve(recipe.run, **_STAGE_RUN_KEYS), models=models)
    base = fingerprint(SimpleNamespace(recipe=recipe, plugins=plugins), model,  # type: ignore[arg-type]
                       {"train": data.train, "valid": data.valid}, content=True)
    study = {"space": {k: attrs.asdict(v) for k, v in options.space.items()}, "metric": options.metric,
             "direction": options.direction}
    return hashlib.sha256(json.dumps([base, study], sort_keys=True, default=str).encode("utf-8")).hexdigest()[:16]


def other_recipe(db: Path, study_name: str, stamp: str) -> str:
    """Why the experiment's own study in ``db`` may not be resumed with the recipe of ``stamp``, or "".

    A re-run of the experiment resumes its study only with the recipe that started it: otherwise the
    study counts the other recipe's trials as done (a changed space runs no trial at all) and writes
    their best parameters, keys the new space may not hold, to ``best_recipe.toml``. Read with
    ``sqlite3`` (no Optuna import), so that ``dialsum check`` can say it before the run writes anything.
    """
    import sqlite3

    if not db.is_file():
        return ""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db.resolve()}?mode=ro", uri=True)) as conn:
            row = conn.execute(
                "SELECT a.value_json FROM study_user_attributes a JOIN studies s ON a.study_id = s.study_id "
                "WHERE s.study_name = ? AND a.key = ?", (study_name, RECIPE_ATTR)).fetchone()
    except sqlite3.Error:  # not a study file (yet): the run's storage says what is wrong with it
        return ""
    if row is None or json.loads(row[0]) == stamp:
        return ""
    return (f"the study {study_name!r} in {db} was run with another recipe (its search space, metric, direction, "
            "or a training, model or data setting differs), and resuming it would mix the trials of both; "
            "restore that recipe to resume it, or start a new study with modes.optuna.study_name or another run.name")


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
        return "rdb", f"sqlite:///{(folder / STUDY_FILE).resolve()}"
    if spec.startswith("journal://"):
        return "journal", str(resolved(spec[len("journal://"):]))
    if "://" in spec:
        return "rdb", spec
    if spec.endswith((".log", ".jsonl")):
        return "journal", str(resolved(spec))
    return "rdb", f"sqlite:///{resolved(spec)}"


class LockHeld(Exception):
    """Raised by a :class:`MachineLock` that may not wait (``wait=False``) when someone holds it;
    ``holder`` is what the holder wrote in the lock file (``HOST pid N``), or ``""``."""

    def __init__(self, path: Path, holder: str):
        super().__init__(f"{path} is held by {holder or 'another process'}")
        self.path, self.holder = path, holder


class MachineLock:
    """An exclusive lock for the threads and the processes of one machine, held on ``path``.

    The lock file exists only while someone holds the lock: the holder removes it on release, so a
    finished study leaves no ``study.db.lock`` behind. Removing a lock file is only safe when every
    taker checks, once it holds the ``flock``, that the file it locked is still the one at ``path``:
    a process that was waiting on the removed file would otherwise hold a lock nobody else sees,
    beside the holder of a new file. A taker that finds its file replaced or gone tries again.

    The holder writes ``HOST pid N`` in the file, for a taker to say whom it waits for (or, with
    ``wait=False``, who keeps it out: :class:`LockHeld`). A holder that dies releases the ``flock``
    with its process: the file it leaves is taken by the next taker like a free one.
    """

    def __init__(self, path: Path, on_wait: Callable[[], None] | None = None, *, wait: bool = True):
        self.path = path
        #: Called once when another holder makes this taker wait (to say so in the log).
        self.on_wait = on_wait
        #: False: raise :class:`LockHeld` instead of waiting for another holder.
        self.wait = wait
        self._threads = threading.Lock()
        self._file: Any = None

    def __enter__(self) -> None:
        if not self._threads.acquire(blocking=self.wait):
            raise LockHeld(self.path, self.holder())
        try:
            self._file = self._take()
        except BaseException:
            self._threads.release()
            raise

    def _take(self) -> Any:
        try:
            import fcntl
        except ImportError:  # no fcntl (Windows): the threads' lock only
            return None
        while True:
            file = open(self.path, "a+b")  # closed in __exit__, or below when it was replaced
            try:
                try:
                    fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    if not self.wait:
                        raise LockHeld(self.path, self.holder()) from None
                    if self.on_wait is not None:
                        self.on_wait()
                        self.on_wait = None
                    fcntl.flock(file, fcntl.LOCK_EX)
                held = os.fstat(file.fileno())
                try:
                    current = os.stat(self.path)
                except FileNotFoundError:  # removed by the holder we waited for
                    current = None
                if current is not None and (current.st_dev, current.st_ino) == (held.st_dev, held.st_ino):
                    with contextlib.suppress(OSError):  # who holds it, for a taker's message
                        file.truncate(0)
                        file.write(f"{socket.gethostname()} pid {os.getpid()}".encode())
                        file.flush()
                    return file
            except BaseException:
                file.close()
                raise
            file.close()

    def holder(self) -> str:
        """``HOST pid N`` of the current holder, as it wrote it; ``""`` when unknown."""
        try:
            return self.path.read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            return ""

    def __exit__(self, *exc: object) -> None:
        try:
            if self._file is not None:
                # Removed while still locked: a waiter that wakes up on this file sees it is gone.
                with contextlib.suppress(OSError):
                    os.unlink(self.path)
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
        take_lock: MachineLock | None = None

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
        lock = MachineLock(db.with_name(db.name + ".lock"))
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


class OneLineTrialFailures(logging.Filter):
    """Optuna logs a failed trial (an error, Ctrl-C) with its traceback before it raises the error
    again; the run then says it once, as the command's ``error:`` line (or ``interrupted``), and
    keeps the traceback in its log file. So Optuna's record keeps its one line, without the trace."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info, record.exc_text = None, None
        return True


def quiet_trial_failures() -> None:
    """Filter Optuna's trial-failure records (:class:`OneLineTrialFailures`), once per process."""
    logger = logging.getLogger("optuna.study._optimize")
    if not any(isinstance(f, OneLineTrialFailures) for f in logger.filters):
        logger.addFilter(OneLineTrialFailures())


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

    quiet_trial_failures()
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
