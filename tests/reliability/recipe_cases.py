"""Hypothesis strategies that build malformed recipes, each with the problems it must produce.

A case is a small folder of TOML files (an ``extends`` chain ending in ``r.toml``), optional
``--set`` overrides, and the ``(file, dotted key)`` pairs that the error has to name. Defects are
chosen from the real schema (field types and validators are read from the attrs classes), so new
core fields are fuzzed without touching this module.

Families:

* ``core`` - wrong types, unknown keys, out-of-range numbers, non-table sections, anywhere in the
  chain or in ``--set``; all are found while typing the recipe and must be reported together.
* ``plugin`` - unknown run mode / model / metric / logger names, options tables for plugins that do
  not exist, plugin options of the wrong type or out of range; found by ``Recipe.problems``.
* ``file`` - TOML syntax errors, non-UTF-8 bytes, ``extends`` cycles, missing or mistyped
  ``extends``, a missing recipe, malformed ``--set``; one line naming the file.
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import tomli_w
from hypothesis import strategies as st

from dialsum_core import validators
from dialsum_core.recipe import Recipe
from dialsum_core.recipe.model import PLUGIN_TABLES
from dialsum_core.registry import KINDS

ENTRY = "r.toml"
SET = "--set"
CORE_SECTIONS: dict[str, type] = dict(Recipe().schema.tables)
TABLES: dict[str, str] = {k.name: k.table for k in KINDS}
TOP_LEVEL = {"description", "extends", "versions", *CORE_SECTIONS, *PLUGIN_TABLES}


@attrs.frozen
class Defect:
    """One thing wrong: where it goes (layer index or ``--set``), the key path and the value."""

    family: str
    kind: str
    where: int | str
    path: tuple[str, ...]
    value: Any
    #: The key the error must name (``None``: only the file).
    expect_key: str | None = None


@attrs.define
class Case:
    family: str
    kinds: list[str]
    files: dict[str, bytes]
    overrides: list[str]
    #: ``(file name relative to the folder, or "--set"; dotted key or None; phrase or None)``
    expected: list[tuple[str, str | None, str | None]]
    entry: str = ENTRY

    def write(self, folder: Path) -> Path:
        for name, data in self.files.items():
            (folder / name).write_bytes(data)
        return folder / self.entry


# ------------------------------------------------------------------------------------------
# Values
# ------------------------------------------------------------------------------------------
NAMES = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)),
    min_size=1,
    max_size=12,
)
IDENT = st.from_regex(r"[a-z_][a-z0-9_\-]{0,14}", fullmatch=True)
SCALARS = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    NAMES,
    st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1)),
    st.dates(),
)
TABLE_VALUE = st.dictionaries(IDENT, st.integers(0, 9), min_size=1, max_size=2)


def _fields(cls: type) -> list[attrs.Attribute]:
    attrs.resolve_types(cls)
    return list(attrs.fields(cls))


def _type_family(t: Any) -> str:
    if t is bool:
        return "bool"
    if t is int:
        return "int"
    if t is float:
        return "float"
    if t is str:
        return "str"
    if typing.get_origin(t) is list:
        (elem,) = typing.get_args(t) or (Any,)
        return f"list[{_type_family(elem)}]" if elem is not Any else "list[any]"
    if typing.get_origin(t) is dict:
        return "dict"
    if attrs.has(t):
        return "table"
    return "any"


def wrong_value(family: str) -> st.SearchStrategy[Any]:
    """A TOML value that the field's type must refuse."""
    ints = st.integers(-(2**40), 2**40)
    floats = st.floats(allow_nan=True, allow_infinity=True)
    texts = NAMES
    bools = st.booleans()
    dates = st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1))
    arrays = st.lists(st.integers(0, 5), min_size=0, max_size=3)
    options: dict[str, list[st.SearchStrategy[Any]]] = {
        "int": [texts, bools, floats, arrays, dates, TABLE_VALUE],
        "float": [texts, bools, arrays, dates, TABLE_VALUE],
        "str": [ints, bools, floats, arrays, dates, TABLE_VALUE],
        "bool": [ints, texts, floats, arrays, dates, TABLE_VALUE],
        "list[str]": [texts, ints, bools, TABLE_VALUE, st.lists(ints, min_size=1, max_size=3)],
        "list[float]": [texts, ints, TABLE_VALUE, st.lists(texts, min_size=1, max_size=3)],
        "list[int]": [texts, ints, TABLE_VALUE, st.lists(texts, min_size=1, max_size=3)],
        "table": [ints, texts, bools, arrays],
        "dict": [ints, texts, bools, arrays],
    }
    return st.one_of(*options.get(family, [ints]))


