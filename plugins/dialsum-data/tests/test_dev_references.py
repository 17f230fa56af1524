"""``data.dev_references``: further reference summaries for the validation dialogues."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialsum_core.errors import DataError
from dialsum_core.recipe import Recipe
from dialsum_core.recipe.model import load_recipe
from dialsum_core.testing import write_csv
from dialsum_data import load_splits

ROWS = [(f"dev_{i}", f"#Person1#: 안녕 {i}\n#Person2#: 네 {i}", f"#Person1#이 인사한다 {i}.", "t") for i in range(4)]


def _refs(path: Path, rows: list[tuple[str, ...]], header: str = "fname,summary") -> Path:
    path.write_text(header + "\n" + "".join(",".join(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _recipe(tmp_path: Path, *refs: Path, dev: bool = True) -> Recipe:
    train = write_csv(tmp_path / "train.csv", [(f"train_{i}", d, s, t) for i, (_, d, s, t) in enumerate(ROWS)])
    data = {"train_path": str(train), "dev_references": [str(r) for r in refs]}
    if dev:
        data["dev_path"] = str(write_csv(tmp_path / "dev.csv", ROWS))
    return Recipe.from_dict({"data": data})


def test_each_file_adds_one_reference_per_dialogue(tmp_path: Path) -> None:
    a = _refs(tmp_path / "a.csv", [(f, f"둘째 요약 {f}") for f, *_ in reversed(ROWS)])
    b = _refs(tmp_path / "b.csv", [(f"셋째 요약 {f}", "대화", f) for f, *_ in ROWS], header="summary,dialogue,fname")
    valid = load_splits(_recipe(tmp_path, a, b)).valid
    assert [e.summaries for e in valid] == [(s, f"둘째 요약 {f}", f"셋째 요약 {f}") for f, _, s, _ in ROWS]


def test_relative_paths_are_relative_to_the_recipe_file(tmp_path: Path) -> None:
    _recipe(tmp_path)  # writes train.csv and dev.csv
    _refs(tmp_path / "alt.csv", [(f, "다른 요약") for f, *_ in ROWS])
    path = tmp_path / "r.toml"
    path.write_text('[data]\ntrain_path = "train.csv"\ndev_path = "dev.csv"\ndev_references = ["alt.csv"]\n')
    assert all(len(e.summaries) == 2 for e in load_splits(load_recipe(path)).valid)


@pytest.mark.parametrize(("rows", "header", "message"), [
    ([(f, "x") for f, *_ in ROWS] + [("dev_9", "x")], "fname,summary", r"row 6: fname 'dev_9' is not a dialogue of"),
    ([(f, "x") for f, *_ in ROWS[:3]], "fname,summary", r"no reference for 1 dialogue\(s\) of .*dev.csv: dev_3"),
    ([(f, "x") for f, *_ in ROWS] + [("dev_0", "y")], "fname,summary", r"row 6: duplicate fname 'dev_0'"),
    ([("dev_0", "")], "fname,summary", r"row 2 \(fname=dev_0\): empty summary"),
    ([("dev_0", "x")], "fname,text", r"missing column\(s\) summary"),
])
def test_bad_reference_files_name_the_file_and_row(tmp_path: Path, rows, header: str, message: str) -> None:
    path = _refs(tmp_path / "alt.csv", rows, header)
    with pytest.raises(DataError, match=rf"alt\.csv: {message}"):
        load_splits(_recipe(tmp_path, path))


def test_missing_file_and_missing_dev_path(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.csv: data file not found"):
        load_splits(_recipe(tmp_path, tmp_path / "nope.csv"))
    with pytest.raises(DataError, match=r"data\.dev_references needs data\.dev_path"):
        load_splits(_recipe(tmp_path, tmp_path / "nope.csv", dev=False))


@pytest.mark.realdata
def test_real_second_translation_attaches_to_every_dev_dialogue(shared_data: Path, tmp_path: Path) -> None:
    recipe = Recipe.from_dict({"data": {"train_path": str(shared_data / "dev.csv"),
                                        "dev_path": str(shared_data / "dev.csv"),
                                        "dev_references": [str(shared_data / "dev_alt_translation.csv")]}})
    valid = load_splits(recipe).valid
    assert len(valid) == 400 and all(len(e.summaries) == 2 and e.summaries[0] != e.summaries[1] for e in valid)


def test_a_run_scores_validation_against_every_reference(tmp_path: Path) -> None:
    """The references reach the run's validation score: the lead baseline's ``rouge_mean`` is the
    mean over both references, not the score against the first one."""
    from dialsum_core.runner import run_recipe
    from dialsum_lead.model import lead
    from dialsum_metrics.rouge import RougeMetric

    alt = _refs(tmp_path / "alt.csv", [(f, f"#Person2#가 {f}에 대해 말한다.") for f, *_ in ROWS])
    recipe = _recipe(tmp_path, alt).merge({
        "run": {"mode": "single", "models": ["lead"], "output_dir": str(tmp_path / "exp"), "name": "refs"},
        "models": {"lead": {"tune": False, "turns": 1}},
    })
    valid = run_recipe(recipe).results["valid"]
    preds = [lead(d, 1, strip_speaker=False) for _, d, _, _ in ROWS]
    both = RougeMetric().compute(preds, [[s, f"#Person2#가 {f}에 대해 말한다."] for f, _, s, _ in ROWS])
    first = RougeMetric().compute(preds, [[s] for _, _, s, _ in ROWS])
    assert valid["rouge_mean"] == pytest.approx(both["rouge_mean"], abs=1e-4)
    assert abs(both["rouge_mean"] - first["rouge_mean"]) > 0.01
    assert valid["distinct_ratio"] == 1.0
