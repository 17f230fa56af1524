"""CSV loading errors name the file and the row; clean-up repairs only what is known to be broken."""

from __future__ import annotations

import gzip
import logging
import re
from pathlib import Path

import pytest

from dialsum_core.data import Example
from dialsum_core.errors import DataError
from dialsum_data import (
    augmented,
    load_splits,
    preprocess,
    read_csv,
    remove_noise,
    simplify_tokens,
    split_valid,
    subset,
)


def test_reads_rows_and_counts_unknown_tags(sample_csv, tiny_dialogues, tmp_path: Path) -> None:
    rows = [*tiny_dialogues, ("t_x", "#Person1#: 제 #Nickname#은 뭐예요?", "#Person1#이 묻는다.", "기타")]
    p = sample_csv(tmp_path / "train.csv", rows)
    examples, report = read_csv(p, require_summary=True)
    assert len(examples) == 7 and examples[0].fname == "t_0"
    assert examples[3].summary.startswith("#Person2#")
    assert report.unknown_tags == {"#Nickname#": 1}


def test_test_file_without_summary(sample_csv, tiny_dialogues, tmp_path: Path) -> None:
    p = sample_csv(tmp_path / "test.csv", tiny_dialogues, with_summary=False)
    examples, _ = read_csv(p, require_summary=False)
    assert all(e.summaries == () for e in examples)


def test_an_unchanged_file_is_parsed_once_and_a_changed_one_again(sample_csv, tiny_dialogues, tmp_path: Path) -> None:
    """The validation of a run reads the data files as the run will; the run then reuses them."""
    p = sample_csv(tmp_path / "train.csv", tiny_dialogues)
    first, _ = read_csv(p, require_summary=True)
    first.clear()  # the caller's list is its own
    again, _ = read_csv(p, require_summary=True)
    assert len(again) == len(tiny_dialogues)
    assert all(a is b for a, b in zip(again, read_csv(p, require_summary=True)[0], strict=True))
    sample_csv(p, [*tiny_dialogues, ("t_new", "#Person1#: 새 대화", "#Person1#이 말한다.", "기타")])
    changed, report = read_csv(p, require_summary=True)
    assert [e.fname for e in changed][-1] == "t_new" and report.rows == len(tiny_dialogues) + 1
    p.write_bytes(p.read_bytes().replace("새 대화".encode(), "헌 대화".encode()))  # same size, at once
    assert read_csv(p, require_summary=True)[0][-1].dialogue == "#Person1#: 헌 대화"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("fname,summary\nx,y\n", "missing column(s) dialogue"),
        ("fname,dialogue,summary\na,hello,s\na,again,s\n", "row 3: duplicate fname 'a' (first seen at row 2)"),
        ("fname,dialogue,summary\na,  ,s\n", "row 2 (fname=a): empty dialogue"),
        ("fname,dialogue,summary\na,hi,\n", "row 2 (fname=a): empty summary"),
        ("fname,dialogue,summary\n", "no rows"),
        ("fname,dialogue,summary\na,hi,s,extra\n", "row 2: more fields than the header"),
        ("fname,dialogue,summary\na,hi,s\n,,\n", "row 3: empty fname (an empty row, only separators; remove it)"),
        # two files joined with `cat`: the second header was a training row "dialogue" -> "summary"
        ("fname,dialogue,summary\na,hi,s\nfname,dialogue,summary\nb,yo,t\n", "row 3: repeats the header line"),
        ("fname,dialogue,summary\na,hi,s\n\ufefffname, dialogue ,summary\n", "row 3: repeats the header line"),
    ],
)
def test_bad_files_are_refused_with_the_row(tmp_path: Path, content: str, message: str) -> None:
    p = tmp_path / "bad.csv"
    p.write_text(content, encoding="utf-8")
    with pytest.raises(DataError) as info:
        read_csv(p, require_summary=True)
    assert str(info.value).startswith(f"{p}: ") and message in str(info.value)


def test_bad_encoding_and_bom_and_crlf(tmp_path: Path) -> None:
    p = tmp_path / "cp949.csv"
    p.write_bytes("fname,dialogue,summary\na,안녕하세요,요약\n".encode("cp949"))
    with pytest.raises(DataError, match="not UTF-8"):
        read_csv(p, require_summary=True)
    q = tmp_path / "bom.csv"
    q.write_bytes('\ufefffname,dialogue,summary\r\na,"#Person1#: 안녕\r\n#Person2#: 네",요약\r\n'.encode())
    (e,), _ = read_csv(q, require_summary=True)
    assert e.fname == "a" and "#Person2#" in e.dialogue


