"""The :class:`Recipe` object: load, merge, override, evolve, validate and write back to TOML.

A recipe's sections are typed by the classes plugins contribute (:class:`Schema`); its plugin
tables (``[models.NAME]``...) stay plain tables until :meth:`Recipe.options` types them with the
options class of the plugin the name belongs to.

Validation collects *every* problem before raising, each as one line
``FILE: dotted.key: what is wrong``, because fixing a recipe one error per run is miserable
(torchtune and cattrs both learned this).
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attr
import attrs
import cattrs
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)

from dialsum_core.errors import DialsumError, RecipeError, one_line
from dialsum_core.recipe import io
from dialsum_core.recipe.schema import PATH_OR_NAME, is_path
from dialsum_core.registry import KIND, KIND_OF_TABLE, KINDS, SectionPart

if TYPE_CHECKING:
    from dialsum_core.manager import Plugins

PLUGIN_TABLES: tuple[str, ...] = tuple(k.table for k in KINDS)
PYTHON_SOURCE = "<python>"
RESERVED = ("description", "extends", "versions")


# ------------------------------------------------------------------------------------------
# A strict converter: TOML already gives real types, so "3" for an int is a mistake to report,
# and bool("no") == True must never happen.
# ------------------------------------------------------------------------------------------
def _type_name(value: Any) -> str:
    return {bool: "boolean", int: "integer", float: "float", str: "string", list: "array", dict: "table"}.get(
        type(value), type(value).__name__
    )


def _strict(expected: str, kinds: tuple[type, ...], convert: Callable[[Any], Any]) -> Callable[[Any, Any], Any]:
    """A structure hook that takes only ``kinds`` (a boolean is never a number, nor a number a boolean)."""
    def structure(value: Any, _t: Any) -> Any:
        if isinstance(value, bool) is not (kinds == (bool,)) or not isinstance(value, kinds):
            raise TypeError(f"expected {expected}, got {_type_name(value)} {value!r}")
        return convert(value)

    return structure


STRICT = ((int, "an integer", (int,)), (float, "a number", (int, float)), (str, "a string", (str,)),
          (bool, "true or false", (bool,)))


def make_converter() -> cattrs.Converter:
    """The converter used for the core tables and every plugin's options class."""
    conv = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    for cls, expected, kinds in STRICT:
        conv.register_structure_hook(cls, _strict(expected, kinds, cls))

    def _list_hook(value: Any, t: Any) -> list[Any]:
        if not isinstance(value, list | tuple):
            raise TypeError(f"expected an array, got {_type_name(value)} {value!r}")
        (elem,) = getattr(t, "__args__", None) or (Any,)
        out: list[Any] = []
        errors: list[Exception] = []
        for i, item in enumerate(value):
            try:
                out.append(item if elem is Any else conv.structure(item, elem))
            except Exception as exc:
                exc.__notes__ = [*getattr(exc, "__notes__", []), IterableValidationNote(f"index {i}", i, elem)]
                errors.append(exc)
        if errors:
            raise IterableValidationError(f"While structuring {t!r}", errors, t)
        return out

    conv.register_structure_hook_func(lambda t: getattr(t, "__origin__", None) is list, _list_hook)

    def _table_hook(cls: type) -> Callable[[Any, Any], Any]:
        build = conv.gen_structure_attrs_fromdict(cls)

        def structure(value: Any, t: Any) -> Any:
            if not isinstance(value, Mapping):
                raise TypeError(f"expected a table, got {_type_name(value)} {value!r}")
            return build(value, t)

        return structure

    conv.register_structure_hook_factory(attrs.has, _table_hook)
    return conv


CONVERTER = make_converter()


