"""Metrics for dialsum: ROUGE-1/2/L F1 on Korean morphemes, and BLEU.

The public API other plugins may use, versioned with this distribution. Importing the package
stays cheap (its entry point is imported by every ``dialsum`` command): the engine loads on first use.

* :class:`RougeEngine` - ROUGE of many predictions against their references, and pairwise between
  candidates, with one token cache (ensembles select by ROUGE agreement with it);
* :func:`support` and :func:`mbr_select` - weighted minimum-Bayes-risk choice from a pairwise matrix
  (a higher weight never lowers a candidate's rank); :func:`consensus` - agreement with the others;
* :func:`output_stats` and :func:`is_degenerate` - the share of distinct predictions and their mean
  length, to tell a collapsed model (the same summary for every dialogue) from a working one;
  :func:`quiet_degenerate` - silence the metric's degenerate-output warning while scoring predictions
  whose degeneracy the caller says its own way (a training's evaluations, an ensemble's search);
  :func:`predictions_of` - name whose predictions are scored, in that warning;
* :data:`MEASURES` - ``("rouge1", "rouge2", "rougeL")``, the order of the F1 measures along the last
  axis of every array :class:`RougeEngine` returns: index those arrays with ``MEASURES.index(name)``;
* :func:`gives` and :func:`score_tags` - which scores the metrics of ``run.metrics`` declare (tags
  ``score:KEY``), so that a plugin that selects by a score can refuse a recipe that cannot give it;
  :func:`percent_scores` - those the installed metrics declare as fractions people read x100 (tags
  ``percent:KEY``, :data:`PERCENT_TAG`), which this plugin also answers to ``dialsum_percent_scores``,
  the hook it declares (:mod:`dialsum_metrics.hooks`) for the plugins that show results;
  :func:`selection_problem` - that refusal as one line, the same wording for every plugin;
  :data:`SELECTION_SCORE` - the score every plugin selects by (``rouge_mean``);
* :data:`TOKENIZERS` - the tokenizers ROUGE can split on (``auto``, ``kiwi``, ``whitespace``), for
  options that name one (the ensembles' agreement measure);
* :func:`kiwi` - the process's one kiwipiepy analyser (built on first use), for plugins that split
  Korean too: each analyser takes about 2 s to build and warm up and 400 MiB of memory.
"""

from __future__ import annotations

from typing import Any

from dialsum_metrics.conventions import TOKENIZERS
from dialsum_metrics.declared import (
    PERCENT_TAG,
    SCORE_TAG,
    SELECTION_SCORE,
    gives,
    percent_scores,
    score_tags,
    selection_problem,
)
from dialsum_metrics.outputs import OutputStats, is_degenerate, output_stats, predictions_of, quiet_degenerate
from dialsum_metrics.rouge import MEASURES
from dialsum_metrics.tokenize import kiwi

__all__ = ["MEASURES", "PERCENT_TAG", "SCORE_TAG", "SELECTION_SCORE", "TOKENIZERS", "OutputStats", "RougeEngine",
           "consensus", "gives", "is_degenerate", "kiwi", "mbr_select", "output_stats", "percent_scores",
           "predictions_of", "quiet_degenerate", "score_tags", "selection_problem", "support"]
_ENGINE = ("RougeEngine", "consensus", "mbr_select", "support")


def __getattr__(name: str) -> Any:
    if name in _ENGINE:
        from dialsum_metrics import engine

        return getattr(engine, name)
    raise AttributeError(name)