def test_clean_up() -> None:
    assert (
        remove_noise("#Person1#: 안녕\\n#Person2#: 네ㅋㅋㅋㅋ<br>끝  !!!!")
        == "#Person1#: 안녕\n#Person2#: 네ㅋㅋ\n끝 !!"
    )
    assert simplify_tokens("# person 1 #: 전화 #phonenumber# 로") == "#Person1#: 전화 #PhoneNumber# 로"
    (e,) = preprocess([Example("a", "#Person 2#: 네\\n", ("# Person2 #가 답한다",))], noise=True, tokens=True)
    assert e.dialogue == "#Person2#: 네" and e.summary == "#Person2#가 답한다"


def test_an_ellipsis_is_kept_and_longer_runs_of_dots_become_one() -> None:
    """The references write "..." (46 dialogues of DialogSum-ko's dev set hold one): the clean-up made it
    "..", a spelling no reference uses."""
    assert remove_noise("#Person1#: 글쎄요... 잘 모르겠어요.") == "#Person1#: 글쎄요... 잘 모르겠어요."
    assert remove_noise("#Person1#: 음...... 그래요~~~~ ㅠㅠㅠ") == "#Person1#: 음... 그래요~~ ㅠㅠ"


def test_spaced_speaker_tags_become_the_cores_spelling() -> None:
    from dialsum_core.data import KNOWN_TAGS, TAG_RE, speaker_tag

    assert simplify_tokens("# PERSON 12 #: 네") == f"{speaker_tag(12)}: 네"
    assert TAG_RE.fullmatch(speaker_tag(12)) and speaker_tag(1) in KNOWN_TAGS


def test_subset_and_split_are_reproducible() -> None:
    exs = [Example(f"e{i}", f"d{i}", (f"s{i}",)) for i in range(50)]
    assert subset(exs, 10, 1) == subset(exs, 10, 1) and len(subset(exs, 10, 1)) == 10
    train, valid = split_valid(exs, 0.2, 7)
    assert len(valid) == 10 and len(train) == 40
    assert {e.fname for e in train}.isdisjoint({e.fname for e in valid})


def test_training_augmentation_adds_mapped_copies_to_the_training_split_only(tmp_path: Path) -> None:
    """The seed's data.preprocessing.augmentation: augmented copies of training dialogues, made by
    the test-time augmenters, with each summary mapped to its copy's speakers."""
    from dialsum_core.context import RunContext
    from dialsum_core.events import Events
    from dialsum_core.experiment import Experiment
    from dialsum_core.manager import build_plugins
    from dialsum_core.recipe import Recipe

    sample = Path(__file__).resolve().parents[3] / "data" / "sample"
    recipe = Recipe.from_dict({"run": {"mode": "single", "models": ["lead"], "debug": True},
                               "data": {"train_path": str(sample / "train.csv"), "dev_path": str(sample / "dev.csv"),
                                        "debug_samples": 8,
                                        "preprocessing": {"augmentation": {"enable": True,
                                                                           "strategies": ["reorder"]}}}})
    plugins = build_plugins()
    assert ("augmenters", "reorder") in recipe.used(plugins) and recipe.problems(plugins) == []
    ctx = RunContext(recipe=recipe, plugins=plugins, experiment=Experiment(tmp_path), events=Events(plugins.pm))
    data = ctx.data()
    train = augmented(ctx, data.train)
    copies = train[len(data.train):]
    assert train[: len(data.train)] == data.train and copies
    original = {e.fname: e for e in data.train}
    swap = {"#Person1#": "#Person2#", "#Person2#": "#Person1#"}

    def swapped(text: str) -> str:
        return re.sub(r"#Person[12]#", lambda m: swap[m.group(0)], text)

    two = [c for c in copies if set(re.findall(r"#Person\d#", original[c.fname.split("#")[0]].dialogue)) == set(swap)]
    assert two
    for c in two:  # the summary follows its dialogue: the same speaker swap
        src = original[c.fname.split("#")[0]]
        assert c.dialogue == swapped(src.dialogue) and c.summary == swapped(src.summary)
    assert ctx.data().valid == data.valid  # validation is never augmented
    bad = recipe.override(("data.preprocessing.augmentation.strategies", []))
    assert any("augmentation.strategies: empty" in p for p in bad.problems(plugins))


