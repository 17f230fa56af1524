"""The core's own recipe sections: ``[run]`` (what to run, which plugins) and ``[data]``.

Every other section belongs to the plugin that reads it and is contributed through the
``dialsum_register_sections`` hook, the same way these two are (see :func:`dialsum_register_sections`
at the bottom). Plugins may add keys to ``[run]`` and give defaults to its keys: the core names no
plugin, so ``mode``, ``models``, ``loggers`` and ``metrics`` are empty until an installed plugin
offers a default.

Every field has a default, so a recipe only says what differs. Values that mean "not set" are empty
strings or zero rather than ``None`` because TOML has no null: a resolved recipe must always be
writable back to TOML. A field with ``metadata=PATH`` holds a path; see :meth:`Recipe.path_of`.
"""

from __future__ import annotations

import unicodedata
from typing import Any

import attrs

from dialsum_core import hookimpl
from dialsum_core.validators import fraction, one_of, positive

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
#: Field metadata of keys that hold a path read from disk (resolved by ``Recipe.path_of``).
PATH = {"path": True}


def plugin_name(kind: str) -> dict[str, str]:
    """Field metadata of keys that choose plugins of ``kind`` (the generated reference links them)."""
    return {"kind": kind}


@attrs.define(kw_only=True)
class RunSection:
    """``[run]``: what to run and which plugins to combine."""

    #: Run mode (a registered run mode, see `dialsum plugins`).
    mode: str = attrs.field(default="", metadata=plugin_name("run_modes"))
    #: Experiment folder name under `run.output_dir`; empty: `{mode}_{model}_{timestamp}`.
    name: str = ""
    #: Folder that holds the experiment folders (relative to the working directory).
    output_dir: str = "experiments"
    #: Seed of every random choice (data split, initialisation, sampling, augmentation).
    seed: int = 42
    #: Quick check: a few dialogues per split (`data.debug_samples`); sections that own a length
    #: (such as the number of epochs) shorten it too.
    debug: bool = False
    #: Model loaders or presets to train (see `dialsum models`); `["all"]` expands to every preset.
    models: list[str] = attrs.field(factory=list, metadata=plugin_name("model_loaders"))
    #: Loggers that receive the run's events, in this order; their options go in `[loggers.NAME]`.
    loggers: list[str] = attrs.field(factory=list, metadata=plugin_name("loggers"))
    #: Metrics computed on validation predictions; their options go in `[metrics.NAME]`.
    metrics: list[str] = attrs.field(factory=list, metadata=plugin_name("metrics"))
    #: Level of the run's log file and the console: `DEBUG`, `INFO`, `WARNING` or `ERROR`.
    log_level: str = attrs.field(default="INFO", validator=one_of(LOG_LEVELS))


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

    #: Repair literal `\n` and `<br>` sequences, collapse repeated characters and spaces.
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
    #: Validation CSV; empty: hold out `data.valid_fraction` of the training file.
    dev_path: str = attrs.field(default="", metadata=PATH)
    #: Extra reference files (`fname, summary`) for `data.dev_path`, e.g. a second translation of
    #: its summaries: each file adds one reference to every validation dialogue. Each must list
    #: exactly the dialogues of `data.dev_path` (an unknown or a missing `fname` is an error), so
    #: every dialogue is scored against the same number of references, averaged per dialogue.
    dev_references: list[str] = attrs.field(factory=list, metadata=PATH)
    #: Test CSV (`fname, dialogue`) to predict for the submission; empty: no test predictions.
    test_path: str = attrs.field(default="", metadata=PATH)
    #: Share of the training file held out for validation when `data.dev_path` is empty.
    valid_fraction: float = attrs.field(default=0.1, validator=fraction)
    #: Training dialogues kept when `run.debug` is on (a quarter of that for validation and test).
    debug_samples: int = attrs.field(default=32, validator=positive)
    #: Text clean-up switches (`[data.preprocessing]`).
    preprocessing: PreprocessingSection = attrs.field(factory=PreprocessingSection)


def run_uses(recipe: Any, plugins: Any) -> list[tuple[str, str, list[str]]]:
    run = recipe.run
    return [
        ("run.mode", "run_modes", [run.mode] if run.mode else []),
        ("run.models", "model_loaders", recipe.model_names(plugins)),
        ("run.loggers", "loggers", list(run.loggers)),
        ("run.metrics", "metrics", list(run.metrics)),
    ]


def check_run(recipe: Any, plugins: Any) -> list[tuple[str, str]]:
    """A mode and a model to run; paths no file system takes (a NUL or a line break is a mistake,
    never a name), and an experiment name that is not one folder under ``run.output_dir``, so that
    the experiment folder is always the one dialsum reports."""
    found = [(f"run.{key}", f"not set; {hint}") for key, hint in (
        ("mode", "name a run mode (dialsum plugins lists them)"),
        ("models", "name at least one model (dialsum models lists the presets)")) if not getattr(recipe.run, key)]
    found += [("run", problem) for problem in recipe.schema.problems]
    for key in ("run.output_dir", "run.name", *recipe.path_keys()):
        for path in _as_list(recipe.get(key)):
            if isinstance(path, str) and any(unicodedata.category(c) == "Cc" for c in path):
                found.append((key, f"control characters are not allowed in a path, got {path!r}"))
    name = recipe.run.name
    if name in (".", "..") or "/" in name or "\\" in name:
        found.append(("run.name", f"must be a folder name (no slashes, not '.' or '..'), got {name!r}"))
    return found


def data_uses(recipe: Any, plugins: Any) -> list[tuple[str, str, list[str]]]:
    aug = recipe.data.preprocessing.augmentation
    return [("data.preprocessing.augmentation.strategies", "augmenters", list(aug.strategies))] if aug.enable else []


def check_data(recipe: Any, plugins: Any) -> list[tuple[str, str]]:
    """The data files as the run will read them (existence, columns, rows), so that ``check``
    refuses what ``run`` would, before any experiment folder exists."""
    from dialsum_core.context import load_splits
    from dialsum_core.errors import DataError

    if not recipe.data.train_path:
        return [("data.train_path", "not set; give the training CSV (fname, dialogue, summary, topic)")]
    aug = recipe.data.preprocessing.augmentation
    if aug.enable and not aug.strategies:
        return [("data.preprocessing.augmentation.strategies", "empty; name the augmenters, e.g. [\"reorder\"]")]
    try:
        load_splits(recipe, quiet=True)
    except DataError as exc:
        message = str(exc)
        # name the key whose file the message is about, so the error points at the line to edit
        keys = [k for k in ("data.train_path", "data.dev_path", "data.test_path", "data.dev_references")
                if any(str(recipe.path_of(k, v)) in message for v in _as_list(recipe.get(k)) if v)]
        return [(keys[0] if keys else "data", message)]
    return []


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@hookimpl
def dialsum_register_sections(register: Any) -> None:
    register("run", RunSection, description="What to run and which plugins to combine",
             uses=run_uses, check=check_run)
    register("data", DataSection, description="The dialogue CSV files and their clean-up", check=check_data,
             uses=data_uses)
