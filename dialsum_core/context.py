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

from dialsum_core.data import DataSplits
from dialsum_core.errors import PluginError
from dialsum_core.events import Events
from dialsum_core.experiment import Experiment
from dialsum_core.manager import Plugins
from dialsum_core.processes import OneProcess
from dialsum_core.protocols import Processes, Trial
from dialsum_core.recipe import Recipe
from dialsum_core.recipe.schema import NO_READER

log = logging.getLogger("dialsum")


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
    #: The processes this run is one of (the runner sets it): who writes, what is decided once, how
    #: generation is shared.
    processes: Processes = attrs.field(factory=OneProcess)
    _data: DataSplits | None = attrs.field(default=None, alias="_data")

    # -- plugins --------------------------------------------------------------------------------
    def section(self, name: str) -> Any:
        """The typed recipe section ``name``, as its owners contributed it (``ctx.section(NAME).KEY``)."""
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
        new = attrs.evolve(self, **changes)
        new._data = self._data if "recipe" not in changes else None  # another recipe: ask its reader again
        return new

    @property
    def out(self) -> Path:
        return self.workdir or self.experiment.root

    # -- data -------------------------------------------------------------------------------------
    def data(self) -> DataSplits:
        """Train, validation and test examples, as the plugin that reads the recipe's data gives them
        (:func:`dialsum_core.hookspecs.dialsum_load_data`); asked once per context and recipe."""
        if self._data is None:
            self._data = self.plugins.answer("dialsum_load_data", recipe=self.recipe, quiet=False)
            if self._data is None:
                raise PluginError(NO_READER)
        return self._data

    def score(self, predictions: Sequence[str], references: Sequence[Sequence[str]]) -> dict[str, float]:
        """Every metric of ``run.metrics``, merged into one mapping."""
        scores: dict[str, float] = {}
        for name in self.recipe.run.metrics:
            scores.update(self.build("metrics", name).compute(predictions, references))
        return scores


def for_debug(recipe: Recipe) -> Recipe:
    """``run.debug``: the data plugin keeps a few dialogues per split, and every section that
    owns a length (a ``for_debug()`` method, such as a number of epochs) shortens it. Applied to the
    recipe a run executes, never to the ``config.toml`` it writes."""
    if not recipe.run.debug:
        return recipe
    changed = {name: s.for_debug() for name, s in recipe.sections.items() if callable(getattr(s, "for_debug", None))}
    return recipe.evolve(**changed) if changed else recipe
