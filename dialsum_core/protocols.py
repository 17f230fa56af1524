"""The interfaces plugins implement, as typing protocols (no runtime cost, no heavy imports).

The core never calls a model directly; run modes do, through these methods. Keeping them small is
what lets a third-party model loader, ensemble or augmenter drop into every run mode.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs

if TYPE_CHECKING:
    from dialsum_core.context import RunContext
    from dialsum_core.data import Example


@runtime_checkable
class Model(Protocol):
    """A summariser that can be trained, asked for summaries and saved."""

    def fit(
        self, train: Sequence[Example], valid: Sequence[Example], ctx: RunContext, output_dir: Path
    ) -> dict[str, Any]:
        """Train; returns a history/metrics mapping. ``output_dir`` receives checkpoints."""
        ...

    def generate(self, dialogues: Sequence[str], ctx: RunContext) -> list[str]:
        """One summary per dialogue, in order, using ``ctx.recipe.generation``."""
        ...

    def save(self, path: Path) -> None: ...


@runtime_checkable
class ModelLoader(Protocol):
    """Creates models: fresh ones to train, or trained ones from a folder."""

    def build(self, ctx: RunContext, train: Sequence[Example]) -> Model: ...

    def load(self, ctx: RunContext, path: Path) -> Model: ...


@runtime_checkable
class RunMode(Protocol):
    def run(self, ctx: RunContext) -> dict[str, Any]:
        """Do the work; the returned mapping becomes ``results.json``."""
        ...


@attrs.frozen
class Candidate:
    """One candidate summary for one dialogue, with where it came from."""

    text: str
    source: str
    score: float | None = None


@runtime_checkable
class Ensemble(Protocol):
    """Combines several sources (models, folds, TTA variants) into one summary per dialogue.

    ``level`` is ``"output"`` for strategies that choose among finished candidate summaries, or
    ``"token"`` for strategies that decode jointly (then :meth:`generate` is used instead of
    :meth:`combine`). Run modes call :meth:`fit` first, with validation candidates and references,
    for strategies that learn weights or a scorer; it may do nothing.
    """

    level: str

    def fit(
        self,
        candidates: Sequence[Sequence[Candidate]],
        references: Sequence[Sequence[str]],
        ctx: RunContext,
    ) -> dict[str, Any]:
        """Learn from validation data; returns what was learnt (weights...) for results.json."""
        ...

    def combine(self, candidates: Sequence[Sequence[Candidate]], ctx: RunContext) -> list[str]:
        """Pick or build one summary per dialogue from its candidates."""
        ...


@runtime_checkable
class TokenEnsemble(Ensemble, Protocol):
    def generate(
        self, models: Sequence[Model], weights: Sequence[float], dialogues: Sequence[str], ctx: RunContext
    ) -> list[str]:
        """Decode jointly with every model (they must share a tokenizer)."""
        ...


@attrs.frozen
class Variant:
    """An augmented dialogue and the function that maps its summary back to the original's terms."""

    dialogue: str
    restore: Callable[[str], str] = attrs.field(default=lambda s: s)
    name: str = ""


@runtime_checkable
class Augmenter(Protocol):
    def augment(self, fname: str, dialogue: str, n: int, seed: int) -> list[Variant]:
        """Up to ``n`` variants of ``dialogue`` (deterministic for a given ``seed``)."""
        ...


@runtime_checkable
class Metric(Protocol):
    def compute(self, predictions: Sequence[str], references: Sequence[Sequence[str]]) -> dict[str, float]:
        """Corpus-level scores; ``references[i]`` holds every reference of dialogue ``i``."""
        ...
