"""The augmenters' files: the synonym lexicon, the paraphrase table and the paraphrase model folder.

One reader per file, used both by the recipe checks (``dialsum check``, and ``dialsum run`` before
anything trains) and by the augmenters themselves, so that what the check accepts is exactly what
the run reads. Cheap to import (no kiwipiepy, no transformers): the files are small text files, read
once per path and version (modification time and size) however many times they are asked for.
"""

from __future__ import annotations

import csv
import functools
import io
import stat
from pathlib import Path

from dialsum_core.errors import DataError

#: A lexicon (``form, base tag``) -> its synonyms (``(form, full tag), ...``).
Lexicon = dict[tuple[str, str], tuple[tuple[str, str], ...]]


def base_tag(tag: str) -> str:
    """The part of speech without kiwipiepy's sub-tag (``VV-R`` is a ``VV``): synonyms share it."""
    return tag.split("-", 1)[0]


def _version(path: str, what: str) -> tuple[int, int]:
    """``(mtime_ns, size)`` of the file ``path``: the cache key, so that a file edited while a
    process runs is read again. Raises :class:`DataError` for a path that is no readable file."""
    try:
        st = Path(path).stat()
    except FileNotFoundError:
        raise DataError(f"{path}: {what} not found") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise DataError(f"{path}: is a folder, not a {what} file")
    return st.st_mtime_ns, st.st_size


def _text(path: str, what: str) -> str:
    """The file as text; a file in another encoding (cp949, the usual Korean one on Windows) is
    refused with the line of its first byte that is not UTF-8, never guessed at."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DataError(f"{path}: line {line}: not UTF-8 text (byte {data[exc.start]:#04x}); save the {what} "
                        "as UTF-8") from None


def load_lexicon(path: str) -> Lexicon:
    """``(form, base tag) -> ((synonym form, full tag), ...)`` from a lexicon file: one group of
    synonyms per line, each written ``form/TAG`` (see the bundled one); ``#`` starts a comment."""
    return _lexicon(str(path), *_version(str(path), "synonym lexicon"))


@functools.lru_cache(maxsize=8)
def _lexicon(path: str, _mtime_ns: int, _size: int) -> Lexicon:
    table: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for row, line in enumerate(_text(path, "synonym lexicon").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        entries = []
        for item in line.split():
            form, sep, tag = item.rpartition("/")
            if not sep or not form or not tag:
                raise DataError(f"{path}: line {row}: {item!r} is not written form/TAG")
            entries.append((form, tag))
        for form, tag in entries:
            alts = table.setdefault((form, base_tag(tag)), [])
            alts.extend(e for e in entries if e[0] != form and base_tag(e[1]) == base_tag(tag) and e not in alts)
    return {k: tuple(v) for k, v in table.items() if v}


def load_table(path: str) -> dict[str, tuple[str, ...]]:
    """``fname -> paraphrases`` from a CSV with columns ``fname, dialogue`` (several rows per fname
    allowed); rows are numbered as a spreadsheet shows them, the header being row 1."""
    return _table(str(path), *_version(str(path), "paraphrase table"))


@functools.lru_cache(maxsize=8)
def _table(path: str, _mtime_ns: int, _size: int) -> dict[str, tuple[str, ...]]:
    table: dict[str, list[str]] = {}
    reader = csv.DictReader(io.StringIO(_text(path, "paraphrase table"), newline=""))
    row = 0
    try:
        missing = [c for c in ("fname", "dialogue") if c not in (reader.fieldnames or [])]
        row = 1
        if missing:
            raise DataError(f"{path}: row 1: missing column(s) {', '.join(missing)} (need fname, dialogue)")
        for row, rec in enumerate(reader, 2):
            fname, text = (rec.get("fname") or "").strip(), rec.get("dialogue") or ""
            if not fname or not text.strip():
                raise DataError(f"{path}: row {row}: empty fname or dialogue")
            table.setdefault(fname, []).append(text.replace("\r\n", "\n"))
    except csv.Error as exc:  # a NUL byte, an unterminated quote at the end of the file...
        raise DataError(f"{path}: row {row + 1}: not readable as CSV: {exc}") from None
    return {k: tuple(v) for k, v in table.items()}


#: The weight files a PyTorch model saved by ``save_pretrained`` has (one of them), whole or sharded:
#: the names transformers looks for when it loads the folder.
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json",
                "pytorch_model.bin.index.json")


