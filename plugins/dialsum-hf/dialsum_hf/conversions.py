"""The renames transformers applies to a checkpoint's weight names as it loads them, read from its source.

transformers 5 loads some checkpoints under other names than they were saved with: GPT-NeoX's output
head, saved as ``embed_out``, is the loaded model's ``lm_head``. A ``lora_target_modules`` entry naming
the saved module passed ``dialsum check`` (which reads the saved names) and was refused only once the
run had loaded the model. The renames live in ``transformers/conversion_mapping.py``, which imports
torch (3 s); ``dialsum check`` imports neither, so the file is parsed (``ast``), never imported.

Only what can be read for certain is used: the list of plain ``WeightRenaming`` entries of the model's
class (``architectures`` in ``config.json``) or else of its ``model_type``, whose patterns are written
out. Where that list holds anything else (a converter that merges or splits tensors, a rename built by
code) or belongs to a sub-model (``text_config``), the loaded names cannot be known here:
:func:`loading_renames` says ``None`` and the loader judges the targets. The ``legacy`` renames
transformers applies to every model are left out: they rename tensors inside a module (``LayerNorm.gamma``
to ``LayerNorm.weight``, ``weight_g``), never a module LoRA could target.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

#: One rename: the source patterns (regular expressions, as transformers writes them) and the name
#: that replaces the part of a weight's name they match.
Rename = tuple[tuple[str, ...], str]


def loading_renames(config: Mapping[str, object]) -> list[Rename] | None:
    """The renames transformers applies to the weight names of the model ``config`` (its ``config.json``)
    describes, in order; ``None`` when they cannot be read from its source (see the module's docstring).

    transformers looks them up by the class it builds, which the check takes to be the first of the saved
    ``architectures`` (``GPTNeoXForCausalLM``): a checkpoint saved from another class of the model (its
    ``GPTNeoXModel`` alone) is looked up by its ``model_type`` only."""
    table = _installed_table()
    nested = [v.get("model_type") for v in config.values() if isinstance(v, dict)]
    if any(isinstance(t, str) and t in table for t in nested):  # scoped to a sub-model's prefix: not followed
        return None
    architectures = config.get("architectures")
    classes = [a for a in architectures if isinstance(a, str)][:1] if isinstance(architectures, list) else []
    for key in (*classes, config.get("model_type")):  # the class first, as transformers looks them up
        if isinstance(key, str) and key in table:
            return table[key]
    return []


def renamed(name: str, renames: Iterable[Rename]) -> str:
    """``name`` (a weight's name) as the loaded model calls it: every rename that matches applies in turn,
    replacing the first match, as transformers' ``WeightRenaming.rename_source_key`` does."""
    for sources, target in renames:
        found = _compiled(sources, target).search(name)
        if found:
            name = name.replace(found.group(0), target, 1)
    return name


@functools.cache
def _compiled(sources: tuple[str, ...], target: str) -> re.Pattern[str]:
    """transformers' regular expression of a rename: ``*.`` is any prefix, a pattern ending in a letter or
    digit ends on a name's boundary, the longest pattern is tried first."""
    branches = []
    for pattern in sorted(sources, key=len, reverse=True):
        pattern = pattern.replace("*.", r".*\.")
        branches.append(pattern + r"(?!\w)" if re.search(r"[a-zA-Z0-9]$", pattern) else pattern)
    return re.compile("|".join(f"(?:{b})" for b in branches))


@functools.cache
def _installed_table() -> dict[str, list[Rename] | None]:
    """The renames of the installed transformers, keyed by class name or model type; empty when the file is
    not where it was (another version of transformers: nothing renamed is then known, as before 5)."""
    source = installed_source("conversion_mapping.py")
    try:
        return conversion_table(source) if source is not None else {}
    except (SyntaxError, ValueError):
        return {}


def installed_source(relative: str) -> str | None:
    """The text of the file ``relative`` (to the package's folder) of the installed transformers, found without
    importing it (which imports torch); ``None`` when there is none there (another version, or none installed)."""
    spec = importlib.util.find_spec("transformers")  # a top-level spec imports nothing
    if spec is None or spec.origin is None:
        return None
    try:
        return Path(spec.origin).parent.joinpath(relative).read_text("utf-8")
    except (OSError, ValueError):
        return None


def conversion_table(source: str) -> dict[str, list[Rename] | None]:
    """The renames written in ``source`` (the text of ``conversion_mapping.py``): the ``mapping = {...}`` literal,
    with the aliases of ``_MODEL_TO_CONVERSION_PATTERN``; ``None`` for a key whose list is not plain renames
    written out, or that a later statement changes."""
    tree = ast.parse(source)
    table: dict[str, list[Rename] | None] = {}
    aliases: dict[str, str] = {}
    changed: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.value, ast.Dict):
            target = node.targets[0]
            literal = [(k.value, v) for k, v in zip(node.value.keys, node.value.values, strict=True)
                       if isinstance(k, ast.Constant) and isinstance(k.value, str)]
            if isinstance(target, ast.Name) and target.id == "mapping":
                table.update((k, _renames(v)) for k, v in literal)
            elif isinstance(target, ast.Name) and target.id == "_MODEL_TO_CONVERSION_PATTERN":
                aliases.update((k, v.value) for k, v in literal
                               if isinstance(v, ast.Constant) and isinstance(v.value, str))
        for target in _stored(node):
            if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name) and \
                    target.value.id == "mapping" and isinstance(target.slice, ast.Constant):
                changed.add(str(target.slice.value))
    table.update(dict.fromkeys(changed))
    for key, base in aliases.items():  # copied last, as transformers copies them
        if key not in table and base in table:
            table[key] = table[base]
    return table


def _stored(node: ast.AST) -> list[ast.expr]:
    if isinstance(node, ast.Assign):
        return list(node.targets)
    return [node.target] if isinstance(node, ast.AugAssign | ast.AnnAssign) else []


def _renames(node: ast.expr) -> list[Rename] | None:
    """A list of ``WeightRenaming(source, target)`` calls whose patterns are written out; ``None`` else."""
    if not isinstance(node, ast.List):
        return None
    out: list[Rename] = []
    for call in node.elts:
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "WeightRenaming"):
            return None
        given = dict(zip(("source_patterns", "target_patterns"), call.args, strict=False))
        given.update((k.arg, k.value) for k in call.keywords if k.arg)
        if set(given) != {"source_patterns", "target_patterns"} or len(call.args) + len(call.keywords) != 2:
            return None
        sources, target = _strings(given["source_patterns"]), _strings(given["target_patterns"])
        if not sources or target is None or len(target) != 1 or "(" in target[0] or any("\\1" in s for s in sources):
            return None
        plain = target[0].removeprefix("^").replace(r"\.", ".")  # transformers' process_target_pattern
        if not re.fullmatch(r"[\w.]*", plain):
            return None
        if target[0].startswith("^") and len(sources) == 1 and not sources[0].startswith("^"):
            sources = ("^" + sources[0],)  # transformers' process_source_pattern
        out.append((sources, plain))
    return out


def _strings(node: ast.expr) -> tuple[str, ...] | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return (node.value,)
    if isinstance(node, ast.List) and all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
        return tuple(e.value for e in node.elts)  # type: ignore[attr-defined]
    return None
