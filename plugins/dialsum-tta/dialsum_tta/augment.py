"""The four augmenters. Each works turn by turn and never touches ``#Tags#`` except to reorder them.

Variants are deterministic for a given ``(fname, seed)``, so a resumed run summarizes the same
variants, and identical variants are dropped (a variant equal to the dialogue adds nothing).
"""

from __future__ import annotations

import functools
import itertools
import logging
import math
import random
import re
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs

from dialsum_core.data import TAG_RE, speaker_tag
from dialsum_core.errors import DataError
from dialsum_core.protocols import Variant
from dialsum_metrics import kiwi  # the analyser ROUGE splits with: one per process
from dialsum_tta.files import _version, base_tag, load_lexicon, load_table, model_folder_problem
from dialsum_tta.plugin import bundled_lexicon

log = logging.getLogger("dialsum")

#: A speaker tag, its number captured.
SPEAKER_RE = re.compile(speaker_tag(r"(\d+)"))
#: A line that starts with a tag and a colon (``#Person1#: ``): the prefix, then the turn's text.
TURN_RE = re.compile(rf"^(\s*{TAG_RE.pattern}\s*:\s*)(.*)$")


def rng_for(fname: str, seed: int, name: str) -> random.Random:
    """A generator that depends on the dialogue, the seed and the augmenter only."""
    return random.Random(zlib.crc32(f"{name}\0{seed}\0{fname}".encode()))


#: Variants already made, by augmenter (its name, options and the version of the files it reads),
#: dialogue, ``n`` and seed, least recently used first. A run summarizes the same validation and test
#: dialogues with every model and fold, and trains on the same dialogues in several folds: without
#: it kiwipiepy's analysis (``mask``, ``synonym``) or a paraphrase model's beams are made again for
#: each, and a paraphrase model is loaded again for each.
_MADE: OrderedDict[tuple[Any, ...], tuple[Variant, ...]] = OrderedDict()
_MADE_LOCK = threading.Lock()
#: At most this many dialogues' variants are kept (the validation and test splits of DialogSum-ko
#: for several augmenters).
MAX_MADE = 1 << 14


def made(identity: tuple[Any, ...], fname: str, dialogue: str, n: int, seed: int,
         make: Callable[[], list[Variant]]) -> list[Variant]:
    """The variants ``make`` builds for the dialogue, built once per ``identity`` (everything of the
    augmenter that shapes them), ``fname``, ``dialogue``, ``n`` and ``seed``: variants depend on
    nothing else."""
    key = (identity, fname, dialogue, n, seed)
    with _MADE_LOCK:
        got = _MADE.get(key)
        if got is not None:
            _MADE.move_to_end(key)
            return list(got)
    got = tuple(make())
    with _MADE_LOCK:
        _MADE[key] = got
        while len(_MADE) > MAX_MADE:
            _MADE.popitem(last=False)
    return list(got)


def folder_version(path: Path) -> tuple[tuple[str, int, int], ...]:
    """``(name, mtime_ns, size)`` of every file under ``path``: a model folder saved again is another model."""
    return tuple(sorted((str(f.relative_to(path)), st.st_mtime_ns, st.st_size)
                        for f in path.rglob("*") if f.is_file() for st in (f.stat(),)))


def turns(dialogue: str) -> list[tuple[str, str]]:
    """``(prefix, text)`` per line; ``prefix`` is ``"#Person1#: "`` (empty for a line without one)."""
    out = []
    for line in dialogue.split("\n"):
        m = TURN_RE.match(line)
        out.append((m.group(1), m.group(2)) if m else ("", line))
    return out


def join_turns(parts: Iterable[tuple[str, str]]) -> str:
    return "\n".join(p + t for p, t in parts)


def _unique(variants: Iterable[Variant], original: str, n: int, patience: int | None = None) -> list[Variant]:
    """The first ``n`` distinct variants that differ from ``original``. ``variants`` is consumed
    lazily, so that draws stop as soon as ``n`` are found, or after ``patience`` draws in a row that
    found nothing new (the augmenter has likely built every variant it can)."""
    seen = {original}
    out: list[Variant] = []
    misses = 0
    for v in variants:
        if v.dialogue not in seen:
            seen.add(v.dialogue)
            out.append(v)
            misses = 0
        else:
            misses += 1
        if len(out) >= n or (patience is not None and misses > patience):
            break
    return out


