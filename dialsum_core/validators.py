"""attrs validators for recipe sections and plugin options, shared by the core and every plugin.

Each raises ``ValueError`` with a message that reads well after the key the recipe error names
(``SECTION.KEY: must be > 0, got 0``). Comparisons are written so that NaN is refused too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from attrs import validators as _v

Validator = Callable[[Any, Any, Any], None]


def positive(_inst: Any, _attr: Any, value: float) -> None:
    if not value > 0:
        raise ValueError(f"must be > 0, got {value!r}")


def non_negative(_inst: Any, _attr: Any, value: float) -> None:
    if not value >= 0:
        raise ValueError(f"must be >= 0, got {value!r}")


def finite(_inst: Any, _attr: Any, value: float) -> None:
    """Neither infinite nor NaN, where ``inf`` means nothing (a learning rate, a weight of a vote)."""
    if not math.isfinite(value):
        raise ValueError(f"must be a finite number, got {value!r}")


def fraction(_inst: Any, _attr: Any, value: float) -> None:
    """A share in ``[0, 1)``: a hold-out, a warm-up, a smoothing factor."""
    if not 0 <= value < 1:
        raise ValueError(f"must be in [0, 1), got {value!r}")


def at_least(n: float) -> Validator:
    def check(_inst: Any, _attr: Any, value: float) -> None:
        if not value >= n:
            raise ValueError(f"must be >= {n}, got {value!r}")

    return check


def between(low: int, high: int) -> Validator:
    """A value in ``[low, high]``: a range a library enforces (a seed must fit in 32 bits)."""
    def check(_inst: Any, _attr: Any, value: float) -> None:
        if not low <= value <= high:
            raise ValueError(f"must be in [{low}, {high}], got {value!r}")

    return check


def one_of(values: Iterable[Any]) -> Validator:
    """``attrs.validators.in_``: the recipe error lists the allowed values."""
    return _v.in_(tuple(values))  # type: ignore[no-any-return]


def each(validator: Validator) -> Validator:
    """Apply ``validator`` to every element of a list."""
    def check(inst: Any, attr: Any, value: list[Any]) -> None:
        for item in value:
            validator(inst, attr, item)

    return check
