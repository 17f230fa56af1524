"""The ``scratch`` loader end to end: tokenizer, training, events, generation, save and load."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from conftest import rows
from dialsum_core import hookimpl
from dialsum_hf.gpu import largest_batch


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict]] = []

    @hookimpl
    def dialsum_before_epoch(self, epoch: int, n_epochs: int) -> None:
        self.events.append(("before_epoch", {"epoch": epoch, "n_epochs": n_epochs}))

    @hookimpl
    def dialsum_after_epoch(self, epoch: int, n_epochs: int, metrics: dict) -> None:
        self.events.append(("after_epoch", {"epoch": epoch, "metrics": metrics}))

    @hookimpl
    def dialsum_on_metrics(self, metrics: dict, step: int) -> None:
        self.events.append(("metrics", {"step": step, **metrics}))

    @hookimpl
    def dialsum_on_progress(self, task: str, completed: int, total: int) -> None:
        self.events.append(("progress", {"task": task, "completed": completed, "total": total}))


def test_scratch_trains_keeps_the_best_epoch_and_reloads(context, tmp_path: Path) -> None:
    ctx = context({"train": {"epochs": 2}, "run": {"auto_batch": True}})
    rec = Recorder()
    ctx.plugins.add(rec, "recorder")
    data = ctx.data()
    model = ctx.build("model_loaders", "scratch").build(ctx, data.train)
    assert model.tokenizer.tokenize("#Person1#와 #PhoneNumber#") [0] == "#Person1#"
    assert "#PhoneNumber#" in model.tokenizer.tokenize("#Person1#와 #PhoneNumber#")

    result = model.fit(data.train, data.valid, ctx, tmp_path / "ckpt")

    history = result.history
    assert [h["epoch"] for h in history] == [1, 2]
    assert all("loss" in h and 0.0 <= h["eval_rouge_mean"] <= 1.0 for h in history)
    assert result.details["best_metric"] == max(h["eval_rouge_mean"] for h in history)
    assert Path(result.best_checkpoint, "model.safetensors").is_file()
    assert json.loads(Path(result.best_checkpoint, "dialsum_model.json").read_text())["loader"] == "scratch"
    assert result.details["batch_size"] == 24  # auto_batch: nothing runs out of memory on this tiny model
    names = [n for n, _ in rec.events]
    assert names.count("before_epoch") == 2 and names.count("after_epoch") == 2
    assert {"train", "generate"} <= {e["task"] for n, e in rec.events if n == "progress"}
    assert any(n == "metrics" and "loss" in e for n, e in rec.events)

    dialogues = [e.dialogue for e in data.valid]
    preds = model.generate(dialogues, ctx)
    assert len(preds) == len(dialogues) and all(isinstance(p, str) and p for p in preds)
    assert model.generate(dialogues[::-1], ctx) == preds[::-1]  # sorted internally, returned in input order

    model.save(tmp_path / "saved")
    assert (tmp_path / "saved" / "model.safetensors").is_file()
    again = ctx.build("model_loaders", "scratch").load(ctx, tmp_path / "saved")
    assert again.generate(dialogues, ctx) == preds
    assert again.tokenizer_signature == model.tokenizer_signature
    scores = model.score(dialogues[:2], [e.summary for e in data.valid[:2]], ctx)
    assert len(scores) == 2 and all(s < 0 for s in scores)
    assert model.prompt("대화") == "대화" and model.is_encoder_decoder


def test_largest_batch_halves_on_out_of_memory() -> None:
    import torch

    def trial(batch_size: int) -> None:
        if batch_size > 12:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    assert largest_batch(trial, 64) == 8
    assert largest_batch.tried == [64, 32, 16, 8]


def test_label_smoothing_trains_an_encoder_decoder(context, tmp_path: Path) -> None:
    """With label smoothing the Trainer removes ``labels`` before the forward pass; the decoder input
    must still come from the summary, not from the dialogue."""
    ctx = context({"train": {"epochs": 1, "label_smoothing": 0.1}})
    data = ctx.data()
    model = ctx.build("model_loaders", "scratch").build(ctx, data.train)
    result = model.fit(data.train, data.valid, ctx, tmp_path / "ckpt")
    assert [h["epoch"] for h in result.history] == [1]
    assert all(h["loss"] > 0 for h in result.history)


class StopAfter:
    """A :class:`dialsum_core.protocols.Trial` that prunes once ``epoch`` has been reported."""

    number = 7

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch
        self.reported: list[tuple[int, float]] = []

    def report(self, step: int, scores: dict) -> bool:
        self.reported.append((step, scores["rouge_mean"]))
        return step >= self.epoch


def test_training_reports_to_the_trial_and_stops_when_it_prunes(context, tmp_path: Path) -> None:
    """Pruning is an argument of training (``ctx.trial``), not an exception thrown through events."""
    ctx = context({"train": {"epochs": 3}})
    data = ctx.data()
    model = ctx.build("model_loaders", "scratch").build(ctx, data.train)
    trial = StopAfter(1)
    result = model.fit(data.train, data.valid, ctx.evolve(trial=trial), tmp_path / "ckpt")
    assert result.pruned and [h["epoch"] for h in result.history] == [1]
    assert [step for step, _ in trial.reported] == [1]
    late = StopAfter(3)  # an answer after the last epoch changes nothing
    result = model.fit(data.train, data.valid, ctx.evolve(trial=late), tmp_path / "ckpt2")
    assert not result.pruned and [step for step, _ in late.reported] == [1, 2, 3]


def test_the_seeds_checkpoint_options_and_an_unset_batch_size(context, tmp_path: Path) -> None:
    """`save_checkpoints`, `checkpoint_interval` (steps) and `batch_size` left to be found."""
    ctx = context({"train": {"epochs": 1, "batch_size": 0, "checkpoint_interval": 2, "save_total_limit": 5}})
    data = ctx.data()
    model = ctx.build("model_loaders", "scratch").build(ctx, data.train)
    result = model.fit(data.train, data.valid, ctx, tmp_path / "every2")
    assert result.details["batch_size"] > 0  # found, as auto_batch finds it
    steps = sorted(int(p.name.split("-")[1]) for p in (tmp_path / "every2").glob("checkpoint-*"))
    assert steps and all(s % 2 == 0 for s in steps[:-1]) and len(result.history) >= len(steps) - 1
    none = context({"train": {"epochs": 2, "save_checkpoints": False}})
    model = none.build("model_loaders", "scratch").build(none, data.train)
    result = model.fit(data.train, data.valid, none, tmp_path / "final")
    assert not list((tmp_path / "final").glob("checkpoint-*"))
    assert result.best_checkpoint == str(tmp_path / "final")
    again = none.build("model_loaders", "scratch").load(none, Path(result.best_checkpoint))
    assert again.generate([data.valid[0].dialogue], none) == model.generate([data.valid[0].dialogue], none)


def test_auto_batch_probes_with_the_longest_input_and_summary_together() -> None:
    """The probe batch used to be the longest dialogues only: a short dialogue with a long summary
    makes a larger encoder-decoder batch."""
    from dialsum_hf.gpu import longest_first

    features = [{"input_ids": [1] * 10, "labels": [1] * 2}, {"input_ids": [1] * 8, "labels": [1] * 9},
                {"input_ids": [1] * 3, "labels": [1] * 3}]
    assert [len(f["input_ids"]) for f in longest_first(features)] == [8, 10, 3]



def test_fit_names_its_last_checkpoint_by_the_resume_rule(context, tmp_path: Path) -> None:
    """``FitResult.last_checkpoint`` is the checkpoint ``run.resume_from`` would take from the folder,
    and the model saves none without ``train.save_checkpoints``."""
    from dialsum_hf.resume import checkpoint_in

    ctx = context({"train": {"epochs": 2}})
    data = ctx.data()
    result = ctx.build("model_loaders", "scratch").build(ctx, data.train).fit(data.train, data.valid, ctx,
                                                                              tmp_path / "two")
    assert result.last_checkpoint == checkpoint_in(tmp_path / "two")
    assert Path(result.last_checkpoint).name == f"checkpoint-{result.details['global_step']}"
    none = context({"train": {"epochs": 1, "save_checkpoints": False}})
    model = none.build("model_loaders", "scratch").build(none, data.train)
    assert model.fit(data.train, data.valid, none, tmp_path / "final").last_checkpoint == ""


def test_a_checkpoint_folder_without_a_step_number_is_no_step(context, tmp_path: Path) -> None:
    """A resumed run whose best checkpoint lies in a folder that has since moved has no best checkpoint of
    its own (its evaluations never beat the recorded best): it keeps its last one, found by the resume
    rule. A ``checkpoint-best`` copy beside the Trainer's ``checkpoint-N`` folders is not read as a step."""
    import json
    import shutil

    first = context({"train": {"epochs": 1}})
    data = first.data()
    first.build("model_loaders", "scratch").build(first, data.train).fit(data.train, data.valid, first,
                                                                          tmp_path / "killed")
    shutil.move(tmp_path / "killed", tmp_path / "moved")  # the recorded best checkpoint is gone with it
    state = Path(next((tmp_path / "moved").glob("checkpoint-*/trainer_state.json")))
    saved = json.loads(state.read_text(encoding="utf-8"))
    state.write_text(json.dumps({**saved, "best_metric": 1e9}), encoding="utf-8")  # never beaten
    out = tmp_path / "resumed"
    (out / "checkpoint-best").mkdir(parents=True)
    ctx = context({"train": {"epochs": 2}, "run": {"resume_from": str(tmp_path / "moved")}})
    result = ctx.build("model_loaders", "scratch").build(ctx, data.train).fit(data.train, data.valid, ctx, out)
    assert result.best_checkpoint == result.last_checkpoint == str(out / f"checkpoint-{result.details['global_step']}")


