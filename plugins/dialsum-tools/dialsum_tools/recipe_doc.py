"""The recipe, hook and CLI references, generated from the code so they can never drift from it.

Option descriptions come from the attrs classes themselves. A field is described by (first match):

1. ``metadata={"help": "..."}`` on the ``attrs.field``;
2. ``#:`` comment lines right above the field (the Sphinx autodoc convention), or a ``#:`` comment
   at the end of the field's line;
3. a string literal right below the field (an "attribute docstring").

``dialsum recipe-doc`` writes the reference; ``dialsum recipe-doc --check`` (and the project's docs
test) fails listing every key that has no description, so a plugin option cannot ship undocumented.
The docs site builds the same pages at build time (``docs/reference/build_hook.py``).
"""

from __future__ import annotations

import ast
import inspect
import re
import sys
import textwrap
import types
import typing
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import click

from dialsum_core import hookspecs
from dialsum_core.cli import HomePath
from dialsum_core.errors import DialsumError
from dialsum_core.recipe.model import RESERVED
from dialsum_core.registry import KIND, KINDS, Registration, SectionPart

if TYPE_CHECKING:
    from dialsum_core.manager import Plugins

#: Where each page goes in the docs site (relative to ``docs/``).
PAGES: dict[str, str] = {
    "recipe": "reference/recipe.md",
    "hooks": "reference/hooks.md",
    "cli": "reference/cli.md",
}

#: ``(type, default, description)`` of each top-level key the core reserves (``RESERVED``, which
#: decides which keys there are and their order): they have no attrs field to read a description from.
_TOP_LEVEL: dict[str, tuple[str, str, str]] = {
    "description": ("string", '""', "Free text shown in `config.toml`; not used by the run."),
    "extends": ("string or array of strings", "[]",
                "Recipe file(s) this one builds on, relative to this file; later files and this file win."),
    "versions": ("table of strings", "{}",
                 "Written by dialsum into the experiment's `config.toml` (versions of the core, plugins, torch); "
                 "ignored when a recipe is read back."),
}


@attrs.frozen
class OptionDoc:
    """One documented recipe key."""

    key: str
    type: str
    default: str
    help: str
    #: ``module.Class`` that declares the field, for "add a description here" messages.
    owner: str


def top_level_docs(keys: Iterable[str] = RESERVED) -> list[OptionDoc]:
    """The reserved top-level keys, described from :data:`_TOP_LEVEL` (an empty help where it has none)."""
    out = []
    for key in keys:
        type_, default, help_ = _TOP_LEVEL.get(key, ("", "", ""))
        out.append(OptionDoc(key, type_, default, help_, f"{__name__}._TOP_LEVEL"))
    return out


# --------------------------------------------------------------------------------------------
# Reading descriptions
# --------------------------------------------------------------------------------------------
def _class_source(cls: type) -> tuple[ast.ClassDef, list[str]] | None:
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return None
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    node = next((n for n in tree.body if isinstance(n, ast.ClassDef)), None)
    return (node, source.splitlines()) if node is not None else None


def _comments_above(lines: list[str], lineno: int) -> str:
    """``#:`` lines directly above line ``lineno`` (1-based), joined."""
    found: list[str] = []
    i = lineno - 2
    while i >= 0 and lines[i].strip().startswith("#:"):
        found.append(lines[i].strip()[2:].strip())
        i -= 1
    return " ".join(reversed(found)).strip()


def field_help(cls: type) -> dict[str, str]:
    """Field name -> description for an attrs class (base classes included)."""
    out: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if klass is object or not attrs.has(klass):
            continue
        parsed = _class_source(klass)
        if parsed is None:
            continue
        node, lines = parsed
        body = node.body
        for i, stmt in enumerate(body):
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                name = stmt.target.id
            elif (
                isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
            ):
                name = stmt.targets[0].id
            else:
                continue
            text = _comments_above(lines, stmt.lineno)
            if not text:
                tail = lines[(stmt.end_lineno or stmt.lineno) - 1]
                if "#:" in tail:
                    text = tail.split("#:", 1)[1].strip()
            if not text and i + 1 < len(body):
                nxt = body[i + 1]
                if isinstance(nxt, ast.Expr) and isinstance(getattr(nxt.value, "value", None), str):
                    text = " ".join(inspect.cleandoc(nxt.value.value).split())
            if text:
                out[name] = text
    for field in attrs.fields(cls):
        meta = field.metadata.get("help") if field.metadata else None
        if meta:
            out[field.name] = " ".join(str(meta).split())
    return out