def _flatten_errors(exc: BaseException, path: str) -> list[tuple[str, str]]:
    """cattrs' nested exception groups -> ``(dotted.path, message)`` pairs."""
    out: list[tuple[str, str]] = []
    if isinstance(exc, ClassValidationError | IterableValidationError):
        with_notes, without = exc.group_exceptions()
        for inner, note in with_notes:
            if isinstance(note, AttributeValidationNote):
                sub = f"{path}.{note.name}" if path else note.name
            elif isinstance(note, IterableValidationNote):
                sub = f"{path}[{note.index}]"
            else:
                sub = path
            out.extend(_flatten_errors(inner, sub))
        for inner in without:
            out.extend(_flatten_errors(inner, path))
    elif isinstance(exc, ForbiddenExtraKeysError):
        known = [f.name for f in attrs.fields(exc.cl)] if attrs.has(exc.cl) else []
        for key in sorted(exc.extra_fields):
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            if known:
                hint += f"; known keys: {', '.join(known)}" if not close else ""
            else:
                hint = hint or "; this table takes no options"
            out.append((f"{path}.{key}" if path else key, f"unknown key{hint}"))
    elif isinstance(exc, KeyError):
        out.append((path, f"missing required key {exc.args[0]!r}"))
    else:
        msg = str(exc) or type(exc).__name__
        if isinstance(exc, TypeError) and "expected" not in msg:
            msg = f"invalid value ({msg})"
        out.append((path, msg))
    return out


def _check_validators(inst: Any, path: str) -> list[tuple[str, str]]:
    """Run every attrs validator field by field, so all range errors are reported at once."""
    out: list[tuple[str, str]] = []
    for field in attrs.fields(type(inst)):
        out.extend(_check_field(inst, field, getattr(inst, field.name), f"{path}.{field.name}" if path else field.name))
    return out


def _check_field(inst: Any, field: attrs.Attribute, value: Any, key: str) -> list[tuple[str, str]]:
    """The problems of one field's value: its validator's, then those of a nested section or of the
    typed entries of a table or an array (a search space of parameter tables)."""
    found = []
    if field.validator is not None:
        try:
            field.validator(inst, field, value)
        except (ValueError, TypeError) as exc:
            found.append((key, _validator_message(exc, value)))
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for k, item in items:
        if attrs.has(type(item)):
            found.extend(_check_validators(item, f"{key}.{k}" if isinstance(value, dict) else f"{key}[{k}]"))
    return found + (_check_validators(value, key) if attrs.has(type(value)) else [])


def structure_options(cls: type, data: Mapping[str, Any], path: str) -> tuple[Any, list[tuple[str, str]]]:
    """Build ``cls`` from ``data``; returns the instance (or ``None``) and every problem found."""
    if not isinstance(data, Mapping):
        return None, [(path, f"expected a table, got {_type_name(data)} {data!r}")]
    try:
        with attrs.validators.disabled():
            inst = CONVERTER.structure(dict(data), cls)
    except Exception as exc:  # cattrs raises exception groups
        return _partial(cls, data, path, _flatten_errors(exc, path))
    return inst, _check_validators(inst, path)


def plugin_options(reg: Any, table: Mapping[str, Any]) -> tuple[Any, list[tuple[str, str]]]:
    """The options of registration ``reg`` from its recipe ``table`` (over its registered defaults).

    A rejection (a validator's ``ValueError``, a wrong type) is the recipe's problem and names the
    key; any other exception is a bug of the plugin's options class, reported as a problem that
    names the plugin and its distribution instead of a traceback.
    """
    path = f"{KIND[reg.kind].table}.{reg.name}"
    try:
        return structure_options(reg.options, {**reg.defaults, **table}, path)
    except Exception as exc:
        return None, [(path, f"the options of {reg.label} {reg.name!r} (plugin {reg.plugin!r} from "
                             f"{reg.distribution} {reg.version}) could not be checked: {type(exc).__name__}: {exc}")]


def _partial(cls: type, data: Mapping[str, Any], path: str,
             problems: list[tuple[str, str]]) -> tuple[Any, list[tuple[str, str]]]:
    """A table that failed to build, built from the values that can be used (the others keep their
    defaults), so that the checks reading it see what the user wrote; and the validators' problems of
    those values, nested tables included, beside ``problems``."""
    bad = {k for k, _ in problems}
    found = list(problems)
    values: dict[str, Any] = {}
    attrs.resolve_types(cls)
    for field in attrs.fields(cls):
        sub = f"{path}.{field.name}" if path else field.name
        if field.name not in data or sub in bad:
            continue
        if any(b.startswith((sub + ".", sub + "[")) for b in bad):
            if not (attrs.has(field.type) and isinstance(data[field.name], Mapping)):
                continue
            value, inner = structure_options(field.type, data[field.name], sub)
            found.extend(p for p in inner if p not in found)
        else:
            try:
                value = CONVERTER.structure(data[field.name], field.type)
            except Exception:
                continue
            inner = _check_field(None, field, value, sub)
            found.extend(inner)
        if value is not None and not inner:
            values[field.alias] = value
    try:
        with attrs.validators.disabled():
            return cls(**values), found
    except Exception:  # a class that checks its values together: its problems are reported above
        return None, found