def test_what_reading_found_is_logged_once_to_the_first_asker_that_listens(sample_csv, tiny_dialogues,
                                                                          tmp_path: Path, caplog) -> None:
    """Checks may read the data before the run (ours quietly, another plugin's with the log muted):
    the files read and the sizes are still logged, once, when the run asks."""
    from dialsum_core.recipe import Recipe

    train = sample_csv(tmp_path / "train.csv", tiny_dialogues)
    recipe = Recipe.from_dict({"data": {"train_path": str(train), "valid_fraction": 0.3}})

    def said() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.getMessage().startswith((f"loaded {train}", "data: "))]

    with caplog.at_level(logging.INFO, logger="dialsum"):
        load_splits(recipe, quiet=True)  # the [data] check
        logging.disable(logging.CRITICAL)  # another plugin's check, asking through dialsum_load_data
        try:
            load_splits(recipe)
        finally:
            logging.disable(logging.NOTSET)
        assert said() == []
        load_splits(recipe)  # the run
        load_splits(recipe.override(("run.log_level", "DEBUG")))  # a derived recipe
    assert said() == [f"loaded {train}: {len(tiny_dialogues)} rows", "data: 4 train, 2 validation, 0 test dialogues"]


@pytest.mark.parametrize("disable", [["data"], ["data", "hf"]], ids=["other keys of [data]", "no [data]"])
def test_without_this_plugins_data_section_the_training_examples_are_used_as_given(disable: list[str],
                                                                                   tmp_path: Path) -> None:
    """Another reader answers dialsum_load_data with dialsum-data disabled: the run modes still call
    ``augmented``, which must not read keys its section is no longer there to give."""
    from dialsum_core.context import RunContext
    from dialsum_core.events import Events
    from dialsum_core.experiment import Experiment
    from dialsum_core.manager import build_plugins
    from dialsum_core.recipe import Recipe

    plugins = build_plugins(disable=disable)
    recipe = Recipe.from_dict({"run": {"mode": "single", "models": ["lead"]}}, schema=plugins.schema)
    ctx = RunContext(recipe=recipe, plugins=plugins, experiment=Experiment(tmp_path), events=Events(plugins.pm))
    train = [Example("t0", "#Person1#: 안녕하세요.\n#Person2#: 네, 안녕하세요.", ("두 사람이 인사한다.",))]
    assert augmented(ctx, train) == train


def test_a_derived_recipe_gets_the_same_splits_unless_its_data_or_files_differ(sample_csv, tiny_dialogues,
                                                                              tmp_path: Path) -> None:
    """A trial's recipe asks ``dialsum_load_data`` again: the splits come back without a second
    split or read while the ``[data]`` section, seed, debug flag and files are the same."""
    from dialsum_core.context import RunContext
    from dialsum_core.events import Events
    from dialsum_core.experiment import Experiment
    from dialsum_core.manager import build_plugins
    from dialsum_core.recipe import Recipe

    train = sample_csv(tmp_path / "train.csv", tiny_dialogues)
    plugins = build_plugins()
    recipe = Recipe.from_dict({"run": {"mode": "single", "models": ["lead"]},
                               "data": {"train_path": str(train), "valid_fraction": 0.3}}, schema=plugins.schema)
    ctx = RunContext(recipe=recipe, plugins=plugins, experiment=Experiment(tmp_path), events=Events(plugins.pm))
    first = ctx.data()
    trial = ctx.evolve(recipe=recipe.override(("run.log_level", "DEBUG")))
    again = trial.data()
    assert again is not first and again.train is not first.train  # the caller's lists are its own
    assert all(a is b for a, b in zip(again.train + again.valid, first.train + first.valid, strict=True))
    other = ctx.evolve(recipe=recipe.override(("data.valid_fraction", 0.5))).data()
    assert len(other.valid) > len(first.valid)
    sample_csv(train, tiny_dialogues[:-1])
    fresh = ctx.evolve(recipe=recipe).data()
    assert len(fresh.train) + len(fresh.valid) == len(tiny_dialogues) - 1


