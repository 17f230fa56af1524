"""Fuzzed dialogue CSV files: each is either loaded exactly (and counted in the log) or refused with its row.

Files are written the way real ones arrive: with or without a BOM, ``\\r\\n`` or ``\\n`` line ends,
every field quoted or only where needed, columns in any order plus extra ones, quotes, commas and
line breaks inside dialogues, dialogues longer than the csv module's default field limit, and
``#Tags#`` nobody declared. At most one defect is planted per file; the expected outcome is worked
out here, independently of the loader.
"""

from __future__ import annotations

import csv
import io
import logging
import tempfile
from collections import Counter
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialsum_core.errors import DataError
from dialsum_core.recipe import Recipe
from dialsum_core.testing import TINY_DIALOGUES
from dialsum_data import load_splits, read_csv

from .conftest import env_int

EXAMPLES = env_int("DIALSUM_FUZZ_DATA_EXAMPLES", 400)
KNOWN = ["#Person1#", "#Person2#", "#Person3#", "#PhoneNumber#", "#Address#"]
UNKNOWN = ["#Person8#", "#Price#", "#Hospital#", "#Url#", "#Movie2#"]
# No '#' in free text, so the only tags are the ones planted (their count is then known here).
TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(list('가나다라 한국어 대화 요약 ,;"\'\t.!?ㅋㅎ~')),
        st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"), exclude_characters="#"),
    ),
    min_size=0,
    max_size=30,
)
LONG_CHARS = 140_000  # over csv.field_size_limit()'s default of 131,072


@attrs.define
class Row:
    fname: str
    dialogue: str
    summary: str
    topic: str
    unknown: Counter[str]


@st.composite
def dialogue(draw: st.DrawFn) -> tuple[str, Counter[str]]:
    unknown: Counter[str] = Counter()
    turns = []
    for _ in range(draw(st.integers(1, 4))):
        speaker = draw(st.sampled_from(KNOWN[:3]))
        parts = [draw(TEXT)]
        for _ in range(draw(st.integers(0, 2))):
            tag = draw(st.sampled_from(KNOWN + UNKNOWN))
            if tag in UNKNOWN:
                unknown[tag] += 1
            parts += [tag, draw(TEXT)]
        turns.append(f"{speaker}: {''.join(parts)}")
    sep = draw(st.sampled_from(["\n", "\r\n", "\n\n"]))
    return sep.join(turns), unknown


@st.composite
def rows(draw: st.DrawFn) -> list[Row]:
    out = []
    for i in range(draw(st.integers(1, 6))):
        text, unknown = draw(dialogue())
        pad = draw(st.sampled_from(["", " ", "  \t"]))
        out.append(Row(f"{pad}f{i}_{draw(st.from_regex(r'[a-z0-9_]{0,5}', fullmatch=True))}{pad}", text,
                       "#Person1#" + draw(TEXT) + "요약", draw(TEXT), unknown))
    return out


DEFECTS = ["none", "none", "none", "missing_column", "empty_dialogue", "blank_dialogue", "duplicate_fname",
           "empty_fname", "empty_summary", "short_row", "long_row", "not_utf8", "header_only"]


@attrs.define
class DataCase:
    content: bytes
    rows: list[Row]
    require_summary: bool
    #: ``None`` when the file must load; otherwise the row number and a phrase of the error.
    error_row: int | None
    error_phrase: str
    features: list[str]


