"""Saving and loading: safetensors weights (or a LoRA adapter), the tokenizer, and a small JSON file
that says how to rebuild the model (loader, prompt template, base model of an adapter)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dialsum_core.atomic import atomic_write_json
from dialsum_core.errors import DialsumError
from dialsum_hf.model import METADATA, HFModel
from dialsum_hf.quiet import quiet_lora_warnings, quiet_progress_bars


def metadata(hf: HFModel) -> dict[str, Any]:
    import attrs

    return {
        "format": 1,
        "loader": hf.loader,
        "is_encoder_decoder": hf.is_encoder_decoder,
        "prompt_template": hf.prompt_template,
        "instruction": hf.instruction,
        "adapter": hf.is_peft,
        "base_model": hf.base_model,
        "tokenizer_key": hf.tokenizer_key,
        "options": attrs.asdict(hf.options) if attrs.has(type(hf.options)) else {},
    }


def write_metadata(hf: HFModel, path: Path) -> None:
    atomic_write_json(Path(path) / METADATA, metadata(hf))


def save_model(hf: HFModel, path: Path) -> None:
    quiet_progress_bars()
    path.mkdir(parents=True, exist_ok=True)
    if hf.is_peft and getattr(hf.options, "merge_lora", False):
        hf.model = hf.model.merge_and_unload()
    # An adapter keeps resized embeddings only if they are saved with it.
    kwargs = {"save_embedding_layers": "auto"} if hf.is_peft else {}
    quiet_lora_warnings()
    hf.model.save_pretrained(str(path), safe_serialization=True, **kwargs)
    hf.tokenizer.save_pretrained(str(path))
    write_metadata(hf, path)


def read_metadata(path: Path) -> dict[str, Any]:
    import json

    meta = Path(path) / METADATA
    if not meta.is_file():
        raise DialsumError(f"{path}: not a dialsum model folder ({METADATA} is missing)")
    try:
        return json.loads(meta.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise DialsumError(f"{meta}: unreadable ({exc})") from None