@pytest.mark.parametrize(
    ("key", "column", "with_summary"),
    [("train_path", 2, True), ("dev_path", 2, True), ("dev_path", 1, True), ("test_path", 1, False)],
    ids=["train summary", "dev summary", "dev dialogue", "test dialogue"],
)
def test_a_text_the_clean_up_empties_is_refused_by_check_with_its_row(sample_csv, tiny_dialogues, tmp_path: Path,
                                                                     key: str, column: int,
                                                                     with_summary: bool) -> None:
    """A summary or dialogue of only ``<br>`` passes the file's own emptiness test but is nothing once
    cleaned: the run would train on an empty target, score validation against an empty reference or
    submit an empty summary; the ``[data]`` check must refuse it with the file and row first."""
    from dialsum_core.manager import build_plugins
    from dialsum_core.recipe import Recipe

    files = {k: sample_csv(tmp_path / f"{k}.csv", tiny_dialogues, with_summary=(k != "test_path"))
             for k in ("train_path", "dev_path", "test_path")}
    rows = [list(r) for r in tiny_dialogues]
    rows[2][column] = "<br>" if column == 2 else "\\n <br/>"
    files[key] = sample_csv(tmp_path / "bad.csv", rows, with_summary=with_summary)
    plugins = build_plugins()
    recipe = Recipe.from_dict({"run": {"mode": "single", "models": ["lead"]},
                               "data": {k: str(v) for k, v in files.items()}}, schema=plugins.schema)
    problems = recipe.problems(plugins)
    what = "summary" if column == 2 else "dialogue"
    assert any(f"data.{key}: {files[key]}: row 4 (fname=t_2): the {what} is empty after the clean-up" in p
               for p in problems), problems
    with pytest.raises(DataError, match="row 4"):
        load_splits(recipe)
    kept = recipe.override(("data.preprocessing.remove_noise", False))
    assert not kept.problems(plugins)  # without the clean-up the text stays, as written


@pytest.mark.parametrize(("rows", "fraction", "message"), [
    (7, 0.0, "data.valid_fraction is 0 and data.dev_path is empty"),
    (3, 0.99, "3 training dialogue(s): data.valid_fraction = 0.99 holds out 3 and leaves none to train on"),
    (1, 0.1, "1 training dialogue(s): data.valid_fraction = 0.1 holds out 1 and leaves none to train on"),
], ids=["nothing held out", "nothing left", "one row"])
def test_a_hold_out_with_nothing_to_validate_or_train_on_is_refused_by_check(sample_csv, tiny_dialogues,
                                                                          tmp_path: Path, rows: int, fraction: float,
                                                                          message: str) -> None:
    """``split_valid`` holds out one dialogue at least: 0 was read as "one", and a large share of a
    small file left no training dialogue, which the run found only after its folder existed."""
    from dialsum_core.manager import build_plugins
    from dialsum_core.recipe import Recipe

    train = sample_csv(tmp_path / "train.csv", tiny_dialogues[:rows])
    plugins = build_plugins()
    recipe = Recipe.from_dict({"run": {"mode": "single", "models": ["lead"]},
                               "data": {"train_path": str(train), "valid_fraction": fraction}}, schema=plugins.schema)
    problems = recipe.problems(plugins)
    assert any(": data.valid_fraction: " in p and message in p for p in problems), problems
    with pytest.raises(DataError, match=re.escape(message)):
        load_splits(recipe)
    assert not recipe.override(("data.dev_path", str(train))).problems(plugins)  # no hold-out: the fraction is unused


def test_validation_and_test_dialogues_that_are_training_dialogues_are_warned_about(sample_csv, tiny_dialogues,
                                                                                      tmp_path: Path, caplog) -> None:
    """A validation file that repeats training dialogues (the training file itself, or an overlapping
    export) scores recall of the training summaries; a test file of training dialogues is most likely
    the wrong file. Both ran in silence."""
    from dialsum_core.recipe import Recipe

    train = sample_csv(tmp_path / "train.csv", tiny_dialogues[:5])
    renamed = [(f"d_{i}", *row[1:]) for i, row in enumerate(tiny_dialogues[3:])]  # same texts, other fnames
    dev = sample_csv(tmp_path / "dev.csv", renamed)
    test = sample_csv(tmp_path / "test.csv", tiny_dialogues[:2], with_summary=False)
    recipe = Recipe.from_dict({"data": {"train_path": str(train), "dev_path": str(dev), "test_path": str(test)}})
    with caplog.at_level(logging.WARNING, logger="dialsum"):
        load_splits(recipe)
    said = [r.getMessage() for r in caplog.records if "also training dialogues" in r.getMessage()]
    assert said == [
        f"2 of the 3 dialogues of the validation file {dev} are also training dialogues (same text: d_0, "
        "d_1); its scores measure recall of the training summaries, not summarization",
        f"2 of the 2 dialogues of the test file {test} are also training dialogues (same text: t_0, t_1); "
        "is data.test_path the test file you mean?"]
    caplog.clear()
    apart = sample_csv(tmp_path / "dev2.csv", tiny_dialogues[5:])
    with caplog.at_level(logging.WARNING, logger="dialsum"):
        load_splits(recipe.override(("data.dev_path", str(apart)), ("data.test_path", "")))
    assert not [r for r in caplog.records if "also training dialogues" in r.getMessage()]


