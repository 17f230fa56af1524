"""Fold assignment that keeps every dialogue in exactly one fold and spreads topics evenly.

Identical dialogues (the same text under two ``fname``\\s, as in augmented or re-translated data)
form one group, so a dialogue never sits in a training fold and its own validation fold at once.
Groups are dealt topic by topic after a seeded shuffle, each to the fold that has the fewest of
that topic, then the fewest dialogues: every topic with at least ``k`` groups is spread over all
folds, rarer topics are pooled and dealt the same way, and fold sizes differ by at most the size of
one group.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from dialsum_core.data import Example
from dialsum_core.errors import DialsumError


def dialogue_groups(examples: Sequence[Example]) -> list[list[int]]:
    """The indices of each distinct dialogue's examples (text compared without its spacing), in order.

    These are what the folds deal, so there can be at most as many folds as groups: the recipe
    check (``modes.kfold.k_folds``) counts them with this same function, on the splits the data
    plugin gives, so that it refuses exactly the recipes whose run would be refused here.
    """
    groups: dict[str, list[int]] = {}
    for i, e in enumerate(examples):
        groups.setdefault(" ".join(e.dialogue.split()), []).append(i)
    return list(groups.values())


def assign_folds(examples: Sequence[Example], k: int, seed: int, stratify: bool = True) -> list[int]:
    """The fold (0..k-1) of each example; ``k >= 2`` (the rule of ``modes.kfold.k_folds``)."""
    groups = dialogue_groups(examples)
    if k > len(groups):
        raise DialsumError(f"modes.kfold.k_folds: {k} folds but only {len(groups)} distinct training dialogues")
    buckets: dict[str, list[list[int]]] = {}
    for members in groups:
        topic = examples[members[0]].topic if stratify else ""
        buckets.setdefault(topic, []).append(members)
    if stratify:
        rare = [g for t, gs in buckets.items() if len(gs) < k for g in gs]
        buckets = {t: gs for t, gs in buckets.items() if len(gs) >= k}
        if rare:
            buckets["\0rare"] = rare
    rng = random.Random(seed)
    fold_of = [0] * len(examples)
    sizes = [0] * k
    for topic in sorted(buckets):
        members = buckets[topic]
        rng.shuffle(members)
        seen = [0] * k  # this topic's groups per fold: fill every fold once before any twice
        for group in members:
            target = min(range(k), key=lambda f: (seen[f], sizes[f], rng.random()))
            for i in group:
                fold_of[i] = target
            sizes[target] += len(group)
            seen[target] += 1
    return fold_of