def _drawn(draw: Callable[[int], Variant], n: int, possible: int, original: str) -> list[Variant]:
    """Up to ``n`` distinct random variants from a few draws (three) per variant wanted, equal
    draws dropped. ``possible`` bounds the distinct variants that ``draw`` can build: a huge ``n``
    (``run.tta_num_aug``) makes at most those, and draws stop once they are found or after ten
    draws per possible variant in a row find none (two choices may read alike, so fewer may
    exist), instead of ``3 * n`` draws held in memory. With ``n`` up to ``possible`` the draws
    are those of ``3 * n`` draws, unchanged."""
    wanted = min(n, possible)
    return _unique((draw(k) for k in range(3 * n)), original, wanted, patience=10 * wanted)


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


#: Speakers up to which ``reorder`` lists every permutation (5,040) before drawing from them.
ENUMERATED = 7


class Reorder:
    """Exchange speaker tags consistently (``#Person1#`` <-> ``#Person2#``, and every other
    permutation of the speakers present); ``restore`` maps the summary's tags back."""

    name = "reorder"

    def __init__(self, options: Any):
        self.options = options

    def augment(self, fname: str, dialogue: str, n: int, seed: int) -> list[Variant]:
        speakers = sorted(set(SPEAKER_RE.findall(dialogue)), key=int)
        tags = [speaker_tag(s) for s in speakers]
        if len(tags) < 2:
            return []
        # the swap of the first two speakers first (the most natural variant), then the other
        # permutations of the speakers present in a seeded order
        head = (tags[1], tags[0], *tags[2:])
        rest = self._others(tags, head, rng_for(fname, seed, self.name), n)
        variants = []
        for k, perm in enumerate([head, *rest]):
            forward = dict(zip(tags, perm, strict=True))
            back = {v: k2 for k2, v in forward.items()}
            variants.append(Variant(relabel(dialogue, forward), functools.partial(relabel, mapping=back),
                                    f"{self.name}:{k + 1}", functools.partial(relabel, mapping=forward)))
        return _unique(variants, dialogue, n)

    @staticmethod
    def _others(tags: list[str], head: tuple[str, ...], rng: random.Random, n: int) -> list[tuple[str, ...]]:
        """The permutations after ``head``: every one, shuffled, up to :data:`ENUMERATED` speakers;
        beyond, ``n - 1`` distinct random ones, since listing them all would hold millions (ten
        speakers: 3.6 million) to use a handful."""
        if len(tags) <= ENUMERATED:
            rest = [p for p in itertools.permutations(tags) if list(p) != tags and p != head]
            rng.shuffle(rest)
            return rest
        seen, rest = {tuple(tags), head}, []
        while len(rest) < min(n - 1, math.factorial(len(tags)) - 2):
            perm = tuple(rng.sample(tags, len(tags)))
            if perm not in seen:
                seen.add(perm)
                rest.append(perm)
        return rest


# -- mask ----------------------------------------------------------------------------------------------
#: Interjections that carry meaning and are never dropped: answers (no, right, of course), greetings,
#: thanks and apologies, hedges (글쎄 "I'm not sure") and 여보 (a spouse: it says who is talking).
KEEP = frozenset({
    "아니", "아니요", "아니오", "아니야", "아뇨", "아냐", "맞아", "맞아요", "그럼", "그럼요",
    "물론", "그렇지", "그러게", "좋아", "안녕", "안녕하세요", "여보세요", "천만에", "천만에요", "미안", "고마워",
    "글쎄", "글쎄요", "여보",
})
#: "Yes" ("OK") that acknowledges a statement or a wh-question (dropped) or answers a yes/no question (kept).
ACKNOWLEDGEMENTS = frozenset({"네", "예", "응", "그래", "그래요"})
#: Question words: a question with one (무엇으로 드릴까요?) cannot be answered by "yes", so a "네" after it
#: only acknowledges.
WH_WORDS = frozenset({"뭐", "무엇", "무슨", "어디", "언제", "누구", "누가", "왜", "어떻게", "어떤", "어느", "얼마",
                      "얼마나", "몇"})
