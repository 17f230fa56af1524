"""Dialogues longer than ``data.max_length`` lose their end, and with it what the summary says: the
log says how many are cut, per split, when training starts (or at the first generation of a model
that did not train), instead of training on and predicting from cut dialogues in silence."""

from __future__ import annotations

import logging

import pytest

from conftest import _deep_merge, base_recipe, rows, shared_data
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
    hf.generate(["#Person1#: " + "네 " * 40], ctx)  # TTA variants and the like: training has said it
    assert _cut_lines(caplog.text) == []

    fresh = ctx.build("model_loaders", "scratch").build(ctx, data.train)  # as a reloaded checkpoint: no training
    fresh.generate(["#Person1#: " + "네 " * 40, "#Person1#: 네"], ctx)
    fresh.generate(["#Person1#: " + "네 " * 41], ctx)
    assert [line.split(" cuts ")[1] for line in _cut_lines(caplog.text)] == [
        f"1 of 2 dialogues to summarize (the longest has {len(fresh.tokenizer('#Person1#: ' + '네 ' * 40).input_ids)} "
        "tokens)"]


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
        pytest.skip("real data not found: dialogsum-ko in ../shared/data beside the repository "
                    "(set DIALSUM_SHARED_DATA to its parent)")
    caplog.set_level(logging.INFO, logger="dialsum")
    ctx = context({"data": {"max_length": 256, "test_path": str(root / "test.csv")}})
    data = ctx.data()
    hf = ctx.build("model_loaders", "scratch").build(ctx, data.train)
    longest = max(data.test, key=lambda e: len(e.dialogue))
    hf.generate([longest.dialogue], ctx)
    assert "cuts 1 of 1 dialogues to summarize" in caplog.text


def test_cut_training_summaries_are_counted_in_the_log(context, tmp_path, caplog) -> None:
    """A summary longer than ``data.max_target_length`` is learnt up to there: the model learns to
    stop mid-sentence, and the log says how many training summaries that is."""
    caplog.set_level(logging.INFO, logger="dialsum")
    ctx = context({"data": {"max_target_length": 6}})
    data = ctx.data()
    hf = ctx.build("model_loaders", "scratch").build(ctx, data.train)
    lengths = [len(hf.tokenizer(text_target=e.summary).input_ids) for e in data.train]
    expected = sum(n > 6 for n in lengths)
    assert 0 < expected
    hf.fit(data.train, data.valid, ctx, tmp_path / "ckpt")
    lines = [line.split(" ", 3)[-1] for line in caplog.text.splitlines() if "data.max_target_length = " in line]
    assert lines == [f"data.max_target_length = 6 tokens cuts {expected} of {len(data.train)} training summaries "
                     f"(the longest has {max(lengths)} tokens): the model learns to stop there"]


def test_a_causal_model_counts_its_prompts_and_its_summaries_with_the_end_token(context, tiny_models, tmp_path,
                                                                               caplog) -> None:
    caplog.set_level(logging.INFO, logger="dialsum")
    table = {"model_name_or_path": str(tiny_models["llama"]), "use_lora": False, "torch_dtype": "float32"}
    ctx = context({"run": {"models": ["solar-10.7b"]}, "models": {"solar-10.7b": table},
                   "train": {"max_steps": 1}, "data": {"max_length": 64, "max_target_length": 8}}, name="causal")
    data = ctx.data()
    hf = ctx.build("model_loaders", "solar-10.7b").build(ctx, data.train)
    from dialsum_hf.features import prompt_ids

    prompts = [len(prompt_ids(hf.tokenizer, hf.prompt(e.dialogue))) for e in data.train]
    summaries = [len(hf.tokenizer(e.summary, add_special_tokens=False).input_ids) + 1 for e in data.train]
    assert 0 < sum(n > 64 for n in prompts) and 0 < sum(n > 8 for n in summaries)
    hf.fit(data.train, data.valid, ctx, tmp_path / "ckpt")
    assert f"cuts {sum(n > 64 for n in prompts)} of {len(data.train)} training dialogues" in caplog.text
    assert f"cuts {sum(n > 8 for n in summaries)} of {len(data.train)} training summaries" in caplog.text


def test_a_second_run_into_the_same_folder_says_it_again(data_dir, caplog) -> None:
    """A notebook or script that runs a recipe, then runs it again with a change under the same
    ``run.name`` (the same experiment folder, so the model trains again), gets a full log the second
    time: what one run said once is said by the next run too, not taken as said already."""
    from dialsum_core.recipe import Recipe
    from dialsum_core.runner import run_recipe

    recipe = _deep_merge(base_recipe(data_dir), {"run": {"name": "again"}, "data": {"max_length": 12}})
    counts = []
    for rate in (5e-3, 4e-3):
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="dialsum"):
            result = run_recipe(Recipe.from_dict(_deep_merge(recipe, {"train": {"learning_rate": rate}})))
        assert result.results["status"] == "complete", result.results
        counts.append(len(_cut_lines(caplog.text)))
    assert counts == [1, 1], counts
