"""Several reference columns in one file (``summary1, summary2, summary3`` or ``summary, summary2``):
every one is a reference of its dialogue, as the competition's test set has three."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from dialsum_core.errors import DataError
from dialsum_core.recipe import Recipe
from dialsum_core.testing import write_csv
from dialsum_data import load_splits, read_csv

DIALOGUES = [
    ("dev_0", "#Person1#: 오늘 저녁에 뭐 먹을까?\n#Person2#: 비빔밥 어때?"),
    ("dev_1", "#Person1#: 버스가 언제 와요?\n#Person2#: 10분 뒤에 와요."),
    ("dev_2", "#Person1#: 이 책 빌릴 수 있나요?\n#Person2#: 네, 도서관 카드가 필요해요."),
]
#: Three references per dialogue, written by different people.
REFERENCES = {
    "dev_0": ("#Person1#과 #Person2#가 저녁 메뉴를 정한다.", "#Person2#가 비빔밥을 제안한다.",
              "두 사람이 저녁으로 무엇을 먹을지 이야기한다."),
    "dev_1": ("#Person1#이 버스 시간을 묻는다.", "#Person2#는 버스가 10분 뒤에 온다고 말한다.",
              "#Person1#은 버스를 기다린다."),
    "dev_2": ("#Person1#이 책을 빌리려 한다.", "#Person2#는 도서관 카드가 필요하다고 말한다.",
              "#Person1#이 도서관에서 책 대출을 묻는다."),
}




def _write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerows([header, *rows])
    return path


def _rows(columns: int, refs: dict[str, tuple[str, ...]] = REFERENCES) -> list[list[str]]:
    return [[f, d, *refs[f][:columns], "일상"] for f, d in DIALOGUES]


def _recipe(tmp_path: Path, dev: Path) -> Recipe:
    train = write_csv(tmp_path / "train.csv", [(f"train_{f}", d, REFERENCES[f][0], "일상") for f, d in DIALOGUES])
    return Recipe.from_dict({"data": {"train_path": str(train), "dev_path": str(dev)}})


@pytest.mark.parametrize("header", [
    ["fname", "dialogue", "summary1", "summary2", "summary3", "topic"],
    ["fname", "dialogue", "summary", "summary2", "summary3", "topic"],
])
def test_every_reference_column_is_a_reference_in_order(tmp_path: Path, header: list[str]) -> None:
    dev = _write(tmp_path / "dev.csv", header, _rows(3))
    valid = load_splits(_recipe(tmp_path, dev)).valid
    assert [e.summaries for e in valid] == [REFERENCES[f] for f, _ in DIALOGUES]


def test_summary_and_summary2_give_two_references(tmp_path: Path) -> None:
    dev = _write(tmp_path / "dev.csv", ["fname", "dialogue", "summary", "summary2", "topic"], _rows(2))
    examples, _ = read_csv(dev, require_summary=True)
    assert [e.summaries for e in examples] == [REFERENCES[f][:2] for f, _ in DIALOGUES]


def test_columns_are_ordered_by_their_number_not_their_place(tmp_path: Path) -> None:
    rows = [[r[3], r[0], r[2], r[1], r[4], r[5]] for r in _rows(3)]
    dev = _write(tmp_path / "dev.csv", ["summary2", "fname", "summary1", "dialogue", "summary3", "topic"], rows)
    examples, _ = read_csv(dev, require_summary=True)
    assert [e.summaries for e in examples] == [REFERENCES[f] for f, _ in DIALOGUES]


def test_an_empty_later_reference_means_fewer_references(tmp_path: Path) -> None:
    rows = _rows(3)
    rows[1][3] = ""  # dev_1: no second reference
    rows[2][4] = "  "  # dev_2: no third reference
    dev = _write(tmp_path / "dev.csv", ["fname", "dialogue", "summary1", "summary2", "summary3", "topic"], rows)
    valid = load_splits(_recipe(tmp_path, dev)).valid
    assert [e.summaries for e in valid] == [REFERENCES["dev_0"], (REFERENCES["dev_1"][0], REFERENCES["dev_1"][2]),
                                            REFERENCES["dev_2"][:2]]


def test_the_validation_score_averages_over_every_reference_column(tmp_path: Path) -> None:
    """A prediction equal to each dialogue's second reference scores 1 against it and less against
    the others: the validation score is the mean over the three, not the score against the first."""
    from dialsum_metrics.rouge import RougeMetric

    dev = _write(tmp_path / "dev.csv", ["fname", "dialogue", "summary1", "summary2", "summary3", "topic"], _rows(3))
    valid = load_splits(_recipe(tmp_path, dev)).valid
    preds = [e.summaries[1] for e in valid]
    metric = RougeMetric(tokenizer="whitespace")
    got = metric.compute(preds, [list(e.summaries) for e in valid])
    each = [metric.compute(preds, [[e.summaries[k]] for e in valid])["rouge_mean"] for k in range(3)]
    assert each[1] == pytest.approx(1.0)
    assert got["rouge_mean"] == pytest.approx(sum(each) / 3, abs=1e-6)
    assert got["rouge_mean"] < 0.9


@pytest.mark.parametrize(("header", "rows", "message"), [
    (["fname", "dialogue", "summary1", "summary2", "topic"], [["dev_0", "#Person1#: 안녕", "", "요약", "t"]],
     r"row 2 \(fname=dev_0\): empty summary1 \(the first reference; only later ones may be empty\)"),
    (["fname", "dialogue", "summary", "summary1", "topic"], [["dev_0", "#Person1#: 안녕", "가", "나", "t"]],
     r"row 1 \(the header\): columns summary and summary1 both name the first reference"),
    (["fname", "dialogue", "summary2", "summary2", "topic"], [["dev_0", "#Person1#: 안녕", "가", "나", "t"]],
     r"row 1 \(the header\): column\(s\) summary2 appear more than once"),
    (["fname", "dialogue", "summary_2", "topic"], [["dev_0", "#Person1#: 안녕", "가", "t"]],
     r"missing column\(s\) summary \(found: fname, dialogue, summary_2, topic; references go in summary or"),
])
def test_check_refuses_a_bad_file_as_run_does_with_file_and_row(tmp_path: Path, header: list[str],
                                                                 rows: list[list[str]], message: str) -> None:
    """``dialsum check`` and ``dialsum run`` give the same one line naming the key, the file and
    the row, and exit 2."""
    from click.testing import CliRunner

    from dialsum_core.cli import cli

    dev = _write(tmp_path / "dev.csv", header, rows)
    with pytest.raises(DataError, match=rf"dev\.csv: {message}"):
        load_splits(_recipe(tmp_path, dev))
    train = write_csv(tmp_path / "train.csv", [(f"train_{f}", d, REFERENCES[f][0], "일상") for f, d in DIALOGUES])
    toml = tmp_path / "r.toml"
    toml.write_text(f'[run]\nmode = "single"\nmodels = ["lead"]\noutput_dir = "{tmp_path / "exp"}"\n\n'
                    f'[data]\ntrain_path = "{train.name}"\ndev_path = "{dev.name}"\n', encoding="utf-8")
    said = {}
    for command in ("check", "run"):
        res = CliRunner().invoke(cli, [command, str(toml)])
        assert res.exit_code == 2, res.output
        said[command] = [line for line in res.output.splitlines() if "dev.csv" in line]
        assert len(said[command]) == 1 and f"data.dev_path: {dev}: " in said[command][0], res.output
    assert said["check"] == said["run"]
    assert not (tmp_path / "exp").exists()


def test_a_reference_file_may_hold_several_columns(tmp_path: Path) -> None:
    dev = _write(tmp_path / "dev.csv", ["fname", "dialogue", "summary", "topic"], _rows(1))
    more = _write(tmp_path / "more.csv", ["fname", "summary2", "summary3"],
                  [[f, *REFERENCES[f][1:]] for f, _ in DIALOGUES])
    recipe = _recipe(tmp_path, dev).override(("data.dev_references", [str(more)]))
    assert [e.summaries for e in load_splits(recipe).valid] == [REFERENCES[f] for f, _ in DIALOGUES]


def test_a_later_reference_the_clean_up_empties_is_refused_with_its_row(tmp_path: Path) -> None:
    """A cell of only ``<br>`` is not an empty cell: it is text that scores against nothing once
    cleaned, refused as for the first reference, saying which reference it is."""
    rows = _rows(2)
    rows[1][3] = "<br>"
    dev = _write(tmp_path / "dev.csv", ["fname", "dialogue", "summary", "summary2", "topic"], rows)
    with pytest.raises(DataError, match=r"dev\.csv: row 3 \(fname=dev_1\): the summary \(reference 2\) is empty "
                                        r"after the clean-up"):
        load_splits(_recipe(tmp_path, dev))
