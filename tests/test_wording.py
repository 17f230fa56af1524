"""What users read: one spelling of the project's subject, and help text without source markup.

Everything the core, the plugins, the docs, the recipes and the benchmarks say is checked here.
"""

from __future__ import annotations

import re
from pathlib import Path

import click
from click.testing import CliRunner

from conftest import ROOT
from dialsum_core.cli import cli
from dialsum_core.manager import build_plugins

#: The British spelling, built so that this file does not contain it.
BRITISH = re.compile("summari" + "[s]", re.IGNORECASE)
TEXT = {".py", ".md", ".toml", ".txt", ".yml", ".yaml", ".cfg", ".ini", ".sh"}
SKIPPED = {".git", ".venv", ".venv-lowest", "experiments", "site", "__pycache__", "build", "dist"}
#: Folders whose wording their owner changes separately.


def _texts() -> list[Path]:
    out = []
    for path in ROOT.rglob("*"):
        parts = set(path.relative_to(ROOT).parts)
        if path.suffix in TEXT and path.is_file() and not parts & SKIPPED \
                and not any(p.endswith(".egg-info") for p in parts):
            out.append(path)
    return out


def test_one_spelling_of_summarization() -> None:
    found = [f"{p.relative_to(ROOT)}:{n}: {line.strip()}" for p in _texts()
             for n, line in enumerate(p.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
             if BRITISH.search(line)]
    assert found == [], "use the -ize spelling:\n" + "\n".join(found)


def test_plugin_commands_and_descriptions_show_no_markup() -> None:
    """click prints docstrings and help as they are: ``code`` markup shows up raw in a terminal."""
    plugins = build_plugins()
    added = click.Group()
    plugins.hook.dialsum_register_commands(cli=added)
    assert {"report", "launch", "new-plugin", "recipe-doc"} <= set(added.commands)
    runner = CliRunner()
    top = runner.invoke(cli, ["--help"]).output
    shown = {name: runner.invoke(cli, [name, "--help"]).output for name in added.commands}
    shown["dialsum --help"] = "\n".join(line for line in top.splitlines()
                                        if line.split()[:1] and line.split()[0] in added.commands)
    shown["dialsum plugins"] = runner.invoke(cli, ["plugins"]).output
    raw = {name: [line.strip() for line in text.splitlines() if "`" in line] for name, text in shown.items()}
    assert {name: lines for name, lines in raw.items() if lines} == {}
