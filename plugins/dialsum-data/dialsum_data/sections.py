"""``[data]``: where the dialogue CSV files are, how they are cleaned and augmented.

The plugin that reads the files owns the table; a field with ``metadata=PATH`` holds a path,
relative to the recipe file that sets it (see ``Recipe.path_of``).
"""

from __future__ import annotations

from typing import Any

import attrs

from dialsum_core.errors import DataError
from dialsum_core.recipe import PATH, plugin_name
from dialsum_core.validators import fraction, positive


@attrs.define(kw_only=True)
class AugmentationSection:
    """``[data.preprocessing.augmentation]``: train on augmented copies of the training dialogues."""

    #: Add augmented copies to every training split (validation and test are never augmented).
    enable: bool = False
    #: Augmenters that make the copies (the test-time augmenters: `dialsum plugins` lists them).
    strategies: list[str] = attrs.field(factory=list, metadata=plugin_name("augmenters"))
    #: Copies each augmenter makes of a dialogue, at most.
    copies: int = attrs.field(default=1, validator=positive)


@attrs.define(kw_only=True)
class PreprocessingSection:
    """``[data.preprocessing]``: the seed's text clean-up switches and training-time augmentation."""

    #: Repair literal `\n` and `<br>` sequences, collapse runs of ㅋ, ㅎ, ㅠ, ㅜ, !, ? and ~ to two, of dots
    #: to `...`, and of spaces to one.
    remove_noise: bool = True
    #: Normalise spaced-out tags such as `# Person 1 #` to `#Person1#`.
    simplify_tokens: bool = True
    #: Augmented copies of the training dialogues (`[data.preprocessing.augmentation]`).
    augmentation: AugmentationSection = attrs.field(factory=AugmentationSection)


@attrs.define(kw_only=True)
class DataSection:
    """``[data]``: where the CSV files are; relative paths are relative to the recipe file."""

    #: Training CSV (`fname, dialogue, summary, topic`); required.
    train_path: str = attrs.field(default="", metadata=PATH)
    #: Validation CSV; empty: hold out `data.valid_fraction` of the training file. Several
    #: references per dialogue go in columns `summary1, summary2, ...` (or `summary, summary2, ...`),
    #: all scored, averaged per dialogue; an empty cell after the first means fewer references.
    dev_path: str = attrs.field(default="", metadata=PATH)
    #: Extra reference files (`fname, summary`) for `data.dev_path`, e.g. a second translation of
    #: its summaries: each file adds its references (one per reference column) to every validation
    #: dialogue. Each must list exactly the dialogues of `data.dev_path` (an unknown or a missing
    #: `fname` is an error); the references of a dialogue are scored and averaged.
    dev_references: list[str] = attrs.field(factory=list, metadata=PATH)
    #: Test CSV (`fname, dialogue`) to predict for the submission; empty: no test predictions.
    test_path: str = attrs.field(default="", metadata=PATH)
    #: Share of the training file held out for validation when `data.dev_path` is empty: at least
    #: one dialogue, and at least one left to train on (0 is refused then: every run validates). Rows
    #: with the same dialogue text are held out together, as k-fold keeps them in one fold.
    valid_fraction: float = attrs.field(default=0.1, validator=fraction)
    #: Training dialogues kept when `run.debug` is on (a quarter of that, at least 2, for validation and test).
    debug_samples: int = attrs.field(default=32, validator=positive)
    #: Text clean-up switches (`[data.preprocessing]`).
    preprocessing: PreprocessingSection = attrs.field(factory=PreprocessingSection)



def data_uses(recipe: Any, plugins: Any) -> list[tuple[str, str, list[str]]]:
    aug = recipe.data.preprocessing.augmentation
    return [("data.preprocessing.augmentation.strategies", "augmenters", list(aug.strategies))] if aug.enable else []


def check_data(recipe: Any, plugins: Any) -> list[tuple[str, str]]:
    """The data files as the run will read them (existence, columns, rows), so that ``check``
    refuses what ``run`` would, before any experiment folder exists."""
    from dialsum_data.splits import FILE_KEYS, KeyedDataError, as_list, load_splits

    if not recipe.data.train_path:
        return [("data.train_path", "not set; give the training CSV (fname, dialogue, summary, topic)")]
    aug = recipe.data.preprocessing.augmentation
    if aug.enable and not aug.strategies:
        return [("data.preprocessing.augmentation.strategies", "empty; name the augmenters, e.g. [\"reorder\"]")]
    try:
        load_splits(recipe, quiet=True)
    except KeyedDataError as exc:
        return [(exc.key, str(exc))]
    except DataError as exc:
        message = str(exc)
        # name the key whose file the message is about, so the error points at the line to edit
        keys = [k for k in FILE_KEYS if any(str(recipe.path_of(k, v)) in message for v in as_list(recipe.get(k)) if v)]
        return [(keys[0] if keys else "data", message)]
    return []