def _validator_message(exc: Exception, value: Any) -> str:
    if isinstance(exc, ValueError) and len(exc.args) > 2 and isinstance(exc.args[2], tuple | list | set):
        return f"must be one of {list(exc.args[2])}, got {value!r}"
    return str(exc.args[0]) if exc.args else type(exc).__name__


# ------------------------------------------------------------------------------------------
# The schema: which class types each section, built from the parts plugins contribute
# ------------------------------------------------------------------------------------------
def _frozen(value: Any) -> Any:
    return tuple(_frozen(v) for v in value) if isinstance(value, list | tuple) else value


@functools.lru_cache(maxsize=64)
def _combined(table: str, classes: tuple[type, ...], defaults: tuple[tuple[str, Any], ...]) -> type:
    """One attrs class with the fields of every part of ``table``, in registration order, and the
    defaults other parts give them.

    Cached, so that recipes built from the same parts share one class and compare equal.
    """
    if len(classes) == 1 and not defaults:
        return classes[0]
    given = dict(defaults)
    fields: dict[str, Any] = {}
    for cls in classes:
        attrs.resolve_types(cls)
        for a in attrs.fields(cls):
            default = a.default
            if a.name in given:
                value = given[a.name]
                default = attrs.Factory(lambda v=value: list(v)) if isinstance(value, tuple) else value
            fields[a.name] = attr.ib(default=default, validator=a.validator, type=a.type, metadata=a.metadata,
                                     kw_only=True)
    return attrs.make_class(f"{table.title()}Section", fields, kw_only=True)


class Schema:
    """Recipe table -> the attrs class that types it (the parts contributed to it, combined)."""

    def __init__(self, parts: Iterable[SectionPart]):
        self.parts = list(parts)
        classes: dict[str, list[type]] = {}
        defaults: dict[str, dict[str, Any]] = {}
        for part in self.parts:
            if part.cls is not None:
                classes.setdefault(part.table, []).append(part.cls)
            defaults.setdefault(part.table, {}).update({k: _frozen(v) for k, v in part.defaults.items()})
        self.problems = [
            f"{part.origin} gives a default to {part.table}.{key}, which no installed plugin declares"
            for part in self.parts for key in part.defaults
            if not any(key in attrs.fields_dict(c) for c in classes.get(part.table, []))
        ]
        self.tables: dict[str, type] = {
            t: _combined(t, tuple(cs), tuple(sorted(defaults.get(t, {}).items()))) for t, cs in classes.items()
        }

    @classmethod
    def installed(cls) -> Schema:
        """The sections of the installed plugins (what a recipe built without a plugin manager uses)."""
        from dialsum_core.manager import disabled_from_env

        return _installed(tuple(disabled_from_env()))

    def owner(self, dotted: str) -> SectionPart | None:
        """The part that declares ``dotted`` (``run.seed`` -> the core's part)."""
        table, _, key = dotted.partition(".")
        first = key.split(".")[0]
        return next((p for p in self.parts if p.table == table and first in p.keys), None)


@functools.lru_cache(maxsize=8)
def _installed(disabled: tuple[str, ...]) -> Schema:
    from dialsum_core.manager import build_plugins

    return build_plugins().schema


def _path_fields(cls: type, prefix: str) -> Iterable[tuple[str, Any]]:
    """``(dotted key, its metadata["path"])`` of every field that holds a path."""
    attrs.resolve_types(cls)
    for a in attrs.fields(cls):
        if a.metadata.get("path"):
            yield f"{prefix}.{a.name}", a.metadata["path"]
        elif isinstance(a.type, type) and attrs.has(a.type):
            yield from _path_fields(a.type, f"{prefix}.{a.name}")


