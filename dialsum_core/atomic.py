"""Atomic file writes: a crash leaves the old file or the new one, never half of either.

The new content goes to a temporary file beside the target, renamed over it when complete (several
files that must change together are made in a :func:`temporary_folder` first). A process killed
while writing (SIGKILL, power loss) cannot remove its temporary file or folder, so the name carries
the writer's host and process id, and :func:`remove_stale_temporaries` (called when an experiment
folder is opened again, or where a command writes) deletes those whose writer no longer runs.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import os
import re
import shutil
import signal
import socket
import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_open(
    path: Path, mode: str = "w", encoding: str | None = "utf-8", newline: str | None = None
) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; rename it over ``path`` only if the block succeeds. A
    symbolic link is written through, as editors save: its target is replaced, the link stays."""
    given = Path(path)
    given.parent.mkdir(parents=True, exist_ok=True)
    path = Path(os.path.realpath(given))
    if not path.parent.is_dir():  # a link into a folder that is gone (a disk not mounted): never made here
        raise FileNotFoundError(errno.ENOENT, f"it links to {path}, whose folder does not exist", str(given))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".{_writer()}{TMP_SUFFIX}", dir=path.parent)
    # mkstemp creates 0600; the file must end with the mode a plain open() would give (or keep its own)
    with contextlib.suppress(OSError):
        os.chmod(tmp, path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_umask())
    binary = "b" in mode
    try:
        with os.fdopen(fd, mode, encoding=None if binary else encoding, newline=None if binary else newline) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


TMP_SUFFIX = ".tmp"


def _umask() -> int:
    """The process's umask (reading it means setting it: put it straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _host() -> str:
    return re.sub(r"[^0-9A-Za-z_]", "_", socket.gethostname())


def _writer() -> str:
    """``host-pid`` of this process, as written into its temporary files' names."""
    return f"{_host()}-{os.getpid()}"


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return False  # called before this process writes anything: a namesake's leftover
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


@contextlib.contextmanager
def temporary_folder(parent: Path, prefix: str) -> Iterator[Path]:
    """A new hidden folder in ``parent`` to make files in before they are moved into place, removed
    with what is left in it when the block ends, however it ends (Ctrl-C too). It is named for this
    writer as its temporary files are, and has the mode a plain ``mkdir`` gives (not ``mkdtemp``'s
    0700): it may be renamed into place as it is."""
    path = Path(parent) / f".{prefix}-{os.urandom(4).hex()}.{_writer()}{TMP_SUFFIX}"
    try:
        path.mkdir()
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def remove_stale_temporaries(folder: Path, *, recursive: bool = True) -> list[Path]:
    """Delete the temporary files and folders in ``folder`` (and below it, when ``recursive``) left
    by writers of this host that are gone.

    A temporary file of a process that still runs (a parallel job writing into the same folder)
    or of another machine (a shared disk) is left alone.
    """
    host = _host()
    removed = []
    for path in list((Path(folder).rglob if recursive else Path(folder).glob)(f".*{TMP_SUFFIX}")):
        writer_host, _, pid = path.name[: -len(TMP_SUFFIX)].rpartition(".")[2].rpartition("-")
        if writer_host == host and pid.isdigit() and not _running(int(pid)):
            with contextlib.suppress(FileNotFoundError):
                shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
                removed.append(path)
    return removed


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait for the block (a few renames that must all happen or none): one that
    arrives meanwhile reaches the handler that was there, as the block ends. Ignoring it instead would
    lose a scheduler's stop; a handler can be set only in the main thread, elsewhere the block runs as is."""
    arrived: list[int] = []
    main = threading.current_thread() is threading.main_thread()
    held = [(s, h) for s in (signal.SIGINT, signal.SIGTERM)
            if main and (h := signal.getsignal(s)) not in (signal.SIG_IGN, None)]
    for signum, _ in held:
        signal.signal(signum, lambda received, _frame: arrived.append(received))
    try:
        yield
    finally:
        for signum, handler in held:
            signal.signal(signum, handler)
        for signum in dict.fromkeys(arrived):
            signal.raise_signal(signum)


def atomic_write_text(path: Path, text: str) -> Path:
    with atomic_open(path) as fh:
        fh.write(text)
    return Path(path)


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    with atomic_open(path, "wb") as fh:
        fh.write(data)
    return Path(path)


def atomic_write_json(path: Path, data: Any) -> Path:
    return atomic_write_text(path, json.dumps(data, ensure_ascii=False, indent=2, default=_json_default) + "\n")


def atomic_write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return atomic_write_text(path, buf.getvalue())


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):  # numpy / torch scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
