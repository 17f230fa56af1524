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
    _data: DataSplits | None = attrs.field(default=None, alias="_data")

    # -- plugins --------------------------------------------------------------------------------
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

    def score(self, predictions: Sequence[str], references: Sequence[Sequence[str]]) -> dict[str, float]:
        """Every metric of ``run.metrics``, merged into one mapping."""
        scores: dict[str, float] = {}
        for name in self.recipe.run.metrics:
            scores.update(self.build("metrics", name).compute(predictions, references))
        return scores


def _recipe_path(recipe: Recipe, key: str, value: str) -> Path:
    """Paths set in a file are relative to that file; paths from ``--set`` or Python to the CWD."""
    where = recipe.where(key)
    if where in ("--set", "<python>") or not value:
        return Path(value).expanduser()
    p = Path(value).expanduser()
    return p if p.is_absolute() else Path(where).parent / p


def load_splits(recipe: Recipe) -> DataSplits:
    d = recipe.data
    if not d.train_path:
        from dialsum_core.errors import DataError

        raise DataError(f"{recipe.where('data.train_path')}: data.train_path is not set")
    train, report = data_mod.read_csv(_recipe_path(recipe, "data.train_path", d.train_path), require_summary=True)
    _report(report)
    if d.dev_path:
        valid, report = data_mod.read_csv(_recipe_path(recipe, "data.dev_path", d.dev_path), require_summary=True)
        _report(report)
        for value in d.dev_references:
            extra = _read_references(_recipe_path(recipe, "data.dev_references", value), valid, d.dev_path)
            valid = data_mod.add_references(valid, extra)
    else:
        if d.dev_references:
            from dialsum_core.errors import DataError

            raise DataError(f"{recipe.where('data.dev_references')}: data.dev_references needs data.dev_path "
                            "(they are further references for its dialogues)")
        train, valid = data_mod.split_valid(train, d.valid_fraction, recipe.run.seed)
    test: list[data_mod.Example] = []
    if d.test_path:
        test, report = data_mod.read_csv(_recipe_path(recipe, "data.test_path", d.test_path), require_summary=False)
        _report(report)
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
    log.info("data: %d train, %d validation, %d test dialogues", *(len(s) for s in clean))
    return DataSplits(*clean)


def _read_references(path: Path, valid: Sequence[data_mod.Example], dev_path: str) -> list[data_mod.Example]:
    """One extra reference file (``fname, summary``) for the dialogues of ``valid``.

    It must name exactly the validation dialogues: an unknown ``fname`` is most likely a file for
    another split, and a missing one would score some dialogues against fewer references than
    others, so both are refused, naming the file and the row or the missing ``fname``.
    """
    import csv
    import io

    from dialsum_core.errors import DataError

    try:
        text = Path(path).read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"{path}: reference file not found (data.dev_references)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read as UTF-8 text (data.dev_references): {exc}") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in ("fname", "summary") if c not in header]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)} (found: {', '.join(header) or 'none'})")
    reader.fieldnames = header
    known = {e.fname for e in valid}
    out: dict[str, data_mod.Example] = {}
    try:
        for i, row in enumerate(reader, start=2):
            fname, summary = (row.get("fname") or "").strip(), (row.get("summary") or "").strip()
            if fname not in known:
                raise DataError(f"{path}: row {i}: fname {fname!r} is not a dialogue of {dev_path}")
            if fname in out:
                raise DataError(f"{path}: row {i}: duplicate fname {fname!r}")
            if not summary:
                raise DataError(f"{path}: row {i} (fname={fname}): empty summary")
            out[fname] = data_mod.Example(fname, "", (summary,))
    except csv.Error as exc:
        raise DataError(f"{path}: line {reader.line_num}: malformed CSV: {exc}") from None
    absent = [e.fname for e in valid if e.fname not in out]
    if absent:
        shown = ", ".join(absent[:3]) + (", ..." if len(absent) > 3 else "")
        raise DataError(f"{path}: no reference for {len(absent)} dialogue(s) of {dev_path}: {shown}")
    log.info("loaded %s: a further reference for %d validation dialogues", path, len(out))
    return list(out.values())


def _report(report: data_mod.LoadReport) -> None:
    log.info("loaded %s: %d rows", report.path, report.rows)
    if report.unknown_tags:
        tags = ", ".join(f"{t} x{n}" for t, n in sorted(report.unknown_tags.items()))
        log.warning("%s: unfamiliar tags kept as special tokens: %s", report.path, tags)
