"""The four augmenters. Each works turn by turn and never touches ``#Tags#`` except to reorder them.

Variants are deterministic for a given ``(fname, seed)``, so a resumed run summarizes the same
variants, and identical variants are dropped (a variant equal to the dialogue adds nothing).
"""

from __future__ import annotations

import csv
import functools
import itertools
import logging
import random
import re
import zlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from dialsum_core.protocols import Variant

log = logging.getLogger("dialsum")

TAG_RE = re.compile(r"#[A-Za-z][A-Za-z0-9]*#")
SPEAKER_RE = re.compile(r"#Person(\d+)#")
TURN_RE = re.compile(r"^(\s*#[A-Za-z][A-Za-z0-9]*#\s*:\s*)(.*)$")
LEXICON = Path(__file__).parent / "data" / "synonyms_ko.txt"


def rng_for(fname: str, seed: int, name: str) -> random.Random:
    """A generator that depends on the dialogue, the seed and the augmenter only."""
    return random.Random(zlib.crc32(f"{name}\0{seed}\0{fname}".encode()))


@functools.lru_cache(maxsize=1)
def kiwi() -> Any:
    from kiwipiepy import Kiwi

    return Kiwi()


def turns(dialogue: str) -> list[tuple[str, str]]:
    """``(prefix, text)`` per line; ``prefix`` is ``"#Person1#: "`` (empty for a line without one)."""
    out = []
    for line in dialogue.split("\n"):
        m = TURN_RE.match(line)
        out.append((m.group(1), m.group(2)) if m else ("", line))
    return out


def join_turns(parts: Iterable[tuple[str, str]]) -> str:
    return "\n".join(p + t for p, t in parts)


def _unique(variants: Iterable[Variant], original: str, n: int) -> list[Variant]:
    seen = {original}
    out: list[Variant] = []
    for v in variants:
        if v.dialogue not in seen:
            seen.add(v.dialogue)
            out.append(v)
        if len(out) >= n:
            break
    return out


def _segments(text: str) -> list[tuple[bool, str]]:
    """``text`` split into ``(is_tag, piece)``, so that kiwi never sees a tag."""
    out, pos = [], 0
    for m in TAG_RE.finditer(text):
        if m.start() > pos:
            out.append((False, text[pos : m.start()]))
        out.append((True, m.group(0)))
        pos = m.end()
    if pos < len(text):
        out.append((False, text[pos:]))
    return out


# -- reorder -----------------------------------------------------------------------------------------
def relabel(text: str, mapping: dict[str, str]) -> str:
    """Replace ``#PersonN#`` tags all at once (so that a swap does not undo itself)."""
    return SPEAKER_RE.sub(lambda m: mapping.get(m.group(0), m.group(0)), text)


class Reorder:
    """Exchange speaker tags consistently (``#Person1#`` <-> ``#Person2#``, and every other
    permutation of the speakers present); ``restore`` maps the summary's tags back."""

    name = "reorder"

    def __init__(self, options: Any):
        self.options = options

    def augment(self, fname: str, dialogue: str, n: int, seed: int) -> list[Variant]:
        speakers = sorted(set(SPEAKER_RE.findall(dialogue)), key=int)
        tags = [f"#Person{s}#" for s in speakers]
        if len(tags) < 2:
            return []
        # the swap of the first two speakers first (the most natural variant), then the other
        # permutations of the speakers present in a seeded order
        head = (tags[1], tags[0], *tags[2:])
        rest = [p for p in itertools.permutations(tags) if list(p) != tags and p != head]
        rng_for(fname, seed, self.name).shuffle(rest)
        head = [head]
        variants = []
        for k, perm in enumerate([*head, *rest]):
            forward = dict(zip(tags, perm, strict=True))
            back = {v: k2 for k2, v in forward.items()}
            variants.append(Variant(relabel(dialogue, forward), functools.partial(relabel, mapping=back),
                                    f"{self.name}:{k + 1}", functools.partial(relabel, mapping=forward)))
        return _unique(variants, dialogue, n)


# -- mask ----------------------------------------------------------------------------------------------
#: Interjections that answer a question (yes/no) carry meaning and are never dropped.
ANSWERS = frozenset({"네", "예", "아니", "아니요", "아니오", "아니야", "응", "그래", "맞아", "그럼", "물론"})
#: Adverbs that carry little content in speech (interjections, tag ``IC``, are always candidates).
FILLERS = frozenset({"그냥", "좀", "막", "뭐", "약간", "그러니까", "아무튼"})