def out_of_range(field: attrs.Attribute, family: str) -> st.SearchStrategy[Any] | None:
    """Values the field's validator must refuse (``None`` when it has none we understand)."""
    validator = field.validator
    if validator is None:
        return None
    integral = family == "int"
    if validator is validators.positive:
        return st.integers(-(2**40), 0) if integral else st.one_of(st.floats(max_value=0.0), st.just(math.nan))
    if validator is validators.non_negative:
        return st.integers(-(2**40), -1) if integral else st.one_of(st.floats(max_value=-1e-9), st.just(math.nan))
    if validator is validators.fraction:
        return st.one_of(st.floats(min_value=1.0), st.floats(max_value=-1e-9), st.just(math.nan), st.integers(1, 99))
    allowed = getattr(validator, "options", None)
    if allowed is not None:
        return NAMES.filter(lambda s: s not in allowed)
    return None


# ------------------------------------------------------------------------------------------
# Defects
# ------------------------------------------------------------------------------------------
def _section_fields() -> list[tuple[tuple[str, ...], attrs.Attribute, str]]:
    out = []
    for section, cls in CORE_SECTIONS.items():
        for f in _fields(cls):
            fam = _type_family(f.type)
            out.append(((section, f.name), f, fam))
            if fam == "table":
                for sub in _fields(f.type):
                    out.append(((section, f.name, sub.name), sub, _type_family(sub.type)))
    return out


SECTION_FIELDS = _section_fields()
RANGED = [(p, f, fam) for p, f, fam in SECTION_FIELDS if out_of_range(f, fam) is not None]
SCALAR_FIELDS = [(p, f, fam) for p, f, fam in SECTION_FIELDS if fam in ("int", "float", "str", "bool")]


@st.composite
def core_defect(draw: st.DrawFn, n_layers: int) -> Defect:
    where: int | str = draw(st.integers(0, n_layers - 1))
    kind = draw(st.sampled_from(["wrong_type", "unknown_key", "out_of_range", "not_a_table", "top_level"]))
    if kind == "wrong_type":
        path, _f, fam = draw(st.sampled_from(SECTION_FIELDS))
        value = draw(wrong_value(fam))
        if fam in ("int", "float", "str", "bool") and draw(st.booleans()) and _settable(value):
            where = SET
        return Defect("core", kind, where, path, value, ".".join(path))
    if kind == "out_of_range":
        path, f, fam = draw(st.sampled_from(RANGED))
        value = draw(out_of_range(f, fam))  # type: ignore[arg-type]
        if draw(st.booleans()) and _settable(value):
            where = SET
        return Defect("core", kind, where, path, value, ".".join(path))
    if kind == "unknown_key":
        tables = [(s,) for s in CORE_SECTIONS] + [("data", "preprocessing")]
        table = draw(st.sampled_from(tables))
        known = {f.name for f in _fields(_section_class(table))}
        key = draw(NAMES.filter(lambda k: k not in known))
        value = draw(SCALARS)
        return Defect("core", kind, where, (*table, key), value, ".".join((*table, key)))
    if kind == "not_a_table":
        table = draw(st.sampled_from([*CORE_SECTIONS, *PLUGIN_TABLES, "models.lead", "metrics.rouge"]))
        value = draw(st.one_of(st.integers(), NAMES, st.booleans(), st.lists(st.integers(0, 3), max_size=2)))
        return Defect("core", kind, where, tuple(table.split(".")), value, table)
    key = draw(NAMES.filter(lambda k: k not in TOP_LEVEL))
    return Defect("core", "top_level", where, (key,), draw(SCALARS), key)


