"""Source names and the weights that go with them.

A candidate's ``source`` is a ``/``-separated path that starts with the model name of
``run.models``: ``kobart``, ``kobart/fold2``, ``kobart/tta:reorder:1``,
``kobart/fold2/tta:mask:3``. A weight given for a prefix applies to every source below it, so a
weight per model covers its folds and TTA variants, and a weight learnt for ``kobart/fold2`` covers
that fold's TTA variants.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def prefixes(source: str) -> list[str]:
    """``a/b/c`` -> ``["a/b/c", "a/b", "a"]`` (most specific first)."""
    parts = source.split("/")
    return ["/".join(parts[:k]) for k in range(len(parts), 0, -1)]


def lookup(source: str, table: Mapping[str, float], default: float = 1.0) -> float:
    """The weight of the most specific prefix of ``source`` found in ``table``."""
    for key in prefixes(source):
        if key in table:
            return float(table[key])
    return default


def given_weights(ctx: Any) -> dict[str, float]:
    """``run.ensemble_weights`` keyed by name.

    Run modes that ensemble several sources of one model (folds) set ``ctx.tags["sources"]`` to the
    source names and give one weight per source; otherwise the weights follow ``run.models``.
    """
    weights = list(ctx.recipe.run.ensemble_weights)
    if not weights:
        return {}
    names: Sequence[str] = ctx.tags.get("sources") or ()
    if len(names) != len(weights):
        names = ctx.recipe.run.models
    if len(names) != len(weights):
        from dialsum_core.errors import RecipeError

        raise RecipeError([f"{ctx.recipe.where('run.ensemble_weights')}: run.ensemble_weights: "
                           f"{len(weights)} weights for {len(names)} models {list(names)}"])
    return {str(n): float(w) for n, w in zip(names, weights, strict=True)}
