"""Dialogues longer than ``data.max_length`` lose their end, and with it what the summary says: the
log says how many are cut, per split, once per model (the validation split is summarized after every
epoch), instead of training on and predicting from cut dialogues in silence."""

from __future__ import annotations

import logging

import pytest

from conftest import rows, shared_data
from dialsum_core.testing import write_csv


def _cut_lines(text: str) -> list[str]:
    return [line.split(" ", 3)[-1] for line in text.splitlines() if "data.max_length = " in line and " cuts " in line]


def test_cut_dialogues_are_counted_in_the_log_once_per_split(context, data_dir, tmp_path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="dialsum")
    write_csv(data_dir / "dev.csv", [(f"dev_{i}", d + "\n#Person1#: 네, 알겠습니다.", s, t) for i, (_f, d, s, t)
                                     in enumerate(rows(6))])
    write_csv(data_dir / "test.csv", [(f"test_{i}", "#Person2#: 네." * (1 + 4 * i), "", "") for i in range(3)],
              with_summary=False)
    ctx = context({"data": {"max_length": 12, "test_path": str(data_dir / "test.csv")}})
    data = ctx.data()
    hf = ctx.build("model_loaders", "scratch").build(ctx, data.train)

    def cut(examples: list) -> tuple[int, int]:
        lengths = [len(hf.tokenizer(e.dialogue).input_ids) for e in examples]
        return sum(n > 12 for n in lengths), max(lengths)

    (n_train, a), (n_valid, b), (n_test, c) = cut(data.train), cut(data.valid), cut(data.test)
    assert 0 < n_train < len(data.train) and n_valid > 0 and 0 < n_test < len(data.test)

    hf.fit(data.train, data.valid, ctx, tmp_path / "ckpt")
    hf.generate([e.dialogue for e in data.test], ctx)  # counted when training started: said once only

    assert _cut_lines(caplog.text) == [
        f"data.max_length = 12 tokens cuts {n_train} of {len(data.train)} training dialogues, {n_valid} of "
        f"{len(data.valid)} validation dialogues, {n_test} of {len(data.test)} test dialogues (the longest has "
        f"{max(a, b, c)} tokens)"]

    caplog.clear()
    hf.generate(["#Person1#: " + "네 " * 40, "#Person1#: 네"], ctx)
    assert "cuts 1 of 2 dialogues to summarize" in caplog.text


def test_nothing_is_said_when_every_dialogue_fits(context, tmp_path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="dialsum")
    ctx = context({"data": {"max_length": 512}})
    data = ctx.data()
    hf = ctx.build("model_loaders", "scratch").build(ctx, data.train)
    hf.generate([e.dialogue for e in data.valid], ctx)
    assert _cut_lines(caplog.text) == []


def test_the_long_real_test_dialogues_are_counted(context, caplog) -> None:
    """test.csv of DialogSum-ko holds dialogues of up to 2,275 characters."""
    root = shared_data()
    if root is None:
        pytest.skip("the DialogSum-ko files are not in /work/shared/data (set DIALSUM_SHARED_DATA)")
    caplog.set_level(logging.INFO, logger="dialsum")
    ctx = context({"data": {"max_length": 256, "test_path": str(root / "test.csv")}})
    data = ctx.data()
    hf = ctx.build("model_loaders", "scratch").build(ctx, data.train)
    longest = max(data.test, key=lambda e: len(e.dialogue))
    hf.generate([longest.dialogue], ctx)
    assert "cuts 1 of 1 dialogues to summarize" in caplog.text