#: Hesitation sounds ("um", "uh", "well"). Short forms that are also words (그 "that", 저 "I", 뭐 "what",
#: 어 and 아 in conjugations, which kiwipiepy sometimes tags ``IC``) count only standing alone before
#: punctuation at the start of a sentence or after a comma (``그, 뭐였더라``), like the acknowledgements.
HESITATIONS = frozenset({"음", "으음", "흠", "어", "에", "아", "오", "와", "그", "저", "저기", "뭐"})
#: The other tags kiwipiepy gives a hesitation before a comma (그 "that", 저 "I", 뭐 "what"); an
#: ending such as the 어 of 가, ("go,") is never one.
FILLER_READINGS = frozenset({"MM", "NP", "MAG"})
#: Adverbs that carry little content in speech: softeners (좀, 그냥, 약간) and discourse markers.
#: Not 막 ("just now"), nor 솔직히 (솔직히 말해서 is an idiom whose verb cannot stand alone).
FILLERS = frozenset({"그냥", "좀", "약간", "아무튼", "어쨌든", "사실"})
#: Intensifiers: dropped before a predicate only (정말 싸요 -> 싸요), never before a noun (진짜 가방: a real bag).
INTENSIFIERS = frozenset({
    "정말", "정말로", "진짜", "참", "아주", "매우", "무척", "꽤", "너무", "되게", "엄청", "굉장히",
})
#: "By any chance": a softener in a question only (혹시 모르니까, "just in case", is not one).
IN_QUESTIONS = frozenset({"혹시"})
#: Connectives that add or continue (and, then, I mean); those of contrast and cause (하지만, 그래서) are kept.
CONNECTIVES = frozenset({"그리고", "그럼", "그러면", "그러니까"})
#: Morphemes that make a predicate of the word they are in (their word can follow an intensifier).
PREDICATE_TAGS = frozenset({"VV", "VA", "VX", "XSV", "XSA", "MAG"})
#: What may follow a dropped word directly and goes with it; ``?`` never does: ``네?`` and ``정말?`` ask.
TRAILING = re.compile(r"(?:,|…+|\.{2,})")
SENTENCE_END = re.compile(r"[.!~]+")
#: Where a sentence (or a comma-separated part of one) starts.
OPENS = re.compile(r"(?:^|[.!?…~,]\s+)$")


def _droppable(toks: Sequence[Any], i: int, text: str, answers_yes_no: bool) -> bool:
    """Whether token ``i`` is low-information here (see the tables above for why each kind is)."""
    t = toks[i]
    after = text[t.start + t.len :]
    if after.startswith("?") or text[t.start : t.start + t.len] != t.form:
        return False  # a question, or a morpheme contracted with another (가 = 가+아, 봐 = 보+아)
    opens = bool(OPENS.search(text[: t.start]))
    if t.form in HESITATIONS or t.form in ACKNOWLEDGEMENTS:
        # ambiguous short forms: only alone (네 집 is "your house", 이리 와 is "come here")
        if not (opens and re.match(r"[,.!…~]|$", after)):
            return False
        if t.form in ACKNOWLEDGEMENTS:
            return t.tag == "IC" and not answers_yes_no
        return t.tag == "IC" or (t.tag in FILLER_READINGS and bool(TRAILING.match(after)))
    if t.tag == "IC":
        # other interjections (아이고, 저기요, 휴), where a sentence opens
        return t.form not in KEEP and opens
    if t.tag == "MAG" and t.form in FILLERS:
        return True
    if t.tag == "MAJ" and t.form in CONNECTIVES:
        return True
    if t.tag == "MAG" and t.form in IN_QUESTIONS:  # the sentence it is in ends with "?"
        return bool(re.match(r"[^.!?…~]*\?", text[t.start :]))
    if t.tag == "MAG" and t.form in INTENSIFIERS:
        # the next word (eojeol) must be a predicate: its morphemes up to the next space
        end = text.find(" ", t.start + t.len + 1)
        following = [u for u in toks[i + 1 :] if u.start < (end if end >= 0 else len(text))]
        return any(base_tag(u.tag) in PREDICATE_TAGS for u in following)
    return False


def yes_no_question(turn: str) -> bool:
    """Whether ``turn`` ends by asking a yes/no question: its last sentence with ``?`` has no question word."""
    asked = re.findall(r"[^.!?…~]*\?", turn)
    if not asked:
        return False
    return not any(t.form in WH_WORDS and t.tag in ("NP", "MM", "MAG") for t in kiwi().tokenize(asked[-1]))