@pytest.mark.parametrize(("encode", "message"), [
    (lambda text: text.encode("cp949"), "it reads as Korean CP949/EUC-KR; re-save it as UTF-8 (e.g. iconv -f cp949"),
    (lambda text: text.encode("utf-16"), "UTF-16 text (Excel's \"Unicode text\"), not UTF-8; save it as \"CSV UTF-8\" "
                                         "(or iconv -f utf-16 -t utf-8)"),
    (lambda text: b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xb5\xd6", "a zip archive (an Excel workbook?), "
                                                                              "not a CSV file"),
    (lambda text: text.replace(",", "\t").encode(), "its columns are separated by tabs: save it as comma-separated"),
    (lambda text: text.replace(",", ";").encode(), "its columns are separated by semicolons: save it as comma-"),
    (lambda text: gzip.compress(text.encode()), "gzip-compressed, not a CSV file; decompress it"),
], ids=["cp949", "utf-16", "xlsx", "tabs", "semicolons", "gzip"])
def test_a_file_saved_in_another_format_is_refused_with_how_to_convert_it(tmp_path: Path, encode, message) -> None:
    """Korean users' spreadsheets save CP949, UTF-16 ("Unicode text") or a workbook: the hint must
    fit the file, since ``iconv -f cp949`` on a UTF-16 file garbles it."""
    p = tmp_path / "train.csv"
    p.write_bytes(encode("fname,dialogue,summary\na,#Person1#: 안녕하세요,인사한다\n"))
    with pytest.raises(DataError) as info:
        read_csv(p, require_summary=True)
    assert str(info.value).startswith(f"{p}: ") and message in str(info.value), str(info.value)


def test_a_held_out_dialogue_has_no_copy_left_in_training(tiny_dialogues) -> None:
    """A training file with the same dialogue under several ``fname``\\s (augmented copies, a row
    pasted twice) split row by row put a copy in training and one in validation; the k-fold split
    keeps them together, so must the hold-out."""
    exs = [Example(f, d, (s,), t) for f, d, s, t in tiny_dialogues]
    exs += [Example(f"{e.fname}_copy{j}", e.dialogue.replace(" ", "  "), e.summaries, e.topic)
            for e in exs[:4] for j in range(2)]
    for seed in range(20):
        train, valid = split_valid(exs, 0.3, seed)
        assert len(train) + len(valid) == len(exs) and train and valid
        kept = {" ".join(e.dialogue.split()) for e in train}
        assert not [e.fname for e in valid if " ".join(e.dialogue.split()) in kept], seed
    unique = [Example(f, d, (s,), t) for f, d, s, t in tiny_dialogues]
    assert split_valid(unique, 0.3, 1) == split_valid(unique, 0.3, 1)  # reproducible
    same = [Example(f"x{i}", "#Person1#: 안녕", ("인사",)) for i in range(3)]
    with pytest.raises(DataError, match="every training dialogue has the same text"):
        split_valid(same, 0.3, 0)


def test_a_file_without_its_header_line_is_refused_in_one_short_line(sample_csv, tiny_dialogues,
                                                                     tmp_path: Path) -> None:
    """``to_csv(header=False)`` leaves the first dialogue as the header: the message quoted that whole
    dialogue as "found" columns, a wall of text that did not say what to do."""
    p = sample_csv(tmp_path / "test.csv", tiny_dialogues, with_summary=False)
    p.write_text(p.read_text(encoding="utf-8").split("\n", 1)[1], encoding="utf-8")
    with pytest.raises(DataError) as info:
        read_csv(p, require_summary=False)
    message = str(info.value)
    assert message.endswith("row 1 is a dialogue, not a header: add the header line fname,dialogue first)"), message
    assert len(message) < len(str(p)) + 200, message


