"""What transformers finds in a model folder that ``save_pretrained`` wrote (cheap: nothing of it imported).

dialsum-hf's loaders load such a folder (``models.NAME.model_name_or_path``), and so does dialsum-tta's
paraphrase augmenter; both have ``dialsum check`` refuse a folder transformers would fail on, or load
into something useless, only once the run reaches it (after other models have trained). The file names
and the rules live here once, so that the two checks cannot drift apart: a public module, which other
plugins import. Each check returns why the folder cannot serve, without the folder's path (the caller
names the key and the folder), or ``""``.
"""

from __future__ import annotations

import ast
import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dialsum_hf.conversions import installed_source

__all__ = ["LOADED_FIRST", "TOKENIZER_CONFIG", "TOKENIZER_FILES", "TOKENIZER_JSON", "config_problem", "missing_shards",
           "read_json", "seq2seq_model", "seq2seq_model_types", "seq2seq_problem", "tokenizer_problem", "weight_map",
           "weights_file", "weights_problem"]

#: The weight files, in the order ``from_pretrained`` looks for them: the first one found is the one it
#: loads (a whole file, or the index of a sharded checkpoint naming its shards in a ``weight_map``).
LOADED_FIRST = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")
SAFETENSORS, SAFETENSORS_INDEX, PICKLED, PICKLED_INDEX = LOADED_FIRST

#: The fast tokenizer's one file: its vocabulary, merges, special and added tokens.
TOKENIZER_JSON = "tokenizer.json"
#: The files holding a tokenizer's vocabulary, one of which a saved tokenizer has: ``tokenizer.json`` for a
#: fast one, the others for the slow ones (BPE with its ``merges.txt``, WordPiece, SentencePiece, tiktoken).
#: Without any, transformers 5 builds an empty tokenizer of a handful of tokens, and every text the model
#: reads becomes unknown tokens, or fails to build one at all.
TOKENIZER_FILES = (TOKENIZER_JSON, "vocab.json", "vocab.txt", "spiece.model", "tokenizer.model",
                   "sentencepiece.bpe.model", "sentencepiece.model", "vocab.model")
#: The tokenizer's settings (its class, special tokens, lengths): no vocabulary. ``save_pretrained`` writes it
#: beside the files above; alone it is no tokenizer (transformers 5 builds one of five tokens from it, or
#: refuses to build one, when the run loads it).
TOKENIZER_CONFIG = "tokenizer_config.json"
#: Where transformers keeps the ``model_type`` -> class table ``AutoModelForSeq2SeqLM`` loads from (in 4.x and 5).
SEQ2SEQ_TABLE = ("models/auto/modeling_auto.py", "MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES")


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``; ``None`` when there is none there (missing, unreadable, not an object)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def weights_file(folder: Path) -> Path | None:
    """The weight file ``from_pretrained`` loads from ``folder`` (:data:`LOADED_FIRST`), ``None`` for none."""
    return next((folder / name for name in LOADED_FIRST if (folder / name).is_file()), None)


def weight_map(index: Path) -> dict[str, Any] | None:
    """The ``weight_map`` (weight name -> shard file) of the index of a sharded checkpoint; ``None`` when it
    has none that can be read (loading it then says why)."""
    found = (read_json(index) or {}).get("weight_map")
    return found if isinstance(found, dict) and found else None


def missing_shards(folder: Path) -> list[str]:
    """The shard files the weight map of a sharded model in ``folder`` names and the folder lacks (a copy or
    a download cut short), when a sharded checkpoint is what transformers loads there."""
    file = weights_file(folder)
    if file is None or file.name not in (SAFETENSORS_INDEX, PICKLED_INDEX):
        return []
    shards = {v for v in (weight_map(file) or {}).values() if isinstance(v, str)}
    return sorted(s for s in shards if not (folder / s).is_file())


def weights_problem(folder: Path) -> str:
    """Why ``folder`` holds no weights transformers can load: none of :data:`LOADED_FIRST`, or a weight map
    naming shards the folder lacks."""
    if weights_file(folder) is None:
        return f"no weights in it (one of {', '.join(LOADED_FIRST)}); save the model with save_pretrained"
    if missing := missing_shards(folder):
        return (f"its weight map names shard files the folder lacks ({', '.join(missing[:3])}); copy or download "
                "the whole model")
    return ""


