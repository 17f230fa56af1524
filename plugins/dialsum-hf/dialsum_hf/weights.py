"""The module names of a saved model, read from its weight files' headers (cheap: nothing imported or run).

``models.NAME.lora_target_modules`` names modules of the model; one that names none (``qproj``, or
GPT-NeoX's ``query_key_value`` given to a Llama model) was refused only once the run had loaded the
model, minutes for a 10B model. The names are in the files beside ``config.json``: the weight map
of a sharded checkpoint (``*.index.json``), the JSON header of a ``model.safetensors``, or the pickle of a
``pytorch_model.bin`` (both give shapes too). So ``dialsum check`` reads them for a local folder, or a
hub id already in the Hugging Face cache, and the loader applies the same rules (:func:`unmatched_targets`,
and no module LoRA cannot adapt) to the loaded model's modules.

The loaded model's names are the saved ones, but for what changes them while the run loads the model,
which :func:`lora_target_problem` is told of: the renames transformers applies
(:mod:`dialsum_hf.conversions`), and the tokens the loader adds to the vocabulary (:func:`added_tokens`),
which make an encoder-decoder's input embeddings one module with its ``shared`` one. A ``#Tag#`` only the
training data holds is added too, and that is not read here: with a tokenizer holding every known tag, a
tag new to it in the data still grows the vocabulary, and the loader judges the targets then.
"""

from __future__ import annotations

import json
import pickletools
import struct
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any, NamedTuple

from dialsum_hf.conversions import Rename, renamed
from dialsum_hf.folders import LOADED_FIRST, TOKENIZER_JSON, read_json, weight_map

