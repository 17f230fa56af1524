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
from dialsum_hf.folders import config_problem, read_json, seq2seq_problem, tokenizer_problem, weights_problem

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


def model_folder_problem(path: str) -> str | None:
    """Why ``path`` cannot be a paraphrase model, as far as can be seen without loading one: a
    model saved by ``save_pretrained`` is a folder with a ``config.json``, its weights and its
    tokenizer, and the augmenter loads it as a seq2seq model (``AutoModelForSeq2SeqLM``), which a
    decoder-only one is not. Without this the model loads only once the run's models have trained,
    and fails (or paraphrases unknown tokens). ``None`` when it may be.

    The check and the augmenter both ask this, so a folder ``dialsum check`` accepts is one the run
    builds the augmenter from; what transformers needs in the folder is dialsum-hf's rule
    (:mod:`dialsum_hf.folders`), the one its model loaders' check applies too."""
    p = Path(path)
    if not p.is_dir():
        return f"{path}: not a folder (a paraphrase model is a folder saved by save_pretrained)"
    if not (p / "config.json").is_file():
        return f"{path}: no config.json in it: not a model folder saved by save_pretrained"
    config = read_json(p / "config.json")
    # the augmenter runs no remote code: transformers reads the architecture from model_type, and without it
    # the model failed to load when the run first paraphrased, after its models had trained
    if problem := weights_problem(p) or tokenizer_problem(p) or config_problem(config):
        return f"{path}: {problem}"
    # transformers' own rule, as dialsum-hf's loaders apply it: a decoder-only model (GPT-2, Llama, or one of
    # text and images, a ...ForConditionalGeneration too) is no seq2seq model
    if problem := seq2seq_problem(config or {}):  # a JSON object, which config_problem asked for
        return (f"{path}: {problem}; the paraphrase augmenter loads a seq2seq (encoder-decoder) model such as BART "
                "or T5, which rewrites each turn")
    return None
