"""The splits a run reads: train, validation (a file or a held-out share) and test, with further
references, the debug subsample, the clean-up, and training-time augmentation.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from dialsum_core.data import DataSplits, Example
from dialsum_core.errors import DataError
from dialsum_core.recipe import CONVERTER, Recipe
from dialsum_data.cleanup import preprocess
from dialsum_data.csv_files import LoadReport, add_references, fingerprint, read_csv
from dialsum_data.sections import DataSection, PreprocessingSection

if TYPE_CHECKING:
    from dialsum_core.context import RunContext

log = logging.getLogger("dialsum")


def subset(examples: Sequence[Example], n: int, seed: int) -> list[Example]:
    """A reproducible sample of ``n`` examples (all of them if there are fewer)."""
    if len(examples) <= n:
        return list(examples)
    idx = sorted(random.Random(seed).sample(range(len(examples)), n))
    return [examples[i] for i in idx]


def split_valid(examples: Sequence[Example], fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """Hold out ``fraction`` of the examples (at least one) for validation.

    Examples with the same dialogue text (augmented or duplicated rows under other ``fname``\\s) are
    held out or kept together, as the k-fold split keeps them: a copy of a validation dialogue in
    training would score recall of its summary."""
    if len(examples) < 2:
        raise DataError("need at least two training examples to hold out a validation split")
    n_valid = max(1, round(len(examples) * fraction))
    same: dict[str, list[int]] = {}
    for i, e in enumerate(examples):
        same.setdefault(_text(e), []).append(i)
    if len(same) < 2:
        raise KeyedDataError("data.train_path", "every training dialogue has the same text: nothing to hold out for "
                             "validation that training has not seen; set data.dev_path to a validation file")
    idx = list(range(len(examples)))
    random.Random(seed).shuffle(idx)
    held: set[int] = set()
    for i in idx:
        group = same[_text(examples[i])]
        if len(held) >= n_valid:
            break
        if i in held or len(held) + len(group) >= len(examples):  # training keeps one dialogue at least
            continue
        held.update(group)
    return [e for i, e in enumerate(examples) if i not in held], [examples[i] for i in sorted(held)]


def _text(e: Example) -> str:
    """A dialogue compared without its spacing: what makes two rows the same dialogue."""
    return " ".join(e.dialogue.split())


#: A log call that making the splits has to say: ``(level, message, args)``.
Note = tuple[int, str, tuple[object, ...]]


@attrs.define
class _Made:
    splits: DataSplits
    #: What making them found (files read, unfamiliar tags, the sizes) and no log has heard yet.
    unsaid: list[Note]


#: Splits already made, by everything they depend on (:func:`_inputs`); a few recipes per process.
_MADE: dict[tuple[object, ...], _Made] = {}
_KEEP = 4
_DEFAULT_FRACTION = attrs.fields(DataSection).valid_fraction.default
FILE_KEYS = ("data.train_path", "data.dev_path", "data.test_path", "data.dev_references")


def load_splits(recipe: Recipe, *, quiet: bool = False) -> DataSplits:
    """The splits a run reads; any problem is a ``DataError`` naming the file and the row. The
    ``[data]`` section's check calls it quietly, so that ``dialsum check`` refuses what a run would.

    The splits of a recipe are made once while its files' content is unchanged: the recipes a run mode
    derives (a trial's parameters) get them again without reading or splitting twice. What making
    them found is logged once, to the first asker that is not quiet while the log listens: a check
    (ours, or another plugin's asking with ``quiet``) may make them before the run starts, and
    the run's log must still say which files it read."""
    key = _inputs(recipe)
    made = _MADE.get(key) if key is not None else None
    if made is None:
        made = _Made(*_make(recipe))
        if key is not None:
            while len(_MADE) >= _KEEP:
                del _MADE[next(iter(_MADE))]
            _MADE[key] = made
    if not quiet:
        made.unsaid = [note for note in made.unsaid if not _said(note)]
    splits = made.splits
    return DataSplits(list(splits.train), list(splits.valid), list(splits.test))  # the caller's lists are its own


def _said(note: Note) -> bool:
    level, message, args = note
    if not log.isEnabledFor(level):
        return False
    log.log(level, message, *args)
    return True


def _inputs(recipe: Recipe) -> tuple[object, ...] | None:
    """What the splits of ``recipe`` depend on: the ``[data]`` section, the seed, ``run.debug`` and the
    files' content; ``None`` when a file cannot be read (the splits then say why)."""
    try:
        files = tuple(fingerprint(recipe.path_of(key, value)) for key in FILE_KEYS
                      for value in as_list(recipe.get(key)) if value)
    except OSError:
        return None
    return (repr(CONVERTER.unstructure(recipe.data)), recipe.run.seed, recipe.run.debug, files)


def as_list(value: object) -> list[object]:
    return value if isinstance(value, list) else [value]


def _make(recipe: Recipe) -> tuple[DataSplits, list[Note]]:
    """The splits, and what a run's log should say about them.

    Each file is cleaned as it is read, before any split or subsample, so that a dialogue or a
    summary that the clean-up empties is refused with its file and row (the check reads the files
    the same way) instead of training on, scoring against or predicting from nothing."""
    d = recipe.data
    pre = d.preprocessing
    notes: list[Note] = []

    def clean(path: Path, examples: list[Example], *, dialogue: bool = True, summary: bool = True) -> list[Example]:
        cleaned = preprocess(examples, noise=pre.remove_noise, tokens=pre.simplify_tokens)
        _refuse_emptied(path, examples, cleaned, dialogue=dialogue, summary=summary)
        return cleaned

    def read(key: str, *, require_summary: bool) -> list[Example]:
        path = recipe.path_of(key)
        examples, report = read_csv(path, require_summary=require_summary)
        notes.extend(_report(report))
        return clean(path, examples, summary=require_summary)

    if not d.train_path:
        raise DataError(f"{recipe.where('data.train_path')}: data.train_path is not set")
    train = read("data.train_path", require_summary=True)
    if d.dev_path:
        valid = read("data.dev_path", require_summary=True)
        notes.extend(_set_elsewhere(recipe, "data.dev_path", "validating on", "validation file"))
        if "data.valid_fraction" in recipe.provenance and d.valid_fraction != _DEFAULT_FRACTION:
            notes.append((logging.WARNING, "data.valid_fraction = %s (set in %s) is not used: the validation file is "
                          "data.dev_path (%s); set data.dev_path = \"\" to hold out that share of the training file",
                          (d.valid_fraction, recipe.where("data.valid_fraction"), d.dev_path)))
        for value in d.dev_references:
            path = recipe.path_of("data.dev_references", value)
            extra = clean(path, _read_references(path, valid, d.dev_path), dialogue=False)
            valid = add_references(valid, extra)
            notes.append((logging.INFO, "loaded %s: a further reference for %d validation dialogues",
                          (path, len(extra))))
        notes.extend(_overlap(valid, train, f"validation file {d.dev_path}", "its scores measure recall of the "
                              "training summaries, not summarization"))
    else:
        if d.dev_references:
            raise DataError(f"{recipe.where('data.dev_references')}: data.dev_references needs data.dev_path "
                            "(they are further references for its dialogues)")
        _refuse_hold_out(recipe.path_of("data.train_path"), len(train), d.valid_fraction)
        train, valid = split_valid(train, d.valid_fraction, recipe.run.seed)
    test: list[Example] = []
    if d.test_path:
        test = read("data.test_path", require_summary=False)
        notes.extend(_set_elsewhere(recipe, "data.test_path", "predicting the test file", "test file"))
        notes.extend(_overlap(test, train, f"test file {d.test_path}", "is data.test_path the test file you mean?"))
    if recipe.run.debug:
        n = d.debug_samples
        seed = recipe.run.seed
        train = subset(train, n, seed)
        valid = subset(valid, max(2, n // 4), seed)
        test = subset(test, max(2, n // 4), seed)
    notes.append((logging.INFO, "data: %d train, %d validation, %d test dialogues",
                  (len(train), len(valid), len(test))))
    return DataSplits(train, valid, test), notes


class KeyedDataError(DataError):
    """A data problem that a recipe key (not a file's content) decides, so that the check points
    at the line to edit."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


def _refuse_hold_out(path: Path, rows: int, fraction: float) -> None:
    """Refuse a hold-out that leaves nothing to validate on or nothing to train on: ``split_valid``
    holds out at least one dialogue whatever the fraction (so 0 would be read as "one"), and a large
    fraction of a small file would train on no dialogue at all, failing only once the run started."""
    if fraction == 0:
        raise KeyedDataError("data.valid_fraction", "data.valid_fraction is 0 and data.dev_path is empty, but every "
                             "run validates; set data.dev_path to a validation file or data.valid_fraction > 0 "
                             "(e.g. 0.1)")
    held = max(1, round(rows * fraction))
    if held >= rows:
        raise KeyedDataError("data.valid_fraction", f"{path}: {rows} training dialogue(s): data.valid_fraction = "
                             f"{fraction} holds out {held} and leaves none to train on; lower data.valid_fraction, "
                             "add training rows or set data.dev_path to a validation file")


def _set_elsewhere(recipe: Recipe, key: str, doing: str, what: str) -> list[Note]:
    """A warning when ``key`` comes from another place than ``data.train_path`` (a shipped recipe's
    sample file, while ``--set`` points training at real data): the run would validate on, or write
    its submission for, dialogues the user did not mean, and nothing else would say so."""
    where, train_where = recipe.where(key), recipe.where("data.train_path")
    if where == train_where:
        return []
    return [(logging.WARNING, "%s %s (set in %s) while training on %s (set in %s): is that the %s you mean? "
             "(set %s too)", (doing, recipe.get(key), where, recipe.data.train_path, train_where, what, key))]


def _overlap(examples: Sequence[Example], train: Sequence[Example], what: str, why: str) -> list[Note]:
    """A warning when dialogues of ``examples`` are also training dialogues (the same text, spacing
    aside, whatever their ``fname``, as the k-fold split compares them): a validation file that
    repeats the training file (or part of it) gives scores that look good and mean nothing, and
    nothing else in a run would say so. Another when they bear a training dialogue's ``fname``
    with other text: another version of it, such as a second translation of the training file."""
    texts = {_text(e) for e in train}
    names = {e.fname for e in train}
    found = [e.fname for e in examples if _text(e) in texts]
    # the same fname with other text: another version of a training dialogue (a second translation)
    renamed = [e.fname for e in examples if e.fname in names and _text(e) not in texts]
    notes: list[Note] = []
    if found:
        notes.append((logging.WARNING, "%d of the %d dialogues of the %s are also training dialogues (same text: "
                      "%s); %s", (len(found), len(examples), what, _shown(found), why)))
    if renamed:
        notes.append((logging.WARNING, "%d of the %d dialogues of the %s have the fname of a training dialogue, "
                      "with other text (%s): another version of the same dialogues (a second translation?); %s",
                      (len(renamed), len(examples), what, _shown(renamed), why)))
    return notes


def _shown(fnames: Sequence[str]) -> str:
    return ", ".join(fnames[:3]) + (", ..." if len(fnames) > 3 else "")


def _refuse_emptied(path: Path, raw: Sequence[Example], cleaned: Sequence[Example], *, dialogue: bool,
                    summary: bool) -> None:
    """Refuse a row whose dialogue or summary only the clean-up empties (``<br>``, a literal ``\\n``):
    the file's own check saw text there, yet the model would train on, be scored against or
    predict from nothing. ``raw`` and ``cleaned`` are the file's rows in order (row 2 is the first)."""
    for row, (before, after) in enumerate(zip(raw, cleaned, strict=True), start=2):
        emptied = [k for k, s in enumerate(after.summaries) if not s.strip()] if summary else []
        what = ("dialogue" if dialogue and before.dialogue and not after.dialogue.strip() else
                "" if not emptied else "summary" if emptied[0] == 0 else f"summary (reference {emptied[0] + 1})")
        if what:
            raise DataError(f"{path}: row {row} (fname={before.fname}): the {what} is empty after the clean-up of "
                            "[data.preprocessing] (it holds only line breaks such as <br> or \\n); write the "
                            f"{what} or remove the row")


def _read_references(path: Path, valid: Sequence[Example], dev_path: str) -> list[Example]:
    """One extra reference file (``fname, summary``, or several reference columns as
    :func:`~dialsum_data.csv_files.reference_columns` reads them) for the dialogues of ``valid``.

    It must name exactly the validation dialogues: an unknown ``fname`` is most likely a file for
    another split, and a missing one would score some dialogues against fewer references than
    others, so both are refused, naming the file and the ``fname``.
    """
    refs, _ = read_csv(path, require_summary=True, require_dialogue=False)
    known = {e.fname for e in valid}
    for row, ref in enumerate(refs, start=2):  # row 1 is the header, as read_csv counts
        if ref.fname not in known:
            raise DataError(f"{path}: row {row}: fname {ref.fname!r} is not a dialogue of {dev_path}")
    absent = sorted(known - {e.fname for e in refs})
    if absent:
        shown = ", ".join(absent[:3]) + (", ..." if len(absent) > 3 else "")
        raise DataError(f"{path}: no reference for {len(absent)} dialogue(s) of {dev_path}: {shown}")
    return refs


def _report(report: LoadReport) -> list[Note]:
    notes: list[Note] = [(logging.INFO, "loaded %s: %d rows", (report.path, report.rows))]
    if report.unknown_tags:
        tags = ", ".join(f"{t} x{n}" for t, n in sorted(report.unknown_tags.items()))
        notes.append((logging.WARNING, "%s: unfamiliar tags kept as special tokens: %s", (report.path, tags)))
    return notes


def augmented(ctx: RunContext, train: Sequence[Example]) -> list[Example]:
    """``train`` and, with ``data.preprocessing.augmentation``, its augmented copies (summaries
    mapped to each copy's terms). A run mode calls it on the split a model trains on, after any
    fold split, so that a copy never lands in the validation of its original.

    When dialsum-data is disabled and another plugin reads the data, ``[data]`` holds only other
    plugins' keys (or is absent): augmentation is an option of this plugin's section, so without
    that section the training examples are used as the reader gave them."""
    pre = getattr(ctx.recipe.sections.get("data"), "preprocessing", None)
    if not isinstance(pre, PreprocessingSection) or not pre.augmentation.enable:
        return list(train)
    aug = pre.augmentation
    copies: list[Example] = []
    for name in aug.strategies:
        augmenter = ctx.build("augmenters", name)
        # a progress task per augmenter: on a full training file (kiwipiepy's analysis, a paraphrase
        # model's beams) this takes minutes before training starts, with nothing else to show
        task = f"augment train ({name})"
        ctx.emit("dialsum_on_progress", task=task, completed=0, total=len(train))
        for i, e in enumerate(train):
            for j, v in enumerate(augmenter.augment(e.fname, e.dialogue, n=aug.copies, seed=ctx.recipe.run.seed)):
                copies.append(attrs.evolve(e, fname=f"{e.fname}#{name}{j + 1}", dialogue=v.dialogue,
                                           summaries=tuple(v.forward(s) for s in e.summaries)))
            ctx.emit("dialsum_on_progress", task=task, completed=i + 1, total=len(train))
    log.info("augmentation: %d training dialogues and %d augmented copies (%s)", len(train), len(copies),
             ", ".join(aug.strategies))
    return [*train, *copies]
