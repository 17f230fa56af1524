"""Fixtures every test folder of the repository shares (``tests/`` and each plugin's ``tests/``)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
SHARED_DATA = Path(os.environ.get("DIALSUM_SHARED_DATA", ROOT.parent / "shared" / "data"))


def pytest_configure(config: pytest.Config) -> None:
    """The Ctrl-C tests send SIGINT to a ``dialsum`` process and expect a ``KeyboardInterrupt``. A test run
    started as a background job of a shell without job control (``make test &`` in a script, some CI
    runners) inherits SIGINT ignored, as would every process it starts, so each of those tests waited
    out its plugin's two-minute sleep and failed. A signal caught here is reset to its default by exec:
    the processes the tests start get Python's own handler, as from a terminal."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def shared_data() -> Path:
    """The real Korean data beside the repository (``../shared/data``); the test skips without it."""
    folder = SHARED_DATA / "dialogsum-ko"
    if not (folder / "dev.csv").exists():
        pytest.skip(f"real data not found at {folder} (set DIALSUM_SHARED_DATA to its parent)")
    return folder
