"""Shared helpers for the project's own tests (the reusable fixtures live in dialsum_core.testing)."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make_dist(site: Path, dist: str, version: str, module: str, source: str, entry_points: dict[str, str]) -> None:
    """Write an installed distribution (module + .dist-info with entry points) into ``site``."""
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n", encoding="utf-8")
    lines = "\n".join(f"{k} = {v}" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(f"[dialsum]\n{lines}\n", encoding="utf-8")


def run_cli(args: list[str], *, site: Path | None = None, cwd: Path | None = None, env: dict | None = None,
            timeout: float = 300):
    import subprocess

    full_env = {**os.environ, **(env or {})}
    if site is not None:
        full_env["PYTHONPATH"] = os.pathsep.join([str(site), full_env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "dialsum_core.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        env=full_env,
        timeout=timeout,
    )
