"""docs/models.md shows the presets as the code defines them."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialsum_hf.presets import ARCHITECTURES, PRESETS
from dialsum_hf.presets_doc import BEGIN, END, presets_table

PAGE = Path(__file__).resolve().parents[3] / "docs" / "models.md"


def test_every_preset_has_an_architecture() -> None:
    assert set(ARCHITECTURES) == set(PRESETS)


def test_the_presets_table_of_the_docs_matches_presets_py() -> None:
    if not PAGE.is_file():
        pytest.skip(f"{PAGE} is not part of this checkout")
    text = PAGE.read_text(encoding="utf-8")
    assert BEGIN in text and END in text, f"{PAGE}: the presets table markers are missing"
    shown = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert shown == presets_table(), f"{PAGE}: stale presets table; regenerate: python -m dialsum_hf.presets_doc"
    for name in PRESETS:
        assert f"| `{name}` |" in shown


def test_the_prompt_templates_table_of_the_docs_matches_presets_py() -> None:
    """Every named template, ``plain`` (the default of ``hf-causal``) included, as the code writes it."""
    from dialsum_hf.plugin import CausalOptions
    from dialsum_hf.presets import TEMPLATES
    from dialsum_hf.presets_doc import TEMPLATES_BEGIN, TEMPLATES_END, templates_table

    if not PAGE.is_file():
        pytest.skip(f"{PAGE} is not part of this checkout")
    text = PAGE.read_text(encoding="utf-8")
    assert TEMPLATES_BEGIN in text and TEMPLATES_END in text, f"{PAGE}: the templates table markers are missing"
    shown = text.split(TEMPLATES_BEGIN, 1)[1].split(TEMPLATES_END, 1)[0].strip()
    assert shown == templates_table(), f"{PAGE}: stale templates table; regenerate: python -m dialsum_hf.presets_doc"
    for name in TEMPLATES:
        assert f"| `{name}`" in shown
    assert f"| `{CausalOptions().prompt_template}` (the default) |" in shown
