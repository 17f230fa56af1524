"""``dialsum new-plugin NAME KIND``: write a working plugin package to start from.

The package has everything a plugin needs and nothing more: a ``pyproject.toml`` with the
``dialsum`` entry point, a cheap entry-point module (options class with a described field, the
registration), an implementation module where heavy imports belong, and tests that use the core's
pytest fixtures. Each skeleton does something small but real, so its tests pass the moment it is
installed (``pip install -e dialsum-NAME``) and keep passing while it grows. It is written as
docs/writing-a-plugin.md recommends for its kind (a run mode on ``dialsum_modes.toolkit``, a metric
declaring its scores...), so that what a third party starts from behaves as a bundled plugin does;
plugins/dialsum-tools/tests/test_scaffold_runs.py runs each in the situations that plugin handles.
"""

from __future__ import annotations

import re
import shlex
import string
from pathlib import Path

import attrs
import click

from dialsum_core.cli import HomePath
from dialsum_core.errors import DialsumError
from dialsum_core.registry import KIND, KINDS

#: ``KIND`` argument (``model_loader``) -> registry kind (``model_loaders``), from the core's kind table.
KIND_ARGS: dict[str, str] = {k.label.replace(" ", "_"): k.name for k in KINDS}
_NAME = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")


@attrs.frozen
class Names:
    """Every spelling of a plugin name the templates need."""

    name: str  # registered and entry-point name: "csv-log"
    dist: str  # distribution: "dialsum-csv-log"
    pkg: str  # import package: "dialsum_csv_log"
    ident: str  # Python identifier: "csv_log"
    cls: str  # class-name prefix: "CsvLog"

    @classmethod
    def of(cls, raw: str) -> Names:
        name = raw.strip().lower()
        name = name[len("dialsum-"):] if name.startswith("dialsum-") else name
        if not _NAME.match(name):
            raise DialsumError(
                f"new-plugin: {raw!r} is not a valid plugin name (lowercase letters and digits, words joined "
                "by '-' or '_', starting with a letter; e.g. 'csv-log')"
            )
        ident = name.replace("-", "_")
        return cls(name, f"dialsum-{name.replace('_', '-')}", f"dialsum_{ident}", ident,
                   "".join(part.capitalize() for part in ident.split("_")))


def new_plugin(name: str, kind: str, parent: Path) -> Path:
    """Write the package ``parent/dialsum-NAME``; returns its folder.

    The files are written into a hidden folder beside it, renamed to ``dialsum-NAME`` once all are
    written: a scaffold that fails (a name too long for the file system, a full disk) leaves
    nothing behind, so running the command again after fixing the cause just works.

    :raises DialsumError: unknown kind, invalid name, a name an installed plugin or package already
        uses, the folder exists already, or it cannot be written.
    """
    if kind not in KIND_ARGS:
        raise DialsumError(f"new-plugin: unknown kind {kind!r}; one of {', '.join(KIND_ARGS)}")
    n = Names.of(name)
    root = Path(parent) / n.dist
    try:
        exists = root.exists()
    except OSError as exc:  # a name longer than the file system takes fails the question itself
        raise DialsumError(f"new-plugin: cannot write {root}: {exc.strerror or exc}; nothing was written") from None
    if exists:
        raise DialsumError(f"new-plugin: {root} exists already; choose another name or folder")
    reg_kind = KIND_ARGS[kind]
    taken = name_taken(n, reg_kind)
    if taken:
        raise DialsumError(f"new-plugin: {name!r}: {taken}; choose another name")
    values = {
        **attrs.asdict(n),
        "kind": reg_kind,
        "label": KIND[reg_kind].label,
        "table": KIND[reg_kind].table,
        "hook": f"dialsum_register_{reg_kind}",
    }
    def module(line: str) -> str:
        return line.split()[1].lower()

    impl_imports = [f"from {n.pkg}.plugin import {n.cls}Options", *_IMPL_IMPORTS.get(kind, [])]
    test_std = [*_TEST_STD.get(kind, []), "from pathlib import Path", "from typing import Any"]
    values["first_party"] = "\n".join(sorted(impl_imports, key=module))
    depends = ["dialsum-core", *_DEPENDS.get(kind, [])]
    values["depends"] = ", ".join(f'"{d}"' for d in depends)
    values["first_party_modules"] = ", ".join(f'"{d.replace("-", "_")}"' for d in [*depends, "dialsum-tools"])
    values["test_std"] = "\n".join(test_std)
    values["test_core"] = "\n".join(sorted([*_TEST_CORE, *_TEST_CORE_EXTRA.get(kind, [])], key=module))
    files = {
        "pyproject.toml": _PYPROJECT,
        "README.md": _README,
        f"{n.pkg}/__init__.py": _INIT,
        f"{n.pkg}/plugin.py": _PLUGIN[kind],
        f"{n.pkg}/impl.py": _IMPL[kind],
        f"tests/test_{n.ident}.py": _TEST_HEAD + _TESTS[kind],
    }
    _write_all(root, {rel: string.Template(t).substitute(values) for rel, t in files.items()})
    return root