#: The files one of which a saved tokenizer has (``tokenizer.json`` for fast tokenizers, the others for
#: the slow ones). Without any, transformers builds an empty tokenizer of a handful of tokens, and
#: every turn the model reads becomes unknown tokens.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "vocab.txt", "spiece.model",
                   "tokenizer.model", "sentencepiece.bpe.model", "sentencepiece.model", "vocab.model")


#: What the class names of transformers' encoder-decoder architectures hold (``BartForConditionalGeneration``,
#: ``T5ForConditionalGeneration``, ``EncoderDecoderModel``); no decoder-only class name holds one.
SEQ2SEQ_MARKS = ("ForConditionalGeneration", "Seq2Seq", "EncoderDecoder")


def missing_shards(folder: Path) -> list[str]:
    """The shard files the weight map of a sharded model in ``folder`` names and the folder lacks (a copy or
    a download cut short), when a sharded checkpoint is what transformers loads there: it looks for
    ``model.safetensors``, then its index, then ``pytorch_model.bin``, then its index."""
    import json

    for name in ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                 "pytorch_model.bin.index.json"):
        if (folder / name).is_file():
            break
    else:
        return []
    if not name.endswith(".index.json"):
        return []
    try:
        weight_map = json.loads((folder / name).read_text(encoding="utf-8")).get("weight_map")
    except (OSError, ValueError, AttributeError):  # an unreadable map: loading it says why
        return []
    shards = {v for v in weight_map.values() if isinstance(v, str)} if isinstance(weight_map, dict) else set()
    return sorted(s for s in shards if not (folder / s).is_file())


def model_folder_problem(path: str) -> str | None:
    """Why ``path`` cannot be a paraphrase model, as far as can be seen without loading one: a
    model saved by ``save_pretrained`` is a folder with a ``config.json``, its weights and its
    tokenizer, and the augmenter loads it as a seq2seq model (``AutoModelForSeq2SeqLM``), which a
    decoder-only one is not. Without this the model loads only once the run's models have trained,
    and fails (or paraphrases unknown tokens). ``None`` when it may be.

    The check and the augmenter both ask this, so a folder ``dialsum check`` accepts is one the run
    builds the augmenter from."""
    import json

    p = Path(path)
    if not p.is_dir():
        return f"{path}: not a folder (a paraphrase model is a folder saved by save_pretrained)"
    if not (p / "config.json").is_file():
        return f"{path}: no config.json in it: not a model folder saved by save_pretrained"
    if not any((p / name).is_file() for name in WEIGHT_FILES):
        return f"{path}: no weights in it (one of {', '.join(WEIGHT_FILES)}); save the model with save_pretrained"
    if missing := missing_shards(p):
        return (f"{path}: its weight map names shard files the folder lacks ({', '.join(missing[:3])}); copy or "
                "download the whole model")
    if not any((p / name).is_file() for name in TOKENIZER_FILES):
        return (f"{path}: no tokenizer files ({', '.join(TOKENIZER_FILES[:3])}...), so every turn would become "
                "unknown tokens; save the tokenizer into the folder too (tokenizer.save_pretrained)")
    try:
        config = json.loads((p / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return f"{path}: config.json is not readable JSON ({exc})"
    if not isinstance(config, dict) or not config.get("model_type"):
        # transformers reads the architecture from model_type (the augmenter runs no remote code): without it
        # the model failed to load when the run first paraphrased, after its models had trained
        return (f"{path}: config.json names no model_type, so transformers cannot tell which model it is; save "
                "the model with save_pretrained, which writes it")
    # encoder-decoder configs say so, or name a seq2seq architecture (a config written by hand may leave
    # the flag out); a decoder-only one (GPT-2, Llama...) is no seq2seq model
    if config.get("is_encoder_decoder") is not True \
            and not any(mark in str(a) for a in config.get("architectures") or [] for mark in SEQ2SEQ_MARKS):
        return (f"{path}: a decoder-only {config['model_type']} model; the paraphrase augmenter loads a seq2seq "
                "(encoder-decoder) model such as BART or T5, which rewrites each turn")
    return None