#: The last parts of the modules whose weights a checkpoint may leave out because the model ties them to
#: another one (the output head to the input embeddings, BART's encoder and decoder embeddings to
#: ``shared``): the model has them once loaded, so the names of the files cannot judge them.
TIED = frozenset({"lm_head", "embed_out", "embed_tokens", "embed_in", "wte", "shared"})
#: A safetensors header, or the pickle of a ``pytorch_model.bin``, larger than this is no header (a
#: damaged or foreign file): not read.
MAX_HEADER = 100 * 2**20
#: What ``torch.save`` writes first in a file of its legacy (not zip) format.
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


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
    files of hub id ``name_or_path``), each with its shape where the file tells it; ``None`` when that file
    cannot be read here (a damaged one, a hub file not downloaded)."""
    for file in LOADED_FIRST:  # the first one found is the one loaded, so it is the one whose names count
        path = model_file(folder, name_or_path, revision, file)
        if path is None:
            continue
        if not path.name.endswith(".index.json"):
            return _tensors(path) or None
        names = weight_map(path)
        if names is None:
            return None
        shapes: dict[str, list[int] | None] = {}  # from the shards' headers or pickles
        for shard in dict.fromkeys(v for v in names.values() if isinstance(v, str)):
            shard_path = path.parent / shard if folder is not None else model_file(None, name_or_path, revision, shard)
            shapes.update(_tensors(shard_path) if shard_path is not None and shard_path.is_file() else {})
        return {k: shapes.get(k) for k in names}
    return None


def added_tokens(folder: Path | None, name_or_path: str, revision: str, tags: Sequence[str]) -> list[str]:
    """The ``tags`` the tokenizer saved beside the model lacks, which the loader adds to it (and so grows the
    model's vocabulary); empty when it lacks none, or when its ``tokenizer.json`` cannot be read here (a
    slow tokenizer's files are not read)."""
    path = model_file(folder, name_or_path, revision, TOKENIZER_JSON)
    saved = read_json(path) if path is not None else None
    model = saved.get("model") if saved is not None else None
    vocab = model.get("vocab") if isinstance(model, dict) else None
    if not isinstance(vocab, dict | list):
        return []
    known = {str(v[0]) if isinstance(v, list) and v else str(v) for v in vocab}  # Unigram: [token, score]
    known.update(str(t.get("content")) for t in saved.get("added_tokens") or [] if isinstance(t, dict))
    return [t for t in tags if t not in known]


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


def lora_target_problem(weights: dict[str, list[int] | None], targets: Sequence[str], *,
                        renames: Sequence[Rename] = (), new_tokens: Sequence[str] = ()) -> str:
    """Why ``lora_target_modules`` (``targets``) names modules the saved ``weights`` do not have, or modules
    LoRA cannot adapt (:func:`not_adaptable`); ``""`` when neither.

    ``renames``: transformers' renames of the saved names (:func:`~dialsum_hf.conversions.loading_renames`);
    a saved name they rename (GPT-NeoX's ``embed_out``, loaded as ``lm_head``) names no module of the run.
    ``new_tokens``: the tokens the loader adds (:func:`added_tokens`); they make an encoder-decoder's
    ``embed_tokens`` its ``shared`` embedding (transformers' ``set_input_embeddings``), which ``named_modules``
    then names once, as ``shared``: ``embed_tokens`` names no module of the run, and ``shared`` one that peft
    replaces under that name only, while the encoder and decoder run the original. Without them, ``shared`` is a
    module the forward pass never runs (:func:`unrun_embedding`).

    Names of modules a checkpoint may leave out (:data:`TIED`) are left to the loader, but for those the
    renames take away, and so is a full name that a checkpoint saved without the model's head lacks only its
    first part (``model.layers.0.self_attn.q_proj`` for weights named ``layers.0...``): ``from_pretrained``
    loads it under the head's prefix."""
    weights = {renamed(k, renames): v for k, v in weights.items()}
    names = module_names(weights)
    tops = {n.split(".", 1)[0] for n in names}
    loaded_as = {t: renamed(f"{t}.weight", renames).removesuffix(".weight") for t in TIED}
    tied = {t for t, new in loaded_as.items() if new == t}

    def as_loaded(target: str) -> str:  # the name the target has among the saved ones
        head, _, rest = target.partition(".")
        return rest if rest in names and head not in tops else target

    named = {t: as_loaded(t) for t in targets}
    merged = []  # a shared embedding beside an encoder or decoder, and their embed_tokens
    for shared in (n for n in names if n.rsplit(".", 1)[-1] == "shared"):
        sides = [s for s in (shared.removesuffix("shared") + side for side in ("encoder", "decoder")) if s in names]
        merged += [shared, *(f"{s}.embed_tokens" for s in sides)] if sides else []
    unrun = [n for n in merged if n.rsplit(".", 1)[-1] == "shared"]  # while a module of its own
    if not new_tokens and (bad := [t for t in targets if not unmatched_targets(unrun, [named[t]])]):
        return unrun_embedding(bad)
    if new_tokens and (bad := [t for t in targets if not unmatched_targets(merged, [named[t]])]):
        return (f"{bad} name the encoder's and decoder's embed_tokens or the shared embedding, which become one "
                f"module once the run adds {', '.join(new_tokens[:3])}{'...' if len(new_tokens) > 3 else ''} to "
                "the tokenizer: peft would adapt it under one of its names and the model run it unadapted under "
                "the others, so the run refuses it; leave them out (the new tokens' rows are trained without them)")
    unmatched = [t for t in targets if unmatched_targets(names, [named[t]]) and t.rsplit(".", 1)[-1] not in tied]
    fixed = not_adaptable(weights)
    leaves = sorted({n.rsplit(".", 1)[-1] for n in names if n not in fixed})
    if unmatched:
        moved = [f"{t} as {loaded_as[t]}" for t in unmatched if t in loaded_as and t not in tied]
        return (f"{unmatched} match no module of the model (its saved weights name modules such as "
                f"{', '.join(leaves[:16])}{'; transformers loads ' + ', '.join(moved) if moved else ''}); name its "
                "own modules, or give an empty list for peft's default")
    bad = [t for t in targets if not unmatched_targets(fixed, [named[t]])]
    if bad:
        return (f"{bad} name modules LoRA cannot adapt (layers that hold other layers, or norms); name the "
                f"linear layers in them, such as {', '.join(leaves[:16])}")
    return ""


def unrun_embedding(targets: Sequence[str]) -> str:
    """The line refusing ``lora_target_modules`` entries (``targets``) that name an encoder-decoder's ``shared``
    embedding while it is a module of its own: transformers ties only its weight to the ``embed_tokens`` modules
    the encoder and decoder run, and the forward pass never calls ``shared``, so its adapter would get no
    gradient (the Trainer fails at its first step when nothing else is adapted, or trains the rest silently)."""
    return (f"{list(targets)} name the shared embedding of the encoder-decoder, which its forward pass never runs "
            "(the encoder and decoder run embed_tokens modules of their own, tied to its weight): its adapter would "
            "train nothing; target embed_tokens instead")


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


def model_file(folder: Path | None, name_or_path: str, revision: str, file: str) -> Path | None:
    """``file`` of the model in ``folder``, or of hub id ``name_or_path`` where the cache holds it (nothing is
    downloaded); ``None`` when not there."""
    if folder is not None:
        return folder / file if (folder / file).is_file() else None
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(name_or_path, file, revision=revision or None)
    except Exception:  # not a valid repository id: the model's own check says so
        return None
    return Path(found) if isinstance(found, str) else None


def _tensors(path: Path) -> dict[str, list[int] | None]:
    """The tensors of a weight file, with their shapes: a safetensors header, else a pickled one."""
    return _header(path) if path.suffix == ".safetensors" else _pickled(path)


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


class _Global(NamedTuple):
    """A class or function a pickle names (never imported)."""
    module: str
    name: str


class _Tensor(NamedTuple):
    shape: list[int] | None


class _Opaque:
    """Any other object a pickle would build: only the tensors and the dictionary holding them matter."""


class _Unreadable(Exception):
    pass


def _pickled(path: Path) -> dict[str, list[int] | None]:
    """The tensors of a ``torch.save`` file (``pytorch_model.bin``) by name, with their shapes; empty when
    unreadable. The zip format holds the state dict's pickle in ``<name>/data.pkl``; the legacy one is
    four pickles in a row (a magic number, a version, system facts, the state dict), the data after them.
    The pickle is never run: :func:`_pickle_value` reads its opcodes (torch is not imported either)."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                member = next((i for i in z.infolist() if i.filename.count("/") == 1
                               and i.filename.endswith("/data.pkl")), None)
                if member is None or member.file_size > MAX_HEADER:
                    return {}
                with z.open(member) as f:
                    state = _pickle_value(f)
        else:
            with path.open("rb") as f:
                if _pickle_value(f) != LEGACY_MAGIC:
                    return {}
                _pickle_value(f), _pickle_value(f)  # the format's version, the system's facts
                state = _pickle_value(f)
    except (OSError, ValueError, EOFError, KeyError, IndexError, TypeError, AttributeError, zipfile.BadZipFile,
            _Unreadable):
        return {}
    if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
        return {}
    return {k: (v.shape if isinstance(v, _Tensor) else None) for k, v in state.items()}


def _pickle_value(stream: IO[bytes]) -> Any:
    """What the next pickle of ``stream`` holds, as far as names and shapes go, read opcode by opcode
    (``pickletools.genops``): strings, numbers, tuples, lists and dicts are built, a tensor rebuilt by one of
    torch's ``_rebuild*`` functions becomes its shape, anything else stays opaque. Nothing is imported or
    called; an opcode outside the ones ``torch.save`` writes makes it :class:`_Unreadable`."""
    stack: list[Any] = []
    marks: list[int] = []  # where each open MARK left the stack
    memo: dict[Any, Any] = {}

    def to_mark() -> list[Any]:
        at = marks.pop()
        items = stack[at:]
        del stack[at:]
        return items

    for op, arg, _pos in pickletools.genops(stream):
        name = op.name
        if name in ("PROTO", "FRAME"):
            continue
        if name == "STOP":
            return stack[-1]
        if name in _PUSHES_ARG:
            stack.append(arg)
        elif name in _PUSHES:
            stack.append(_PUSHES[name]())
        elif name == "MARK":
            marks.append(len(stack))
        elif name in ("TUPLE", "FROZENSET"):
            stack.append(tuple(to_mark()))
        elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
            n = int(name[-1])
            stack[-n:] = [tuple(stack[-n:])]
        elif name == "LIST":
            stack.append(to_mark())
        elif name == "DICT":
            items = to_mark()
            stack.append(dict(zip(items[::2], items[1::2], strict=True)))
        elif name == "APPEND":
            value = stack.pop()
            _add(stack[-1], [value])
        elif name in ("APPENDS", "ADDITEMS"):
            values = to_mark()
            _add(stack[-1], values)
        elif name == "SETITEM":
            value, key = stack.pop(), stack.pop()
            _set(stack[-1], [key, value])
        elif name == "SETITEMS":
            items = to_mark()
            _set(stack[-1], items)
        elif name == "GLOBAL":
            module, _, attr = arg.partition(" ")
            stack.append(_Global(module, attr))
        elif name == "STACK_GLOBAL":
            attr, module = stack.pop(), stack.pop()
            stack.append(_Global(str(module), str(attr)))
        elif name in ("BINPUT", "LONG_BINPUT", "PUT"):
            memo[arg] = stack[-1]
        elif name == "MEMOIZE":
            memo[len(memo)] = stack[-1]
        elif name in ("BINGET", "LONG_BINGET", "GET"):
            stack.append(memo[arg])
        elif name == "BINPERSID":
            stack[-1] = _Opaque()  # a storage of the file: its data are not read
        elif name == "PERSID":
            stack.append(_Opaque())
        elif name == "REDUCE":
            args = stack.pop()
            stack[-1] = _built(stack[-1], args)
        elif name == "NEWOBJ":
            args = stack.pop()
            stack[-1] = _built(stack[-1], args)
        elif name == "NEWOBJ_EX":
            del stack[-2:]
            stack[-1] = _Opaque()
        elif name in ("BUILD", "POP"):
            stack.pop()
        elif name == "POP_MARK":
            to_mark()
        elif name == "DUP":
            stack.append(stack[-1])
        else:
            raise _Unreadable(name)
    raise _Unreadable("no STOP")


_PUSHES_ARG = frozenset({"BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8", "UNICODE", "BININT", "BININT1", "BININT2",
                         "LONG1", "LONG4", "INT", "LONG", "BINFLOAT", "FLOAT", "SHORT_BINSTRING", "BINSTRING",
                         "STRING", "SHORT_BINBYTES", "BINBYTES", "BINBYTES8", "BYTEARRAY8"})
_PUSHES = {"NONE": lambda: None, "NEWTRUE": lambda: True, "NEWFALSE": lambda: False, "EMPTY_TUPLE": tuple,
           "EMPTY_LIST": list, "EMPTY_DICT": dict, "EMPTY_SET": list}


def _built(func: Any, args: Any) -> Any:
    """What calling ``func`` on ``args`` gives, for the calls a state dict's pickle makes: an (ordered) dict,
    or a tensor, whose shape is its first argument of integers (``size`` of ``_rebuild_tensor_v2``), or the
    shape of the tensor it wraps (``_rebuild_parameter``)."""
    if func == _Global("collections", "OrderedDict") and args == ():
        return {}
    if isinstance(func, _Global) and func.module.startswith("torch") and func.name.startswith("_rebuild"):
        for a in args if isinstance(args, tuple) else ():
            if isinstance(a, _Tensor):
                return a
            if isinstance(a, tuple) and all(isinstance(i, int) and not isinstance(i, bool) for i in a):
                return _Tensor(list(a))
        return _Tensor(None)
    return _Opaque()


def _add(container: Any, values: list[Any]) -> None:
    if isinstance(container, list):
        container.extend(values)


def _set(container: Any, items: list[Any]) -> None:
    if isinstance(container, dict):
        container.update(zip(items[::2], items[1::2], strict=True))