def name_taken(n: Names, reg_kind: str) -> str:
    """Why ``n`` cannot be installed next to what is installed now ("" when it can).

    ``pip install -e`` of a distribution that is installed already replaces it (``dialsum-core``
    would replace the core), an import package of the same name shadows the other, and a second
    registration of a name for one kind, or a second entry point of one name, stops every
    ``dialsum`` command: all found only after installing, so refused before writing anything.
    """
    import importlib.util
    from importlib import metadata

    try:
        installed = metadata.distribution(n.dist)
    except metadata.PackageNotFoundError:
        installed = None
    if installed is not None:
        return f"the distribution {n.dist} is installed already (pip install -e would replace it)"
    if importlib.util.find_spec(n.pkg) is not None:
        return f"a Python package {n.pkg} is importable already"
    for ep in metadata.entry_points(group="dialsum"):
        if ep.name == n.name:
            owner = ep.dist.name if ep.dist is not None else ep.value
            return f"the plugin name {n.name!r} is the entry point of {owner} already"
    from dialsum_core.manager import build_plugins

    try:
        reg = build_plugins().get(reg_kind, n.name)
    except DialsumError:  # installed plugins that clash already: their own commands report it
        reg = None
    if reg is not None:
        return f"{KIND[reg_kind].label} {n.name!r} is registered by {reg.distribution} already"
    return ""


def _write_all(root: Path, files: dict[str, str]) -> None:
    """Write ``files`` (relative path -> text) as the folder ``root``, all of them or nothing: a
    scaffold stopped by Ctrl-C leaves nothing either, and one killed outright leaves its hidden
    folder to the next scaffold in ``root``'s folder."""
    import os
    import shutil

    from dialsum_core.atomic import remove_stale_temporaries, temporary_folder

    parent = root.parent
    created = next((p for p in reversed([parent, *parent.parents]) if not p.exists()), None)
    try:
        parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(parent, recursive=False)
        with temporary_folder(parent, "new-plugin") as staging:
            for rel, text in files.items():
                path = staging / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
            os.rename(staging, root)
    except BaseException as exc:
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        if not isinstance(exc, OSError):
            raise
        raise DialsumError(f"new-plugin: cannot write {root}: {exc.strerror or exc}; nothing was written") from None


