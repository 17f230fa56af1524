"""Metrics for dialsum: ROUGE-1/2/L F1 on Korean morphemes, and BLEU.

Only pure-Python helpers are exported here (the package is imported with its entry point, which
must stay cheap); the scorers live in :mod:`dialsum_metrics.rouge` and :mod:`dialsum_metrics.bleu`.
"""

from dialsum_metrics.outputs import OutputStats, is_degenerate, output_stats

__all__ = ["OutputStats", "is_degenerate", "output_stats"]