@attrs.define(kw_only=True)
class Recipe:
    """A typed recipe.

    ``recipe.run``, ``recipe.NAME``... are the typed sections (``recipe.section(name)``);
    ``recipe.models``, ``recipe.modes``... the plugin tables, typed by :meth:`options`.
    """

    description: str = ""
    sections: dict[str, Any] = attrs.field(factory=dict)
    tables: dict[str, dict[str, dict[str, Any]]] = attrs.field(factory=dict)
    versions: dict[str, str] = attrs.field(factory=dict)
    # Where the recipe came from and what typed it: not part of its value, never written back.
    source: str = attrs.field(default=PYTHON_SOURCE, eq=False, repr=False)
    provenance: dict[str, str] = attrs.field(factory=dict, eq=False, repr=False)
    schema: Schema = attrs.field(factory=Schema.installed, eq=False, repr=False)
    #: Problems found while typing a recipe read with ``strict=False`` (reported by :meth:`problems`).
    load_problems: list[str] = attrs.field(factory=list, eq=False, repr=False)
    #: Their keys: a check does not report on them (it saw their defaults, not what the user wrote).
    load_problem_keys: frozenset[str] = attrs.field(default=frozenset(), eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        for name, cls in self.schema.tables.items():
            if name not in self.sections:
                self.sections[name] = cls()
        for table in PLUGIN_TABLES:
            self.tables.setdefault(table, {})

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: sections and plugin tables read as attributes.
        if name.startswith("_") or name in ("sections", "tables", "schema"):
            raise AttributeError(name)
        for holder in (self.sections, self.tables):
            if name in holder:
                return holder[name]
        raise AttributeError(f"the recipe has no section {name!r} (installed: {', '.join(self.sections)})")

    def section(self, name: str) -> Any:
        """The typed section ``name``, as contributed by its plugins."""
        if name not in self.sections:
            raise KeyError(f"no installed plugin contributes a [{name}] section")
        return self.sections[name]

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        *,
        source: str = PYTHON_SOURCE,
        provenance: Mapping[str, str] | None = None,
        schema: Schema | None = None,
        strict: bool = True,
    ) -> Recipe:
        """Type a plain mapping; raises :class:`RecipeError` listing every structural problem.

        ``strict=False`` keeps them for :meth:`problems` instead (a section that cannot be typed
        keeps the values that can be, the others their defaults), so that ``dialsum check`` reports
        them together with the problems of the plugin tables, which need the plugins to see."""
        schema = schema or Schema.installed()
        prov = dict(provenance or {})
        problems: list[tuple[str, str]] = []
        kwargs: dict[str, Any] = {"sections": {}, "tables": {}}
        known = [*RESERVED, *schema.tables, *PLUGIN_TABLES]
        for key, value in data.items():
            if key == "extends":  # read by load_recipe from the files; from anywhere else it would be lost
                problems.append((key, "only a recipe file can extend others; write it in a recipe file"))
            elif key == "description":
                if not isinstance(value, str):
                    problems.append((key, f"expected a string, got {_type_name(value)} {value!r}"))
                else:
                    kwargs[key] = value
            elif key == "versions":
                if isinstance(value, Mapping):
                    kwargs[key] = {str(k): str(v) for k, v in value.items()}
                else:
                    problems.append((key, "expected a table"))
            elif key in PLUGIN_TABLES:
                if not isinstance(value, Mapping):
                    problems.append((key, f"expected a table of {KIND_OF_TABLE[key].label} tables"))
                    continue
                tables: dict[str, dict[str, Any]] = {}
                for name, table in value.items():
                    if not isinstance(table, Mapping):
                        problems.append((f"{key}.{name}", f"expected a table, got {_type_name(table)} {table!r}"))
                    else:
                        tables[name] = dict(table)
                kwargs["tables"][key] = tables
            elif key in schema.tables:
                inst, errs = structure_options(schema.tables[key], value, key)
                problems.extend(errs)
                if inst is not None:
                    kwargs["sections"][key] = inst
            else:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else " (no installed plugin contributes it)"
                problems.append((key, f"unknown top-level key{hint}"))
        if problems and strict:
            raise RecipeError(_format(problems, source, prov))
        return cls(source=source, provenance=prov, schema=schema, load_problems=_format(problems, source, prov),
                   load_problem_keys=frozenset(k for k, _ in problems), **kwargs)

    # -- writing ------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A plain mapping that :meth:`from_dict` turns back into an equal recipe."""
        out: dict[str, Any] = {}
        if self.description:
            out["description"] = self.description
        for name, section in self.sections.items():
            out[name] = attrs.asdict(section)  # as it is: a value of the wrong type stays one, to be reported
        for table in PLUGIN_TABLES:
            value = self.tables.get(table)
            if value:
                out[table] = {k: dict(v) if isinstance(v, Mapping) else v for k, v in value.items()}
        if self.versions:
            out["versions"] = dict(self.versions)
        return out

    def to_toml(self) -> str:
        import tomli_w

        return tomli_w.dumps(self.to_dict())

    # -- changing (always returns a new recipe) -------------------------------------------------
    def override(self, *items: str | tuple[str, Any]) -> Recipe:
        """Apply ``--set`` style overrides (``"run.seed=1"`` or ``("run.seed", 1)``)."""
        prov = dict(self.provenance)
        data = io.apply_overrides(self.to_dict(), prov, items)
        return Recipe.from_dict(data, source=self.source, provenance=prov, schema=self.schema)

    def merge(self, other: Mapping[str, Any] | Recipe) -> Recipe:
        """Merge a partial recipe (a mapping, or a whole recipe) on top of this one; what it sets comes from Python."""
        patch = other.to_dict() if isinstance(other, Recipe) else other
        data = io.deep_merge(self.to_dict(), patch)
        prov = {**self.provenance, **dict.fromkeys(io.leaves(patch), PYTHON_SOURCE)}
        return Recipe.from_dict(data, source=self.source, provenance=prov, schema=self.schema)

    def evolve(self, **changes: Any) -> Recipe:
        """Replace whole sections or plugin tables: ``recipe.evolve(run=attrs.evolve(recipe.run, seed=1))``.

        The result is typed as a file's would be (attrs checks no types), and what changed comes
        from Python: a new path is relative to the working directory, an error names ``<python>``."""
        sections = {**self.sections, **{k: v for k, v in changes.items() if k in self.sections}}
        tables = {**self.tables, **{k: v for k, v in changes.items() if k in PLUGIN_TABLES}}
        rest = {k: v for k, v in changes.items() if k not in sections and k not in tables}
        data = attrs.evolve(self, sections=sections, tables=tables, **rest).to_dict()
        before = io.leaves(self.to_dict())
        changed = {k: PYTHON_SOURCE for k, v in io.leaves(data).items() if k not in before or before[k] != v}
        new = Recipe.from_dict(data, source=self.source, provenance={**self.provenance, **changed}, schema=self.schema)
        return attrs.evolve(new, load_problems=self.load_problems, load_problem_keys=self.load_problem_keys)

    # -- reading ------------------------------------------------------------------------------
    def get(self, dotted: str) -> Any:
        node: Any = self.to_dict()
        for part in io.split_dotted(dotted):
            if not isinstance(node, Mapping) or part not in node:
                raise KeyError(dotted)
            node = node[part]
        return node

    def where(self, dotted: str) -> str:
        """The file that set ``dotted`` (or the nearest table above it)."""
        return _where(dotted, self.source, self.provenance)

    def path_keys(self) -> list[str]:
        """Keys of the sections that hold a path (fields with ``metadata=PATH``)."""
        return [k for name, cls in self.schema.tables.items() for k, _ in _path_fields(cls, name)]

    def path_of(self, dotted: str, value: str | None = None) -> Path:
        """The one rule for paths: a path set in a recipe file is relative to that file; one from
        ``--set`` or Python to the working directory. ``value`` defaults to the key's value."""
        raw = str(self.get(dotted) if value is None else value)
        p = Path(raw).expanduser()
        where = self.where(dotted)
        if p.is_absolute() or not raw or where in (io.SET_SOURCE, PYTHON_SOURCE):
            return p
        return Path(where).parent / p

    def options(self, kind: str, name: str, plugins: Plugins) -> Any:
        """The typed options of plugin ``name`` of ``kind`` (its table plus registered defaults)."""
        reg = plugins.require(kind, name)
        inst, problems = plugin_options(reg, self.tables[KIND[kind].table].get(name, {}))
        if problems:
            raise RecipeError(_format(problems, self.source, self.provenance))
        return inst

    def uses(self, plugins: Plugins) -> list[tuple[str, str, list[str]]]:
        """``(key, kind, names)``: the plugins this recipe chooses, as each section's owner says.

        The one answer to "which plugins does this recipe use", for validation, the resolved
        ``config.toml`` and the run.
        """
        found: list[tuple[str, str, list[str]]] = []
        for part in self.schema.parts:
            if part.uses is not None:
                found.extend(part.uses(self, plugins))
        return found

    def used(self, plugins: Plugins) -> list[tuple[str, str]]:
        """``(kind, name)`` of every installed plugin the recipe uses, once each, in recipe order."""
        out: list[tuple[str, str]] = []
        for _key, kind, names in self.uses(plugins):
            out.extend((kind, n) for n in names if (kind, n) not in out and plugins.get(kind, n) is not None)
        return out

    # -- validation ---------------------------------------------------------------------------
    def problems(self, plugins: Plugins) -> list[str]:
        """Every problem that needs the installed plugins to see: unknown names, bad options, and the
        checks of every section and used plugin. ``dialsum check`` and ``dialsum run`` both call it."""
        found: list[tuple[str, str]] = []
        uses = self.uses(plugins)
        for ref, kind, names in uses:  # a name twice is one plugin of the run, used once: a mistake
            found.extend((ref, plugins.missing_message(kind, n)) for n in names if plugins.get(kind, n) is None)
            if twice := [n for n in dict.fromkeys(names) if names.count(n) > 1]:
                found.append((ref, f"{', '.join(map(repr, twice))} listed more than once; list each "
                                   f"{KIND[kind].label} once"))
        for kind in KINDS:
            for name, values in self.tables[kind.table].items():
                reg = plugins.get(kind.name, name)
                if reg is None:
                    found.append((f"{kind.table}.{name}", plugins.missing_message(kind.name, name)))
                    continue
                found.extend(plugin_options(reg, values)[1])
        for kind, name in self.used(plugins):  # used without a table: its defaults must do
            if name not in self.tables[KIND[kind].table]:
                found.extend(plugin_options(plugins.require(kind, name), {})[1])
        # The checks run even after such problems (a section keeps the values that could be typed,
        # the others their defaults), so that one `dialsum check` shows every problem; a check that
        # trips over one of them (an option it reads, a name it looks up), or speaks of a key already
        # reported (it saw the default), adds nothing.
        earlier = bool(found or self.load_problems)
        reported = {key for key, _ in found} | self.load_problem_keys
        checks = [(p.check, p.table, p.plugin, p.origin) for p in self.schema.parts if p.check is not None]
        for kind, name in self.used(plugins):
            reg = plugins.require(kind, name)
            if reg.check is not None:
                checks.append((reg.check, f"{KIND[kind].table}.{name}", reg.plugin, reg.distribution))
        for check, key, plugin, origin in checks:
            try:
                found.extend(p for p in check(self, plugins) if p[0] not in reported)
            except Exception as exc:  # a plugin's check must not crash `dialsum check`
                if not (earlier and isinstance(exc, DialsumError)):
                    found.append((key, f"{plugin} ({origin}) check failed: {type(exc).__name__}: {exc}"))
        return [*self.load_problems, *_format(dict.fromkeys(found), self.source, self.provenance)]

    def ignored_keys(self, plugins: Plugins) -> list[tuple[str, str]]:
        """``(key, why)`` for each key the plugins say this run ignores (``dialsum_ignored_keys``), each
        plugin asked on its own: one that fails is named under the key ``run``, never a crash."""
        found: list[tuple[str, str]] = []
        for impl in plugins.hook.dialsum_ignored_keys.get_hookimpls():
            args = {"recipe": self, "plugins": plugins}
            try:
                found += [(k, why) for k, why in impl.function(**{a: args[a] for a in impl.argnames})]
            except Exception as exc:  # a warning must never stop a check or a run
                found.append(("run", f"{plugins.origin(impl.plugin_name)} could not tell which keys change nothing: "
                                     f"{type(exc).__name__}: {exc}"))
        return list(dict.fromkeys(found))

    def ignored(self, plugins: Plugins) -> list[str]:
        """``FILE: key: changes nothing: why``: what ``dialsum check`` and the run warn about."""
        found = [(k, why if k == "run" else f"changes nothing: {why}") for k, why in self.ignored_keys(plugins)]
        return _format(found, self.source, self.provenance)

    def validate(self, plugins: Plugins) -> Recipe:
        """Raise :class:`RecipeError` with every problem; returns ``self`` when there is none."""
        found = self.problems(plugins)
        if found:
            raise RecipeError(found)
        return self


