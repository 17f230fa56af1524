"""The :class:`Recipe` object: load, merge, override, evolve, validate and write back to TOML.

Validation collects *every* problem before raising, each as one line
``FILE: dotted.key: what is wrong``, because fixing a recipe one error per run is miserable
(torchtune and cattrs both learned this).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import cattrs
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)

from dialsum_core.errors import RecipeError, one_line
from dialsum_core.recipe import io
from dialsum_core.recipe.schema import (
    DataSection,
    GenerationSection,
    RunSection,
    TrainSection,
    path_problems,
)
from dialsum_core.registry import KIND_LABELS, TABLES

if TYPE_CHECKING:
    from dialsum_core.manager import Plugins

PLUGIN_TABLES: tuple[str, ...] = tuple(TABLES.values())
KIND_OF_TABLE: dict[str, str] = {table: kind for kind, table in TABLES.items()}
PYTHON_SOURCE = "<python>"


# ------------------------------------------------------------------------------------------
# A strict converter: TOML already gives real types, so "3" for an int is a mistake to report,
# and bool("no") == True must never happen.
# ------------------------------------------------------------------------------------------
def _type_name(value: Any) -> str:
    return {bool: "boolean", int: "integer", float: "float", str: "string", list: "array", dict: "table"}.get(
        type(value), type(value).__name__
    )


def _strict_int(value: Any, _t: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, got {_type_name(value)} {value!r}")
    return value


def _strict_float(value: Any, _t: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {_type_name(value)} {value!r}")
    return float(value)


def _strict_str(value: Any, _t: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {_type_name(value)} {value!r}")
    return value


def _strict_bool(value: Any, _t: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected true or false, got {_type_name(value)} {value!r}")
    return value


def make_converter() -> cattrs.Converter:
    """The converter used for the core tables and every plugin's options class."""
    conv = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    conv.register_structure_hook(int, _strict_int)
    conv.register_structure_hook(float, _strict_float)
    conv.register_structure_hook(str, _strict_str)
    conv.register_structure_hook(bool, _strict_bool)

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
        value = getattr(inst, field.name)
        sub = f"{path}.{field.name}" if path else field.name
        if field.validator is not None:
            try:
                field.validator(inst, field, value)
            except (ValueError, TypeError) as exc:
                out.append((sub, _validator_message(exc, value)))
        if attrs.has(type(value)):
            out.extend(_check_validators(value, sub))
    return out


def structure_options(cls: type, data: Mapping[str, Any], path: str) -> tuple[Any, list[tuple[str, str]]]:
    """Build ``cls`` from ``data``; returns the instance (or ``None``) and every problem found."""
    if not isinstance(data, Mapping):
        return None, [(path, f"expected a table, got {_type_name(data)} {data!r}")]
    try:
        with attrs.validators.disabled():
            inst = CONVERTER.structure(dict(data), cls)
    except Exception as exc:  # cattrs raises exception groups
        problems = _flatten_errors(exc, path)
        return None, problems + _check_fields_alone(cls, data, path, {k for k, _ in problems})
    return inst, _check_validators(inst, path)


def plugin_options(reg: Any, table: Mapping[str, Any]) -> tuple[Any, list[tuple[str, str]]]:
    """The options of registration ``reg`` from its recipe ``table`` (over its registered defaults).

    A rejection (a validator's ``ValueError``, a wrong type) is the recipe's problem and names the
    key; any other exception is a bug of the plugin's options class, reported as a problem that
    names the plugin and its distribution instead of a traceback.
    """
    path = f"{TABLES[reg.kind]}.{reg.name}"
    try:
        return structure_options(reg.options, {**reg.defaults, **table}, path)
    except Exception as exc:
        return None, [(path, f"the options of {KIND_LABELS[reg.kind]} {reg.name!r} (plugin {reg.plugin!r} from "
                             f"{reg.distribution} {reg.version}) could not be checked: {type(exc).__name__}: {exc}")]


def _check_fields_alone(cls: type, data: Mapping[str, Any], path: str, bad: set[str]) -> list[tuple[str, str]]:
    """When a table fails to build, still run the validators of its well-typed fields."""
    out: list[tuple[str, str]] = []
    attrs.resolve_types(cls)
    for field in attrs.fields(cls):
        sub = f"{path}.{field.name}" if path else field.name
        if field.name not in data or any(b == sub or b.startswith(sub + ".") for b in bad):
            continue
        try:
            value = CONVERTER.structure(data[field.name], field.type)
        except Exception:
            continue
        if field.validator is not None:
            try:
                field.validator(None, field, value)
            except (ValueError, TypeError) as exc:
                out.append((sub, _validator_message(exc, value)))
        if attrs.has(type(value)):
            out.extend(_check_validators(value, sub))
    return out


