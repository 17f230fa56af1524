"""Dialogue CSV files (``fname, dialogue, summary, topic``): read whole or refused.

A file may hold several references per dialogue (the competition scores against three): every
reference column (``summary``, ``summary1``, ``summary2``...) becomes one entry of
``Example.summaries``, in order (see :func:`reference_columns`). Bad files are refused with the file
and the row (``row 7`` counts the header as row 1, as a spreadsheet does), never half-loaded.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import attrs

from dialsum_core.data import KNOWN_TAGS, TAG_RE, Example
from dialsum_core.errors import DataError

REQUIRED = ("fname", "dialogue")
#: A reference column: ``summary`` (the first reference) or ``summaryN`` (N = 1, 2, ...).
REFERENCE_COLUMN = re.compile(r"summary([1-9][0-9]*)?")


@attrs.frozen
class LoadReport:
    """What loading changed, so the log can say it."""

    path: str
    rows: int
    unknown_tags: dict[str, int]


#: Files already parsed, by content: ``(path, digest, require_summary, require_dialogue)``.
_PARSED: dict[tuple[object, ...], tuple[tuple[Example, ...], LoadReport]] = {}
_KEEP = 8


def fingerprint(path: Path, raw: bytes | None = None) -> tuple[str, bytes]:
    """The file's resolved path and a digest of its bytes: equal only while the content is (a
    modification time can stay the same across a fast rewrite). Raises ``OSError``."""
    path = Path(path)
    content = path.read_bytes() if raw is None else raw
    return str(path.resolve()), hashlib.blake2b(content, digest_size=16).digest()


def read_csv(path: Path, *, require_summary: bool, require_dialogue: bool = True) -> tuple[list[Example], LoadReport]:
    """Load one CSV file; raises :class:`DataError` naming the file, the column or the row.

    ``require_dialogue=False`` reads a file of further references (``fname, summary``). A file is
    parsed again only when its content changed: the validation of ``dialsum run`` reads the data
    files as the run will, and the run then reuses what it read."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: data file not found") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    key = (*fingerprint(path, raw), require_summary, require_dialogue)
    if key not in _PARSED:
        examples, report = _parse(path, raw, require_summary, require_dialogue)
        while len(_PARSED) >= _KEEP:
            del _PARSED[next(iter(_PARSED))]
        _PARSED[key] = (tuple(examples), report)
    examples_kept, report = _PARSED[key]
    return list(examples_kept), attrs.evolve(report, path=str(path))


def _parse(path: Path, raw: bytes, require_summary: bool, require_dialogue: bool) -> tuple[list[Example], LoadReport]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: {_not_utf8(raw, exc.start)}") from None
    # a long dialogue is data, not an error: the csv module's default field limit is 128 KiB
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in (reader.fieldnames or [])]
    except csv.Error as exc:
        raise DataError(f"{path}: row 1 (the header): malformed CSV: {exc}") from None
    reader.fieldnames = header
    references = reference_columns(path, header)
    needed = (*(REQUIRED if require_dialogue else REQUIRED[:1]), *(("summary",) if require_summary else ()))
    missing = [c for c in needed if c not in header and not (c == "summary" and references)]
    if missing:
        hint = "; references go in summary or summary1, summary2, ..." if "summary" in missing else ""
        separator = {"\t": "tabs", ";": "semicolons", "|": "bars"}
        found = [name for sep, name in separator.items() if len(header) == 1 and sep in header[0]]
        if found:
            hint = f"; its columns are separated by {found[0]}: save it as comma-separated CSV"
        if not set(REQUIRED) & set(header) and any(TAG_RE.search(h) for h in header):
            hint = f"; row 1 is a dialogue, not a header: add the header line {','.join(needed)} first"
        shown = ", ".join(h if len(h) <= 30 else h[:27] + "..." for h in header) or "none"
        raise DataError(f"{path}: missing column(s) {', '.join(missing)} (found: {shown}{hint})")
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
        if [(row[h] or "").strip().lstrip("\ufeff") for h in header] == header:
            raise DataError(f"{path}: row {i}: repeats the header line (files joined with their headers?); "
                            "remove that line")
        fname = (row.get("fname") or "").strip()
        dialogue = (row.get("dialogue") or "").strip()
        if not fname:
            blank = not any((v or "").strip() for v in row.values())  # a spreadsheet's trailing ",,,"
            raise DataError(f"{path}: row {i}: empty fname" + (" (an empty row, only separators; remove it)"
                                                                  if blank else ""))
        if fname in seen:
            raise DataError(f"{path}: row {i}: duplicate fname {fname!r} (first seen at row {seen[fname]})")
        seen[fname] = i
        if not dialogue and require_dialogue:
            raise DataError(f"{path}: row {i} (fname={fname}): empty dialogue")
        summaries: list[str] = []
        for k, column in enumerate(references):
            summary = (row[column] or "").strip()  # None: the row is shorter than the header
            if summary:
                summaries.append(summary)
            elif k == 0 and require_summary:
                raise DataError(f"{path}: row {i} (fname={fname}): empty {column}"
                                + (" (the first reference; only later ones may be empty)" if k < len(references) - 1
                                   else ""))
        for tag in TAG_RE.findall(dialogue):
            if tag not in KNOWN_TAGS:
                unknown[tag] += 1
        examples.append(Example(fname, dialogue, tuple(summaries), (row.get("topic") or "").strip()))
    if not examples:
        raise DataError(f"{path}: no rows")
    return examples, LoadReport(str(path), len(examples), dict(unknown))


