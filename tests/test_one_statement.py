"""Each fact is stated once, by the module that owns it; everything else imports it.

A file name two modules spell out can drift apart (one writes ``best_params.json``, the other checks
that a study file is not ``best_params.json``), and nothing fails until a user meets the gap. This
test lists such facts with their owner and fails when another plugin module states one of them in
its code again (docstrings and comments may name it: they explain, they do not decide).
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"

#: ``value -> (owner module, its name there)``.
FACTS = {
    "dialsum_model.json": ("dialsum_hf.model", "METADATA"),
    "best_params.json": ("dialsum_modes.options", "BEST_PARAMS"),
    "best_recipe.toml": ("dialsum_modes.options", "BEST_RECIPE"),
    "study.db": ("dialsum_modes.study", "STUDY_FILE"),
    # the scores of the rouge metric, which the plugins that depend on dialsum-metrics import
    "rouge1": ("dialsum_metrics.rouge", "MEASURES"),
    "rouge2": ("dialsum_metrics.rouge", "MEASURES"),
    "rougeL": ("dialsum_metrics.rouge", "MEASURES"),
    "rouge_mean": ("dialsum_metrics.rouge", "MEAN"),
    # the folder of the experiment's own study (its study.db, best_params.json, best_recipe.toml)
    "optuna": ("dialsum_modes.sections", "STUDY_FOLDER"),
    # the validation predictions' file: `dialsum report` finds it among the files a run announces
    "valid_predictions.csv": ("dialsum_modes.toolkit", "VALID_PREDICTIONS"),
    # the key of results.json holding the ranking score, which the run modes declare a percentage
    "best_rouge": ("dialsum_modes.sections", "BEST_SCORE"),
    # the key of a study's summary holding its objective's best value, which the loggers show on the scale of
    # the study's metric: they learn it from dialsum_objective_keys (a trial's own value is the trial
    # events' `value` parameter, named by their hook specification)
    "best_value": ("dialsum_modes.sections", "BEST_VALUE"),
    # what transformers finds in a model folder, which dialsum-hf's check and dialsum-tta's both look for
    **{name: ("dialsum_hf.folders", "LOADED_FIRST") for name in (
        "model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")},
    **{name: ("dialsum_hf.folders", "TOKENIZER_FILES") for name in (
        "tokenizer.json", "vocab.json", "vocab.txt", "spiece.model", "tokenizer.model", "sentencepiece.bpe.model",
        "sentencepiece.model", "vocab.model")},
    "tokenizer_config.json": ("dialsum_hf.folders", "TOKENIZER_CONFIG"),
}
#: Facts that are also names (``optuna`` is a mode's and a stage's): a string states the folder only
#: as a path (``optuna/study.db``, ``root / "optuna"``, a ``folder`` default, ``parts[0] == "optuna"``).
PATH_WORDS = {"optuna"}
#: Modules that may state a fact again, and why: they cannot import its owner. None: a plugin that needs
#: another's fact without depending on it asks the owner through a hook (the loggers learn which scores
#: are percentages from ``dialsum_percent_scores``, which keys hold a study's objective from
#: ``dialsum_objective_keys``) or reads what the run announced.
INDEPENDENT: dict[str, str] = {}


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def _states(text: str, fact: str) -> bool:
    """Whether the string ``text`` (or a piece of an f-string) names ``fact`` as a path component."""
    parts = text.replace("\\", "/").split("/")
    if fact in PATH_WORDS and len(parts) < 2:
        return False
    return any(p == fact or p.endswith(f" {fact}") for p in parts)


def _as_path(node: ast.Constant, parent: ast.AST | None) -> bool:
    """Whether a bare string is used as a path: joined with ``/``, a parameter's default (``folder``),
    or compared with a part of a path (``parts[0] == ...``)."""
    if (isinstance(parent, ast.BinOp) and isinstance(parent.op, ast.Div)) or isinstance(parent, ast.arguments):
        return True
    return isinstance(parent, ast.Compare) and any(isinstance(n, ast.Subscript)
                                                   for n in (parent.left, *parent.comparators))


def statements(fact: str) -> list[str]:
    """``file:line`` of every string in the plugins' code that states ``fact``."""
    found = []
    for path in sorted(PLUGINS.glob("*/dialsum_*/**/*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _docstrings(tree)
        parents = {id(child): node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
                bare_path = fact in PATH_WORDS and node.value == fact and _as_path(node, parents.get(id(node)))
                if bare_path or _states(node.value, fact):
                    found.append(f"{path.relative_to(PLUGINS)}:{node.lineno}")
    return found


@pytest.mark.parametrize("fact", sorted(FACTS))
def test_the_fact_is_stated_by_its_owner_only(fact: str) -> None:
    module, name = FACTS[fact]
    owner = importlib.import_module(module)
    stated = getattr(owner, name, None)
    assert stated == fact or (isinstance(stated, tuple) and fact in stated), f"{module}.{name} should hold {fact!r}"
    owner_file = f"{module.split('.')[0].replace('_', '-')}/{module.replace('.', '/')}.py"
    others = [s for s in statements(fact) if s.split(":")[0] not in (owner_file, *INDEPENDENT)]
    assert not others, f"{fact!r} is {module}.{name}; import it instead of stating it again at {others}"


#: Defaults several options classes share, each with the constant that states it once.
SHARED_DEFAULTS = [
    ("dialsum_hf.plugin", "AUTO_BATCH_MAX", "auto_batch_max", ("PretrainedOptions", "CausalOptions", "ScratchOptions")),
    ("dialsum_modes.options", "WEIGHT_SEARCH_TRIALS", "weight_search_trials", ("MultiModelOptions", "FullOptions")),
]


@pytest.mark.parametrize(("module", "constant", "key", "classes"), SHARED_DEFAULTS)
def test_options_classes_sharing_a_default_read_one_constant(module: str, constant: str, key: str,
                                                              classes: tuple[str, ...]) -> None:
    import attrs

    owner = importlib.import_module(module)
    value = getattr(owner, constant, None)
    assert value is not None, f"{module}.{constant} is missing"
    for name in classes:
        assert attrs.fields_dict(getattr(owner, name))[key].default == value, f"{name}.{key}"
    source = Path(owner.__file__).read_text(encoding="utf-8")
    assert f"{key}: int = attrs.field(default={constant}" in source and f"{key}: int = attrs.field(default={value}" \
        not in source, f"{module}: state {key}'s default as {constant}"
