"""The core's own recipe section: ``[run]`` (what to run, which plugins).

Every other section belongs to the plugin that reads it and is contributed
through the ``dialsum_register_sections`` hook, the same way this one is (see
:func:`dialsum_register_sections` at the bottom). Plugins may add keys to ``[run]`` and give
defaults to its keys: the core names no plugin, so ``mode``, ``models``, ``loggers`` and
``metrics`` are empty until an installed plugin offers a default.

Every field has a default, so a recipe only says what differs. Values that mean "not set" are empty
strings or zero rather than ``None`` because TOML has no null: a resolved recipe must always be
writable back to TOML. A field with ``metadata=PATH`` holds a path; see :meth:`Recipe.path_of`.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any

import attrs

from dialsum_core import hookimpl
from dialsum_core.errors import DialsumError, PluginError
from dialsum_core.validators import between, one_of

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
NO_READER = "no installed plugin reads the recipe's data (none answers dialsum_load_data for it)"
#: Field metadata of keys that hold a path read from disk (resolved by ``Recipe.path_of``).
PATH = {"path": True}
#: Field metadata of keys that hold a local path or a name a library resolves (a hub id): only a
#: value that :func:`is_path` is a path, resolved as ``PATH`` values are.
PATH_OR_NAME = {"path": "or-name"}


def is_path(value: str) -> bool:
    """Whether a ``PATH_OR_NAME`` value is clearly a path: absolute, or ``./``, ``../``, ``~``."""
    return value.startswith(("/", "./", "../", "~")) or Path(value).is_absolute()


def plugin_name(kind: str) -> dict[str, str]:
    """Field metadata of keys that choose plugins of ``kind`` (a reference generator links them)."""
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
    #: Seed of every random choice (data split, initialisation, sampling, augmentation); 0 to 2**32 - 1.
    seed: int = attrs.field(default=42, validator=between(0, 2**32 - 1))
    #: Quick check: the data plugin keeps a few dialogues per split; sections that own a length
    #: (such as the number of epochs) shorten it too.
    debug: bool = False
    #: Model loaders to train (see `dialsum plugins`); a plugin may expand a name that stands for
    #: several (`dialsum_resolve_recipe`).
    models: list[str] = attrs.field(factory=list, metadata=plugin_name("model_loaders"))
    #: Loggers that receive the run's events, in this order; their options go in `[loggers.NAME]`.
    loggers: list[str] = attrs.field(factory=list, metadata=plugin_name("loggers"))
    #: Metrics computed on validation predictions; their options go in `[metrics.NAME]`.
    metrics: list[str] = attrs.field(factory=list, metadata=plugin_name("metrics"))
    #: Level of the run's log file and the console: `DEBUG`, `INFO`, `WARNING` or `ERROR`.
    log_level: str = attrs.field(default="INFO", validator=one_of(LOG_LEVELS))


def run_uses(recipe: Any, plugins: Any) -> list[tuple[str, str, list[str]]]:
    run = recipe.run
    return [
        ("run.mode", "run_modes", [run.mode] if run.mode else []),
        ("run.models", "model_loaders", list(run.models)),
        ("run.loggers", "loggers", list(run.loggers)),
        ("run.metrics", "metrics", list(run.metrics)),
    ]


def check_run(recipe: Any, plugins: Any) -> list[tuple[str, str]]:
    """A mode and a model to run, and a plugin to read the data; paths no file system takes (a NUL
    or a line break is a mistake, never a name), and an experiment name that is not one folder under
    ``run.output_dir``, so that the experiment folder is always the one dialsum reports."""
    found = [(f"run.{key}", f"not set; {hint}") for key, hint in (
        ("mode", "name a run mode (dialsum plugins lists them)"),
        ("models", "name at least one model loader (dialsum plugins lists them)")) if not getattr(recipe.run, key)]
    found += [("run", problem) for problem in recipe.schema.problems]
    try:  # as ctx.data() will ask: no reader, or two, would stop the run once its folder exists
        if plugins.answer("dialsum_load_data", recipe=recipe, quiet=True) is None:
            found.append(("data", NO_READER))
    except PluginError as exc:
        found.append(("data", str(exc)))
    except DialsumError:  # the data's own check says why, with its file and row
        pass
    for key in ("run.output_dir", "run.name", *recipe.path_keys()):
        for path in _as_list(recipe.get(key)):
            if isinstance(path, str) and any(unicodedata.category(c) == "Cc" for c in path):
                found.append((key, f"control characters are not allowed in a path, got {path!r}"))
    name = recipe.run.name
    if name in (".", "..") or "/" in name or "\\" in name:
        found.append(("run.name", f"must be a folder name (no slashes, not '.' or '..'), got {name!r}"))
    if (size := len(name.encode("utf-8", "surrogateescape"))) > 255:  # the longest name file systems take
        found.append(("run.name", f"is {size} bytes long (UTF-8); a folder name takes at most 255"))
    output = Path(recipe.run.output_dir).expanduser()
    blocking = next((p for p in (output, *output.parents) if p.exists()), None)
    if blocking is not None and not blocking.is_dir():
        found.append(("run.output_dir", f"{blocking} is a file, so no experiment folder can be created in "
                      f"{recipe.run.output_dir}"))
    elif blocking is not None and (error := _cannot_create_in(blocking)):
        found.append(("run.output_dir", f"cannot create a folder in {blocking}: {error}"))
    return found


def _cannot_create_in(folder: Path) -> str:
    """Why no folder can be made in ``folder`` (no permission, a read-only or full disk), found by
    making and removing one: permission bits do not tell (root passes them, a read-only mount not)."""
    import tempfile

    try:
        Path(tempfile.mkdtemp(prefix=".dialsum-check-", dir=folder)).rmdir()
    except OSError as exc:
        return exc.strerror or str(exc)
    return ""


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@hookimpl
def dialsum_register_sections(register: Any) -> None:
    register("run", RunSection, description="What to run and which plugins to combine",
             uses=run_uses, check=check_run)
