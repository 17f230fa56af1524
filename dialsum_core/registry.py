"""Named registries filled by the ``dialsum_register_*`` hooks.

A registration records *who* offered a name (plugin and distribution), so two packages claiming the
same name produce an error that names both instead of a silent winner chosen by import order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import attrs

from dialsum_core.errors import PluginError

KINDS: tuple[str, ...] = (
    "model_loaders",
    "run_modes",
    "ensembles",
    "augmenters",
    "loggers",
    "metrics",
)

#: The recipe table that holds each kind's per-plugin options, e.g. ``[models.scratch]``.
TABLES: dict[str, str] = {
    "model_loaders": "models",
    "run_modes": "modes",
    "ensembles": "ensembles",
    "augmenters": "augmenters",
    "loggers": "loggers",
    "metrics": "metrics",
}

#: Singular, human names for messages and listings.
KIND_LABELS: dict[str, str] = {
    "model_loaders": "model loader",
    "run_modes": "run mode",
    "ensembles": "ensemble",
    "augmenters": "augmenter",
    "loggers": "logger",
    "metrics": "metric",
}


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
        :param tags: free labels; ``"preset"`` marks a model preset.
        :param defaults: option values that override the options class' defaults for this name
            (how one options class serves several presets).
        :param check: ``check(recipe, plugins) -> [(dotted_key, message), ...]``: problems that
            only this plugin can see, reported by ``dialsum check`` before anything runs. Must be
            cheap: no heavy imports, no model loading.
        """
        if not isinstance(name, str) or not name:
            raise PluginError(f"plugin {self._plugin!r} registered a {self._kind} with an empty name")
        opts = options if options is not None else EmptyOptions
        if not attrs.has(opts):
            raise PluginError(
                f"plugin {self._plugin!r} ({self._distribution}) registered {name!r} with options "
                f"{opts!r}, which is not an attrs class"
            )
        self._registry.add(
            Registration(
                kind=self._kind,
                name=name,
                factory=factory,
                options=opts,
                description=description.strip().splitlines()[0] if description.strip() else "",
                plugin=self._plugin,
                distribution=self._distribution,
                version=self._version,
                tags=tuple(tags),
                defaults=dict(defaults or {}),
                check=check,
            )
        )


class Registry:
    """All registrations of every kind, keyed by ``(kind, name)``."""

    def __init__(self) -> None:
        self._items: dict[str, dict[str, Registration]] = {kind: {} for kind in KINDS}

    def add(self, reg: Registration) -> None:
        table = self._items[reg.kind]
        if reg.name in table:
            other = table[reg.name]
            raise PluginError(
                f"{KIND_LABELS[reg.kind]} name {reg.name!r} is registered twice: by "
                f"{other.distribution} {other.version} (plugin {other.plugin!r}) and by "
                f"{reg.distribution} {reg.version} (plugin {reg.plugin!r}); uninstall one or "
                f"disable it with DIALSUM_DISABLE_PLUGINS"
            )
        table[reg.name] = reg

    def remove_plugin(self, plugin: str) -> None:
        for table in self._items.values():
            for name in [n for n, r in table.items() if r.plugin == plugin]:
                del table[name]

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
            yield from self.of_kind(kind)

    def __len__(self) -> int:
        return sum(len(t) for t in self._items.values())
