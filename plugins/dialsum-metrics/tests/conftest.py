"""Fixtures of the metrics tests: the real DialogSum-ko dev data, when it is there."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SHARED_DATA = Path(os.environ.get("DIALSUM_SHARED_DATA", ROOT.parent / "shared" / "data")) / "dialogsum-ko"


@pytest.fixture(scope="session")
def dev_pairs() -> list[tuple[str, str, str]]:
    """``(dialogue, summary, alt_summary)`` of the 400 dev dialogues (second translation as a second reference)."""
    from dialsum_data import load_csv

    dev_path, alt_path = SHARED_DATA / "dev.csv", SHARED_DATA / "dev_alt_translation.csv"
    if not (dev_path.is_file() and alt_path.is_file()):
        pytest.skip(f"real data not found at {SHARED_DATA} (set DIALSUM_SHARED_DATA to its parent)")
    alt = {e.fname: e.summary for e in load_csv(alt_path)}
    return [(e.dialogue, e.summary, alt[e.fname]) for e in load_csv(dev_path)]
