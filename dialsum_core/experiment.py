"""The experiment folder: one place per run, with the layout of the seed document.

```
experiments/{name}/
  config.toml  results.json           (the core)
  checkpoints/  predictions/  visualizations/  ...   (whatever the plugins write)
```

Every write goes through a temporary file and a rename, and every relative path handed to
:meth:`Experiment.path` is checked to stay inside the folder, so a recipe cannot make dialsum write
anywhere else.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from dialsum_core.atomic import atomic_write_csv, atomic_write_json, atomic_write_text, remove_stale_temporaries
from dialsum_core.errors import DialsumError

SUBDIRS = ("checkpoints", "predictions", "visualizations")
#: The files the core writes in every experiment (or job) folder; no plugin may write its own there.
CONFIG, RESULTS = "config.toml", "results.json"
_UNSAFE = re.compile(r"[^0-9A-Za-z_.\-]+")


def default_name(mode: str, model: str, now: datetime | None = None) -> str:
    """``{mode}_{model}_{timestamp}``, as the seed names experiments."""
    stamp = (now or datetime.now()).strftime("%Y%m%d_%H%M%S")
    return f"{safe_name(mode)}_{safe_name(model)}_{stamp}"


def safe_name(text: str) -> str:
    cleaned = _UNSAFE.sub("_", text.replace("-", "_")).strip("._")
    return cleaned or "run"


class Experiment:
    """Paths and atomic writers for one experiment folder."""

    def __init__(self, root: Path):
        self.root = Path(root)

    @classmethod
    def create(cls, output_dir: Path, name: str) -> Experiment:
        if not name or name in (".", "..") or "/" in name or "\\" in name:
            raise DialsumError(f"run.name: {name!r} is not a valid experiment name (no slashes)")
        exp = cls(Path(output_dir) / name)
        try:
            for sub in SUBDIRS:
                (exp.root / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # a file in the way, no permission, a full disk: the user's to fix
            raise DialsumError(f"run.output_dir: cannot create the experiment folder {exp.root}: "
                               f"{exc.strerror or exc}") from None
        remove_stale_temporaries(exp.root)  # left by a run of this experiment that was killed mid-write
        return exp

    def path(self, relative: str | Path) -> Path:
        """``relative`` inside the folder; anything that would escape it is refused."""
        rel = Path(relative)
        target = (self.root / rel).resolve()
        root = self.root.resolve()
        if rel.is_absolute() or (target != root and root not in target.parents):
            raise DialsumError(f"{relative}: refusing to write outside the experiment folder {self.root}")
        return self.root / rel

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def predictions(self) -> Path:
        return self.root / "predictions"

    @property
    def visualizations(self) -> Path:
        return self.root / "visualizations"

    def write_text(self, relative: str | Path, text: str) -> Path:
        return self._write(atomic_write_text, relative, text)

    def write_json(self, relative: str | Path, data: Any) -> Path:
        return self._write(atomic_write_json, relative, data)

    def write_csv(self, relative: str | Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
        return self._write(atomic_write_csv, relative, header, rows)

    def _write(self, writer: Callable[..., Path], relative: str | Path, *content: Any) -> Path:
        return writer(self.path(relative), *content)

    def read_json(self, relative: str | Path) -> Any:
        import json

        p = self.path(relative)
        return json.loads(p.read_text(encoding="utf-8")) if p.exists() else None


class ReplicaExperiment(Experiment):
    """The experiment folder as seen by a process other than the main one: readable, never written.

    Every process runs the same run-mode code (collectives need that); their writes through
    ``ctx.experiment`` do nothing here, so each file is written once, by the main process.
    """

    def _write(self, writer: Callable[..., Path], relative: str | Path, *content: Any) -> Path:
        return self.path(relative)
