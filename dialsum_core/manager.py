"""The plugin manager: built fresh by a function, never a module-level singleton.

Order of registration (after tox): the hook specifications, then every entry point of the group
``dialsum`` (built-in plugins are ordinary distributions too) minus the disable list, then
``check_pending()`` so that a misspelled hook name is an error instead of a silent no-op.

An entry point that fails to import is recorded as a :class:`BrokenPlugin` with its distribution
and version. Listing and help warn and continue; a run that needs one of its names fails with exit
code 2 naming it (see :meth:`Plugins.require`).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable
from importlib import metadata
from typing import TYPE_CHECKING, Any

import attrs
import pluggy

from dialsum_core import hookspecs
from dialsum_core.errors import DialsumError, PluginError, RecipeError
from dialsum_core.registry import KIND, KINDS, Register, RegisterSection, Registration, Registry

if TYPE_CHECKING:
    from dialsum_core.protocols import Processes

ENTRY_POINT_GROUP = "dialsum"
DISABLE_ENV = "DIALSUM_DISABLE_PLUGINS"
TRACE_ENV = "DIALSUM_TRACE_HOOKS"


@attrs.frozen
class BrokenPlugin:
    """An entry point that could not be imported or whose registry hook raised."""

    name: str
    distribution: str
    version: str
    error: str

    def describe(self) -> str:
        return f"plugin {self.name!r} from {self.distribution} {self.version} could not be loaded: {self.error}"


@attrs.frozen
class PluginInfo:
    """An installed plugin module as seen by ``dialsum plugins``."""

    name: str
    distribution: str
    version: str


class Plugins:
    """A pluggy manager plus the registries it filled; one per run or CLI call."""

    def __init__(self, pm: pluggy.PluginManager):
        self.pm = pm
        self.registry = Registry()
        self.broken: list[BrokenPlugin] = []
        self.infos: dict[str, PluginInfo] = {}
        self.disabled: list[str] = []
        #: Hook name -> the plugin that declared it (``dialsum_add_hookspecs``); the core's are not here.
        self.hook_owners: dict[str, str] = {}
        self._processes: Processes | None = None

    @property
    def hook(self) -> Any:
        return self.pm.hook

    @property
    def schema(self) -> Any:
        """The recipe sections these plugins contribute (:class:`dialsum_core.recipe.model.Schema`)."""
        from dialsum_core.recipe.model import Schema

        return Schema(self.registry.sections)

    def processes(self) -> Processes:
        """The processes this run is one of: the one answer to ``dialsum_processes``, else this
        process alone. Asked once per manager, since an answer may join a process group."""
        if self._processes is None:
            from dialsum_core.processes import OneProcess

            found = self.answer("dialsum_processes")
            if found is None and os.environ.get("WORLD_SIZE", "1") != "1":  # N copies would each write the folder
                logging.getLogger("dialsum").warning("WORLD_SIZE is set but no plugin offers the processes of a "
                                                     "launch: each process runs alone")
            self._processes = found if found is not None else OneProcess()
        return self._processes

    # -- registration ---------------------------------------------------------------------
    def add(self, plugin: object, name: str, distribution: str = "", version: str = "") -> None:
        """Register a plugin object (module or instance) and collect its registrations."""
        if isinstance(plugin, type):
            raise PluginError(f"plugin {name!r} is a class ({plugin.__name__}); register an instance of it")
        self.pm.register(plugin, name=name)
        self.infos[name] = PluginInfo(name, distribution or name, version or "")
        self._collect(plugin, name)

    def drop(self, name: str, error: str) -> None:
        """Unregister a plugin that does not fit the hook specifications and record it as broken."""
        info = self.infos.get(name) or PluginInfo(name, name, "")
        self.broken.append(BrokenPlugin(name, info.distribution, info.version, error.replace("\n", " ")))
        self.remove(name)

    def remove(self, name: str) -> None:
        plugin = self.pm.get_plugin(name)
        if plugin is not None:
            self.pm.unregister(plugin, name=name)
        self.registry.remove_plugin(name)
        self.infos.pop(name, None)

    def add_hookspecs(self, namespace: object, owner: str) -> None:
        """Add the hook specifications a plugin declares.

        A plugin registered before them may implement them already: it is checked against them first
        and, if it does not fit, dropped as broken exactly as at registration.
        """
        probe = pluggy.PluginManager(hookspecs.PROJECT)
        probe.add_hookspecs(namespace)
        for name, plugin in self.pm.list_name_plugin():
            try:
                probe.register(plugin, name=name)
            except pluggy.PluginValidationError as exc:
                self.drop(name, str(exc))
        self.pm.add_hookspecs(namespace)
        self.hook_owners.update((n, owner) for n in vars(namespace) if self.pm.parse_hookspec_opts(namespace, n))

    def _collect(self, plugin: object, name: str) -> None:
        info = self.infos[name]
        hooks = [("dialsum_add_hookspecs", None, ""), *((k.hook, Register, k.name) for k in KINDS),
                 ("dialsum_register_sections", RegisterSection, "")]
        for hook_name, register_cls, kind in hooks:
            impl = getattr(plugin, hook_name, None)
            if impl is None or not any(i.plugin is plugin for i in getattr(self.pm.hook, hook_name).get_hookimpls()):
                continue
            try:
                if register_cls is None:
                    impl(add=lambda namespace: self.add_hookspecs(namespace, name))
                else:
                    impl(register=register_cls(self.registry, kind, name, info.distribution, info.version))
            except PluginError:
                raise
            except Exception as exc:  # a plugin bug must not take the CLI down
                self.registry.remove_plugin(name)
                self.broken.append(
                    BrokenPlugin(
                        name,
                        info.distribution,
                        info.version,
                        f"{hook_name} raised {type(exc).__name__}: {exc}",
                    )
                )
                return

    def origin(self, plugin_name: str) -> str:
        """Who a registered plugin object is, for messages: ``plugin 'x' from dist-x 1.0``.

        The loggers a run starts are registered as ``logger:NAME``; they are named by the
        distribution that offers the logger. Objects a run mode registers for a while are named
        as they are.
        """
        info = self.infos.get(plugin_name)
        if info is not None:
            return f"plugin {info.name!r} from {info.distribution} {info.version}".rstrip()
        kind, _, name = plugin_name.partition(":")
        reg = self.get("loggers", name) if kind == "logger" else None
        if reg is not None:
            return f"logger {name!r} from {reg.distribution} {reg.version}".rstrip()
        return repr(plugin_name)

    def resolve(self, recipe: Any) -> Any:
        """``recipe`` after every ``dialsum_resolve_recipe`` implementation, in registration order.

        A recipe read with problems (``load_problems``) is resolved too, so that names a plugin
        expands are not reported as unknown beside them; its problems are kept, and reported
        together with any a resolver raises."""
        earlier = list(recipe.load_problems)
        for impl in self.pm.hook.dialsum_resolve_recipe.get_hookimpls():
            try:
                recipe = impl.function(recipe=recipe, plugins=self) or recipe
            except RecipeError as exc:
                raise RecipeError([*earlier, *exc.problems]) from exc
            except DialsumError:
                raise
            except Exception as exc:
                raise PluginError(f"{self.origin(impl.plugin_name)} could not resolve the recipe: "
                                  f"{type(exc).__name__}: {exc}") from exc
        return recipe if recipe.load_problems == earlier else attrs.evolve(recipe, load_problems=earlier)

    def answer(self, hook_name: str, **kwargs: Any) -> Any:
        """The one answer (not ``None``) of ``hook_name``'s implementations, or ``None``.

        Two answers are an error naming both plugins: never a winner chosen by registration order.
        """
        found: list[tuple[str, Any]] = []
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            value = impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
            if value is not None:
                found.append((impl.plugin_name, value))
        if len(found) > 1:
            raise PluginError(f"{hook_name} is answered twice: by {self.origin(found[0][0])} and by "
                              f"{self.origin(found[1][0])}; uninstall one or disable it with {DISABLE_ENV}")
        return found[0][1] if found else None

    def checked_data(self, recipe: Any) -> Any:
        """The data ``recipe``'s run reads, as a check needs them: read quietly (what was read belongs to
        the run's log), ``None`` when they cannot be read (the data's own check says why) or no plugin reads them."""
        try:
            return self.answer("dialsum_load_data", recipe=recipe, quiet=True)
        except DialsumError:
            return None

    # -- lookups ---------------------------------------------------------------------------
    def get(self, kind: str, name: str) -> Registration | None:
        return self.registry.get(kind, name)

    def require(self, kind: str, name: str) -> Registration:
        """The registration for ``name``, or a :class:`PluginError` that says what is wrong."""
        reg = self.registry.get(kind, name)
        if reg is not None:
            return reg
        raise PluginError(self.missing_message(kind, name))

    def missing_message(self, kind: str, name: str) -> str:
        import difflib

        label = KIND[kind].label
        close = difflib.get_close_matches(name, self.registry.names(kind), n=1)
        if close:
            return f"unknown {label} {name!r} (did you mean {close[0]!r}?)"
        if self.broken:
            broken = "; ".join(b.describe() for b in self.broken)
            hint = f" (a broken plugin may provide it: {broken})"
        else:
            known = ", ".join(self.registry.names(kind)) or "none installed"
            hint = f" (installed: {known})"
        if self.disabled:  # a DIALSUM_DISABLE_PLUGINS set long ago is easily forgotten
            hint = f"{hint[:-1]}; disabled: {', '.join(self.disabled)})"
        return f"unknown {label} {name!r}{hint}"


def _entry_points() -> list[metadata.EntryPoint]:
    eps = metadata.entry_points(group=ENTRY_POINT_GROUP)
    seen: dict[str, metadata.EntryPoint] = {}
    for ep in eps:
        # The same distribution seen twice on sys.path (a symlinked lib64) is one plugin.
        dist = ep.dist.name if ep.dist else ""
        key = f"{ep.name}\0{ep.value}\0{dist}"
        seen.setdefault(key, ep)
    return sorted(seen.values(), key=lambda e: e.name)


def disabled_from_env() -> list[str]:
    raw = os.environ.get(DISABLE_ENV, "")
    return [part.strip() for part in raw.replace(";", ",").split(",") if part.strip()]


def build_plugins(
    disable: Iterable[str] = (),
    *,
    entry_points: bool = True,
    extra: Iterable[tuple[str, object]] = (),
) -> Plugins:
    """Build a fresh plugin manager with every installed plugin.

    :param disable: plugin (entry point) names to skip, in addition to ``DIALSUM_DISABLE_PLUGINS``.
    :param entry_points: ``False`` loads none (tests that want a bare core).
    :param extra: ``(name, plugin)`` pairs registered after the entry points.
    :raises PluginError: two plugins claim one entry point name or one registered name, or a
        plugin implements a hook that does not exist.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    if os.environ.get(TRACE_ENV):
        pm.trace.root.setwriter(lambda msg: sys.stderr.write(msg))
        pm.enable_tracing()
    plugins = Plugins(pm)
    from dialsum_core import __version__
    from dialsum_core.recipe import schema as core_sections

    # The core's own sections are registered through the same hook as every plugin's.
    plugins.add(core_sections, "dialsum-core", "dialsum-core", __version__)
    skip = set(disable) | set(disabled_from_env())
    plugins.disabled = sorted(skip)
    found = {ep.name: ep.dist.name if ep.dist else "" for ep in _entry_points()} if entry_points else {}
    names = {**found, **{name: "" for name, _ in extra}}
    if entry_points and (meant := _meant(sorted(skip - set(names)), names)):  # else the plugin meant runs after all
        raise PluginError(f"cannot disable {', '.join(meant)}: no plugin has that name (--disable-plugin and "
                          f"{DISABLE_ENV} take plugin names: {', '.join(sorted(names))})")
    owners: dict[str, str] = {}
    if entry_points:
        for ep in _entry_points():
            dist = ep.dist.name if ep.dist else "<unknown distribution>"
            version = ep.dist.version if ep.dist else "?"
            if ep.name in skip:
                continue
            if ep.name in owners and owners[ep.name] != dist:
                raise PluginError(
                    f"plugin name {ep.name!r} is claimed by two distributions: {owners[ep.name]} and {dist} {version}"
                )
            owners[ep.name] = dist
            try:
                module = ep.load()
            except Exception as exc:
                plugins.broken.append(BrokenPlugin(ep.name, dist, version, f"{type(exc).__name__}: {exc}"))
                continue
            try:
                plugins.add(module, ep.name, dist, version)
            except pluggy.PluginValidationError as exc:
                plugins.remove(ep.name)
                plugins.broken.append(BrokenPlugin(ep.name, dist, version, str(exc)))
    for name, plugin in extra:
        if name not in skip:
            plugins.add(plugin, name)
    check_pending(plugins)
    return plugins


def _meant(unknown: list[str], names: dict[str, str]) -> list[str]:
    """Disable names that stand for an installed plugin by another name (its distribution's, a typo),
    with the plugin's name; a name like no installed plugin's is one not installed here: nothing to do."""
    import difflib

    meant = []
    for name in unknown:
        close = [n for n, dist in names.items() if dist == name] or difflib.get_close_matches(name, list(names), 1)
        meant += [f"{name!r} (did you mean {close[0]!r}?)"] if close else []
    return meant


def check_pending(plugins: Plugins) -> None:
    """Drop plugins whose hook implementations match no specification (usually a typo).

    Such a plugin is recorded as broken, so listing warns about it and a run that names one of its
    registrations fails, instead of the misspelled hook being silently ignored.
    """
    for _ in range(len(plugins.infos) + 1):
        try:
            plugins.pm.check_pending()
            return
        except pluggy.PluginValidationError as exc:
            plugins.drop(plugins.pm.get_name(exc.plugin) or "?", str(exc))
