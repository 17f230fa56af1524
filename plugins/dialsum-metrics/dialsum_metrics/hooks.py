"""The question the metrics answer: which result keys are percentages (:func:`dialsum_percent_scores`).

Declared here, by the plugin whose metrics declare their scores, and added to the plugin manager
through ``dialsum_add_hookspecs``: a plugin that shows results (the loggers) asks it without
depending on this one, and where it is not installed nothing answers and nothing is shown x100.
"""

from __future__ import annotations

from typing import Any

from dialsum_core.hookspecs import hookspec


@hookspec
def dialsum_percent_scores(plugins: Any) -> list[str]:
    """The result keys that hold a fraction (0-1) people read x100, as the leaderboard shows ROUGE.

    dialsum-metrics answers with the scores every installed metric tags ``percent:KEY``
    (``dialsum_metrics.score_tags(..., percent=...)``); a plugin that writes a result of its own on
    such a score's scale (dialsum-modes' ``best_rouge``) answers with its key. Keys are bare names:
    a reader matches them against the last ``.``-segment of a result's key, less a split prefix
    (``valid.rouge1``, ``eval_rouge_mean``). Records keep 0-1; only what people read is scaled.

    .. versionadded:: 0.1
    """