def _validator_message(exc: Exception, value: Any) -> str:
    if isinstance(exc, ValueError) and len(exc.args) > 2 and isinstance(exc.args[2], tuple | list | set):
        return f"must be one of {list(exc.args[2])}, got {value!r}"
    return str(exc.args[0]) if exc.args else type(exc).__name__


def _is_toml_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


@attrs.define(kw_only=True)
class Recipe:
    """A typed recipe. Plugin tables stay as plain tables until :meth:`options` types them."""

    description: str = ""
    run: RunSection = attrs.field(factory=RunSection)
    data: DataSection = attrs.field(factory=DataSection)
    train: TrainSection = attrs.field(factory=TrainSection)
    generation: GenerationSection = attrs.field(factory=GenerationSection)
    models: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    modes: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    ensembles: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    augmenters: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    loggers: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    metrics: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    versions: dict[str, str] = attrs.field(factory=dict)
    # Where the recipe came from: not part of its value, never written back.
    source: str = attrs.field(default=PYTHON_SOURCE, eq=False, repr=False)
    base_dir: str = attrs.field(default=".", eq=False, repr=False)
    provenance: dict[str, str] = attrs.field(factory=dict, eq=False, repr=False)

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        *,
        source: str = PYTHON_SOURCE,
        base_dir: str | Path | None = None,
        provenance: Mapping[str, str] | None = None,
    ) -> Recipe:
        """Type a plain mapping; raises :class:`RecipeError` listing every structural problem."""
        prov = dict(provenance or {})
        problems: list[tuple[str, str]] = []
        kwargs: dict[str, Any] = {}
        fields = {f.name: f for f in attrs.fields(cls) if f.name not in ("source", "base_dir", "provenance")}
        for key, value in data.items():
            if key == "extends":
                continue
            if key not in fields:
                close = difflib.get_close_matches(key, list(fields), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                problems.append((key, f"unknown top-level key{hint}"))
                continue
            if key == "description":
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
                    problems.append((key, f"expected a table of {KIND_LABELS[KIND_OF_TABLE[key]]} tables"))
                    continue
                tables: dict[str, dict[str, Any]] = {}
                for name, table in value.items():
                    if not isinstance(table, Mapping):
                        problems.append((f"{key}.{name}", f"expected a table, got {_type_name(table)} {table!r}"))
                    else:
                        tables[name] = dict(table)
                kwargs[key] = tables
            else:
                section_cls = {
                    "run": RunSection,
                    "data": DataSection,
                    "train": TrainSection,
                    "generation": GenerationSection,
                }[key]
                inst, errs = structure_options(section_cls, value, key)
                problems.extend(errs)
                if inst is not None:
                    kwargs[key] = inst
        base = str(base_dir) if base_dir is not None else (str(Path(source).parent) if source != PYTHON_SOURCE else ".")
        if problems:
            raise RecipeError(_format(problems, source, prov))
        return cls(source=source, base_dir=base, provenance=prov, **kwargs)

    # -- writing ------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A plain mapping that :meth:`from_dict` turns back into an equal recipe."""
        out: dict[str, Any] = {}
        if self.description:
            out["description"] = self.description
        for name in ("run", "data", "train", "generation"):
            out[name] = CONVERTER.unstructure(getattr(self, name))
        for table in PLUGIN_TABLES:
            value = getattr(self, table)
            if value:
                out[table] = {k: dict(v) for k, v in value.items()}
        if self.versions:
            out["versions"] = dict(self.versions)
        return out

    def to_toml(self) -> str:
        import tomli_w

        return tomli_w.dumps(self.to_dict())

    # -- changing (always returns a new recipe) -------------------------------------------------
    def override(self, *items: str | tuple[str, Any]) -> Recipe:
        """Apply ``--set`` style overrides (``"train.epochs=1"`` or ``("train.epochs", 1)``)."""
        prov = dict(self.provenance)
        data = io.apply_overrides(self.to_dict(), prov, items)
        return Recipe.from_dict(data, source=self.source, base_dir=self.base_dir, provenance=prov)

    def merge(self, other: Mapping[str, Any] | Recipe) -> Recipe:
        """Merge a partial recipe (a mapping, or a whole recipe) on top of this one."""
        patch = other.to_dict() if isinstance(other, Recipe) else other
        data = io.deep_merge(self.to_dict(), patch)
        return Recipe.from_dict(data, source=self.source, base_dir=self.base_dir, provenance=self.provenance)

    def evolve(self, **changes: Any) -> Recipe:
        """``attrs.evolve`` for whole sections, e.g. ``recipe.evolve(train=TrainSection(epochs=1))``."""
        return attrs.evolve(self, **changes)

    # -- reading ------------------------------------------------------------------------------
    def get(self, dotted: str) -> Any:
        node: Any = self.to_dict()
        for part in io.split_dotted(dotted):
            if not isinstance(node, Mapping) or part not in node:
                raise KeyError(dotted)
            node = node[part]
        return node

    def path(self, value: str) -> Path:
        """A path from the recipe, relative to the recipe's own folder."""
        p = Path(value).expanduser()
        return p if p.is_absolute() else Path(self.base_dir) / p

    def where(self, dotted: str) -> str:
        """The file that set ``dotted`` (or the nearest table above it)."""
        return _where(dotted, self.source, self.provenance)

    def model_names(self, plugins: Plugins) -> list[str]:
        """``run.models`` with ``all`` expanded to every registered preset."""
        names: list[str] = []
        for name in self.run.models:
            expanded = [r.name for r in plugins.registry.tagged("model_loaders", "preset")] if name == "all" else [name]
            names.extend(n for n in expanded if n not in names)
        return names

    def options(self, kind: str, name: str, plugins: Plugins) -> Any:
        """The typed options of plugin ``name`` of ``kind`` (its table plus registered defaults)."""
        reg = plugins.require(kind, name)
        table = getattr(self, TABLES[kind]).get(name, {})
        inst, problems = plugin_options(reg, table)
        if problems:
            raise RecipeError(_format(problems, self.source, self.provenance))
        return inst

    # -- validation ---------------------------------------------------------------------------
    def problems(self, plugins: Plugins) -> list[str]:
        """Every problem that needs the installed plugins to see (unknown names, bad options), and paths
        that cannot be used (see :func:`~dialsum_core.recipe.schema.path_problems`)."""
        found: list[tuple[str, str]] = path_problems(self.run, self.data)
        for ref, kind, names in self._referenced(plugins):
            for name in names:
                if plugins.get(kind, name) is None:
                    found.append((ref, plugins.missing_message(kind, name)))
        for table in PLUGIN_TABLES:
            kind = KIND_OF_TABLE[table]
            for name, values in getattr(self, table).items():
                reg = plugins.get(kind, name)
                if reg is None:
                    found.append((f"{table}.{name}", plugins.missing_message(kind, name)))
                    continue
                found.extend(plugin_options(reg, values)[1])
        for _ref, kind, names in self._referenced(plugins):  # used without a table: its defaults must do
            for name in names:
                reg = plugins.get(kind, name)
                if reg is not None and name not in getattr(self, TABLES[kind]):
                    found.extend(plugin_options(reg, {})[1])
        if not found:
            seen: set[tuple[str, str]] = set()
            for _ref, kind, names in self._referenced(plugins):
                for name in names:
                    reg = plugins.get(kind, name)
                    if reg is None or reg.check is None or (kind, name) in seen:
                        continue
                    seen.add((kind, name))
                    try:
                        found.extend(reg.check(self, plugins))
                    except Exception as exc:  # a plugin's check must not crash `dialsum check`
                        found.append((_ref, f"{reg.plugin} ({reg.distribution}) check failed: {exc}"))
        return _format(found, self.source, self.provenance)

    def validate(self, plugins: Plugins) -> Recipe:
        """Raise :class:`RecipeError` with every problem; returns ``self`` when there is none."""
        found = self.problems(plugins)
        if found:
            raise RecipeError(found)
        return self

    def _referenced(self, plugins: Plugins) -> list[tuple[str, str, list[str]]]:
        refs = [
            ("run.mode", "run_modes", [self.run.mode]),
            ("run.models", "model_loaders", [n for n in self.run.models if n != "all"]),
            ("run.loggers", "loggers", list(self.run.loggers)),
            ("run.metrics", "metrics", list(self.run.metrics)),
        ]
        mode = plugins.get("run_modes", self.run.mode)
        if self.run.use_tta or len(self.model_names(plugins)) > 1 or (mode and "ensemble" in mode.tags):
            refs.append(("run.ensemble", "ensembles", [self.run.ensemble]))
        if self.run.use_tta:
            refs.append(("run.tta_strategies", "augmenters", list(self.run.tta_strategies)))
        return refs


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


def load_recipe(path: str | Path, overrides: Iterable[str | tuple[str, Any]] = ()) -> Recipe:
    """Read a recipe file, follow its ``extends`` chain and apply ``--set`` overrides."""
    data, prov = io.load_layers(path)
    data = io.apply_overrides(data, prov, overrides)
    return Recipe.from_dict(data, source=str(path), provenance=prov)


def write_recipe(recipe: Recipe, path: str | Path) -> Path:
    """Write ``recipe`` as TOML, atomically."""
    from dialsum_core.atomic import atomic_write_text

    return atomic_write_text(Path(path), recipe.to_toml())
