"""Metrics for dialsum: ROUGE-1/2/L F1 on Korean morphemes, and BLEU.

The public API other plugins may use (ensembles select by ROUGE agreement with it); it is versioned
with this distribution and loaded on first use, so importing the package stays cheap:

* :class:`RougeEngine` - ROUGE of many predictions against their references, and pairwise between
  candidates, with one token cache;
* :func:`consensus` and :func:`mbr_select` - minimum-Bayes-risk scores from a pairwise matrix.
"""

from __future__ import annotations

from typing import Any

__all__ = ["RougeEngine", "consensus", "mbr_select"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from dialsum_metrics import engine

        return getattr(engine, name)
    raise AttributeError(name)
