"""How many token positions a pretrained model has, read from its ``config.json`` (cheap: json only).

Some architectures look positions up in a table of fixed size (learned, or sinusoidal computed once):
a sequence longer than the table fails with ``IndexError: index out of range in self`` deep inside the
model. Training meets it at the first long dialogue or summary, generation at the first summary that
runs past the table, which is after a whole epoch of training. The recipe's lengths say beforehand
whether that can happen, so ``dialsum check`` compares them with the table of a model whose config it
can read without a download: a local folder, or a hub id already in the Hugging Face cache.
Rotary and relative positions (Llama, GPT-NeoX, T5...) have no such table and are never refused.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: ``model_type`` -> the ``config.json`` key holding the size of its fixed position table.
POSITION_TABLES: dict[str, str] = {
    "bart": "max_position_embeddings",
    "mbart": "max_position_embeddings",
    "plbart": "max_position_embeddings",
    "blenderbot": "max_position_embeddings",
    "blenderbot-small": "max_position_embeddings",
    "pegasus": "max_position_embeddings",
    "marian": "max_position_embeddings",
    "gpt2": "n_positions",
    "gpt_neo": "max_position_embeddings",
    "opt": "max_position_embeddings",
}


def model_config(local: Path | None, name_or_path: str, revision: str) -> dict[str, Any] | None:
    """The parsed ``config.json`` of a local folder, or of a hub id when the Hugging Face cache holds
    it (nothing is downloaded); ``None`` when it cannot be read here."""
    if local is not None:
        path: Path | None = local / "config.json"
    else:
        from huggingface_hub import try_to_load_from_cache

        try:
            found = try_to_load_from_cache(name_or_path, "config.json", revision=revision or None)
        except Exception:  # not a valid repository id: loading it reports that, with its context
            return None
        path = Path(found) if isinstance(found, str) else None
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def position_problems(recipe: Any, name: str, config: dict[str, Any], *, causal: bool) -> list[tuple[str, str]]:
    """The recipe lengths that run past the position table of the model ``config`` describes.

    An encoder-decoder reads at most ``data.max_length`` tokens and writes at most
    ``data.max_target_length`` (training) or ``generation.max_new_tokens`` (generation) after its
    start token. A causal model reads the prompt and the summary as one sequence: up to
    ``data.max_length + data.max_target_length`` tokens in training, and the prompt plus every
    generated token but the last in generation.
    """
    key = POSITION_TABLES.get(str(config.get("model_type", "")))
    size = config.get(key) if key else None
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        return []
    d, g = recipe.section("data"), recipe.section("generation")
    where = f"the {size} positions of the model of models.{name} ({key} in its config.json)"
    found: list[tuple[str, str]] = []
    if not causal:
        for dotted, value in (("data.max_length", d.max_length), ("data.max_target_length", d.max_target_length),
                              ("generation.max_new_tokens", g.max_new_tokens)):
            if value > size:
                found.append((dotted, f"{value} tokens is more than {where}; set it to {size} or less"))
        return found
    if d.max_length + d.max_target_length > size:
        found.append(("data.max_target_length", f"data.max_length + data.max_target_length = "
                      f"{d.max_length + d.max_target_length} tokens of prompt and summary is more than {where}; "
                      f"lower them to {size} together"))
    if d.max_length + g.max_new_tokens - 1 > size:
        found.append(("generation.max_new_tokens", f"data.max_length + generation.max_new_tokens - 1 = "
                      f"{d.max_length + g.max_new_tokens - 1} tokens of prompt and summary is more than {where}; "
                      f"lower them to {size + 1} together"))
    return found