@st.composite
def data_case(draw: st.DrawFn) -> DataCase:
    data = draw(rows())
    require_summary = draw(st.booleans())
    defect = draw(st.sampled_from(DEFECTS))
    columns = ["fname", "dialogue", "summary", "topic"]
    if draw(st.booleans()):
        columns.append("extra")
    columns = draw(st.permutations(columns))
    header = [f" {c} " if draw(st.integers(0, 5)) == 0 else c for c in columns]
    features = []
    if draw(st.integers(0, 9)) == 0:
        j = draw(st.integers(0, len(data) - 1))
        turn = "#Person1#: 아주 긴 대화 \"따옴표\", 쉼표\n"
        data[j].dialogue = turn * (LONG_CHARS // len(turn) + 1) + data[j].dialogue
        features.append("long dialogue")
    j = draw(st.integers(0, len(data) - 1))
    error_row, phrase = j + 2, ""
    if defect == "missing_column":
        gone = draw(st.sampled_from(["fname", "dialogue", "summary"]))
        if gone == "summary" and not require_summary:
            defect = "none"  # a test file needs no summary: not a defect
        else:
            header = [h for h, c in zip(header, columns, strict=True) if c != gone]
            columns = [c for c in columns if c != gone]
            error_row, phrase = None, f"missing column(s) {gone}"
    elif defect in ("empty_dialogue", "blank_dialogue"):
        data[j].dialogue = "" if defect == "empty_dialogue" else draw(st.sampled_from([" ", "\t\n", "\u3000", "\r\n "]))
        phrase = "empty dialogue"
    elif defect == "duplicate_fname":
        if len(data) < 2:
            defect = "none"
        else:
            j = draw(st.integers(1, len(data) - 1))
            first = draw(st.integers(0, j - 1))
            data[j].fname = data[first].fname.strip()
            error_row, phrase = j + 2, "duplicate fname"
    elif defect == "empty_fname":
        data[j].fname = draw(st.sampled_from(["", " ", "\t"]))
        phrase = "empty fname"
    elif defect == "empty_summary":
        if require_summary:
            data[j].summary = draw(st.sampled_from(["", "  "]))
            phrase = "empty summary"
        else:
            defect = "none"
    buf = io.StringIO(newline="")
    line_end = draw(st.sampled_from(["\n", "\r\n"]))
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
    writer = csv.writer(buf, lineterminator=line_end, quoting=quoting)
    writer.writerow(header)
    for i, r in enumerate(data):
        values = {"fname": r.fname, "dialogue": r.dialogue, "summary": r.summary, "topic": r.topic, "extra": "x"}
        record = [values[c] for c in columns]
        if defect == "short_row" and i == j:
            # the row stops early: what it lacks decides whether it is refused (and why) or loaded
            cut = draw(st.integers(1, len(columns) - 1))
            record, missing = record[:cut], columns[cut:]
            if "fname" in missing:
                phrase = "empty fname"
            elif "dialogue" in missing:
                phrase = "empty dialogue"
            elif "summary" in missing and require_summary:
                phrase = "empty summary"
            else:
                defect = "none"
                features.append("short row (optional fields missing)")
                r.summary = "" if "summary" in missing else r.summary
                r.topic = "" if "topic" in missing else r.topic
        elif defect == "long_row" and i == j:
            record.append("surplus")
            phrase = "more fields"
        writer.writerow(record)
    text = buf.getvalue()
    if defect == "header_only":
        text = text.split(line_end, 1)[0] + line_end
        error_row, phrase = None, "no rows"
    bom = draw(st.booleans())
    content = (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")
    if defect == "not_utf8":
        content = content.replace("요약".encode(), "요약".encode("cp949"), 1)
        error_row, phrase = None, "not UTF-8"
    features += ["BOM"] * bom + ["CRLF"] * (line_end == "\r\n") + ["quoted"] * (quoting == csv.QUOTE_ALL)
    if any(r.unknown for r in data):
        features.append("unknown tags")
    if any('"' in r.dialogue or "\n" in r.dialogue for r in data):
        features.append("quotes/newlines in fields")
    if defect == "none":
        error_row = None
        phrase = ""
    else:
        features.append(f"refused: {defect}")
    return DataCase(content, data, require_summary, error_row, phrase, features)


FUZZ = settings(deadline=None, database=None, max_examples=EXAMPLES,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def run_data_case(case: DataCase, tally: Counter[str]) -> None:
    with tempfile.TemporaryDirectory(prefix="dialsum-data-") as tmp:
        path = Path(tmp) / "dialogues.csv"
        path.write_bytes(case.content)
        should_fail = case.error_row is not None or bool(case.error_phrase)
        try:
            examples, report = read_csv(path, require_summary=case.require_summary)
        except DataError as exc:
            msg = str(exc)
            assert should_fail, f"a good file was refused: {msg}"
            assert "\n" not in msg and msg.startswith(f"{path}: "), msg
            assert case.error_phrase in msg, (case.error_phrase, msg)
            if case.error_row is not None:
                assert f"row {case.error_row}" in msg, (case.error_row, msg)
            tally["data files refused (with file and row)"] += 1
        else:
            assert not should_fail, f"a bad file was accepted (expected {case.error_phrase!r} at row {case.error_row})"
            assert [e.fname for e in examples] == [r.fname.strip() for r in case.rows]
            assert [e.dialogue for e in examples] == [r.dialogue.strip() for r in case.rows]
            assert [e.summary for e in examples] == [r.summary.strip() for r in case.rows]
            assert [e.topic for e in examples] == [r.topic.strip() for r in case.rows]
            assert report.rows == len(case.rows)
            assert report.unknown_tags == dict(sum((r.unknown for r in case.rows), Counter()))
            tally["data files loaded exactly"] += 1
    tally["data files fuzzed"] += 1
    for feature in case.features:
        tally[f"data feature: {feature}"] += 1


def test_fuzzed_data_files(tally: Counter[str]) -> None:
    @FUZZ
    @given(case=data_case())
    def fuzz(case: DataCase) -> None:
        run_data_case(case, tally)

    fuzz()


def test_handled_quirks_are_counted_in_the_log(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """BOM + CRLF + quotes + a 140k-character dialogue + unknown tags: loaded, and the log says what it saw."""
    rows = [list(r) for r in TINY_DIALOGUES]
    rows[0][1] += '\n#Person1#: "따옴표", 쉼표 #Price# 그리고 #Price#'
    rows[1][1] = "#Person2#: 아주 긴 대화 #Hospital#\n" * 5_000
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(["fname", "dialogue", "summary", "topic"])
    writer.writerows(rows)
    train = tmp_path / "train.csv"
    train.write_bytes(b"\xef\xbb\xbf" + buf.getvalue().encode("utf-8"))
    recipe = Recipe.from_dict({"data": {"train_path": str(train), "valid_fraction": 0.34}})
    with caplog.at_level(logging.INFO, logger="dialsum"):
        splits = load_splits(recipe)
    assert len(splits.train) + len(splits.valid) == len(rows)
    messages = [r.getMessage() for r in caplog.records]
    assert any(f"loaded {train}: {len(rows)} rows" in m for m in messages), messages
    warning = next(m for m in messages if "unfamiliar tags" in m)
    assert "#Price# x2" in warning and "#Hospital# x5000" in warning, warning
    longest = max(len(e.dialogue) for e in (*splits.train, *splits.valid))
    assert longest > 100_000