def _not_utf8(raw: bytes, start: int) -> str:
    """Why a file is not UTF-8 and how to convert it: the hint must fit what the file is, or
    following it garbles the text (``iconv -f cp949`` on a UTF-16 export of Excel)."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return ("UTF-16 text (Excel's \"Unicode text\"), not UTF-8; save it as \"CSV UTF-8\" "
                "(or iconv -f utf-16 -t utf-8)")
    if raw.startswith(b"\x1f\x8b"):
        return "gzip-compressed, not a CSV file; decompress it first (gunzip)"
    if raw.startswith(b"PK\x03\x04"):
        return "a zip archive (an Excel workbook?), not a CSV file; save it as \"CSV UTF-8\""
    line = raw[:start].count(b"\n") + 1
    try:
        raw.decode("cp949")
    except UnicodeDecodeError:
        return f"not UTF-8 (invalid byte at line {line}); re-save the file as UTF-8"
    return (f"not UTF-8 (invalid byte at line {line}), it reads as Korean CP949/EUC-KR; re-save it as UTF-8 "
            "(e.g. iconv -f cp949 -t utf-8)")


def reference_columns(path: Path, header: Sequence[str]) -> list[str]:
    """The reference columns of ``header``, first reference first: ``summary``, then ``summaryN``
    in the order of N. The competition scores a dialogue against several references, and a file
    may carry them all; an empty cell in a later column means that dialogue has fewer references.
    ``summary`` and ``summary1`` both claim the first reference, and a repeated column would lose
    one of its cells (the csv reader keeps the last), so both are refused naming the file."""
    found = [h for h in header if REFERENCE_COLUMN.fullmatch(h)]
    repeated = sorted({h for h in found if found.count(h) > 1})
    if repeated:
        raise DataError(f"{path}: row 1 (the header): column(s) {', '.join(repeated)} appear more than once")
    if "summary" in found and "summary1" in found:
        raise DataError(f"{path}: row 1 (the header): columns summary and summary1 both name the first reference; "
                        "rename them summary1, summary2, ...")
    return sorted(found, key=lambda h: int(REFERENCE_COLUMN.fullmatch(h).group(1) or 1))  # type: ignore[union-attr]


def load_csv(path: Path, *, require_summary: bool = True) -> list[Example]:
    return read_csv(path, require_summary=require_summary)[0]


def add_references(examples: Sequence[Example], extra: Sequence[Example]) -> list[Example]:
    """Attach the summaries of ``extra`` (same ``fname``) as further references."""
    by_name = {e.fname: e.summaries for e in extra}
    return [attrs.evolve(e, summaries=e.summaries + by_name.get(e.fname, ())) for e in examples]