def _where(dotted: str, source: str, provenance: Mapping[str, str]) -> str:
    # strip list indices (``run.models[1]``) but keep a ``[`` that is part of a key the user wrote
    key = dotted if dotted in provenance else re.sub(r"(\[\d+\])+$", "", dotted)
    while key:
        if key in provenance:
            return provenance[key]
        # a table key: any leaf below it tells the file
        below = [f for k, f in provenance.items() if k.startswith(key + ".")]
        if below:
            return below[-1]
        key = key.rpartition(".")[0]
    return source


def _format(problems: Iterable[tuple[str, str]], source: str, provenance: Mapping[str, str]) -> list[str]:
    return [one_line(f"{_where(key, source, provenance)}: {key}: {msg}") for key, msg in problems]


def load_recipe(path: str | Path, overrides: Iterable[str | tuple[str, Any]] = (), *,
                schema: Schema | None = None, strict: bool = True, names: Collection[str] = ()) -> Recipe:
    """Read a recipe file, follow its ``extends`` chain and apply ``--set`` overrides (where a
    plugin name of ``names`` keeps its dots without quotes)."""
    data, prov = io.load_layers(path)
    data = io.apply_overrides(data, prov, overrides, names)
    return Recipe.from_dict(data, source=str(path), provenance=prov, schema=schema, strict=strict)


