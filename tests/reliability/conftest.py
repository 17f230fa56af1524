"""Fixtures of the reliability suite: a shared plugin manager and a tally of what was exercised.

Set ``DIALSUM_RELIABILITY_REPORT=path.json`` to write the tally when the session ends; the table in
``docs/reliability.md`` is filled from it. ``DIALSUM_FUZZ_EXAMPLES`` (Python API recipes),
``DIALSUM_FUZZ_CLI_EXAMPLES`` (CLI subprocesses) and ``DIALSUM_FUZZ_DATA_EXAMPLES`` (CSV files) scale the
fuzzing up or down.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from dialsum_core.manager import Plugins, build_plugins

REPORT_ENV = "DIALSUM_RELIABILITY_REPORT"


def env_int(name: str, default: int) -> int:
    """A positive count from the environment (how CI and a long local run share one test)."""
    raw = os.environ.get(name, "").strip()
    return max(1, int(raw)) if raw else default


@pytest.fixture(scope="session")
def tally() -> Iterator[Counter[str]]:
    counts: Counter[str] = Counter()
    yield counts
    target = os.environ.get(REPORT_ENV)
    if target and counts:
        path = Path(target)
        old = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        old.update(dict(sorted(counts.items())))
        path.write_text(json.dumps(old, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def plugins() -> Plugins:
    """Every installed plugin; read-only in these tests, so one manager serves a whole module."""
    return build_plugins()
