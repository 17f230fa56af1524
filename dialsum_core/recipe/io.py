"""Reading recipe files: TOML, ``extends`` chains and ``--set`` overrides, with provenance.

Every leaf key remembers the file that set it, so an error found after merging still names the
file the user has to edit.
"""

from __future__ import annotations

import copy
import re
import tomllib
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

from dialsum_core.errors import RecipeError

SET_SOURCE = "--set"


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Tables merge key by key; every other value (arrays included) is replaced; ``None`` deletes.

    TOML has no null, so ``None`` can only come from Python, where it is the natural way to say
    "drop this key" when merging.
    """
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def leaves(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{dotted key: value}`` of every value that is not a table: the keys provenance is kept for."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        out.update(leaves(value, dotted + ".") if isinstance(value, Mapping) and value else {dotted: value})
    return out


def read_toml(path: Path) -> dict[str, Any]:
    """Parse one TOML file; every failure becomes a one-line :class:`RecipeError`."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise RecipeError([f"{path}: recipe file not found"]) from None
    except IsADirectoryError:
        raise RecipeError([f"{path}: is a directory, expected a TOML recipe"]) from None
    except OSError as exc:
        raise RecipeError([f"{path}: cannot read ({exc.strerror})"]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RecipeError([f"{path}: not UTF-8 text (invalid byte at offset {exc.start}); save it as UTF-8"]) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError([f"{path}: TOML syntax error: {exc}"]) from None


def load_layers(path: str | Path, _chain: tuple[Path, ...] = ()) -> tuple[dict[str, Any], dict[str, str]]:
    """Read ``path`` and everything it extends; returns the merged data and its provenance.

    ``extends`` is a path (or list of paths) relative to the file that names it; later entries
    and the file itself win over earlier ones.
    """
    path = Path(path)
    resolved = path.resolve()
    if resolved in _chain:
        cycle = " -> ".join(str(p) for p in (*_chain, resolved))
        raise RecipeError([f"{path}: extends: cycle in recipe chain: {cycle}"])
    data = read_toml(path)
    parents = data.pop("extends", [])
    if isinstance(parents, str):
        parents = [parents]
    if not isinstance(parents, list) or not all(isinstance(p, str) and p for p in parents):
        raise RecipeError([f"{path}: extends: expected a file path or a list of file paths"])
    merged: dict[str, Any] = {}
    provenance: dict[str, str] = {}
    for parent in parents:
        parent_path = path.parent / Path(parent).expanduser()  # an absolute path (or ~) stays itself
        if not parent_path.exists():
            raise RecipeError([f"{path}: extends: file not found: {parent_path}"])
        if parent_path.is_dir():
            raise RecipeError([f"{path}: extends: {parent_path} is a directory, expected a TOML recipe"])
        pdata, pprov = load_layers(parent_path, (*_chain, resolved))
        merged = deep_merge(merged, pdata)
        provenance.update(pprov)
    merged = deep_merge(merged, data)
    for key in leaves(data):
        # a table here replaces a parent's plain value (``mode = "x"`` -> ``[run.mode]``): forget it
        for replaced in [k for k in provenance if key.startswith(k + ".")]:
            del provenance[replaced]
        provenance[key] = str(path)
    return merged, provenance


def parse_value(text: str) -> Any:
    """Read an override's value as a TOML value (``3``, ``true``, ``["a","b"]``), else a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_override(item: str) -> tuple[str, Any]:
    if "=" not in item:
        raise RecipeError([f"{SET_SOURCE} {item!r}: expected KEY=VALUE, e.g. run.seed=1"])
    key, _, value = item.partition("=")
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise RecipeError([f"{SET_SOURCE} {item!r}: empty key"])
    if "[" in re.sub(r'"[^"]*"', "", key):  # outside a quoted name
        raise RecipeError([f"{SET_SOURCE} {item!r}: an array is set whole, e.g. {key.split('[')[0]}=[\"a\", \"b\"]"])
    return key, parse_value(value.strip())


def set_dotted(data: dict[str, Any], key: str, value: Any, names: Collection[str] = ()) -> None:
    """Set ``a.b.c`` inside nested tables, creating tables on the way.

    A key inside quotes (``models."name-1.5b".option``) keeps its dots, and so does a registered
    plugin name in ``names`` written without quotes (``models.name-1.5b.option``).
    """
    parts = split_dotted(key, names)
    node = data
    for i, part in enumerate(parts[:-1]):
        nxt = node.get(part)
        if nxt is None:
            nxt = node[part] = {}
        elif not isinstance(nxt, dict):
            prefix = ".".join(parts[: i + 1])
            raise RecipeError([f"{SET_SOURCE} {key}: {prefix!r} is a value, not a table"])
        node = nxt
    node[parts[-1]] = value


def split_dotted(key: str, names: Collection[str] = ()) -> list[str]:
    parts = _split(key)
    # the second part of a plugin table's key is a plugin name, which may contain dots
    for end in range(len(parts), 2, -1):
        if ".".join(parts[1:end]) in names:
            return [parts[0], ".".join(parts[1:end]), *parts[end:]]
    return parts


def _split(key: str) -> list[str]:
    parts: list[str] = []
    buf = ""
    quoted = False
    for ch in key:
        if ch == '"':
            quoted = not quoted
        elif ch == "." and not quoted:
            parts.append(buf)
            buf = ""
        else:
            buf += ch
    parts.append(buf)
    return [p.strip() for p in parts]


def apply_overrides(
    data: dict[str, Any], provenance: dict[str, str], overrides: Iterable[str | tuple[str, Any]],
    names: Collection[str] = (),
) -> dict[str, Any]:
    out = copy.deepcopy(data)
    for item in overrides:
        key, value = parse_override(item) if isinstance(item, str) else item
        set_dotted(out, key, value, names)
        provenance.update(dict.fromkeys(leaves({".".join(split_dotted(key, names)): value}), SET_SOURCE))
    return out