def class_summary(cls: type) -> str:
    """The first paragraph of a class docstring (attrs' generated docstrings excluded)."""
    doc = cls.__dict__.get("__doc__") or ""
    if not doc or doc.startswith(f"{cls.__name__}("):
        return ""
    return " ".join(inspect.cleandoc(doc).split("\n\n")[0].split())


# --------------------------------------------------------------------------------------------
# Types and defaults
# --------------------------------------------------------------------------------------------
_SCALARS = {int: "integer", float: "float", str: "string", bool: "boolean", typing.Any: "any"}


def _resolved_fields(cls: type) -> tuple[attrs.Attribute, ...]:
    try:
        module = sys.modules.get(cls.__module__)
        attrs.resolve_types(cls, globalns=vars(module) if module else None)
    except Exception:  # an annotation that only exists under TYPE_CHECKING: keep the strings
        pass
    return attrs.fields(cls)


def type_name(tp: Any) -> str:
    """A TOML-flavoured name for a Python annotation."""
    if tp in _SCALARS:
        return _SCALARS[tp]
    if isinstance(tp, str):
        return tp
    if attrs.has(tp):
        return "table"
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (list, tuple, set, frozenset) or getattr(origin, "__name__", "") == "Sequence":
        return f"array of {_plural(type_name(args[0]))}" if args else "array"
    if origin is dict:
        return f"table of {_plural(type_name(args[1]))}" if len(args) == 2 else "table"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_name(a) for a in args if a is not type(None))
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in args)
    return getattr(tp, "__name__", str(tp))


def _plural(name: str) -> str:
    if name.startswith(("array", "table of")) or name == "any" or " or " in name:
        return name if name != "any" else "values"
    return {"table": "tables", "boolean": "booleans"}.get(name, name + "s")


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}" if value else "{}"
    if attrs.has(type(value)):
        return "(table)"
    return repr(value)


def _default(field: attrs.Attribute, overrides: dict[str, Any]) -> tuple[bool, Any]:
    if field.name in overrides:
        return True, overrides[field.name]
    default = field.default
    if default is attrs.NOTHING:
        return False, None
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        if default.takes_self:
            return True, "(computed)"
        try:
            return True, default.factory()
        except Exception:
            return True, "(computed)"
    return True, default


# --------------------------------------------------------------------------------------------
# Walking classes
# --------------------------------------------------------------------------------------------
def describe_class(cls: type, prefix: str, overrides: dict[str, Any] | None = None) -> list[OptionDoc]:
    """Every key of ``cls`` under ``prefix`` (nested attrs classes, tables and arrays of them)."""
    out: list[OptionDoc] = []
    helps = field_help(cls)
    owner = f"{cls.__module__}.{cls.__qualname__}"
    for field in _resolved_fields(cls):
        key = f"{prefix}.{field.name}" if prefix else field.name
        tp = field.type
        has_default, default = _default(field, overrides or {})
        if attrs.has(tp) if isinstance(tp, type) else False:
            out.extend(describe_class(tp, key, default if isinstance(default, dict) else None))
            continue
        out.append(
            OptionDoc(
                key=key,
                type=type_name(tp),
                default=_toml(default) if has_default else "(required)",
                help=helps.get(field.name, ""),
                owner=owner,
            )
        )
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if origin is dict and len(args) == 2 and attrs.has(args[1]):
            out.extend(describe_class(args[1], f"{key}.<name>"))
        elif origin is list and args and attrs.has(args[0]):
            out.extend(describe_class(args[0], f"{key}[]"))
    return out


def section_parts(plugins: Plugins | None = None) -> list[SectionPart]:
    """Every contributed section part (the core's ``[run]`` and ``[data]`` among them)."""
    if plugins is None:
        from dialsum_core.manager import build_plugins

        plugins = build_plugins()
    return list(plugins.registry.sections)


def table_defaults(parts: Iterable[SectionPart]) -> dict[str, dict[str, Any]]:
    """Per table, the defaults parts give to keys other parts declare."""
    out: dict[str, dict[str, Any]] = {}
    for part in parts:
        out.setdefault(part.table, {}).update(part.defaults)
    return out


def section_options(plugins: Plugins | None = None) -> list[OptionDoc]:
    """The keys of every recipe section, whoever contributes them (with the defaults others give)."""
    parts = section_parts(plugins)
    given = table_defaults(parts)
    return [o for part in parts if part.cls is not None
            for o in describe_class(part.cls, part.table, given.get(part.table))]


def plugin_options(reg: Registration) -> list[OptionDoc]:
    return describe_class(reg.options, f"{KIND[reg.kind].table}.{reg.name}", dict(reg.defaults))