def _section_class(path: tuple[str, ...]) -> type:
    cls = CORE_SECTIONS[path[0]]
    for part in path[1:]:
        cls = attrs.fields_dict(cls)[part].type
    return cls


def _settable(value: Any) -> bool:
    """Whether ``value`` survives the trip through ``--set key=VALUE`` as the same TOML value."""
    if isinstance(value, dict | dt.date | dt.datetime):
        return False
    if isinstance(value, str) and ("\n" in value or "\r" in value):
        return False
    return True


def unknown_name(kind: str, registered: set[str]) -> st.SearchStrategy[str]:
    return NAMES.filter(lambda n: n not in registered and n != "all")


@st.composite
def plugin_defect(draw: st.DrawFn, n_layers: int, registered: dict[str, set[str]]) -> Defect:
    where = draw(st.integers(0, n_layers - 1))
    kind = draw(st.sampled_from(["unknown_mode", "unknown_model", "unknown_metric", "unknown_logger", "ghost_table",
                                 "lead_option", "rouge_option"]))
    if kind == "unknown_mode":
        name = draw(unknown_name("run_modes", registered["run_modes"]))
        return Defect("plugin", kind, where, ("run", "mode"), name, "run.mode")
    if kind in ("unknown_model", "unknown_metric", "unknown_logger"):
        field, reg_kind, valid = {
            "unknown_model": ("models", "model_loaders", ["lead"]),
            "unknown_metric": ("metrics", "metrics", ["rouge"]),
            "unknown_logger": ("loggers", "loggers", []),
        }[kind]
        ghosts = draw(st.lists(unknown_name(reg_kind, registered[reg_kind]), min_size=1, max_size=2, unique=True))
        value = draw(st.permutations([*valid, *ghosts]))
        return Defect("plugin", kind, where, ("run", field), list(value), f"run.{field}")
    if kind == "ghost_table":
        reg_kind = draw(st.sampled_from(sorted(TABLES)))
        name = draw(unknown_name(reg_kind, registered[reg_kind]))
        table = TABLES[reg_kind]
        return Defect("plugin", kind, where, (table, name), {"x": 1}, f"{table}.{name}")
    if kind == "lead_option":
        bad = draw(st.sampled_from(["turns", "max_turns", "tune", "strip_speaker", "unknown"]))
        if bad in ("turns", "max_turns"):
            value = draw(st.one_of(st.integers(-(2**40), 0), wrong_value("int")))
        elif bad == "unknown":
            bad = draw(IDENT.filter(lambda k: k not in ("turns", "max_turns", "tune", "strip_speaker")))
            value = draw(SCALARS)
        else:
            value = draw(wrong_value("bool"))
        return Defect("plugin", kind, where, ("models", "lead", bad), value, f"models.lead.{bad}")
    bad_tok = draw(st.one_of(NAMES.filter(lambda s: s not in ("auto", "kiwi", "whitespace")), wrong_value("str")))
    return Defect("plugin", kind, where, ("metrics", "rouge", "tokenizer"), bad_tok, "metrics.rouge.tokenizer")


# ------------------------------------------------------------------------------------------
# Assembling the files
# ------------------------------------------------------------------------------------------
VALID_NOISE: list[tuple[tuple[str, ...], Any]] = [
    (("train", "epochs"), 2),
    (("train", "learning_rate"), 3e-5),
    (("train", "scheduler"), "linear"),
    (("generation", "num_beams"), 2),
    (("generation", "do_sample"), True),
    (("data", "max_length"), 512),
    (("data", "preprocessing", "remove_noise"), False),
    (("run", "seed"), 7),
    (("run", "debug"), True),
    (("description",), "a recipe"),
    (("models", "lead", "turns"), 2),
    (("metrics", "rouge", "tokenizer"), "whitespace"),
]