def low_information_spans(text: str, answers_yes_no: bool = False) -> list[tuple[int, int]]:
    """Character spans of words that can be dropped without changing what is said: interjections
    (tag ``IC``) but those in :data:`KEEP`, acknowledgements not answering a question, hesitations,
    filler adverbs, intensifiers before a predicate and additive connectives.

    Only whole words (space-separated) are dropped, never a stem that a particle or an ending is
    attached to (``잠시만``, ``정말요``), with the comma or ellipsis that follows; a word that is a
    sentence of its own (``아!``, ``네.``) goes with its punctuation. ``answers_yes_no``: the turn
    answers a yes/no question (:func:`yes_no_question`), so "yes" is an answer and stays.
    """
    spans: list[tuple[int, int]] = []
    offset = 0
    for is_tag, piece in _segments(text):
        if not is_tag and piece.strip():
            toks = kiwi().tokenize(piece)
            for i, t in enumerate(toks):
                a, b = t.start, t.start + t.len
                whole = (a == 0 or piece[a - 1].isspace()) and (b == len(piece) or not piece[b].isalnum())
                if not whole or not _droppable(toks, i, piece, answers_yes_no):
                    continue
                if m := TRAILING.match(piece, b):
                    b = m.end()
                elif (m := SENTENCE_END.match(piece, b)) and re.search(r"(?:^|[.!?…~]\s)$", piece[:a]):
                    b = m.end()
                spans.append((offset + a, offset + b))
        offset += len(piece)
    return spans


def _clean(text: str) -> str:
    """Spaces and punctuation left behind by removed tokens; empty when no word is left."""
    text = re.sub(r"[ \t]{2,}", " ", text).strip()
    text = re.sub(r"\s+([,.?!])", r"\1", text)
    text = re.sub(r",+(?=[,.?!])", "", text)
    text = re.sub(r"^[\s,.!?…~]+", "", text)
    return text if re.search(r"\w", text) else ""


class Mask:
    """Drop (or replace by ``mask_token``) a random part of the low-information tokens of each turn."""

    name = "mask"

    def __init__(self, options: Any):
        self.options = options
        self.identity = (self.name, attrs.astuple(options))

    def augment(self, fname: str, dialogue: str, n: int, seed: int) -> list[Variant]:
        return made(self.identity, fname, dialogue, n, seed, lambda: self._augment(fname, dialogue, n, seed))

    def _augment(self, fname: str, dialogue: str, n: int, seed: int) -> list[Variant]:
        parts = turns(dialogue)
        spans = [low_information_spans(t, k > 0 and yes_no_question(parts[k - 1][1])) for k, (_, t) in enumerate(parts)]
        if not any(spans):
            return []
        rng = rng_for(fname, seed, self.name)

        def draw(k: int) -> Variant:
            new = []
            for (prefix, text), sp in zip(parts, spans, strict=True):
                chosen = [s for s in sp if rng.random() < self.options.rate]
                if not chosen:  # a turn left alone is left exactly as it was
                    new.append((prefix, text))
                    continue
                out, pos = [], 0
                for a, b in chosen:
                    out.append(text[pos:a])
                    if self.options.mode == "mask":
                        out.append(self.options.mask_token)
                    pos = b
                out.append(text[pos:])
                cleaned = _clean("".join(out))
                new.append((prefix, cleaned if cleaned else text))
            return Variant(join_turns(new), name=f"{self.name}:{k + 1}")

        # each low-information word is kept or not: 2**words choices, one of them the dialogue itself
        possible = 2 ** sum(len(sp) for sp in spans) - 1
        got = _drawn(draw, n, possible, dialogue)
        return [Variant(v.dialogue, v.restore, f"{self.name}:{i + 1}") for i, v in enumerate(got)]


# -- synonym -------------------------------------------------------------------------------------------
#: Suffixes that make a new word of the noun before them (생각+하다 "to think", 손+님 "guest").
SUFFIXES = ("XSV", "XSA", "XSN")


