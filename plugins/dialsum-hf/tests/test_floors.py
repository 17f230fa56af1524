"""The declared version floors are the versions CI installs in its lowest environment.

``make test-lowest`` installs with ``constraints-lowest.txt``; this test keeps that file and every
plugin's ``>=`` floor equal, so raising or lowering a floor without testing it fails here.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
#: The libraries whose floors the lowest environment pins.
PINNED = ("torch", "transformers", "tokenizers", "safetensors", "accelerate", "peft", "bitsandbytes", "optuna")


def _pins() -> dict[str, str]:
    out = {}
    for line in (ROOT / "constraints-lowest.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            out[name.strip().lower()] = version.strip()
    return out


def _floors() -> dict[str, dict[str, str]]:
    """library -> {pyproject: floor} over the plugins that depend on it (extras included)."""
    found: dict[str, dict[str, str]] = {}
    for path in sorted(ROOT.glob("plugins/*/pyproject.toml")):
        project = tomllib.loads(path.read_text(encoding="utf-8"))["project"]
        deps = list(project.get("dependencies", []))
        deps += [d for extra in project.get("optional-dependencies", {}).values() for d in extra]
        for dep in deps:
            m = re.match(r"^\s*([A-Za-z0-9_.-]+)(?:\[[^]]*\])?\s*>=\s*([0-9][^,;\s]*)", dep)
            if m and m.group(1).lower() in PINNED:
                found.setdefault(m.group(1).lower(), {})[path.parent.name] = m.group(2)
    return found


def _key(version: str) -> tuple[int, ...]:
    parts = [int(x) for x in version.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def test_the_hf_floors_are_the_pinned_versions() -> None:
    pins, floors = _pins(), _floors()
    assert set(pins) == set(PINNED)
    for name in ("torch", "transformers", "tokenizers", "safetensors", "accelerate", "peft", "bitsandbytes"):
        assert _key(floors[name]["dialsum-hf"]) == _key(pins[name]), (name, floors[name], pins[name])


def test_every_plugin_admits_the_pinned_versions() -> None:
    """A plugin whose floor lies below the pin (optuna in dialsum-modes, see constraints-lowest.txt) is
    tested at the pin only; one whose floor lies above it would not install at all."""
    pins = _pins()
    for name, by_plugin in _floors().items():
        for plugin, floor in by_plugin.items():
            assert _key(floor) <= _key(pins[name]), (plugin, name, floor, pins[name])
