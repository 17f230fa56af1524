"""Hook specifications: the whole contract between the core and every plugin.

There are two families of hooks.

*Registry hooks* (``dialsum_register_*``) are called once per plugin manager. Each receives a
``register`` callable and returns nothing; a plugin calls ``register(name, factory, options=...,
description=...)`` once per thing it offers. The recipe then chooses by name, so no plugin can
silently replace another one's behaviour and registration order never matters.

*Lifecycle hooks* (``dialsum_before_*``, ``dialsum_after_*``, ``dialsum_on_*``) are events. The core
emits them to every active logger (and to any installed plugin that implements them), one
implementation at a time: an implementation that raises is reported once and dropped for the rest
of the run, so a broken logger can never stop training. The events here are those of every run;
a plugin declares the events only it emits (``dialsum_add_hookspecs``).

Implementations may accept any subset of a hook's parameters, as with every pluggy hook.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

from dialsum_core.registry import KINDS, Kind

if TYPE_CHECKING:
    from collections.abc import Callable

    from dialsum_core.context import RunContext
    from dialsum_core.data import DataSplits
    from dialsum_core.manager import Plugins
    from dialsum_core.protocols import Processes
    from dialsum_core.recipe import Recipe
    from dialsum_core.registry import Register, RegisterSection

PROJECT = "dialsum"
hookspec = pluggy.HookspecMarker(PROJECT)


# --------------------------------------------------------------------------------------------
# Registry hooks: one per kind of :data:`dialsum_core.registry.KINDS`, generated from that table so
# that a kind is declared once.
# --------------------------------------------------------------------------------------------
def _registry_hookspec(kind: Kind) -> Any:
    def spec(register: Register) -> None:
        pass

    spec.__name__ = spec.__qualname__ = kind.hook
    spec.__doc__ = (
        f"Offer {kind.label}s (options in the recipe table ``[{kind.table}.NAME]``).\n\n"
        f"    :param register: call ``register(name, factory, options=OptionsClass, description=...)``;\n"
        f"        ``factory(options, ctx)`` returns a :class:`dialsum_core.protocols.{kind.protocol}`. "
        f"{kind.note}\n\n    .. versionadded:: 0.1\n"
    )
    return hookspec(spec)


for _kind in KINDS:
    globals()[_kind.hook] = _registry_hookspec(_kind)


@hookspec
def dialsum_register_sections(register: RegisterSection) -> None:
    """Contribute recipe sections: ``register(table, SectionClass, description=..., check=..., uses=...,
    defaults=...)``.

    A plugin owns the tables only it reads, may add keys to a table another plugin owns (the core's
    ``[run]``), and may give defaults to keys another part declares. Two owners of one key, or two
    defaults for it, are an error naming both. Read a section as ``recipe.section(NAME)`` (or
    ``recipe.NAME``).

    :param register: see :class:`dialsum_core.registry.RegisterSection`.

    .. versionadded:: 0.1
    """


@hookspec
def dialsum_resolve_recipe(recipe: Recipe, plugins: Plugins) -> Recipe | None:
    """Rewrite a recipe before it is validated, e.g. expand a name that stands for others.

    Called by ``dialsum check`` and ``dialsum run`` alike, one implementation after the other, each
    receiving the previous one's result; the resolved recipe is the one written to ``config.toml``.
    Raise :class:`dialsum_core.errors.RecipeError` when the recipe cannot be resolved.

    :return: the new recipe, or ``None`` to leave it as it is.

    .. versionadded:: 0.1
    """


@hookspec
def dialsum_ignored_keys(recipe: Recipe, plugins: Plugins) -> list[tuple[str, str]]:
    """The keys ``recipe`` sets that change nothing in its run (an option of a feature turned off), as
    ``[(dotted_key, why)]``; only keys the user set, never a default. Not an error (a recipe cannot
    remove a key it inherits): ``dialsum check`` and the run's log warn, as for a search parameter that tunes one.
    Cheap, as a check is.

    .. versionadded:: 0.1
    """


@hookspec
def dialsum_load_data(recipe: Recipe, quiet: bool) -> DataSplits | None:
    """Read the examples a run trains, validates and predicts on (``ctx.data()``).

    ``quiet``: a recipe check asks (``dialsum check``, or a run's validation before its log
    exists): log nothing; what was read belongs to the run's log, when the run asks.

    The plugin that owns the recipe's data section answers; one that does not recognise the
    recipe's data returns ``None``. Two answers are an error naming both plugins. Raise
    :class:`dialsum_core.errors.DataError` naming the file and the row for bad data. Asked again for
    every recipe a run mode derives (a trial's parameters): keep what is expensive to compute.

    .. versionadded:: 0.1
    """


@hookspec
def dialsum_processes() -> Processes | None:
    """The processes this run is one of, when a launcher started several.

    Asked once per plugin manager, before the experiment folder exists; the answer becomes
    ``ctx.processes``, which decides who writes and how work is shared. Return ``None`` when this
    process runs alone: the core then uses its one-process implementation. Two plugins answering
    is an error naming both, never a silent winner.

    :return: a :class:`dialsum_core.protocols.Processes`, or ``None``.

    .. versionadded:: 0.1
    """


@hookspec
def dialsum_register_commands(cli: Any) -> None:
    """Add subcommands to the ``dialsum`` click group (``dialsum NAME``).

    :param cli: the root :class:`click.Group`; call ``cli.add_command(command)``. Import heavy
        libraries inside the command's function, since ``dialsum --help`` calls this hook.

    .. versionadded:: 0.1
    """


@hookspec
def dialsum_add_hookspecs(add: Callable[[object], None]) -> None:
    """Declare the plugin's own hooks (events only it emits), so they come and go with it.

    Called when the plugin is registered. A plugin that implements another plugin's hooks marks them
    ``@hookimpl(optionalhook=True)``: where that plugin is absent they are valid and never called.

    :param add: ``add(module_or_class)`` with functions decorated by ``dialsum_core.hookspecs.hookspec``.

    .. versionadded:: 0.1
    """


# --------------------------------------------------------------------------------------------
# Lifecycle hooks (events). Return values are ignored.
# --------------------------------------------------------------------------------------------


@hookspec
def dialsum_before_run(ctx: RunContext) -> None:
    """The experiment folder exists and the resolved recipe is written; nothing has trained yet.

    .. versionadded:: 0.1
    """


@hookspec
def dialsum_after_run(ctx: RunContext, results: dict[str, Any]) -> None:
    """The run finished and ``results.json`` is written.

    :param results: the same mapping that was written to ``results.json``.

    .. versionadded:: 0.1
    """


@hookspec
def dialsum_on_error(ctx: RunContext, error: BaseException) -> None:
    """The run failed (or was interrupted); called before the error propagates.

    .. versionadded:: 0.1
    """


@hookspec
def dialsum_before_stage(ctx: RunContext, stage: str) -> None:
    """A named stage of a run mode starts (training a model, predicting, a search...).

    .. versionadded:: 0.1
    """


@hookspec
def dialsum_after_stage(ctx: RunContext, stage: str, metrics: dict[str, Any]) -> None:
    """A named stage finished, with its summary metrics (may be empty).

    .. versionadded:: 0.1
    """


@hookspec
def dialsum_before_epoch(ctx: RunContext, epoch: int, n_epochs: int) -> None:
    """Training epoch ``epoch`` (1-based) of ``n_epochs`` starts.

    .. versionadded:: 0.1
    """


@hookspec
def dialsum_after_epoch(ctx: RunContext, epoch: int, n_epochs: int, metrics: dict[str, Any]) -> None:
    """Epoch ``epoch`` finished; ``metrics`` holds loss and validation scores (``eval_S``, see ``FitResult.history``).

    .. versionadded:: 0.1
    """


@hookspec
def dialsum_on_metrics(ctx: RunContext, metrics: dict[str, Any], step: int | None) -> None:
    """Step-level metrics (training loss, learning rate, throughput...).

    .. versionadded:: 0.1
    """


@hookspec
def dialsum_on_progress(ctx: RunContext, task: str, completed: int, total: int | None) -> None:
    """Progress of a long piece of work (``generate``, ``train``...), for progress displays.

    .. versionadded:: 0.1
    """


@hookspec
def dialsum_on_artifact(ctx: RunContext, path: str, kind: str) -> None:
    """A file was written to the experiment folder (``prediction``, ``plot``, ``checkpoint``, ``log``...).

    :param path: path relative to the experiment folder.

    .. versionadded:: 0.1
    """


#: How a lifecycle hook (event) is named, the core's above and those a plugin declares alike.
LIFECYCLE_PREFIXES: tuple[str, ...] = ("dialsum_before_", "dialsum_after_", "dialsum_on_")