@click.command(name="new-plugin")
@click.argument("name")
@click.argument("kind", type=click.Choice(list(KIND_ARGS)))
@click.option("--dir", "parent", type=HomePath(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Folder in which to create dialsum-NAME/.")
def command(name: str, kind: str, parent: Path) -> None:
    """Scaffold a plugin package: dialsum-NAME/ with a KIND skeleton, its entry point and tests."""
    root = new_plugin(name, kind, parent)  # a DialsumError is the command's error line, as for every command
    n = Names.of(name)
    click.echo(f"created {root}")
    # a shell command to paste: a folder with a space or a quote is quoted
    click.echo(f"next: pip install -e {shlex.quote(str(root))} && pytest {shlex.quote(str(root / 'tests'))} "
               "&& dialsum plugins")
    click.echo(f"then choose it in a recipe ([{KIND[KIND_ARGS[kind]].table}.{n.name}] holds its options)")


# ------------------------------------------------------------------------------------------------
# Templates (string.Template: $name, $dist, $pkg, $ident, $cls, $kind, $label, $table, $hook)
# ------------------------------------------------------------------------------------------------
_PYPROJECT = """\
[build-system]
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"

[project]
name = "$dist"
version = "0.1.0"
description = "dialsum $label plugin: $name"
requires-python = ">=3.11"
# Your license, as an SPDX expression (a plain string: the `{ text = ... }` table is deprecated).
# license = "Apache-2.0"
dependencies = [$depends]

[project.optional-dependencies]
test = ["pytest>=8", "dialsum-tools"]

# How dialsum finds the plugin: entry point name = module with the hook implementations.
[project.entry-points.dialsum]
$name = "$pkg.plugin"

[tool.setuptools.packages.find]
include = ["$pkg*"]

[tool.pytest.ini_options]
testpaths = ["tests"]

[tool.ruff]
line-length = 110

[tool.ruff.lint]
select = ["E", "F", "W", "I", "B", "UP", "RUF"]

[tool.ruff.lint.isort]
# dialsum's imports in a block of their own, as in dialsum's bundled plugins.
known-first-party = [$first_party_modules]
"""

_README = """\
# $dist

A dialsum $label plugin. Install it next to dialsum and choose it by name in a recipe; its options
go in the `[$table.$name]` table.

```bash
pip install -e .          # registers the entry point
dialsum plugins           # lists $name
pytest                    # its tests, with the fixtures of dialsum's pytest plugin
```

- `$pkg/plugin.py` is imported by every `dialsum` command: keep it cheap (no torch or other heavy
  library at module level). It holds the options class (each field described by a `#:` comment,
  which the recipe reference shows) and the registration.
- `$pkg/impl.py` holds the implementation; the factory imports it only when a run needs it.
"""

_INIT = '''\
"""$dist: a dialsum $label plugin."""
'''

_PLUGIN_HEAD = '''\
"""Entry-point module of the ``$name`` $label: options and registration, cheap to import.

Heavy libraries are imported in ``impl.py``, which the factory loads only when a run needs it.
"""

from __future__ import annotations

from typing import Any

import attrs

from dialsum_core import hookimpl
'''

_PLUGIN: dict[str, str] = {
    "model_loader": _PLUGIN_HEAD + '''from dialsum_core.validators import at_least


@attrs.define
class ${cls}Options:
    """``[$table.$name]``."""

    #: Longest summary, in characters (the chosen turn is cut there).
    max_chars: int = attrs.field(default=200, validator=at_least(1))
    #: Drop the ``#PersonN#:`` prefix of the chosen turn.
    strip_speaker: bool = True


def make_$ident(options: ${cls}Options, ctx: Any) -> Any:
    from $pkg.impl import ${cls}Loader

    return ${cls}Loader(options)


@hookimpl
def $hook(register: Any) -> None:
    register("$name", make_$ident, options=${cls}Options,
             description="Skeleton model: the longest turn of the dialogue is its summary")
''',
    "run_mode": _PLUGIN_HEAD + '''from dialsum_core.validators import at_least


@attrs.define
class ${cls}Options:
    """``[$table.$name]``."""

    #: Models combined with ``run.ensemble``: the best ones on validation (1: the best alone).
    top_k: int = attrs.field(default=2, validator=at_least(1))


def make_$ident(options: ${cls}Options, ctx: Any) -> Any:
    from $pkg.impl import ${cls}Mode

    return ${cls}Mode(options)


@hookimpl
def $hook(register: Any) -> None:
    # tagged "ensemble": the mode combines its models with run.ensemble, which the recipe check then checks
    register("$name", make_$ident, options=${cls}Options, tags=("ensemble",),
             description="Skeleton run mode: combine the top_k models on validation with run.ensemble")
''',
    "ensemble": _PLUGIN_HEAD + '''

@attrs.define
class ${cls}Options:
    """``[$table.$name]``."""

    #: Pick the candidate with the best own score (e.g. a model's log-probability) when all have one.
    use_scores: bool = False


def make_$ident(options: ${cls}Options, ctx: Any) -> Any:
    from $pkg.impl import ${cls}Ensemble

    return ${cls}Ensemble(options)


@hookimpl
def $hook(register: Any) -> None:
    register("$name", make_$ident, options=${cls}Options,
             description="Skeleton ensemble: the candidate that agrees most with the others (word overlap)")
''',
    "augmenter": _PLUGIN_HEAD + '''

@attrs.define
class ${cls}Options:
    """``[$table.$name]``."""

    #: Never drop the first turn (it usually states what the dialogue is about).
    keep_first: bool = True


def make_$ident(options: ${cls}Options, ctx: Any) -> Any:
    from $pkg.impl import ${cls}Augmenter

    return ${cls}Augmenter(options)


@hookimpl
def $hook(register: Any) -> None:
    register("$name", make_$ident, options=${cls}Options,
             description="Skeleton augmenter: each variant drops one turn of the dialogue")
''',
    "logger": _PLUGIN_HEAD + '''

def _plain_name(_inst: Any, _attr: Any, value: str) -> None:
    if not value or "/" in value or "\\\\" in value:
        raise ValueError(f"must be a file name without folders, got {value!r}")


@attrs.define
class ${cls}Options:
    """``[$table.$name]``."""

    #: CSV file written in the experiment folder.
    filename: str = attrs.field(default="$name.csv", validator=_plain_name)


def make_$ident(options: ${cls}Options, ctx: Any) -> Any:
    from $pkg.impl import ${cls}Logger

    return ${cls}Logger(options, ctx)


@hookimpl
def $hook(register: Any) -> None:
    register("$name", make_$ident, options=${cls}Options,
             description="Skeleton logger: one CSV row per finished epoch, fold and trial")
''',
    "metric": _PLUGIN_HEAD + '''from dialsum_core.validators import one_of
from dialsum_metrics import score_tags

UNITS = ("chars", "words")
#: The scores ``compute`` returns, declared at registration: ``dialsum check`` then knows what the metric
#: gives, and refuses a recipe that selects by a score no metric of ``run.metrics`` gives.
SCORES = ("${ident}_length_ratio",)


@attrs.define
class ${cls}Options:
    """``[$table.$name]``."""

    #: Measure lengths in characters (``chars``) or whitespace-separated words (``words``).
    unit: str = attrs.field(default="chars", validator=one_of(UNITS))


def make_$ident(options: ${cls}Options, ctx: Any) -> Any:
    from $pkg.impl import ${cls}Metric

    return ${cls}Metric(options)


@hookimpl
def $hook(register: Any) -> None:
    register("$name", make_$ident, options=${cls}Options, tags=score_tags(*SCORES),
             description="Skeleton metric: mean length of the prediction over its closest reference")
''',
}

_IMPL_HEAD = '''\
"""The ``$name`` $label; heavy imports (torch, transformers...) are fine here."""

from __future__ import annotations

'''

_IMPL: dict[str, str] = {
    "model_loader": _IMPL_HEAD + '''\
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

$first_party


def longest_turn(dialogue: str, options: ${cls}Options) -> str:
    turns = [t.strip() for t in dialogue.splitlines() if t.strip()]
    if not turns:
        return ""
    best = max(turns, key=len)
    if options.strip_speaker and ":" in best:
        best = best.split(":", 1)[1].strip()
    return best[: options.max_chars]


class ${cls}Model:
    """Replace ``fit`` and ``generate`` with real work; keep ``save``/``load`` symmetric."""

    def __init__(self, options: ${cls}Options):
        self.options = options

    def fit(self, train: Sequence[Any], valid: Sequence[Any], ctx: Any, output_dir: Path) -> FitResult:
        """One "epoch": score validation, name each score ``eval_S`` in the history, report the
        scores to the search trial (``ctx.trial``, set by the optuna mode), save, and name the folder."""
        ctx.emit("dialsum_before_epoch", epoch=1, n_epochs=1)
        predictions = self.generate([e.dialogue for e in valid], ctx)
        scores = ctx.score(predictions, [list(e.summaries) for e in valid]) if valid else {}
        metrics = {"train_dialogues": len(train), **{f"eval_{k}": v for k, v in scores.items()}}
        ctx.emit("dialsum_after_epoch", epoch=1, n_epochs=1, metrics=metrics)
        if ctx.trial is not None:  # True would stop training (pruned=True), but this was its only epoch
            ctx.trial.report(1, scores)
        self.save(output_dir)
        # one folder holds the model: the best checkpoint and the last one (linked as checkpoints/last)
        return FitResult(history=[metrics], best_checkpoint=str(output_dir), last_checkpoint=str(output_dir))

    def generate(self, dialogues: Sequence[str], ctx: Any) -> list[str]:
        return [longest_turn(d, self.options) for d in dialogues]

    def save(self, path: Path) -> None:
        from dialsum_core.atomic import atomic_write_json

        atomic_write_json(Path(path) / "$name.json", attrs.asdict(self.options))


class ${cls}Loader:
    def __init__(self, options: ${cls}Options):
        self.options = options

    def build(self, ctx: Any, train: Sequence[Any]) -> ${cls}Model:
        return ${cls}Model(self.options)

    def load(self, ctx: Any, path: Path) -> ${cls}Model:
        data = json.loads((Path(path) / "$name.json").read_text(encoding="utf-8"))
        return ${cls}Model(${cls}Options(**data))
''',
    "run_mode": _IMPL_HEAD + '''\
from typing import Any

$first_party


class ${cls}Mode(toolkit.Mode):
    """Trains every model of ``run.models`` and combines the ``top_k`` best on validation.

    Built on ``dialsum_modes.toolkit``, as the bundled modes are: each model is trained once per
    experiment (a re-run reuses it), with TTA candidates under ``run.use_tta``; a fan-out job
    (``run.only``) trains its own models only, in its own folder, and the final run combines them.
    The returned mapping becomes ``results.json``.
    """

    options: ${cls}Options

    def run(self, ctx: RunContext) -> dict[str, Any]:
        data = ctx.data()
        keep = toolkit.is_token_level(ctx)  # a token-level ensemble decodes with the models themselves
        sources = list(toolkit.train_models(ctx, data, keep_model=keep))  # those this job selects
        if fanout.is_partial(ctx.recipe):
            return toolkit.job_results(ctx, sources)
        sources.sort(key=lambda s: s.scores.get(toolkit.RANKED_BY, 0.0), reverse=True)
        top = sources[: self.options.top_k]
        comb = toolkit.combine(ctx, top, data.valid, data.test)
        return {
            "models_results": {s.name: {"valid": toolkit.round_scores(s.scores), "checkpoint": s.checkpoint,
                                        "history": s.history} for s in sources},
            "ensemble": {"strategy": ctx.recipe.run.ensemble, **comb.report()},
            "predictions": toolkit.write_predictions(ctx, valid=data.valid, valid_preds=comb.valid,
                                                     test=data.test, test_preds=comb.test, sources=top),
            "visualizations": toolkit.visualizations(ctx, top, data.valid, combined=comb),
            **toolkit.final_scores(comb.scores),
            **toolkit.name_best(ctx, [(s.name, s.scores, s.checkpoint) for s in top], "combined model"),
        }
''',
    "ensemble": _IMPL_HEAD + '''\
from collections.abc import Mapping, Sequence
from typing import Any

$first_party


def overlap(a: str, b: str) -> float:
    """Jaccard similarity of the two texts' word sets."""
    wa, wb = set(a.split()), set(b.split())
    return len(wa & wb) / max(1, len(wa | wb))


class ${cls}Ensemble:
    """Output-level: chooses one finished candidate per dialogue, the one the weighted sources agree
    with most (a source's own candidate counts with its weight, so raising a source's weight never
    makes its text less likely to be chosen, as the ``Ensemble`` protocol requires)."""

    level = "output"

    def __init__(self, options: ${cls}Options):
        self.options = options

    def fit(self, candidates: Sequence[Sequence[Candidate]], references: Sequence[Sequence[str]],
            weights: Mapping[str, float], ctx: Any) -> dict[str, Any]:
        return {}

    def combine(self, candidates: Sequence[Sequence[Candidate]], weights: Mapping[str, float],
                ctx: Any) -> list[str]:
        return [self._pick(list(cands), weights) for cands in candidates]

    def _pick(self, cands: list[Candidate], weights: Mapping[str, float]) -> str:
        if not cands:
            return ""
        if self.options.use_scores and all(c.score is not None for c in cands):
            return max(cands, key=lambda c: c.score).text

        def agreement(i: int) -> float:
            return sum(weight_of(c.source, weights) * (1.0 if j == i else overlap(cands[i].text, c.text))
                       for j, c in enumerate(cands))

        return cands[max(range(len(cands)), key=lambda i: (agreement(i), -i))].text
''',
    "augmenter": _IMPL_HEAD + '''\
import random

$first_party


class ${cls}Augmenter:
    """Variant k leaves out one turn; speakers and tags are untouched, so ``restore`` is the identity."""

    def __init__(self, options: ${cls}Options):
        self.options = options

    def augment(self, fname: str, dialogue: str, n: int, seed: int) -> list[Variant]:
        turns = [t for t in dialogue.splitlines() if t.strip()]
        droppable = list(range(1 if self.options.keep_first else 0, len(turns)))
        if len(turns) < 2 or not droppable:
            return []
        rng = random.Random(f"{seed}:{fname}")
        chosen = sorted(rng.sample(droppable, min(n, len(droppable))))
        return [
            Variant(dialogue="\\n".join(t for i, t in enumerate(turns) if i != k), name=f"$name-{k}")
            for k in chosen
        ]
''',
    "logger": _IMPL_HEAD + '''\
from typing import Any

$first_party


class ${cls}Logger:
    """Each method decorated with ``hookimpl`` receives that lifecycle event during a run.

    The whole file is rewritten atomically on each row, so a killed run never leaves half a line.
    """

    def __init__(self, options: ${cls}Options, ctx: Any):
        self.options = options
        self.experiment = ctx.experiment
        self.rows: list[dict[str, Any]] = []

    def _add(self, ctx: Any, event: str, index: int, values: dict[str, Any] | None) -> None:
        """One row; ``ctx.tags`` says whose event it is (``model``, ``source``: ``kobart/fold1``...),
        which tells apart the epochs and folds of several models."""
        values = {**ctx.tags, **(values or {})}
        self.rows.append({"event": event, "index": index,
                          **{k: v for k, v in values.items() if isinstance(v, int | float | str)}})
        columns = list(dict.fromkeys(k for row in self.rows for k in row))
        body = [[row.get(c, "") for c in columns] for row in self.rows]
        self.experiment.write_csv(self.options.filename, columns, body)

    @hookimpl
    def dialsum_after_epoch(self, ctx: Any, epoch: int, metrics: dict[str, Any]) -> None:
        self._add(ctx, "epoch", epoch, metrics)

    # The fold and trial events are declared by dialsum-modes; optional, so this logger works without it.
    @hookimpl(optionalhook=True)
    def dialsum_after_fold(self, ctx: Any, fold: int, metrics: dict[str, Any]) -> None:
        self._add(ctx, "fold", fold + 1, metrics)  # 0-based in the event; fold1... in folders and run.only

    @hookimpl(optionalhook=True)
    def dialsum_after_trial(
        self, ctx: Any, trial: int, params: dict[str, Any], value: float | None, state: str
    ) -> None:
        self._add(ctx, "trial", trial, {**params, "value": value, "state": state})

    def close(self) -> None:
        """Called once when the run ends (release files, connections...)."""
''',
    "metric": _IMPL_HEAD + '''\
from collections.abc import Sequence

$first_party


class ${cls}Metric:
    def __init__(self, options: ${cls}Options):
        self.options = options

    def size(self, text: str) -> int:
        return len(text.split()) if self.options.unit == "words" else len(text.strip())

    def compute(self, predictions: Sequence[str], references: Sequence[Sequence[str]]) -> dict[str, float]:
        """``${ident}_length_ratio``: 1.0 when predictions are as long as their closest reference."""
        ratios = []
        for pred, refs in zip(predictions, references, strict=True):
            n = self.size(pred)
            ref = min((self.size(r) for r in refs), key=lambda m: abs(m - n), default=0)
            ratios.append(n / max(1, ref))
        return {"${ident}_length_ratio": sum(ratios) / len(ratios) if ratios else 0.0}
''',
}

_IMPL_IMPORTS: dict[str, list[str]] = {
    "model_loader": ["from dialsum_core.protocols import FitResult"],
    "ensemble": ["from dialsum_core.protocols import Candidate, weight_of"],
    "augmenter": ["from dialsum_core.protocols import Variant"],
    "logger": ["from dialsum_core import hookimpl"],
    "run_mode": ["from dialsum_core.context import RunContext", "from dialsum_modes import fanout, toolkit"],
}
#: Distributions a kind's skeleton builds on, besides dialsum-core (the guide's recipe for the kind).
_DEPENDS: dict[str, list[str]] = {"run_mode": ["dialsum-modes"], "metric": ["dialsum-metrics"]}
_TEST_STD: dict[str, list[str]] = {"run_mode": ["import json"], "logger": ["import csv"]}
_TEST_CORE = [
    "from dialsum_core.context import RunContext",
    "from dialsum_core.events import Events",
    "from dialsum_core.experiment import Experiment",
    "from dialsum_core.recipe import Recipe",
    "from dialsum_tools.recipe_doc import undocumented",
]
_TEST_CORE_EXTRA: dict[str, list[str]] = {
    "run_mode": ["from dialsum_core import hookimpl", "from dialsum_core.runner import run_recipe"],
    "ensemble": ["from dialsum_core.protocols import Candidate"],
    "metric": ["from dialsum_metrics import SCORE_TAG"],
}

_TEST_HEAD = '''\
"""Tests of the ``$name`` $label, using the fixtures of dialsum's pytest plugin
(``dialsum_plugins``, ``register_plugin``, ``sample_csv``, ``tiny_dialogues``)."""

from __future__ import annotations

$test_std

$test_core

KIND, NAME, DIST = "$kind", "$name", "$dist"


def make_context(plugins: Any, tmp_path: Path, recipe: dict[str, Any]) -> RunContext:
    """A run context with its experiment folder in ``tmp_path``."""
    return RunContext(recipe=Recipe.from_dict(recipe), plugins=plugins,
                      experiment=Experiment.create(tmp_path, "test"), events=Events(plugins.pm))


def test_discovered_through_its_entry_point(dialsum_plugins: Any) -> None:
    reg = dialsum_plugins.get(KIND, NAME)
    assert reg is not None, f"{NAME} is not registered: is {DIST} installed (pip install -e .)?"
    assert reg.distribution == DIST
    assert reg.description


def test_every_option_is_documented(dialsum_plugins: Any) -> None:
    assert undocumented(dialsum_plugins, core=False, distributions=[DIST]) == []
'''

_TESTS: dict[str, str] = {
    "model_loader": '''

def test_fit_generate_save_load(
    dialsum_plugins: Any, sample_csv: Any, tiny_dialogues: Any, tmp_path: Path
) -> None:
    train = sample_csv(tmp_path / "train.csv", tiny_dialogues)
    recipe = {"run": {"models": [NAME], "loggers": [], "metrics": []},
              "data": {"train_path": str(train), "valid_fraction": 0.3}}
    ctx = make_context(dialsum_plugins, tmp_path, recipe)
    splits = ctx.data()
    loader = ctx.build(KIND, NAME)
    model = loader.build(ctx, splits.train)
    model.fit(splits.train, splits.valid, ctx, tmp_path / "model")
    dialogues = [e.dialogue for e in splits.valid]
    predictions = model.generate(dialogues, ctx)
    assert len(predictions) == len(dialogues) and all(p.strip() for p in predictions)
    assert loader.load(ctx, tmp_path / "model").generate(dialogues, ctx) == predictions


def test_bad_option_is_reported_with_its_key(dialsum_plugins: Any) -> None:
    recipe = Recipe.from_dict({"run": {"models": [NAME]}, "$table": {NAME: {"max_chars": 0}}})
    assert any(f"$table.{NAME}.max_chars: must be >= 1" in p for p in recipe.problems(dialsum_plugins))
''',
    "run_mode": '''

class Turns:
    """Two tiny models, registered for the test only: the first and the last turn of the dialogue."""

    class Model:
        def __init__(self, pick: int):
            self.pick = pick

        def fit(self, train: Any, valid: Any, ctx: Any, output_dir: Path) -> dict[str, Any]:
            return {}

        def generate(self, dialogues: Any, ctx: Any) -> list[str]:
            return [d.splitlines()[self.pick] for d in dialogues]

        def save(self, path: Path) -> None:
            pass

    class Loader:
        def __init__(self, pick: int):
            self.pick = pick

        def build(self, ctx: Any, train: Any) -> Any:
            return Turns.Model(self.pick)

        def load(self, ctx: Any, path: Path) -> Any:
            return Turns.Model(self.pick)

    @hookimpl
    def dialsum_register_model_loaders(self, register: Any) -> None:
        register("first-turn", lambda options, ctx: Turns.Loader(0), description="test model")
        register("last-turn", lambda options, ctx: Turns.Loader(-1), description="test model")


def test_fan_out_jobs_then_the_final_run(register_plugin: Any, sample_csv: Any, tiny_dialogues: Any,
                                         tmp_path: Path) -> None:
    plugins = register_plugin(Turns(), "turns-test")
    train = sample_csv(tmp_path / "train.csv", tiny_dialogues)
    test = sample_csv(tmp_path / "test.csv", tiny_dialogues[:2], with_summary=False)
    recipe = Recipe.from_dict({
        "run": {"mode": NAME, "models": ["first-turn", "last-turn"], "loggers": [], "metrics": ["rouge"],
                "ensemble": "rouge_weighted", "output_dir": str(tmp_path / "experiments"), "name": "e2e"},
        "data": {"train_path": str(train), "test_path": str(test), "valid_fraction": 0.3},
    })
    for model in ("first-turn", "last-turn"):  # e.g. one job per GPU, started at once
        job = run_recipe(recipe.merge({"run": {"only": [f"model={model}"]}}), plugins)
        assert list(job.results["trained"]) == [model]
    assert not (job.experiment / "predictions" / "submission.csv").exists()
    result = run_recipe(recipe, plugins)  # the final run reuses the jobs' models and combines them
    saved = json.loads((result.experiment / "results.json").read_text(encoding="utf-8"))
    assert saved["status"] == "complete" and saved["best_checkpoint"]
    assert sorted(saved["models_results"]) == ["first-turn", "last-turn"] and 0.0 < saved["best_rouge"] <= 1.0
    submission = (result.experiment / "predictions" / "submission.csv").read_text(encoding="utf-8")
    assert submission.count("\\n") == 3  # the header and the two test dialogues
''',
    "ensemble": '''

def test_combine_picks_the_consensus(dialsum_plugins: Any, tmp_path: Path) -> None:
    ctx = make_context(dialsum_plugins, tmp_path, {"run": {"loggers": [], "metrics": []}})
    ensemble = ctx.build(KIND, NAME)
    cands = [[Candidate("a b c", "m1"), Candidate("a b d", "m2"), Candidate("x y z", "m3")], []]
    assert ensemble.fit(cands, [["a b c"], []], {}, ctx) == {}
    assert ensemble.combine(cands, {}, ctx) == ["a b c", ""]
    assert ensemble.combine(cands, {"m3": 10.0}, ctx) == ["x y z", ""]  # the weights are the run mode's


def test_use_scores_option(dialsum_plugins: Any, tmp_path: Path) -> None:
    ctx = make_context(dialsum_plugins, tmp_path, {"$table": {NAME: {"use_scores": True}}})
    ensemble = ctx.build(KIND, NAME)
    cands = [[Candidate("a b c", "m1", -2.0), Candidate("a b d", "m2", -3.0), Candidate("x y z", "m3", -1.0)]]
    assert ensemble.combine(cands, {}, ctx) == ["x y z"]
''',
    "augmenter": '''

DIALOGUE = "#Person1#: 안녕하세요.\\n#Person2#: 네, 안녕하세요.\\n#Person1#: 내일 봐요.\\n#Person2#: 좋아요."


def test_variants_are_deterministic_and_drop_one_turn(dialsum_plugins: Any, tmp_path: Path) -> None:
    ctx = make_context(dialsum_plugins, tmp_path, {})
    augmenter = ctx.build(KIND, NAME)
    variants = augmenter.augment("d_0", DIALOGUE, 2, seed=7)
    assert len(variants) == 2
    again = augmenter.augment("d_0", DIALOGUE, 2, seed=7)
    assert [v.dialogue for v in variants] == [v.dialogue for v in again]
    for v in variants:
        assert v.dialogue.count("\\n") == 2 and v.dialogue.startswith("#Person1#: 안녕하세요.")
        assert v.restore("#Person1#이 인사한다.") == "#Person1#이 인사한다."


def test_too_short_dialogue_has_no_variant(dialsum_plugins: Any, tmp_path: Path) -> None:
    augmenter = make_context(dialsum_plugins, tmp_path, {}).build(KIND, NAME)
    assert augmenter.augment("d_1", "#Person1#: 네.", 3, seed=0) == []
''',
    "logger": '''

def test_writes_one_row_per_event(dialsum_plugins: Any, tmp_path: Path) -> None:
    ctx = make_context(dialsum_plugins, tmp_path, {"run": {"loggers": [NAME]}})
    logger = ctx.build(KIND, NAME)
    dialsum_plugins.pm.register(logger, name=f"logger:{NAME}")
    try:
        ctx.emit("dialsum_after_epoch", epoch=1, n_epochs=2, metrics={"loss": 0.5})
        fold = ctx.evolve(tags={"source": "m/fold1"})  # as a run mode tags the events of one model's fold
        fold.emit("dialsum_after_epoch", epoch=2, n_epochs=2, metrics={"loss": 0.25, "rouge_mean": 0.3})
        ctx.emit("dialsum_after_trial", trial=0, params={"lr": 0.001}, value=0.4, state="complete")
    finally:
        dialsum_plugins.pm.unregister(logger, name=f"logger:{NAME}")
    assert ctx.events.failed == {}
    with (ctx.experiment.root / f"{NAME}.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["event"], r["index"], r["loss"]) for r in rows] == [
        ("epoch", "1", "0.5"), ("epoch", "2", "0.25"), ("trial", "0", "")]
    assert rows[2]["value"] == "0.4" and rows[1]["rouge_mean"] == "0.3"
    assert [r["source"] for r in rows] == ["", "m/fold1", ""]


def test_file_name_must_stay_in_the_experiment_folder(dialsum_plugins: Any) -> None:
    recipe = Recipe.from_dict({"run": {"loggers": [NAME]}, "$table": {NAME: {"filename": "../x.csv"}}})
    assert any(f"$table.{NAME}.filename" in p for p in recipe.problems(dialsum_plugins))
''',
    "metric": '''

def test_length_ratio(dialsum_plugins: Any, tmp_path: Path) -> None:
    metric = make_context(dialsum_plugins, tmp_path, {}).build(KIND, NAME)
    assert metric.compute(["가나다라"], [["가나다라"]]) == {"${ident}_length_ratio": 1.0}
    two = metric.compute(["가나", "가나다라"], [["가나다라"], ["가나다라", "가"]])
    assert two == {"${ident}_length_ratio": 0.75}


def test_words_option_and_bad_value(dialsum_plugins: Any, tmp_path: Path) -> None:
    ctx = make_context(dialsum_plugins, tmp_path, {"$table": {NAME: {"unit": "words"}}})
    assert ctx.build(KIND, NAME).compute(["a b"], [["a b c d"]]) == {"${ident}_length_ratio": 0.5}
    bad = Recipe.from_dict({"run": {"metrics": [NAME]}, "$table": {NAME: {"unit": "bytes"}}})
    assert any(f"$table.{NAME}.unit: must be one of" in p for p in bad.problems(dialsum_plugins))


def test_declares_the_scores_it_gives(dialsum_plugins: Any, tmp_path: Path) -> None:
    metric = make_context(dialsum_plugins, tmp_path, {}).build(KIND, NAME)
    tags = dialsum_plugins.get(KIND, NAME).tags
    declared = {t.removeprefix(SCORE_TAG) for t in tags if t.startswith(SCORE_TAG)}
    assert declared == set(metric.compute(["a"], [["a"]]))
''',
}
