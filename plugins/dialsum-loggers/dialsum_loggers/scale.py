"""ROUGE on the leaderboard's scale wherever people read results.

Scores are computed and stored on the 0-1 scale (``results.json``, ``metrics.jsonl``, the logs),
which is what code comparing or averaging them wants. The competition's leaderboard shows the same
numbers x100 with two decimals; the console's final table and the Markdown report do the same, so
that a number read there compares with the leaderboard without a mental multiplication (0.2287 next
to a leaderboard's 41.2 reads as a broken model).
"""

from __future__ import annotations

from typing import Any

#: What a run optimises when no trial event names its study's metric (a run without a study).
DEFAULT_OBJECTIVE = "rouge_mean"
#: Result keys (their last ``.``-segment, less an ``eval_``/``valid_``/``test_`` prefix) that hold ROUGE F1.
ROUGE_KEYS = frozenset({"rouge1", "rouge2", "rougeL", "rougeLsum", "rouge_mean", "best_rouge"})
#: Keys that hold the value of an objective (Optuna): ROUGE when the study's ``metric`` is (the trial
#: events name it).
OBJECTIVE_KEYS = frozenset({"best_value", "value"})
_PREFIXES = ("eval_", "valid_", "test_")
#: One line that says so next to every table that scales.
NOTE = "ROUGE is shown x100 (the leaderboard's scale); results.json and metrics.jsonl keep 0-1."


def is_rouge(key: str, objective: str = DEFAULT_OBJECTIVE) -> bool:
    """Whether the result named ``key`` is a ROUGE F1 (``objective``: the study's optimised metric)."""
    name = str(key).rsplit(".", 1)[-1]
    for prefix in _PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix):]
            break
    if name in OBJECTIVE_KEYS:
        return is_rouge(objective, objective="")
    return name in ROUGE_KEYS


def leaderboard(value: float) -> str:
    """``0.23456`` -> ``"23.46"``."""
    return f"{100 * float(value):.2f}"


def shown(key: str, value: Any, objective: str = DEFAULT_OBJECTIVE) -> Any:
    """``value`` as a report shows it: ROUGE numbers x100 as text, anything else unchanged."""
    if isinstance(value, int | float) and not isinstance(value, bool) and is_rouge(key, objective):
        return leaderboard(value)
    return value
