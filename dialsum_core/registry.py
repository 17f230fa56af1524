"""Named registries filled by the ``dialsum_register_*`` hooks, and the one table of kinds.

A registration records *who* offered a name (plugin and distribution), so two packages claiming the
same name produce an error that names both instead of a silent winner chosen by import order.

:data:`KINDS` is the only list of registry kinds: the hook specifications, the recipe's plugin
tables (``[models.NAME]``...), ``dialsum plugins`` and every tool that lists or documents plugins
derive from it. Adding a kind means adding one :class:`Kind` here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import attrs

from dialsum_core.errors import PluginError


@attrs.frozen
class Kind:
    """One kind of named plugin."""

    #: Registry key, also the suffix of its hook: ``dialsum_register_<name>``.
    name: str
    #: The recipe table holding each plugin's options, e.g. ``[models.NAME]``.
    table: str
    #: Singular, human name for messages and listings.
    label: str
    #: The :mod:`dialsum_core.protocols` class its factories return.
    protocol: str
    #: What else a plugin author must know, appended to the hook's documentation.
    note: str = ""

    @property
    def hook(self) -> str:
        return f"dialsum_register_{self.name}"


KINDS: tuple[Kind, ...] = (
    Kind("model_loaders", "models", "model loader", "ModelLoader"),
    Kind("run_modes", "modes", "run mode", "RunMode"),
    Kind("ensembles", "ensembles", "ensemble", "Ensemble"),
    Kind("augmenters", "augmenters", "augmenter", "Augmenter"),
    Kind("loggers", "loggers", "logger", "Logger",
         "The object's methods are lifecycle hook implementations (decorated with "
         ":data:`dialsum_core.hookimpl`); the core registers it for the duration of one run, in the order "
         "the recipe lists the loggers."),
    Kind("metrics", "metrics", "metric", "Metric"),
)
KIND: dict[str, Kind] = {k.name: k for k in KINDS}
KIND_OF_TABLE: dict[str, Kind] = {k.table: k for k in KINDS}


@attrs.define
class EmptyOptions:
    """Options class for plugins that take none: any key in their table is an error."""


@attrs.frozen
class Registration:
    """One named thing a plugin offers."""

    kind: str
    name: str
    factory: Callable[..., Any]
    options: type
    description: str
    plugin: str
    distribution: str
    version: str
    tags: tuple[str, ...] = ()
    defaults: dict[str, Any] = attrs.field(factory=dict)
    check: Callable[..., Any] | None = None

    def build(self, options: Any, ctx: Any) -> Any:
        """Create the object; the factory does its heavy imports only now."""
        return self.factory(options, ctx)

    @property
    def label(self) -> str:
        return KIND[self.kind].label


@attrs.frozen
class SectionPart:
    """What a plugin contributes to a recipe table: an attrs class (its keys), defaults for keys
    another part declares (the bundled loggers as ``run.loggers``' default), or both.

    ``check(recipe, plugins)`` returns ``[(dotted_key, message)]`` problems only its owner can see;
    ``uses(recipe, plugins)`` returns ``[(dotted_key, kind, [names])]``: the plugins its keys choose
    (how the core knows, without knowing the keys, which plugins a recipe uses).
    """

    table: str
    cls: type | None
    plugin: str
    distribution: str
    version: str
    description: str = ""
    check: Callable[..., Any] | None = None
    uses: Callable[..., Any] | None = None
    defaults: dict[str, Any] = attrs.field(factory=dict)

    @property
    def keys(self) -> set[str]:
        return {f.name for f in attrs.fields(self.cls)} if self.cls is not None else set()

    @property
    def origin(self) -> str:
        return f"{self.distribution} {self.version}".strip()


class Register:
    """The callable handed to a registry hook, bound to the plugin that is being asked."""

    def __init__(self, registry: Registry, kind: str, plugin: str, distribution: str, version: str):
        self._registry = registry
        self._kind = kind
        self._plugin = plugin
        self._distribution = distribution
        self._version = version

    def __call__(
        self,
        name: str,
        factory: Callable[..., Any],
        *,
        options: type | None = None,
        description: str = "",
        tags: tuple[str, ...] | list[str] = (),
        defaults: dict[str, Any] | None = None,
        check: Callable[..., Any] | None = None,
    ) -> None:
        """Register ``name``.

        :param factory: ``factory(options, ctx)``; import heavy libraries inside it.
        :param options: an attrs class for this plugin's table in the recipe (all fields defaulted).
        :param description: one line shown by ``dialsum plugins``.
        :param tags: free labels, read by the plugins that agree on them.
        :param defaults: option values that override the options class' defaults for this name
            (how one options class serves several presets).
        :param check: ``check(recipe, plugins) -> [(dotted_key, message), ...]``: problems that
            only this plugin can see, reported by ``dialsum check`` before anything runs. Must be
            cheap: no heavy imports, no model loading.
        """
        if not isinstance(name, str) or not name:
            raise PluginError(f"plugin {self._plugin!r} registered a {KIND[self._kind].label} with an empty name")
        opts = self._attrs_class(name, options if options is not None else EmptyOptions)
        self._registry.add(
            Registration(
                kind=self._kind,
                name=name,
                factory=factory,
                options=opts,
                description=_first_line(description),
                plugin=self._plugin,
                distribution=self._distribution,
                version=self._version,
                tags=tuple(tags),
                defaults=dict(defaults or {}),
                check=check,
            )
        )

    def _attrs_class(self, name: str, cls: Any) -> type:
        if not attrs.has(cls):
            raise PluginError(
                f"plugin {self._plugin!r} ({self._distribution}) registered {name!r} with options "
                f"{cls!r}, which is not an attrs class"
            )
        return cls  # type: ignore[no-any-return]


class RegisterSection(Register):
    """The callable handed to ``dialsum_register_sections``: ``register(table, SectionClass, ...)``."""

    def __call__(  # type: ignore[override]
        self,
        table: str,
        cls: type | None = None,
        *,
        description: str = "",
        check: Callable[..., Any] | None = None,
        uses: Callable[..., Any] | None = None,
        defaults: dict[str, Any] | None = None,
    ) -> None:
        """Contribute ``cls``'s fields to the recipe table ``table`` (all fields must have defaults).

        :param defaults: default values for keys of ``table`` declared by another part (the core
            leaves ``run.mode``, ``run.loggers``... empty: the bundled plugins fill them in).
        :param check: ``check(recipe, plugins) -> [(dotted_key, message)]``, cheap, run by
            ``dialsum check`` and ``dialsum run`` alike.
        :param uses: ``uses(recipe, plugins) -> [(dotted_key, kind, [names])]``: the plugins the
            section's keys choose.
        """
        if table in KIND_OF_TABLE or table in ("description", "extends", "versions") or not table.isidentifier():
            raise PluginError(f"plugin {self._plugin!r} ({self._distribution}) cannot contribute a section "
                              f"named {table!r}")
        self._registry.add_section(SectionPart(
            table, None if cls is None else self._attrs_class(table, cls), self._plugin, self._distribution,
            self._version, _first_line(description), check, uses, dict(defaults or {})))


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


class Registry:
    """All registrations of every kind, keyed by ``(kind, name)``, and the contributed sections."""

    def __init__(self) -> None:
        self._items: dict[str, dict[str, Registration]] = {kind.name: {} for kind in KINDS}
        self.sections: list[SectionPart] = []

    def add(self, reg: Registration) -> None:
        table = self._items[reg.kind]
        if reg.name in table:
            other = table[reg.name]
            raise PluginError(
                f"{reg.label} name {reg.name!r} is registered twice: by "
                f"{other.distribution} {other.version} (plugin {other.plugin!r}) and by "
                f"{reg.distribution} {reg.version} (plugin {reg.plugin!r}); uninstall one or "
                f"disable it with DIALSUM_DISABLE_PLUGINS"
            )
        table[reg.name] = reg

    def add_section(self, part: SectionPart) -> None:
        """Two parts of one table must not declare the same key, nor give it a default: the error
        names both owners."""
        for other in (o for o in self.sections if o.table == part.table):
            for what, mine, theirs in (("declared", part.keys, other.keys),
                                       ("given a default", set(part.defaults), set(other.defaults))):
                clash = sorted(mine & theirs)
                if clash:
                    raise PluginError(
                        f"recipe key {part.table}.{clash[0]} is {what} twice: by {other.origin} (plugin "
                        f"{other.plugin!r}) and by {part.origin} (plugin {part.plugin!r}); uninstall one or "
                        f"disable it with DIALSUM_DISABLE_PLUGINS"
                    )
        self.sections.append(part)

    def remove_plugin(self, plugin: str) -> None:
        for table in self._items.values():
            for name in [n for n, r in table.items() if r.plugin == plugin]:
                del table[name]
        self.sections = [p for p in self.sections if p.plugin != plugin]

    def get(self, kind: str, name: str) -> Registration | None:
        return self._items[kind].get(name)

    def names(self, kind: str) -> list[str]:
        return sorted(self._items[kind])

    def of_kind(self, kind: str) -> list[Registration]:
        return [self._items[kind][n] for n in sorted(self._items[kind])]

    def tagged(self, kind: str, tag: str) -> list[Registration]:
        return [r for r in self.of_kind(kind) if tag in r.tags]

    def __iter__(self) -> Iterator[Registration]:
        for kind in KINDS:
            yield from self.of_kind(kind.name)