def tokenizer_problem(folder: Path, *, trust_remote_code: bool = False) -> str:
    """Why ``folder`` holds no tokenizer transformers can build: none of :data:`TOKENIZER_FILES`. A
    ``tokenizer_config.json`` alone is none either; a tokenizer of remote code (``auto_map``, with
    ``trust_remote_code``) reads files of its own, which are not judged here."""
    if any((folder / name).is_file() for name in TOKENIZER_FILES):
        return ""
    settings = read_json(folder / TOKENIZER_CONFIG)
    if trust_remote_code and any("AutoTokenizer" in ((found or {}).get("auto_map") or {})
                                 for found in (settings, read_json(folder / "config.json"))):
        return ""
    files = f"no tokenizer files ({', '.join(TOKENIZER_FILES[:3])}...)"
    fix = "save the tokenizer into the folder too (tokenizer.save_pretrained)"
    if (folder / TOKENIZER_CONFIG).is_file():
        return (f"{files}, only {TOKENIZER_CONFIG}, which holds no vocabulary: transformers builds no usable "
                f"tokenizer from it; {fix}")
    return f"{files}, so every text would become unknown tokens; {fix}"


def config_problem(config: dict[str, Any] | None, *, trust_remote_code: bool = False) -> str:
    """Why a folder's ``config.json`` (``config``, ``None`` when it is no JSON object) tells transformers no
    model: the run could load neither its tokenizer nor its weights, and stopped there."""
    if config is None:
        return "config.json is not a readable JSON object; save the model again with save_pretrained"
    remote = trust_remote_code and "AutoConfig" in (config.get("auto_map") or {})
    if not config.get("model_type") and not remote:
        return ("config.json names no model_type, so transformers cannot tell which model it is; save the model "
                "with save_pretrained, which writes it")
    return ""


def seq2seq_model(config: Mapping[str, Any], *, trust_remote_code: bool = False) -> bool:
    """Whether ``AutoModelForSeq2SeqLM`` loads the model ``config`` (its ``config.json``) describes: transformers'
    own rule, its table of the model types it maps (:data:`SEQ2SEQ_TABLE`), or remote code that says so.

    Neither the ``is_encoder_decoder`` flag nor a class name tells it: a config written by hand may leave the
    flag out (the config class supplies it), and decoder-only models of text and images (Llava, Gemma 3,
    Qwen2-VL) are ``...ForConditionalGeneration`` too. Only where the table cannot be read (a transformers
    that keeps it elsewhere) is the flag all there is to go by."""
    if trust_remote_code and "AutoModelForSeq2SeqLM" in (config.get("auto_map") or {}):
        return True
    known = seq2seq_model_types()
    if known is None:
        return config.get("is_encoder_decoder") is True
    return config.get("model_type") in known


def seq2seq_problem(config: Mapping[str, Any], *, trust_remote_code: bool = False) -> str:
    """What the model ``config`` describes is, when ``AutoModelForSeq2SeqLM`` cannot load it (:func:`seq2seq_model`)
    (the caller says what to load instead); ``""`` when it can."""
    if seq2seq_model(config, trust_remote_code=trust_remote_code):
        return ""
    kind = "" if config.get("is_encoder_decoder") is True else "decoder-only "  # else speech or images
    return f"a {kind}{config.get('model_type') or 'unnamed'} model, which AutoModelForSeq2SeqLM does not load"


@functools.cache
def seq2seq_model_types() -> frozenset[str] | None:
    """The model types of the installed transformers' :data:`SEQ2SEQ_TABLE`, read from its source (importing it
    imports torch, which ``dialsum check`` does not); ``None`` when the table is not there as a literal that
    nothing else changes."""
    file, table = SEQ2SEQ_TABLE
    source = installed_source(file)
    try:
        tree = ast.parse(source) if source is not None else None
    except (SyntaxError, ValueError):
        return None
    found, stores = None, 0
    for node in ast.walk(tree) if tree is not None else ():
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == [table] and \
                isinstance(node.value, ast.Call) and len(node.value.args) == 1:
            try:
                found = frozenset(kind for kind, _class in ast.literal_eval(node.value.args[0]))
            except (ValueError, TypeError, SyntaxError):
                return None
        stores += isinstance(node, ast.Name) and node.id == table and not isinstance(node.ctx, ast.Load)
        if isinstance(node, ast.Subscript | ast.Attribute) and getattr(node.value, "id", None) == table:
            return None  # a later change to it (an item set, an update): not read here
    return found if stores == 1 and found and all(isinstance(kind, str) for kind in found) else None
