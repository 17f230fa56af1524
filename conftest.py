"""Fixtures every test folder of the repository shares (``tests/`` and each plugin's ``tests/``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
SHARED_DATA = Path(os.environ.get("DIALSUM_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture
def shared_data() -> Path:
    """The real Korean data beside the repository (``../shared/data``); the test skips without it."""
    folder = SHARED_DATA / "dialogsum-ko"
    if not (folder / "dev.csv").exists():
        pytest.skip(f"real data not found at {folder} (set DIALSUM_SHARED_DATA to its parent)")
    return folder