def _unique_options(plugins: Plugins) -> Iterator[tuple[Registration, list[Registration]]]:
    """Registrations grouped by options class: (first registration, the others sharing it)."""
    for kind in KINDS:
        groups: dict[type, list[Registration]] = {}
        for reg in plugins.registry.of_kind(kind.name):
            groups.setdefault(reg.options, []).append(reg)
        for regs in groups.values():
            yield regs[0], regs[1:]


# --------------------------------------------------------------------------------------------
# What is missing
# --------------------------------------------------------------------------------------------
def undocumented(plugins: Plugins | None, *, core: bool = True, distributions: Iterable[str] = ()) -> list[str]:
    """One line per recipe key (or registration) without a description, naming where to add it.

    :param distributions: only check registrations of these distributions (all when empty).
    """
    only = set(distributions)
    missing: list[str] = []
    if core:
        missing += [f"{o.key}: top-level key without a description (add it to {o.owner})"
                    for o in top_level_docs() if not o.help]
    if core or plugins is not None:
        for part in section_parts(plugins):
            if part.cls is None or (part.distribution == "dialsum-core" and not core) or (
                    only and part.distribution not in only):
                continue
            missing += [f"{o.key}: no description (add a `#:` comment above the field in {o.owner})"
                        for o in describe_class(part.cls, part.table) if not o.help]
    if plugins is None:
        return missing
    for reg in plugins.registry:
        if only and reg.distribution not in only:
            continue
        if not reg.description:
            missing.append(
                f"{KIND[reg.kind].table}.{reg.name}: {reg.label} registered without a description "
                f"(pass description=... to register() in plugin {reg.plugin!r}, {reg.distribution})"
            )
    for first, _others in _unique_options(plugins):
        if only and first.distribution not in only:
            continue
        for o in plugin_options(first):
            if not o.help:
                missing.append(
                    f"{o.key}: no description (add a `#:` comment above the field in {o.owner}, "
                    f"{first.distribution})"
                )
    return missing


def undocumented_hooks(documented_text: str, plugins: Plugins | None = None) -> list[str]:
    """Hook specifications (the core's and those ``plugins`` declare) without a docstring, or never
    mentioned in ``documented_text``."""
    missing: list[str] = []
    for name, fn in hookspec_functions(plugins):
        if not inspect.getdoc(fn):
            where = fn.__module__.replace(".", "/") + ".py"
            missing.append(f"{name}: hook specification without a docstring ({where})")
        if name not in documented_text:
            missing.append(f"{name}: not mentioned in the hand-written docs (add it to docs/writing-a-plugin.md)")
    return missing


# --------------------------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------------------------
def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _code(text: str) -> str:
    return f"`{text}`" if "`" not in text else f"`` {text} ``"


def _table(rows: Iterable[OptionDoc]) -> list[str]:
    lines = ["| key | type | default | description |", "| --- | --- | --- | --- |"]
    for o in rows:
        text = _cell(o.help) or "*(undocumented)*"
        lines.append(f"| {_code(o.key)} | {_cell(o.type)} | {_code(o.default)} | {text} |")
    return lines


def render_recipe(plugins: Plugins | None) -> str:
    """Markdown for every recipe key: the sections (and who contributes each key), then each
    installed plugin's table."""
    out = [
        "# Recipe reference",
        "",
        "Generated by `dialsum recipe-doc` from the sections and the options class of every "
        "installed plugin; do not edit by hand. Every key has a default, so a recipe only says what "
        "differs. Any key can also be set from the command line: `--set train.epochs=1`, "
        "`--set 'run.models=[\"kobart\"]'`.",
        "",
        "## Top-level keys",
        "",
        "| key | type | default | description |",
        "| --- | --- | --- | --- |",
    ]
    out += [f"| `{o.key}` | {o.type} | `{o.default}` | {_cell(o.help) or '*(undocumented)*'} |"
            for o in top_level_docs()]
    tables: dict[str, list[SectionPart]] = {}
    every = section_parts(plugins)
    given = table_defaults(every)
    for part in every:
        tables.setdefault(part.table, []).append(part)
    for name, parts in tables.items():
        out += ["", f"## `[{name}]`", ""]
        for part in parts:
            if part.cls is None:
                defaults = ", ".join(f"`{name}.{k}`" for k in part.defaults)
                out += [f"`{part.distribution}` gives the defaults of {defaults}.", ""]
                continue
            summary = class_summary(part.cls)
            out += [f"{summary + ' ' if summary else ''}From `{part.distribution}`.", ""]
            out += [*_table(describe_class(part.cls, name, given.get(name))), ""]
    if plugins is None:
        return "\n".join(out) + "\n"
    for kind in KINDS:
        regs = plugins.registry.of_kind(kind.name)
        table, label = kind.table, kind.label
        out += ["", f"## `[{table}.NAME]`: {label}s", ""]
        if not regs:
            out += [f"No {label} is installed.", ""]
            continue
        out += [f"Options of each installed {label}, set in `[{table}.NAME]`.", ""]
        seen: dict[type, str] = {}
        for reg in regs:
            head = f"### `{reg.name}`"
            out += [head, "", f"{reg.description or '*(no description)*'}  ", f"From `{reg.distribution}` {reg.version}"
                    + (f"; tags: {', '.join(reg.tags)}" if reg.tags else "") + ".", ""]
            opts = plugin_options(reg)
            if not opts:
                out += ["No options.", ""]
                continue
            if reg.options in seen:
                first = seen[reg.options]
                base = {o.key.split(".", 2)[2]: o.default for o in describe_class(reg.options, "x.y")}
                changed = [o for o in opts if base.get(o.key.split(".", 2)[2]) != o.default]
                out += [f"Same options as `{first}`" + (", with these defaults:" if changed else "."), ""]
                if changed:
                    out += [f"- `{o.key}` = `{o.default}`" for o in changed] + [""]
                continue
            seen[reg.options] = f"{table}.{reg.name}"
            summary = class_summary(reg.options)
            if summary:
                out += [summary, ""]
            out += [*_table(opts), ""]
    return "\n".join(out).rstrip() + "\n"