def absolute_paths(recipe: Recipe, plugins: Plugins) -> list[tuple[str, Any]]:
    """``(key, value)`` of every path ``recipe`` sets (its sections' and plugin tables' fields marked ``PATH``, or
    ``PATH_OR_NAME`` holding a path), absolute as :meth:`Recipe.path_of` reads it: a relative path is read from
    the file that holds it, so a recipe written to another folder keeps its files only with these."""
    keys = [(k, k, True) for k in recipe.path_keys()]
    for kind in KINDS:
        for name, table in recipe.tables[kind.table].items():
            reg = plugins.get(kind.name, name)
            fields = [(f, how) for f, how in (_path_fields(reg.options, "") if reg else ()) if f[1:] in table]
            keys += [(f"{kind.table}.{name}{f}", f'{kind.table}."{name}"{f}', how) for f, how in fields]
    return [(quoted, _absolute(recipe, key, recipe.get(quoted), how)) for key, quoted, how in keys]


def _absolute(recipe: Recipe, key: str, value: Any, kind: Any = True) -> Any:
    if isinstance(value, list):
        return [_absolute(recipe, key, v, kind) for v in value]
    if not isinstance(value, str) or not value or (kind == PATH_OR_NAME["path"] and not is_path(value)):
        return value
    return str(recipe.path_of(key, value).resolve())


def write_recipe(recipe: Recipe, path: str | Path, plugins: Plugins | None = None) -> Path:
    """Write ``recipe`` as TOML, atomically, its paths made absolute (:func:`absolute_paths`, with the
    installed plugins unless given): it reads the same files from wherever it is written."""
    import tomli_w

    from dialsum_core.atomic import atomic_write_text
    from dialsum_core.manager import build_plugins

    data = recipe.to_dict()
    for key, value in absolute_paths(recipe, plugins or build_plugins()):
        io.set_dotted(data, key, value)
    return atomic_write_text(Path(path), tomli_w.dumps(data))
