"""The named scoring conventions of ``[metrics.rouge]`` and how a profile fixes them.

Cheap to import (no numpy, no kiwi): the entry-point module validates recipe options with it.

ROUGE numbers published for the same system differ by points depending on choices that papers
rarely state. Each choice is a named option here so that a number can always say how it was made;
``docs/metrics.md`` gives the measured effect of each on the DialogSum-ko dev set.
"""

from __future__ import annotations

#: ``kiwi`` (Korean morphemes), ``whitespace``, or ``auto`` (kiwi when either side of a comparison has Hangul).
TOKENIZERS: tuple[str, ...] = ("auto", "kiwi", "whitespace")
#: How the F1 of one prediction against several references becomes one number: the competition
#: averages over references (``mean``); ``max`` keeps the best reference per measure, as
#: ``rouge-score``'s ``score_multi`` does, and is higher by construction.
REFERENCES: tuple[str, ...] = ("mean", "max")
#: ``standard``: the formulas of ``rouge-score`` (Google's reimplementation of ROUGE-1.5.5).
#: ``baseline``: the arithmetic of the ``rouge`` package that the competition's baseline code calls.
PROFILES: tuple[str, ...] = ("standard", "baseline")
#: ``clipped``: an n-gram repeated k times counts min(k_pred, k_ref) times; ``unique``: n-gram sets.
COUNTS: tuple[str, ...] = ("clipped", "unique")
#: ``plain``: one LCS over the whole token sequences; ``summary``: summary-level union LCS over
#: sentences (``rougeLsum``).
ROUGE_L: tuple[str, ...] = ("plain", "summary")

#: The conventions each profile implies, for ``counts`` and ``rouge_l`` left empty.
PROFILE_CONVENTIONS: dict[str, dict[str, str]] = {
    "standard": {"counts": "clipped", "rouge_l": "plain"},
    "baseline": {"counts": "unique", "rouge_l": "summary"},
}


def choose(name: str, value: str, allowed: tuple[str, ...]) -> str:
    """``value`` if it is one of ``allowed``; else the error that names the option and its choices."""
    if value not in allowed:
        raise ValueError(f"unknown {name} {value!r} (expected one of {', '.join(allowed)})")
    return value


def resolve(profile: str, counts: str = "", rouge_l: str = "") -> tuple[str, str]:
    """``(counts, rouge_l)`` in force: the given ones, or the profile's where empty.

    The ``baseline`` profile reproduces one package's arithmetic, so it cannot be combined with a
    convention that package does not have; asking for one is an error rather than a silent mix.
    """
    choose("profile", profile, PROFILES)
    for name, value, allowed in (("counts", counts, COUNTS), ("rouge_l", rouge_l, ROUGE_L)):
        if value:
            choose(name, value, allowed)
    implied = PROFILE_CONVENTIONS[profile]
    if profile == "baseline":
        for key, value in (("counts", counts), ("rouge_l", rouge_l)):
            if value and value != implied[key]:
                raise ValueError(f"{key} = {value!r} conflicts with profile 'baseline', which uses "
                                 f"{implied[key]!r} (the rouge package's arithmetic); leave {key} empty")
    return counts or implied["counts"], rouge_l or implied["rouge_l"]
