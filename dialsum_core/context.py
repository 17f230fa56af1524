"""What a run mode gets: the recipe, the plugins, the experiment folder and the event bus.

Run modes compose the other registries only through :meth:`RunContext.build`, so a third-party
model loader or ensemble works in every mode without the mode knowing it exists.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from dialsum_core import data as data_mod
from dialsum_core.events import Events
from dialsum_core.experiment import Experiment
from dialsum_core.manager import Plugins
from dialsum_core.protocols import Trial
from dialsum_core.recipe import Recipe

log = logging.getLogger("dialsum")


@attrs.frozen
class DataSplits:
    train: list[data_mod.Example]
    valid: list[data_mod.Example]
    test: list[data_mod.Example]


@attrs.define
class RunContext:
    recipe: Recipe
    plugins: Plugins
    experiment: Experiment
    events: Events
    log: logging.Logger = log
    #: Folder (inside the experiment) where this context's models and predictions go; modes that
    #: nest work (folds, trials) evolve the context with a sub-folder.
    workdir: Path | None = None
    tags: dict[str, Any] = attrs.field(factory=dict)
    #: The hyperparameter trial this run belongs to (``None`` outside a search): training reports
    #: its validation score to it and stops when it answers that the trial should be pruned.
    trial: Trial | None = None
    _data: DataSplits | None = attrs.field(default=None, alias="_data")

    # -- plugins --------------------------------------------------------------------------------
    def section(self, name: str) -> Any:
        """The typed recipe section ``name`` (``ctx.section("train").epochs``)."""
        return self.recipe.section(name)

    def options(self, kind: str, name: str) -> Any:
        return self.recipe.options(kind, name, self.plugins)

    def build(self, kind: str, name: str) -> Any:
        """Instantiate plugin ``name`` of ``kind`` with its options from the recipe."""
        reg = self.plugins.require(kind, name)
        return reg.build(self.options(kind, name), self)

    def emit(self, hook_name: str, **kwargs: Any) -> None:
        self.events.emit(hook_name, ctx=self, **kwargs)

    def evolve(self, **changes: Any) -> RunContext:
        """A copy with, e.g., another recipe (a trial's parameters) or workdir (a fold)."""
        keep_data = "recipe" not in changes or (
            changes["recipe"].data == self.recipe.data and changes["recipe"].run.debug == self.recipe.run.debug
        )
        new = attrs.evolve(self, **changes)
        new._data = self._data if keep_data else None
        return new

    @property
    def out(self) -> Path:
        return self.workdir or self.experiment.root

    # -- data -------------------------------------------------------------------------------------
    def data(self) -> DataSplits:
        """Train, validation and test examples, cleaned and (with ``debug``) subsampled; cached."""
        if self._data is None:
            self._data = load_splits(self.recipe)
        return self._data

    def augmented(self, train: Sequence[data_mod.Example]) -> list[data_mod.Example]:
        """``train`` and, with ``data.preprocessing.augmentation``, its augmented copies (summaries
        mapped to each copy's terms). A run mode calls it on the split a model trains on, after any
        fold split, so that a copy never lands in the validation of its original."""
        aug = self.recipe.data.preprocessing.augmentation
        if not aug.enable:
            return list(train)
        copies: list[data_mod.Example] = []
        for name in aug.strategies:
            augmenter = self.build("augmenters", name)
            for e in train:
                for j, v in enumerate(augmenter.augment(e.fname, e.dialogue, n=aug.copies, seed=self.recipe.run.seed)):
                    copies.append(attrs.evolve(e, fname=f"{e.fname}#{name}{j + 1}", dialogue=v.dialogue,
                                               summaries=tuple(v.forward(s) for s in e.summaries)))
        log.info("augmentation: %d training dialogues and %d augmented copies (%s)", len(train), len(copies),
                 ", ".join(aug.strategies))
        return [*train, *copies]

    def score(self, predictions: Sequence[str], references: Sequence[Sequence[str]]) -> dict[str, float]:
        """Every metric of ``run.metrics``, merged into one mapping."""
        scores: dict[str, float] = {}
        for name in self.recipe.run.metrics:
            scores.update(self.build("metrics", name).compute(predictions, references))
        return scores


def for_debug(recipe: Recipe) -> Recipe:
    """``run.debug``: :func:`load_splits` keeps a few dialogues per split, and every section that
    owns a length (a ``for_debug()`` method, such as a number of epochs) shortens it. Applied to the
    recipe a run executes, never to the ``config.toml`` it writes."""
    if not recipe.run.debug:
        return recipe
    changed = {name: s.for_debug() for name, s in recipe.sections.items() if callable(getattr(s, "for_debug", None))}
    return recipe.evolve(**changed) if changed else recipe


def load_splits(recipe: Recipe, *, quiet: bool = False) -> DataSplits:
    """The splits a run reads; any problem is a ``DataError`` naming the file and the row. The
    ``[data]`` section's check calls it quietly, so that ``dialsum check`` refuses what a run would."""
    d = recipe.data
    say = _report if not quiet else (lambda report: None)
    if not d.train_path:
        from dialsum_core.errors import DataError

        raise DataError(f"{recipe.where('data.train_path')}: data.train_path is not set")
    train, report = data_mod.read_csv(recipe.path_of("data.train_path"), require_summary=True)
    say(report)
    if d.dev_path:
        valid, report = data_mod.read_csv(recipe.path_of("data.dev_path"), require_summary=True)
        say(report)
        if not quiet and recipe.where("data.dev_path") != recipe.where("data.train_path"):
            log.warning("validating on %s (set in %s) while training on %s (set in %s): is that the validation "
                        "file you mean?", d.dev_path, recipe.where("data.dev_path"), d.train_path,
                        recipe.where("data.train_path"))
        for value in d.dev_references:
            extra = _read_references(recipe.path_of("data.dev_references", value), valid, d.dev_path)
            valid = data_mod.add_references(valid, extra)
    else:
        if d.dev_references:
            from dialsum_core.errors import DataError

            raise DataError(f"{recipe.where('data.dev_references')}: data.dev_references needs data.dev_path "
                            "(they are further references for its dialogues)")
        train, valid = data_mod.split_valid(train, d.valid_fraction, recipe.run.seed)
    test: list[data_mod.Example] = []
    if d.test_path:
        test, report = data_mod.read_csv(recipe.path_of("data.test_path"), require_summary=False)
        say(report)
    if recipe.run.debug:
        n = d.debug_samples
        seed = recipe.run.seed
        train = data_mod.subset(train, n, seed)
        valid = data_mod.subset(valid, max(2, n // 4), seed)
        test = data_mod.subset(test, max(2, n // 4), seed)
    pre = d.preprocessing
    clean = [
        data_mod.preprocess(split, noise=pre.remove_noise, tokens=pre.simplify_tokens) for split in (train, valid, test)
    ]
    if not quiet:
        log.info("data: %d train, %d validation, %d test dialogues", *(len(s) for s in clean))
    return DataSplits(*clean)


def _read_references(path: Path, valid: Sequence[data_mod.Example], dev_path: str) -> list[data_mod.Example]:
    """One extra reference file (``fname, summary``) for the dialogues of ``valid``.

    It must name exactly the validation dialogues: an unknown ``fname`` is most likely a file for
    another split, and a missing one would score some dialogues against fewer references than
    others, so both are refused, naming the file and the ``fname``.
    """
    from dialsum_core.errors import DataError

    refs, _ = data_mod.read_csv(path, require_summary=True, require_dialogue=False)
    known = {e.fname for e in valid}
    for row, ref in enumerate(refs, start=2):  # row 1 is the header, as read_csv counts
        if ref.fname not in known:
            raise DataError(f"{path}: row {row}: fname {ref.fname!r} is not a dialogue of {dev_path}")
    absent = sorted(known - {e.fname for e in refs})
    if absent:
        shown = ", ".join(absent[:3]) + (", ..." if len(absent) > 3 else "")
        raise DataError(f"{path}: no reference for {len(absent)} dialogue(s) of {dev_path}: {shown}")
    log.info("loaded %s: a further reference for %d validation dialogues", path, len(refs))
    return refs


def _report(report: data_mod.LoadReport) -> None:
    log.info("loaded %s: %d rows", report.path, report.rows)
    if report.unknown_tags:
        tags = ", ".join(f"{t} x{n}" for t, n in sorted(report.unknown_tags.items()))
        log.warning("%s: unfamiliar tags kept as special tokens: %s", report.path, tags)