def _conflicts(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def _set_in(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = data
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value


def layer_names(n_layers: int) -> list[str]:
    return [f"base{i}.toml" for i in range(n_layers - 1)] + [ENTRY]


def baseline(out_dir: str) -> dict[str, Any]:
    return {
        "run": {"mode": "single", "models": ["lead"], "loggers": [], "metrics": ["rouge"], "output_dir": out_dir},
        "data": {"train_path": "train.csv"},
    }


def render(layers: list[dict[str, Any]]) -> dict[str, bytes]:
    names = layer_names(len(layers))
    files: dict[str, bytes] = {}
    for i, (name, data) in enumerate(zip(names, layers, strict=True)):
        body = dict(data)
        if i > 0:
            body = {"extends": names[i - 1], **body}
        files[name] = tomli_w.dumps(body).encode("utf-8")
    return files


def set_item(path: tuple[str, ...], value: Any) -> str:
    key = ".".join(f'"{p}"' if not _bare(p) else p for p in path)
    literal = tomli_w.dumps({"v": value}).strip()[len("v = ") :]
    return f"{key}={literal}"


def _bare(part: str) -> bool:
    return bool(part) and all(c.isascii() and (c.isalnum() or c in "_-") for c in part)


@st.composite
def defect_case(draw: st.DrawFn, out_dir: str, registered: dict[str, set[str]]) -> Case:
    """A recipe with 1-4 defects of one family (``core`` or ``plugin``), plus valid noise."""
    n_layers = draw(st.integers(1, 3))
    family = draw(st.sampled_from(["core", "plugin"]))
    strategy = core_defect(n_layers) if family == "core" else plugin_defect(n_layers, registered)
    defects: list[Defect] = []
    for d in draw(st.lists(strategy, min_size=1, max_size=4)):
        if all(not _conflicts(d.path, o.path) for o in defects):
            defects.append(d)
    layers = [baseline(out_dir)] + [{} for _ in range(n_layers - 1)]
    for path, value in VALID_NOISE:
        if draw(st.booleans()) and all(not _conflicts(path, d.path) for d in defects):
            _set_in(layers[draw(st.integers(0, n_layers - 1))], path, value)
    overrides: list[str] = []
    expected: list[tuple[str, str | None, str | None]] = []
    names = layer_names(n_layers)
    for d in defects:
        if d.where == SET:
            overrides.append(set_item(d.path, d.value))
            expected.append((SET, d.expect_key, None))
        else:
            where = int(d.where)
            for above in layers[where + 1 :]:  # nothing above may hide the defect
                _drop(above, d.path)
            _set_in(layers[where], d.path, d.value)
            expected.append((names[where], d.expect_key, None))
    return Case(family, sorted({d.kind for d in defects}), render(layers), overrides, expected)


def _drop(data: dict[str, Any], path: tuple[str, ...]) -> None:
    node = data
    for part in path[:-1]:
        if not isinstance(node.get(part), dict):
            return
        node = node[part]
    node.pop(path[-1], None)


# ------------------------------------------------------------------------------------------
# File-level defects: exactly one error line, naming the file
# ------------------------------------------------------------------------------------------
BAD_BYTES = st.one_of(
    st.sampled_from(
        [b"\xff", b"\xfe\xff", b"\xc3\x28", b"\xa0\xa1", b"\xed\xa0\x80", b"\x80abc", b"\xf8\x88\x80\x80\x80",
         "한국어 레시피".encode("cp949"), "résumé".encode("latin-1")]
    ),
    st.binary(min_size=1, max_size=8).filter(lambda b: not _is_utf8(b)),
)
SYNTAX_BREAKERS = st.sampled_from(
    [
        "= 1",
        "[[[",
        'x = "unterminated',
        "x = 1 2",
        "[run]",
        "key = ",
        "x = [1, 2",
        "x = {a = 1",
        "x = tru",
        'x = "bad \\q escape"',
        "x = 1979-13-45",
        "\x00",
        "x = 0x",
        "[a.]",
        "x.=1",
    ]
)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _parses(data: bytes) -> bool:
    try:
        tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return False
    return True


@st.composite
def file_case(draw: st.DrawFn, out_dir: str) -> Case:
    n_layers = draw(st.integers(1, 3))
    layers = [baseline(out_dir)] + [{} for _ in range(n_layers - 1)]
    for path, value in VALID_NOISE:
        if draw(st.booleans()):
            _set_in(layers[draw(st.integers(0, n_layers - 1))], path, value)
    files = render(layers)
    names = layer_names(n_layers)
    target = draw(st.sampled_from(names))
    kind = draw(
        st.sampled_from(["syntax", "encoding", "cycle", "missing_parent", "extends_type", "extends_dir",
                         "missing_recipe", "bad_set"])
    )
    overrides: list[str] = []
    expected: list[tuple[str, str | None, str | None]]
    entry = ENTRY
    if kind == "syntax":
        lines = files[target].decode("utf-8").split("\n")
        breaker = draw(SYNTAX_BREAKERS)
        lines.insert(draw(st.integers(0, len(lines))), breaker)
        data = "\n".join(lines).encode("utf-8")
        if _parses(data):
            data += b"\n= broken\n"
        files[target] = data
        expected = [(target, None, "TOML syntax error")]
    elif kind == "encoding":
        how = draw(st.sampled_from(["comment", "string", "whole-file"]))
        text = files[target]
        if how == "whole-file":
            codec = draw(st.sampled_from(["utf-16", "cp949", "latin-1", "utf-32"]))
            sample = {"cp949": "설명", "latin-1": "résumé"}.get(codec, "설명 résumé")
            data = f'description = "{sample}"\n'.encode(codec) + text
        else:
            bad = draw(BAD_BYTES)
            lines = text.split(b"\n")
            line = b"# " + bad if how == "comment" else b'description = "' + bad + b'"'
            lines.insert(draw(st.integers(0, len(lines))) if how == "comment" else 0, line)
            if how == "string":
                files_no_desc = tomllib.loads(text.decode("utf-8"))
                if "description" in files_no_desc:
                    lines[0] = b"# " + bad
            data = b"\n".join(lines)
        if _is_utf8(data):
            data += b"\n# \xff\n"
        files[target] = data
        expected = [(target, None, "not UTF-8")]
    elif kind == "cycle":
        # target extends a chain of 0-2 new files whose last one extends target (or itself)
        n_new = draw(st.integers(0, 2))
        new = [f"cyc{i}.toml" for i in range(n_new)]
        chain = [target, *new]
        back_to = draw(st.sampled_from(chain))
        for i, name in enumerate(chain):
            parent = chain[i + 1] if i + 1 < len(chain) else back_to
            body = tomllib.loads(files[name].decode("utf-8")) if name in files else {"train": {"epochs": 1}}
            body["extends"] = parent
            files[name] = tomli_w.dumps(body).encode("utf-8")
        # the chain above `target` (if any) is no longer used: drop it from what the recipe names
        expected = [(back_to, "extends", "cycle")]
    elif kind in ("missing_parent", "extends_type", "extends_dir"):
        body = tomllib.loads(files[target].decode("utf-8"))
        if kind == "missing_parent":
            body["extends"] = draw(st.sampled_from(["nope.toml", "../nope/x.toml", "sub/dir.toml"]))
            phrase = "file not found"
        elif kind == "extends_type":
            body["extends"] = draw(
                st.one_of(st.integers(), st.booleans(), st.lists(st.integers(), min_size=1, max_size=2),
                          st.just(""), st.just([""]), TABLE_VALUE)
            )
            phrase = "expected a file path"
        else:
            body["extends"] = draw(st.sampled_from([".", "..", "./"]))
            phrase = "is a directory"
        files[target] = tomli_w.dumps(body).encode("utf-8")
        expected = [(target, "extends", phrase)]
    elif kind == "missing_recipe":
        entry = draw(st.sampled_from(["missing.toml", "gone/r.toml"]))
        expected = [(entry, None, "recipe file not found")]
    else:
        overrides = [draw(st.sampled_from(["noequals", "=1", "a..b=1", ".x=1", "train.=1", "run.mode.x=1",
                                           " =2", "run..seed=1"]))]
        expected = [(SET, None, None)]
    return Case("file", [kind], files, overrides, expected, entry)


def registered_names(plugins: Any) -> dict[str, set[str]]:
    return {kind: set(plugins.registry.names(kind)) for kind in TABLES}


CaseFactory = Callable[[str, dict[str, set[str]]], st.SearchStrategy[Case]]


def any_case(out_dir: str, registered: dict[str, set[str]]) -> st.SearchStrategy[Case]:
    return st.one_of(defect_case(out_dir, registered), file_case(out_dir))
