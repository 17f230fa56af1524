"""Statistics of a set of predictions that tell a collapsed model from a working one.

A sequence-to-sequence model early in training, or one that has collapsed, writes the same string
for every dialogue. On DialogSum-ko such a constant (``#Person1#은 #Person2#에게 그것에 대해
이야기합니다.``) outscores lead-3, because most reference morphemes are tags, particles, endings and
punctuation that any fluent Korean sentence shares. ROUGE alone therefore cannot tell the two
apart; the share of distinct predictions can, so every ``rouge`` report carries it, and selection
code can refuse degenerate checkpoints with :func:`is_degenerate`.

Pure Python, cheap to import.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections import Counter
from collections.abc import Iterator, Sequence

import attrs

log = logging.getLogger("dialsum")

#: How :func:`warn_if_degenerate`'s line starts (what :func:`quiet_degenerate` drops).
DEGENERATE_WARNING = "degenerate predictions"

#: Below this share of distinct predictions a set of outputs is called degenerate by default: on
#: average every string is repeated at least twice, which no real summarizer does on distinct
#: dialogues, while a collapsed model sits near 1/n.
DEFAULT_THRESHOLD = 0.5


@attrs.frozen
class OutputStats:
    """What a set of predictions looks like, independently of any reference."""

    #: Number of predictions.
    n: int
    #: Number of distinct predictions (after stripping surrounding whitespace).
    distinct: int
    #: Distinct predictions (after stripping surrounding whitespace) over ``n``; 1.0 when n is 0.
    distinct_ratio: float
    #: Share of the predictions equal to the most common one; 0.0 when n is 0.
    top_share: float
    #: Mean length of the predictions in characters (tokenizer-independent).
    mean_length: float
    #: The most common prediction ("" when n is 0).
    most_common: str


def output_stats(predictions: Sequence[str]) -> OutputStats:
    """:class:`OutputStats` of ``predictions``."""
    texts = [p.strip() for p in predictions]
    if not texts:
        return OutputStats(0, 0, 1.0, 0.0, 0.0, "")
    counts = Counter(texts)
    top, top_n = counts.most_common(1)[0]
    return OutputStats(
        n=len(texts),
        distinct=len(counts),
        distinct_ratio=len(counts) / len(texts),
        top_share=top_n / len(texts),
        mean_length=sum(len(t) for t in texts) / len(texts),
        most_common=top,
    )


def is_degenerate(predictions: Sequence[str], threshold: float = DEFAULT_THRESHOLD) -> bool:
    """True when fewer than ``threshold`` of the predictions are distinct (e.g. one string for all).

    Meant for best-checkpoint selection and early stopping: skip a checkpoint whose validation
    outputs are degenerate unless every checkpoint's are. A single prediction is never degenerate.
    """
    if not 0 <= threshold <= 1:
        raise ValueError(f"threshold must be in [0, 1], got {threshold!r}")
    stats = output_stats(predictions)
    return stats.n > 1 and stats.distinct_ratio < threshold


#: Whose predictions are being scored (:func:`predictions_of`), named in :func:`warn_if_degenerate`'s line.
_WHOSE: contextvars.ContextVar[str] = contextvars.ContextVar("dialsum_degenerate_whose", default="")


@contextlib.contextmanager
def predictions_of(name: str) -> Iterator[None]:
    """Name whose predictions are scored inside the block (``scratch/fold2``, ``the ensemble``), so
    that a degenerate-output warning says which of a run's models, folds or ensembles wrote them:
    a k-fold run scores each fold's validation predictions in a row, and four unnamed warnings told
    the reader nothing of where each came from."""
    token = _WHOSE.set(name)
    try:
        yield
    finally:
        _WHOSE.reset(token)


def warn_if_degenerate(predictions: Sequence[str], threshold: float = DEFAULT_THRESHOLD,
                       stats: OutputStats | None = None) -> bool:
    """Log a warning (and return True) when :func:`is_degenerate` holds, naming the repeated output
    (and whose predictions they are, inside :func:`predictions_of`)."""
    stats = stats if stats is not None else output_stats(predictions)
    if stats.n > 1 and stats.distinct_ratio < threshold:
        shown = stats.most_common if len(stats.most_common) <= 80 else stats.most_common[:77] + "..."
        whose = f" of {_WHOSE.get()}" if _WHOSE.get() else ""
        log.warning(DEGENERATE_WARNING + "%s: %d distinct of %d (%.0f%% are %r); ROUGE of such outputs "
                    "does not measure summarization", whose, stats.distinct, stats.n,
                    100 * stats.top_share, shown)
        return True
    return False


@contextlib.contextmanager
def quiet_degenerate() -> Iterator[None]:
    """Drop :func:`warn_if_degenerate`'s warnings while predictions are scored whose degeneracy the
    caller says its own way (or once): the candidate selections of an ensemble's search, predictions
    already scored, a training's evaluations, each of which would repeat the line."""

    def keep(record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(DEGENERATE_WARNING)

    log.addFilter(keep)
    try:
        yield
    finally:
        log.removeFilter(keep)
