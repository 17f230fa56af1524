"""The module names of a saved model, read from its weight files' headers (cheap: json and struct only).

``models.NAME.lora_target_modules`` names modules of the model; one that names none (``qproj``, or
GPT-NeoX's ``query_key_value`` given to a Llama model) was refused only once the run had loaded the
model, minutes for a 10B model. The names are in the files beside ``config.json``: the weight map
of a sharded checkpoint (``*.index.json``), or the JSON header of a ``model.safetensors`` (which gives
shapes too). So ``dialsum check`` reads them for a local folder, or a hub id already in the Hugging Face
cache, and the loader applies the same rules (:func:`unmatched_targets`, and no module LoRA cannot adapt)
to the loaded model's modules.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable, Sequence
from pathlib import Path

from dialsum_hf.folders import LOADED_FIRST, PICKLED, SAFETENSORS, SAFETENSORS_INDEX, weight_map

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


def saved_weights(folder: Path | None, name_or_path: str, revision: str) -> dict[str, list[int] | None] | None:
    """The names of the weights of the file ``from_pretrained`` would load from ``folder`` (or from the cached
    files of hub id ``name_or_path``), each with its shape where a safetensors header tells it; ``None``
    when that file cannot be read here (a pickled ``pytorch_model.bin``, a hub file not downloaded)."""
    for file in LOADED_FIRST:  # the first one found is the one loaded, so it is the one whose names count
        path = _file(folder, name_or_path, revision, file)
        if path is None:
            continue
        if file == PICKLED:  # a pickle is not read: nothing is then said
            return None
        if file == SAFETENSORS:
            return _header(path) or None
        names = weight_map(path)
        if names is None:
            return None
        shapes: dict[str, list[int] | None] = {}  # from the shards' headers (a pickled shard tells none)
        shards = [v for v in names.values() if isinstance(v, str) and file == SAFETENSORS_INDEX]
        for shard in dict.fromkeys(shards):
            shard_path = path.parent / shard if folder is not None else _file(None, name_or_path, revision, shard)
            shapes.update(_header(shard_path) if shard_path is not None and shard_path.is_file() else {})
        return {k: shapes.get(k) for k in names}
    return None


def module_names(weights: Iterable[str]) -> list[str]:
    """The modules holding ``weights`` (names of weights), with every module that contains them
    (``model.layers.0.self_attn.q_proj.weight`` gives ``model.layers.0.self_attn.q_proj``,
    ``model.layers.0.self_attn``...)."""
    modules = set()
    for key in weights:
        parts = key.split(".")[:-1]
        modules.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return sorted(modules)


def not_adaptable(weights: dict[str, list[int] | None]) -> set[str]:
    """The modules of ``weights`` LoRA cannot adapt, which peft refuses with a traceback when a target names
    one: a module holding other modules (``self_attn``, ``mlp``; torch's ``MultiheadAttention`` aside, which
    peft adapts), and one whose saved tensors are all of one
    dimension, known from the header (a norm). A weight's own entries (a 4-bit weight's
    ``weight.absmax``) do not make its module hold others."""
    containers = set()
    for key in weights:
        parts = key.split(".")
        for i in range(1, len(parts) - 1):  # parts[:i] holds parts[:i+1], which is a module unless a weight
            if ".".join(parts[:i + 1]) not in weights:
                containers.add(".".join(parts[:i]))
    shapes: dict[str, list[list[int] | None]] = {}
    for key, shape in weights.items():
        if "." in key:  # a top-level tensor (BART's final_logits_bias) belongs to no module
            shapes.setdefault(key.rsplit(".", 1)[0], []).append(shape)
    flat = {m for m, found in shapes.items() if all(s is not None and len(s) <= 1 for s in found)}
    attention = {m for m in containers if f"{m}.in_proj_weight" in weights}  # torch's MultiheadAttention: peft's
    return (containers - attention) | flat


def lora_target_problem(weights: dict[str, list[int] | None], targets: Sequence[str]) -> str:
    """Why ``lora_target_modules`` (``targets``) names modules the saved ``weights`` do not have, or modules
    LoRA cannot adapt (:func:`not_adaptable`); ``""`` when neither.

    Names of modules a checkpoint may leave out (:data:`TIED`) are left to the loader, and so is a full
    name that a checkpoint saved without the model's head lacks only its first part
    (``model.layers.0.self_attn.q_proj`` for weights named ``layers.0...``): ``from_pretrained`` loads
    it under the head's prefix."""
    names = module_names(weights)
    tops = {n.split(".", 1)[0] for n in names}

    def as_loaded(target: str) -> str:  # the name the target has among the saved ones
        head, _, rest = target.partition(".")
        return rest if rest in names and head not in tops else target

    named = {t: as_loaded(t) for t in targets}
    unmatched = [t for t in targets if unmatched_targets(names, [named[t]]) and t.rsplit(".", 1)[-1] not in TIED]
    fixed = not_adaptable(weights)
    leaves = sorted({n.rsplit(".", 1)[-1] for n in names if n not in fixed})
    if unmatched:
        return (f"{unmatched} match no module of the model (its saved weights name modules such as "
                f"{', '.join(leaves[:16])}); name its own modules, or give an empty list for peft's default")
    bad = [t for t in targets if not unmatched_targets(fixed, [named[t]])]
    if bad:
        return (f"{bad} name modules LoRA cannot adapt (layers that hold other layers, or norms); name the "
                f"linear layers in them, such as {', '.join(leaves[:16])}")
    return ""


def peft_has_default_targets(model_type: str) -> bool | None:
    """Whether peft knows which modules of a ``model_type`` model LoRA adapts when ``lora_target_modules`` is
    empty (``None`` without peft). It refuses an empty list for any other (``mbart``, ``pegasus``, ``marian``)
    with a traceback once the model is built. Imports peft, and torch with it: asked only for an empty list."""
    try:
        from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as DEFAULTS
    except ImportError:
        return None
    return model_type in DEFAULTS


def no_default_targets(model_type: str) -> str:
    """The line refusing an empty ``lora_target_modules`` for a ``model_type`` peft has no default for."""
    return (f"empty, and peft has no default modules to adapt in a {model_type} model; name them, such as "
            "[\"q_proj\", \"v_proj\"] (the attention's linear layers in most models)")


def _file(folder: Path | None, name_or_path: str, revision: str, file: str) -> Path | None:
    if folder is not None:
        return folder / file if (folder / file).is_file() else None
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(name_or_path, file, revision=revision or None)
    except Exception:  # not a valid repository id: the model's own check says so
        return None
    return Path(found) if isinstance(found, str) else None


def _header(path: Path) -> dict[str, list[int] | None]:
    """The tensors named in a safetensors file's JSON header, with their shapes; empty when unreadable."""
    try:
        with path.open("rb") as f:
            (size,) = struct.unpack("<Q", f.read(8))
            if size > MAX_HEADER:
                return {}
            header = json.loads(f.read(size).decode("utf-8"))
    except (OSError, ValueError, struct.error):
        return {}
    if not isinstance(header, dict):
        return {}
    return {k: (v.get("shape") if isinstance(v, dict) and isinstance(v.get("shape"), list) else None)
            for k, v in header.items() if k != "__metadata__"}