def hookspec_functions(plugins: Plugins | None = None) -> list[tuple[str, Any]]:
    """Every hook specification: the core's in the order of ``hookspecs.py``, then those the
    ``plugins`` declare (``dialsum_add_hookspecs``), each plugin's in its own order."""
    marker = f"{hookspecs.PROJECT}_spec"
    core = [(name, fn) for name, fn in vars(hookspecs).items() if callable(fn) and hasattr(fn, marker)]
    owned = list(plugins.hook_owners) if plugins is not None else []
    return core + [(name, getattr(plugins.hook, name).spec.function) for name in owned]


def hook_owner(plugins: Plugins | None, name: str) -> str:
    """The distribution that declares hook ``name``; empty for the core's hooks."""
    owner = plugins.hook_owners.get(name) if plugins is not None else None
    if owner is None:
        return ""
    info = plugins.infos.get(owner)
    return info.distribution if info is not None else owner


_ROLE = re.compile(r":(?:class|data|func|meth|mod|attr):`~?([^`]+)`")


def _rst_to_md(doc: str) -> str:
    lines: list[str] = []
    for raw in doc.splitlines():
        line = _ROLE.sub(r"`\1`", raw).replace("``", "`")
        m = re.match(r"\s*:param (\w+):\s*(.*)", line)
        if m:
            lines.append(f"- **`{m.group(1)}`**: {m.group(2)}")
            continue
        m = re.match(r"\s*\.\. versionadded:: (\S+)", line)
        if m:
            lines.append(f"*Since {m.group(1)}.*")
            continue
        if lines and lines[-1].startswith("- **") and raw.startswith(" ") and line.strip():
            lines[-1] += " " + line.strip()
            continue
        lines.append(line)
    return "\n".join(lines).strip()


def render_hooks(plugins: Plugins | None = None) -> str:
    """Markdown for every hook specification (signature and docstring), the core's and those the
    installed ``plugins`` declare, each of those named with the distribution that owns it."""
    from dialsum_core.registry import Register

    out = [
        "# Hook reference",
        "",
        "Generated from `dialsum_core/hookspecs.py` and the hooks installed plugins declare; do not edit "
        "by hand. Implement a hook with a function of the same name decorated with `dialsum_core.hookimpl`; "
        "an implementation may accept any subset of the parameters. See "
        "[Writing a plugin](../writing-a-plugin.md).",
        "",
    ]
    for title, want in (("Registry and setup hooks", True), ("Lifecycle hooks", False)):
        out += [f"## {title}", ""]
        if want:
            out += ["Called while plugins are loaded and recipes are read: they offer named things to a "
                    "registry, recipe sections, commands.", ""]
        else:
            out += ["Events emitted during a run to every active logger and to installed plugins that "
                    "implement them; return values are ignored and an implementation that raises is "
                    "disabled for the rest of the run.", ""]
        for name, fn in hookspec_functions(plugins):
            if (not name.startswith(hookspecs.LIFECYCLE_PREFIXES)) != want:
                continue
            sig = str(inspect.signature(fn)).replace("'", "")
            out += [f"### `{name}`", "", "```python", f"def {name}{sig}", "```", ""]
            owner = hook_owner(plugins, name)
            if owner:
                out += [f"Declared by `{owner}`: a plugin that implements it marks it "
                        "`@hookimpl(optionalhook=True)`, so it stays valid where that distribution is not "
                        "installed.", ""]
            out += [_rst_to_md(inspect.getdoc(fn) or ""), ""]
    register_sig = str(inspect.signature(Register.__call__)).replace("self, ", "").replace("'", "")
    out += ["## The `register` callable", "", "```python", f"register{register_sig}", "```", "",
            _rst_to_md(inspect.getdoc(Register.__call__) or ""), ""]
    return "\n".join(out).rstrip() + "\n"