def test_predicting_a_test_file_of_another_recipe_than_the_training_file_is_warned_about(
        sample_csv, tiny_dialogues, tmp_path: Path, caplog) -> None:
    """``--set data.train_path`` (and dev_path) on a shipped recipe kept its sample test file: the run
    wrote a submission for the sample dialogues without a word."""
    from dialsum_core.recipe import load_recipe

    for name in ("train", "dev", "test", "real_train", "real_dev"):
        sample_csv(tmp_path / f"{name}.csv", tiny_dialogues[:5] if "train" in name else tiny_dialogues[5:],
                   with_summary=name != "test")
    path = tmp_path / "base.toml"
    path.write_text('[data]\ntrain_path = "train.csv"\ndev_path = "dev.csv"\ntest_path = "test.csv"\n'
                    "valid_fraction = 0.3\n", encoding="utf-8")
    real = [f"data.train_path={tmp_path / 'real_train.csv'}", f"data.dev_path={tmp_path / 'real_dev.csv'}"]
    with caplog.at_level(logging.WARNING, logger="dialsum"):
        load_splits(load_recipe(path, real))
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("predicting the test file")]
    real_train = tmp_path / "real_train.csv"
    assert said == [f"predicting the test file test.csv (set in {path}) while training on {real_train} "
                    "(set in --set): is that the test file you mean? (set data.test_path too)"]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="dialsum"):
        load_splits(load_recipe(path, [*real, f"data.test_path={tmp_path / 'test.csv'}"]))
        load_splits(load_recipe(path))
    assert not [r for r in caplog.records if "you mean" in r.getMessage()]


def test_a_valid_fraction_that_a_validation_file_makes_unused_is_warned_about(sample_csv, tiny_dialogues,
                                                                              tmp_path: Path, caplog) -> None:
    """``data.valid_fraction = 0.3`` with a ``data.dev_path`` (a shipped recipe's sample file) was
    accepted and ignored: the run validated on the file, not on the share the user asked for."""
    from dialsum_core.recipe import load_recipe

    sample_csv(tmp_path / "train.csv", tiny_dialogues[:5])
    sample_csv(tmp_path / "dev.csv", tiny_dialogues[5:])
    path = tmp_path / "r.toml"
    path.write_text('[data]\ntrain_path = "train.csv"\ndev_path = "dev.csv"\n', encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="dialsum"):
        load_splits(load_recipe(path, ["data.valid_fraction=0.3"]))
        load_splits(load_recipe(path, ["data.valid_fraction=0.1"]))  # the default, as config.toml spells it
        load_splits(load_recipe(path, ["data.valid_fraction=0.3", "data.dev_path="]))
    said = [r.getMessage() for r in caplog.records if "valid_fraction" in r.getMessage()]
    assert said == ["data.valid_fraction = 0.3 (set in --set) is not used: the validation file is data.dev_path "
                    "(dev.csv); set data.dev_path = \"\" to hold out that share of the training file"]


def test_a_validation_file_of_other_versions_of_the_training_dialogues_is_warned_about(
        sample_csv, tiny_dialogues, tmp_path: Path, caplog) -> None:
    """A second translation of the training file (the same ``fname``s, other words) used as the
    validation file scores recall of summaries the model trained on; the texts differ, so the check
    of identical texts said nothing."""
    from dialsum_core.recipe import Recipe

    train = sample_csv(tmp_path / "train.csv", tiny_dialogues[:5])
    other = [(fname, dialogue.replace(".", "!"), summary, topic) for fname, dialogue, summary, topic
             in tiny_dialogues[2:5]] + [("new_0", *tiny_dialogues[5][1:])]
    dev = sample_csv(tmp_path / "dev.csv", other)
    recipe = Recipe.from_dict({"data": {"train_path": str(train), "dev_path": str(dev)}})
    with caplog.at_level(logging.WARNING, logger="dialsum"):
        load_splits(recipe)
    said = [r.getMessage() for r in caplog.records if "fname" in r.getMessage()]
    names = ", ".join(row[0] for row in tiny_dialogues[2:5])
    assert said == [f"3 of the 4 dialogues of the validation file {dev} have the fname of a training dialogue, "
                    f"with other text ({names}): another version of the same dialogues (a second translation?); "
                    "its scores measure recall of the training summaries, not summarization"]


def test_the_second_translation_as_validation_of_the_first_is_warned_about(shared_data: Path, caplog) -> None:
    from dialsum_core.recipe import Recipe

    recipe = Recipe.from_dict({"data": {"train_path": str(shared_data / "dev.csv"),
                                        "dev_path": str(shared_data / "dev_alt_translation.csv")}})
    with caplog.at_level(logging.WARNING, logger="dialsum"):
        load_splits(recipe)
    assert "400 of the 400 dialogues of the validation file" in caplog.text
    assert "have the fname of a training dialogue, with other text (dev_0, dev_1, dev_2, ...)" in caplog.text