def _units(morphemes: Sequence[Any]) -> list[tuple[int, int]]:
    """``(start, length)`` of the units of a word a synonym replaces: single morphemes, and a noun or
    root with the ``하`` that makes a verb or an adjective of it (구입+하 is the verb 구입하다, so
    구입했어요 can become 샀어요)."""
    out, i = [], 0
    while i < len(morphemes):
        t = morphemes[i]
        nxt = morphemes[i + 1] if i + 1 < len(morphemes) else None
        size = 2 if nxt is not None and t.tag in ("NNG", "XR") and nxt.form == "하" and nxt.tag in ("XSV", "XSA") \
            else 1
        out.append((i, size))
        i += size
    return out


def _bound(key: tuple[str, str], following: Sequence[Any]) -> bool:
    """Whether the unit ``key`` (form, base tag) is bound to what follows it in its word, so that a
    synonym would not fit: a noun that is the root of a derived word (의견하다 is not Korean, 손님 is
    not a hand), or a verb followed by an auxiliary verb (돕+아+드리다: 도와주다 has one already,
    도와줘 드리다 is wrong)."""
    tag = key[1]
    if tag.startswith("NN"):
        return bool(following) and base_tag(following[0].tag) in SUFFIXES
    if tag in ("VV", "VA"):
        return any(base_tag(u.tag) == "VX" for u in following) or _l_dropped(key[0], following)
    return False


#: Endings before which a verb stem loses its final ㄹ (살다 "live": 사는, 사세요, 삽니다).
L_DROPPING = re.compile(r"[ᆫᆸㄴㅂ니시세오]")


def _l_dropped(stem: str, following: Sequence[Any]) -> bool:
    """Whether a one-syllable open stem (사 "buy") may be a ㄹ-stem that lost its ㄹ (살 "live"):
    어디 사세요 asks where one lives, and must not become 어디 구입하세요."""
    return len(stem) == 1 and bool(following) and bool(L_DROPPING.match(following[0].form))


class Synonym:
    """Replace words by synonyms of the same part of speech from a lexicon; verbs and adjectives
    are re-conjugated by kiwipiepy (``join``) inside their own word, the rest of the text is kept."""

    name = "synonym"

    def __init__(self, options: Any, lexicon_path: Path):
        self.options = options
        self.lexicon = load_lexicon(str(lexicon_path))
        self.identity = (self.name, attrs.astuple(options), str(lexicon_path), _version(str(lexicon_path), "lexicon"))

    @staticmethod
    def _analyse(text: str) -> list[tuple[str, list[tuple[int, int, list[Any]]]]]:
        """``text`` as pieces, each with its words (eojeol spans) and their morphemes; tags have no
        words, so kiwi never sees them. Done once per turn, whatever the number of draws."""
        out: list[tuple[str, list[tuple[int, int, list[Any]]]]] = []
        for is_tag, piece in _segments(text):
            if is_tag or not piece.strip():
                out.append((piece, []))
                continue
            toks = kiwi().tokenize(piece)
            words = [(m.start(), m.end()) for m in re.finditer(r"\S+", piece)]
            out.append((piece, [(a, b, [t for t in toks if a <= t.start < b]) for a, b in words]))
        return out

    def _variant_text(self, analysed: list[tuple[str, list[tuple[int, int, list[Any]]]]],
                      rng: random.Random) -> str:
        out = []
        for piece, words in analysed:
            # each word (eojeol) is rebuilt only when a morpheme in it changes
            new_piece, pos = [], 0
            for a, b, inside in words:
                changed = False
                morphs: list[tuple[str, str]] = []
                for unit, alts in self._alternatives(inside):
                    if alts and rng.random() < self.options.rate:
                        morphs.append(rng.choice(alts))
                        changed = True
                    else:
                        morphs.extend((t.form, t.tag) for t in unit)
                if not changed or not inside:
                    continue
                first, last = inside[0].start, max(t.start + t.len for t in inside)
                if first < a or last > b:
                    continue
                # one word: no space inside it (kiwi would put one before 요 in 잠깐만요, for one)
                rebuilt = kiwi().join([(form, tag, False) for form, tag in morphs])
                new_piece.append(piece[pos:first])
                new_piece.append(rebuilt)
                pos = last
            new_piece.append(piece[pos:])
            out.append("".join(new_piece))
        return "".join(out)

    def _alternatives(self, inside: Sequence[Any]) -> Iterator[tuple[Sequence[Any], list[Any] | None]]:
        """Each unit of a word (its morphemes) with the synonyms that may replace it (``None``: none)."""
        for i, size in _units(inside):
            unit = inside[i : i + size]
            key = (unit[0].form + "하", "VV" if unit[-1].tag == "XSV" else "VA") if size == 2 \
                else (unit[0].form, base_tag(unit[0].tag))
            yield unit, None if _bound(key, inside[i + size :]) else self.lexicon.get(key)

    def _possible(self, analysed: list[tuple[str, list[tuple[int, int, list[Any]]]]]) -> int:
        """How many distinct texts the draws can build, the text itself included: each unit with
        synonyms is kept or replaced by one of them (an upper bound: two choices may read alike)."""
        return math.prod(1 + len(alts or ()) for _, words in analysed for _, _, inside in words
                         for _, alts in self._alternatives(inside))

    def augment(self, fname: str, dialogue: str, n: int, seed: int) -> list[Variant]:
        return made(self.identity, fname, dialogue, n, seed, lambda: self._augment(fname, dialogue, n, seed))

    def _augment(self, fname: str, dialogue: str, n: int, seed: int) -> list[Variant]:
        rng = rng_for(fname, seed, self.name)
        parts = [(p, self._analyse(t)) for p, t in turns(dialogue)]

        def draw(k: int) -> Variant:
            return Variant(join_turns((p, self._variant_text(a, rng)) for p, a in parts), name=f"{self.name}:{k + 1}")

        possible = math.prod(self._possible(a) for _, a in parts) - 1
        got = _drawn(draw, n, possible, dialogue)
        return [Variant(v.dialogue, v.restore, f"{self.name}:{i + 1}") for i, v in enumerate(got)]


