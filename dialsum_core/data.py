"""Dialogue CSV files (``fname, dialogue, summary, topic``), their clean-up and special tokens.

Bad files are refused with the file and the row (``row 7`` counts the header as row 1, as a
spreadsheet does), never half-loaded. Clean-up is deliberately conservative: it repairs what the
competition data is known to contain (literal ``\\n`` sequences, ``<br>``, spaced-out speaker tags)
and never touches words.
"""

from __future__ import annotations

import csv
import io
import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import attrs

from dialsum_core.errors import DataError

REQUIRED = ("fname", "dialogue")
KNOWN_TAGS: tuple[str, ...] = (
    *(f"#Person{i}#" for i in range(1, 8)),
    "#PhoneNumber#",
    "#Address#",
    "#DateOfBirth#",
    "#PassportNumber#",
    "#SSN#",
    "#CardNumber#",
    "#CarNumber#",
    "#Email#",
)
TAG_RE = re.compile(r"#[A-Za-z][A-Za-z0-9]*#")
_SPACED_TAG_RE = re.compile(r"#\s*([A-Za-z]+)\s*(\d*)\s*#")
_LITERAL_NEWLINE_RE = re.compile(r"(\\n|<br\s*/?>)", re.IGNORECASE)
_REPEAT_RE = re.compile(r"([ㅋㅎㅠㅜ!?.~])\1{2,}")
_SPACES_RE = re.compile(r"[ \t\u00a0\u3000]+")


@attrs.frozen
class Example:
    """One dialogue; ``summaries`` holds every reference (empty for a test file)."""

    fname: str
    dialogue: str
    summaries: tuple[str, ...] = ()
    topic: str = ""

    @property
    def summary(self) -> str:
        return self.summaries[0] if self.summaries else ""


@attrs.frozen
class LoadReport:
    """What loading changed, so the log can say it."""

    path: str
    rows: int
    unknown_tags: dict[str, int]


def read_csv(path: Path, *, require_summary: bool, require_dialogue: bool = True) -> tuple[list[Example], LoadReport]:
    """Load one CSV file; raises :class:`DataError` naming the file, the column or the row.

    ``require_dialogue=False`` reads a file of further references (``fname, summary``)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: data file not found") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(
            f"{path}: not UTF-8 (invalid byte at line {line}); re-save the file as UTF-8 (e.g. iconv -f cp949 -t utf-8)"
        ) from None
    # a long dialogue is data, not an error: the csv module's default field limit is 128 KiB
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in (reader.fieldnames or [])]
    except csv.Error as exc:
        raise DataError(f"{path}: row 1 (the header): malformed CSV: {exc}") from None
    reader.fieldnames = header
    needed = (*(REQUIRED if require_dialogue else REQUIRED[:1]), *(("summary",) if require_summary else ()))
    missing = [c for c in needed if c not in header]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)} (found: {', '.join(header) or 'none'})")
    examples: list[Example] = []
    seen: dict[str, int] = {}
    unknown: Counter[str] = Counter()
    rows: list[dict[str, str]] = []
    try:
        for row in reader:
            rows.append(row)
    except csv.Error as exc:
        raise DataError(f"{path}: row {len(rows) + 2} (line {reader.line_num}): malformed CSV: {exc}") from None
    for i, row in enumerate(rows, start=2):
        if None in row:
            raise DataError(f"{path}: row {i}: more fields than the header has columns")
        fname = (row.get("fname") or "").strip()
        dialogue = (row.get("dialogue") or "").strip()
        if not fname:
            raise DataError(f"{path}: row {i}: empty fname")
        if fname in seen:
            raise DataError(f"{path}: row {i}: duplicate fname {fname!r} (first seen at row {seen[fname]})")
        seen[fname] = i
        if not dialogue and require_dialogue:
            raise DataError(f"{path}: row {i} (fname={fname}): empty dialogue")
        summaries: tuple[str, ...] = ()
        if "summary" in row:  # None: the row is shorter than the header
            summary = (row["summary"] or "").strip()
            if require_summary and not summary:
                raise DataError(f"{path}: row {i} (fname={fname}): empty summary")
            summaries = (summary,) if summary else ()
        for tag in TAG_RE.findall(dialogue):
            if tag not in KNOWN_TAGS:
                unknown[tag] += 1
        examples.append(Example(fname, dialogue, summaries, (row.get("topic") or "").strip()))
    if not examples:
        raise DataError(f"{path}: no rows")
    return examples, LoadReport(str(path), len(examples), dict(unknown))


def load_csv(path: Path, *, require_summary: bool = True) -> list[Example]:
    return read_csv(path, require_summary=require_summary)[0]


def add_references(examples: Sequence[Example], extra: Sequence[Example]) -> list[Example]:
    """Attach the summaries of ``extra`` (same ``fname``) as further references."""
    by_name = {e.fname: e.summaries for e in extra}
    return [attrs.evolve(e, summaries=e.summaries + by_name.get(e.fname, ())) for e in examples]


# ------------------------------------------------------------------------------------------
# Clean-up (the seed's ``remove_noise`` and ``simplify_tokens``)
# ------------------------------------------------------------------------------------------
def remove_noise(text: str) -> str:
    """Literal ``\\n`` and ``<br>`` become line breaks; runs of ㅋ/ㅎ/!/? shrink to two; spaces squeeze."""
    text = _LITERAL_NEWLINE_RE.sub("\n", text)
    text = _REPEAT_RE.sub(r"\1\1", text)
    lines = [_SPACES_RE.sub(" ", line).strip() for line in text.replace("\r\n", "\n").split("\n")]
    return "\n".join(line for line in lines if line)


def simplify_tokens(text: str) -> str:
    """Normalise spaced or mis-cased tags: ``# person 1 #`` -> ``#Person1#``."""

    def fix(m: re.Match[str]) -> str:
        word, num = m.group(1), m.group(2)
        canonical = {t.strip("#").lower(): t.strip("#") for t in KNOWN_TAGS if not t[-2].isdigit()}
        if word.lower() == "person" and num:
            return f"#Person{num}#"
        return f"#{canonical.get(word.lower(), word)}{num}#"

    return _SPACED_TAG_RE.sub(fix, text)


def preprocess(examples: Iterable[Example], *, noise: bool, tokens: bool) -> list[Example]:
    def clean(text: str) -> str:
        if noise:
            text = remove_noise(text)
        if tokens:
            text = simplify_tokens(text)
        return text

    return [
        attrs.evolve(e, dialogue=clean(e.dialogue), summaries=tuple(clean(s) for s in e.summaries)) for e in examples
    ]


def subset(examples: Sequence[Example], n: int, seed: int) -> list[Example]:
    """A reproducible sample of ``n`` examples (all of them if there are fewer)."""
    if len(examples) <= n:
        return list(examples)
    idx = sorted(random.Random(seed).sample(range(len(examples)), n))
    return [examples[i] for i in idx]


def split_valid(examples: Sequence[Example], fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """Hold out ``fraction`` of the examples (at least one) for validation."""
    if len(examples) < 2:
        raise DataError("need at least two training examples to hold out a validation split")
    n_valid = max(1, round(len(examples) * fraction))
    idx = list(range(len(examples)))
    random.Random(seed).shuffle(idx)
    held = set(idx[:n_valid])
    return [e for i, e in enumerate(examples) if i not in held], [examples[i] for i in sorted(held)]
