"""Percentages on the leaderboard's scale wherever people read results.

Scores are computed and stored on the 0-1 scale (``results.json``, ``metrics.jsonl``, the logs),
which is what code comparing or averaging them wants. The competition's leaderboard shows ROUGE x100
with two decimals; the console's final table and the Markdown report show every score that is such
a percentage the same way, so that a number read there compares with the leaderboard without a
mental multiplication (0.2287 next to a leaderboard's 41.2 reads as a broken model).

Which keys are percentages is not known here: the plugins that give the scores say so, answering
``dialsum_percent_scores`` (a hook dialsum-metrics declares and answers from each metric's
registration; a third party's metric declares its own). Without an answer nothing is scaled, and a
key no plugin claims keeps its own scale (a length, a loss, a share of distinct predictions).

A study's objective value (Optuna's best value) is on the scale of the score the study optimises,
which its trial events name; which result keys hold such a value is the run modes' to say, answering
``dialsum_objective_keys`` (a hook dialsum-modes declares, as this plugin does not depend on it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import attrs

#: The question of which keys are percentages (declared by dialsum-metrics where it is installed).
PERCENT_HOOK = "dialsum_percent_scores"
#: The question of which keys hold a study's objective value (declared by dialsum-modes where installed).
OBJECTIVE_HOOK = "dialsum_objective_keys"
_PREFIXES = ("eval_", "valid_", "test_")


def answers(plugins: Any, hook: str, /, **kwargs: Any) -> frozenset[str]:
    """The keys the installed plugins give to the question ``hook``; none without plugins, or where no
    installed plugin declares the question. Each plugin is asked on its own: one whose answer fails is
    named in a warning and the others' answers stand (a table shown at a scale off by one plugin's
    keys beats no table)."""
    ask = getattr(plugins.hook, hook, None) if plugins is not None else None
    found: set[str] = set()
    for impl in ask.get_hookimpls() if ask is not None else ():
        try:
            found.update(str(key) for key in impl.function(**{a: kwargs[a] for a in impl.argnames}) or ())
        except Exception as exc:
            logging.getLogger("dialsum").warning("%s could not answer %s: %s: %s", plugins.origin(impl.plugin_name),
                                                 hook, type(exc).__name__, exc)
    return frozenset(found)


def percent_scores(plugins: Any) -> frozenset[str]:
    """The keys the installed plugins declare as percentages."""
    return answers(plugins, PERCENT_HOOK, plugins=plugins)


def bare(key: str) -> str:
    """The score a result's key names: its last ``.``-segment, less an ``eval_``/``valid_``/``test_`` prefix."""
    name = str(key).rsplit(".", 1)[-1]
    for prefix in _PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def leaderboard(value: float) -> str:
    """``0.23456`` -> ``"23.46"``."""
    return f"{100 * float(value):.2f}"


@attrs.frozen
class Scale:
    """Which results a table shows x100."""

    #: The scores declared as percentages (:func:`percent_scores`).
    percent: frozenset[str] = frozenset()
    #: The study's metric, as its trial events name it; ``""``: no study, or one that names none.
    objective: str = ""
    #: The keys that hold the objective's value (``dialsum_objective_keys``).
    objective_keys: frozenset[str] = frozenset()

    @classmethod
    def asking(cls, plugins: Any, objective: str = "") -> Scale:
        """The scale the installed ``plugins`` declare, for a run whose study optimises ``objective``."""
        return cls(percent_scores(plugins), objective, answers(plugins, OBJECTIVE_HOOK))

    def score_of(self, key: str) -> str:
        """The score ``key`` holds: the study's metric for an objective's value."""
        name = bare(key)
        return bare(self.objective) if name in self.objective_keys else name

    def is_percent(self, key: str) -> bool:
        return self.score_of(key) in self.percent

    def shown(self, key: str, value: Any) -> Any:
        """``value`` as a table shows it: a percentage x100 as text, anything else unchanged."""
        if isinstance(value, int | float) and not isinstance(value, bool) and self.is_percent(key):
            return leaderboard(value)
        return value

    def note(self, keys: Iterable[str]) -> str:
        """The line beside a table of ``keys`` that says which are shown x100; ``""`` when none is."""
        scaled = dict.fromkeys(self.score_of(k) for k in keys if self.is_percent(k))
        if not scaled:
            return ""
        return (f"Shown x100 (the leaderboard's scale): {', '.join(scaled)}; results.json and metrics.jsonl "
                "keep 0-1.")
