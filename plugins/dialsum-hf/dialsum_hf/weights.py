"""The module names of a saved model, read from its weight files' headers (cheap: json and struct only).

``models.NAME.lora_target_modules`` names modules of the model; one that names none (``qproj``, or
GPT-NeoX's ``query_key_value`` given to a Llama model) was refused only once the run had loaded the
model, minutes for a 10B model. The names are in the files beside ``config.json``: the weight map
of a sharded checkpoint (``*.index.json``), or the JSON header of a ``model.safetensors``. So
``dialsum check`` reads them for a local folder, or a hub id already in the Hugging Face cache, and
the loader applies the same rule (:func:`unmatched_targets`) to the loaded model's modules.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable, Sequence
from pathlib import Path

#: Files that name every weight, tried in this order; a pickled ``pytorch_model.bin`` alone is not read.
NAMED_BY = ("model.safetensors.index.json", "pytorch_model.bin.index.json", "model.safetensors")
#: The last parts of the modules whose weights a checkpoint may leave out because the model ties them to
#: another one (the output head to the input embeddings, BART's encoder and decoder embeddings to
#: ``shared``): the model has them once loaded, so the names of the files cannot judge them.
TIED = frozenset({"lm_head", "embed_out", "embed_tokens", "embed_in", "wte", "shared"})
#: A safetensors header larger than this is no header (a damaged or foreign file): not read.
MAX_HEADER = 100 * 2**20


def unmatched_targets(names: Iterable[str], targets: Sequence[str]) -> list[str]:
    """The ``lora_target_modules`` entries that name no module of ``names`` (a model's module names), as
    peft matches them: the whole dotted name, or its end after a dot.

    peft refuses a list none of whose entries matches, with a long traceback; an entry that matches
    nothing beside others that do is a misspelling it would ignore silently. Both are refused, by the
    check (names read from the weight files) and by the loader (the loaded model's modules)."""
    names = [n for n in names if n]  # "" is the model itself, never a target
    return [t for t in targets if not any(n == t or n.endswith("." + t) for n in names)]


def saved_module_names(folder: Path | None, name_or_path: str, revision: str) -> list[str] | None:
    """The names of the modules holding the weights saved in ``folder`` (or in the cached files of hub id
    ``name_or_path``), with every module that contains them (``model.layers.0.self_attn``); ``None``
    when no file that names them can be read here (nothing is downloaded)."""
    for file in NAMED_BY:
        path = _file(folder, name_or_path, revision, file)
        if path is None:
            continue
        keys = _weight_keys(path)
        if keys:
            modules = set()
            for key in keys:
                parts = key.split(".")[:-1]  # "....q_proj.weight" -> the module "....q_proj" and its parents
                modules.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
            return sorted(modules)
    return None


def lora_target_problem(names: Sequence[str], targets: Sequence[str]) -> str:
    """Why ``lora_target_modules`` (``targets``) names modules the saved weights do not have, or ``""``.
    Names of modules a checkpoint may leave out (:data:`TIED`) are left to the loader."""
    unmatched = [t for t in unmatched_targets(names, targets) if t.rsplit(".", 1)[-1] not in TIED]
    if not unmatched:
        return ""
    containers = {n.rsplit(".", 1)[0] for n in names if "." in n}
    leaves = sorted({n.rsplit(".", 1)[-1] for n in names if n not in containers})
    return (f"{unmatched} match no module of the model (its saved weights name modules such as "
            f"{', '.join(leaves[:16])}); name its own modules, or give an empty list for peft's default")


def _file(folder: Path | None, name_or_path: str, revision: str, file: str) -> Path | None:
    if folder is not None:
        return folder / file if (folder / file).is_file() else None
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(name_or_path, file, revision=revision or None)
    except Exception:  # not a valid repository id: the model's own check says so
        return None
    return Path(found) if isinstance(found, str) else None


def _weight_keys(path: Path) -> list[str]:
    try:
        if path.name.endswith(".index.json"):
            index = json.loads(path.read_text(encoding="utf-8"))
            weights = index.get("weight_map") if isinstance(index, dict) else None
            return list(weights) if isinstance(weights, dict) else []
        with path.open("rb") as f:
            (size,) = struct.unpack("<Q", f.read(8))
            if size > MAX_HEADER:
                return []
            header = json.loads(f.read(size).decode("utf-8"))
    except (OSError, ValueError, struct.error):
        return []
    return [k for k in header if k != "__metadata__"] if isinstance(header, dict) else []
