"""Entry point: the ``[data]`` section and the reader that answers ``dialsum_load_data``."""

from __future__ import annotations

from typing import Any

from dialsum_core import hookimpl
from dialsum_data.sections import DataSection, check_data, data_uses


@hookimpl
def dialsum_register_sections(register: Any) -> None:
    register("data", DataSection, description="The dialogue CSV files and their clean-up", check=check_data,
             uses=data_uses)


@hookimpl
def dialsum_load_data(recipe: Any, quiet: bool) -> Any:
    from dialsum_data.splits import load_splits

    return load_splits(recipe, quiet=quiet)