def render_cli() -> str:
    """Markdown with the ``--help`` of every ``dialsum`` command (plugin commands included)."""
    from dialsum_core.cli import cli

    out = ["# Command-line reference", "",
           "Generated from the `dialsum` command's own help; do not edit by hand.", ""]
    settings = {**cli.context_settings, "terminal_width": 100, "max_content_width": 100}
    root = click.Context(cli, info_name="dialsum", **settings)
    out += ["## `dialsum`", "", "```text", cli.get_help(root), "```", ""]
    for name in cli.list_commands(root):
        cmd = cli.get_command(root, name)
        if cmd is None or cmd.hidden:
            continue
        sub = click.Context(cmd, info_name=name, parent=root, **settings)
        out += [f"## `dialsum {name}`", "", "```text", cmd.get_help(sub), "```", ""]
    return "\n".join(out).rstrip() + "\n"


def reference_pages(plugins: Plugins | None = None) -> dict[str, str]:
    """Docs path -> Markdown for every generated page."""
    if plugins is None:
        from dialsum_core.manager import build_plugins

        plugins = build_plugins()
    return {PAGES["recipe"]: render_recipe(plugins), PAGES["hooks"]: render_hooks(plugins),
            PAGES["cli"]: render_cli()}


# --------------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------------
@click.command(name="recipe-doc")
@click.option("--output", "-o", type=HomePath(dir_okay=False, path_type=Path), default=None,
              help="Write the recipe reference here (a link: its target; default: print it).")
@click.option("--hooks-output", type=HomePath(dir_okay=False, path_type=Path), default=None,
              help="Also write the hook reference here.")
@click.option("--check", is_flag=True,
              help="Write nothing; exit 2 listing every recipe key or hook without a description.")
def command(output: Path | None, hooks_output: Path | None, check: bool) -> None:
    """Generate the recipe reference from the core schema and every installed plugin's options."""
    from dialsum_core.cli import listed_plugins

    if check and (output or hooks_output):
        raise click.UsageError("--check writes nothing; drop --output and --hooks-output, or --check")
    if output is not None and hooks_output is not None and output.resolve() == hooks_output.resolve():
        raise click.UsageError(f"--output and --hooks-output name one file ({output}); the second would "
                               "replace the first")
    plugins = listed_plugins()
    if check:
        missing = undocumented(plugins) + [m for m in undocumented_hooks("".join(
            name for name, _ in hookspec_functions(plugins)), plugins) if "docstring" in m]
        for line in missing:
            click.echo(f"undocumented: {line}", err=True)
        if missing:
            sys.exit(2)
        click.echo("every recipe key and hook is documented")
        return
    text = render_recipe(plugins)
    pages = {output: text} if output is not None else {}
    if hooks_output is not None:
        pages[hooks_output] = render_hooks(plugins)
    if output is None:
        click.echo(text, nl=False)
    write_together(pages)
    for path in pages:
        click.echo(f"wrote {path}", err=True)


def write_together(pages: dict[Path, str]) -> None:
    """Write every page or none: each goes to a temporary file beside it, and the temporaries are
    renamed over the pages only once all are written (a reference and a hook page that disagree,
    one new and one old, would be worse than two old ones).

    :raises DialsumError: a page that cannot be written, named.
    """
    import contextlib

    from dialsum_core.atomic import atomic_open, signals_held

    path = None
    try:  # a Ctrl-C or a SIGTERM during these few writes takes effect after them
        with signals_held(), contextlib.ExitStack() as stack:
            for path, text in pages.items():
                stack.enter_context(atomic_open(path)).write(text)
    except OSError as exc:
        # a file where a folder of the path goes reads "File exists" (mkdir) or "Not a directory"
        blocking = next((p for p in Path(path).parents if p.exists()), None) if path is not None else None
        why = f"{blocking} is a file" if blocking is not None and not blocking.is_dir() else exc.strerror or exc
        raise DialsumError(f"{path}: cannot write it ({why}); nothing was written") from None