def low_information_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of interjections (tag ``IC``) and filler adverbs, with a comma that follows."""
    spans: list[tuple[int, int]] = []
    offset = 0
    for is_tag, piece in _segments(text):
        if not is_tag and piece.strip():
            toks = kiwi().tokenize(piece)
            for i, t in enumerate(toks):
                if (t.tag == "IC" and t.form not in ANSWERS) or (t.tag == "MAG" and t.form in FILLERS):
                    end = t.start + t.len
                    if i + 1 < len(toks) and toks[i + 1].form in (",", "…", "...") and toks[i + 1].start == end:
                        end = toks[i + 1].start + toks[i + 1].len
                    spans.append((offset + t.start, offset + end))
        offset += len(piece)
    return spans


def _clean(text: str) -> str:
    """Spaces and punctuation left behind by removed tokens; empty when no word is left."""
    text = re.sub(r"[ \t]{2,}", " ", text).strip()
    text = re.sub(r"\s+([,.?!])", r"\1", text)
    text = re.sub(r"^[\s,.!?…~]+", "", text)
    return text if re.search(r"\w", text) else ""


class Mask:
    """Drop (or replace by ``mask_token``) a random part of the low-information tokens of each turn."""

    name = "mask"

    def __init__(self, options: Any):
        self.options = options

    def augment(self, fname: str, dialogue: str, n: int, seed: int) -> list[Variant]:
        parts = turns(dialogue)
        spans = [low_information_spans(t) for _, t in parts]
        if not any(spans):
            return []
        rng = rng_for(fname, seed, self.name)
        variants = []
        for k in range(max(n * 3, n)):  # a few extra draws: equal draws are dropped
            new = []
            for (prefix, text), sp in zip(parts, spans, strict=True):
                chosen = [s for s in sp if rng.random() < self.options.rate]
                out, pos = [], 0
                for a, b in chosen:
                    out.append(text[pos:a])
                    if self.options.mode == "mask":
                        out.append(self.options.mask_token)
                    pos = b
                out.append(text[pos:])
                cleaned = _clean("".join(out))
                new.append((prefix, cleaned if cleaned else text))
            variants.append(Variant(join_turns(new), name=f"{self.name}:{k + 1}"))
        got = _unique(variants, dialogue, n)
        return [Variant(v.dialogue, v.restore, f"{self.name}:{i + 1}") for i, v in enumerate(got)]


# -- synonym -------------------------------------------------------------------------------------------
def base_tag(tag: str) -> str:
    return tag.split("-", 1)[0]


@functools.lru_cache(maxsize=4)
def load_lexicon(path: str) -> dict[tuple[str, str], tuple[tuple[str, str], ...]]:
    """``(form, base tag) -> ((synonym form, full tag), ...)`` from a lexicon file (see the bundled one)."""
    from dialsum_core.errors import DataError

    table: dict[tuple[str, str], list[tuple[str, str]]] = {}
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    for row, line in enumerate(lines, 1):
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


class Synonym:
    """Replace words by synonyms of the same part of speech from a lexicon; verbs and adjectives
    are re-conjugated by kiwipiepy (``join``) inside their own word, the rest of the text is kept."""

    name = "synonym"

    def __init__(self, options: Any, lexicon_path: Path):
        self.options = options
        self.lexicon = load_lexicon(str(lexicon_path))

    def _variant_text(self, text: str, rng: random.Random) -> str:
        out = []
        for is_tag, piece in _segments(text):
            if is_tag or not piece.strip():
                out.append(piece)
                continue
            toks = kiwi().tokenize(piece)
            # eojeol (space-separated word) spans, each rebuilt only when a morpheme in it changes
            words = [(m.start(), m.end()) for m in re.finditer(r"\S+", piece)]
            new_piece, pos = [], 0
            for a, b in words:
                inside = [t for t in toks if a <= t.start < b]
                changed = False
                morphs = []
                for t in inside:
                    alts = self.lexicon.get((t.form, base_tag(t.tag)))
                    if alts and rng.random() < self.options.rate:
                        morphs.append(rng.choice(alts))
                        changed = True
                    else:
                        morphs.append((t.form, t.tag))
                if not changed or not inside:
                    continue
                first, last = inside[0].start, max(t.start + t.len for t in inside)
                if first < a or last > b:
                    continue
                rebuilt = kiwi().join(morphs)
                new_piece.append(piece[pos:first])
                new_piece.append(rebuilt)
                pos = last
            new_piece.append(piece[pos:])
            out.append("".join(new_piece))
        return "".join(out)

    def augment(self, fname: str, dialogue: str, n: int, seed: int) -> list[Variant]:
        rng = rng_for(fname, seed, self.name)
        parts = turns(dialogue)
        variants = [
            Variant(join_turns((p, self._variant_text(t, rng)) for p, t in parts), name=f"{self.name}:{k + 1}")
            for k in range(n * 3)
        ]
        got = _unique(variants, dialogue, n)
        return [Variant(v.dialogue, v.restore, f"{self.name}:{i + 1}") for i, v in enumerate(got)]


# -- paraphrase ----------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=4)
def load_table(path: str) -> dict[str, tuple[str, ...]]:
    """``fname -> paraphrases`` from a CSV with columns ``fname, dialogue`` (several rows per fname allowed)."""
    from dialsum_core.errors import DataError

    p = Path(path)
    if not p.is_file():
        raise DataError(f"{path}: paraphrase table not found")
    table: dict[str, list[str]] = {}
    with p.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in ("fname", "dialogue") if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{path}: row 1: missing column(s) {', '.join(missing)} (need fname, dialogue)")
        for row, rec in enumerate(reader, 2):
            fname, text = (rec.get("fname") or "").strip(), rec.get("dialogue") or ""
            if not fname or not text.strip():
                raise DataError(f"{path}: row {row}: empty fname or dialogue")
            table.setdefault(fname, []).append(text.replace("\r\n", "\n"))
    return {k: tuple(v) for k, v in table.items()}


class Paraphrase:
    """Variants from a table of precomputed paraphrases, or from a local paraphrase model.

    A model paraphrases turn by turn (speaker prefixes and ``#Tags#`` stay as they are) and
    returns its ``n`` best beams per turn; variant ``k`` takes the ``k``-th paraphrase of each turn.
    """

    name = "paraphrase"

    def __init__(self, options: Any, table: Path | None, model: Path | None):
        self.options = options
        self.table_path = table
        self.model_path = model
        self._model: Any = None
        self._missing = 0

    def augment(self, fname: str, dialogue: str, n: int, seed: int) -> list[Variant]:
        if self.table_path is not None:
            found = load_table(str(self.table_path)).get(fname)
            if found is None:
                self._missing += 1
                if self._missing == 1:
                    log.warning("paraphrase: %s has no row for %r (and maybe others): no variant",
                                self.table_path, fname)
                return []
            variants = [Variant(t, name=f"{self.name}:{k + 1}") for k, t in enumerate(found)]
            return _unique(variants, dialogue, n)
        return self._from_model(dialogue, n)

    def _from_model(self, dialogue: str, n: int) -> list[Variant]:
        import torch

        if self._model is None:
            from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

            tok = AutoTokenizer.from_pretrained(self.model_path)
            model = AutoModelForSeq2SeqLM.from_pretrained(self.model_path).eval()
            self._model = (tok, model)
        tok, model = self._model
        parts = turns(dialogue)
        texts = [t for _, t in parts]
        beams = max(n, self.options.num_beams)
        enc = tok(texts, return_tensors="pt", padding=True, truncation=True, max_length=self.options.max_length)
        with torch.inference_mode():
            out = model.generate(**enc, num_beams=beams, num_return_sequences=n,
                                 max_new_tokens=self.options.max_new_tokens, do_sample=False)
        decoded = [s.strip() for s in tok.batch_decode(out, skip_special_tokens=True)]
        variants = []
        for k in range(n):
            new = [(p, decoded[i * n + k] or t) for i, (p, t) in enumerate(parts)]
            variants.append(Variant(join_turns(new), name=f"{self.name}:{k + 1}"))
        return _unique(variants, dialogue, n)


def make(name: str, options: Any, resolve: Callable[[str], Path]) -> Any:
    if name == "reorder":
        return Reorder(options)
    if name == "mask":
        return Mask(options)
    if name == "synonym":
        return Synonym(options, resolve(options.lexicon) if options.lexicon else LEXICON)
    if name == "paraphrase":
        return Paraphrase(options, resolve(options.table) if options.table else None,
                          resolve(options.model) if options.model else None)
    raise ValueError(name)


__all__: Sequence[str] = ("Mask", "Paraphrase", "Reorder", "Synonym", "load_lexicon", "load_table", "make")