def test_a_vocab_size_below_the_characters_of_the_data_is_said(context, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="dialsum")
    ctx = context({"models": {"scratch": {"vocab_size": 5}}})
    model = ctx.build("model_loaders", "scratch").build(ctx, ctx.data().train)
    assert len(model.tokenizer) > 5
    assert "models.scratch.vocab_size = 5 is below the" in caplog.text
    assert f"of the data, so the vocabulary has {len(model.tokenizer)} tokens" in caplog.text


def test_a_vocab_size_the_data_is_too_small_to_fill_is_not_a_warning(context, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="dialsum")
    ctx = context({"models": {"scratch": {"vocab_size": 100000}}})
    ctx.build("model_loaders", "scratch").build(ctx, ctx.data().train)
    assert "vocab_size = " not in caplog.text


def test_a_test_character_absent_from_training_survives_encoding(context, data_dir: Path) -> None:
    """The tokenizer is trained on the training split, and a name or rare syllable found only in a test
    dialogue became ``<unk>``, dropped when decoding; every character the model reads keeps a token."""
    from dialsum_core.testing import write_csv
    from dialsum_hf.tokenizer import train_tokenizer

    fname, dialogue, summary, topic = rows(1)[0]
    write_csv(data_dir / "test.csv", [(fname, dialogue + " 뷁쫗 씨", summary, topic)])
    ctx = context({"data": {"test_path": str(data_dir / "test.csv")}})
    data = ctx.data()
    assert not any("뷁" in t for e in data.train for t in (e.dialogue, *e.summaries))
    tok = ctx.build("model_loaders", "scratch").build(ctx, data.train).tokenizer
    ids = tok(data.test[0].dialogue)["input_ids"]
    assert tok.unk_token_id not in ids
    assert "뷁쫗 씨" in tok.decode(ids, skip_special_tokens=True)
    # the characters added change no merge: those are learnt from the training texts alone
    texts = [t for e in data.train for t in (e.dialogue, *e.summaries)]
    plain, wide = (train_tokenizer(texts, 2000, 1, alphabet=a) for a in ((), ["뷁", "쫗"]))

    def merges(tok: Any) -> list[Any]:
        return json.loads(tok.backend_tokenizer.to_str())["model"]["merges"]

    assert merges(plain) and merges(wide) == merges(plain)
    assert len(wide) == len(plain) + 2