# -- paraphrase ----------------------------------------------------------------------------------------
class Paraphrase:
    """Variants from a table of precomputed paraphrases, or from a local paraphrase model.

    A model paraphrases turn by turn (speaker prefixes and ``#Tags#`` stay as they are) and
    returns its ``n`` best beams per turn; variant ``k`` takes the ``k``-th paraphrase of each turn.
    It makes at most ``num_beams`` variants: widening the beam to a large ``n`` would hold ``n``
    hypotheses of every turn in memory at once (``run.tta_num_aug = 10**6`` would never finish).
    """

    name = "paraphrase"

    def __init__(self, options: Any, table: Path | None, model: Path | None):
        self.options = options
        self.table_path = table
        self.model_path = model
        self._model: Any = None
        self._missing = 0
        self._capped = False
        # a file that cannot serve stops the run when the augmenter is built, not at its first dialogue
        if table is not None:
            load_table(str(table))
        if model is not None and (problem := model_folder_problem(str(model))):
            raise DataError(problem)
        self.identity = (self.name, attrs.astuple(options), str(model), folder_version(model)) if model else ()

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
        return made(self.identity, fname, dialogue, n, seed, lambda: self._from_model(dialogue, n))

    def _from_model(self, dialogue: str, n: int) -> list[Variant]:
        import torch

        if self._model is None:
            from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

            try:
                tok = AutoTokenizer.from_pretrained(self.model_path)
                model = AutoModelForSeq2SeqLM.from_pretrained(self.model_path).eval()
            except (OSError, ValueError, KeyError, RuntimeError) as exc:  # not seq2seq, no tokenizer, bad weights
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise DataError(f"{self.model_path}: cannot load the paraphrase model: {reason}") from None
            self._model = (tok, model)
        tok, model = self._model
        parts = turns(dialogue)
        texts = [t for _, t in parts]
        beams = self.options.num_beams
        if n > beams and not self._capped:
            self._capped = True
            log.warning("paraphrase: the model makes at most its num_beams (%d) variants per dialogue, not "
                        "run.tta_num_aug (%d); raise augmenters.paraphrase.num_beams for more", beams, n)
        n = min(n, beams)
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
        return Synonym(options, resolve(options.lexicon) if options.lexicon else bundled_lexicon())
    if name == "paraphrase":
        return Paraphrase(options, resolve(options.table) if options.table else None,
                          resolve(options.model) if options.model else None)
    raise ValueError(name)


__all__: Sequence[str] = ("Mask", "Paraphrase", "Reorder", "Synonym", "base_tag", "load_lexicon", "load_table", "make")
