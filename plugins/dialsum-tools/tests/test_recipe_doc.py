"""The recipe reference lists the top-level keys the core reserves, each described once; ``dialsum
recipe-doc`` on mistakes gives one ``error:`` line, exit 2, and writes nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dialsum_core.manager import build_plugins
from dialsum_core.recipe.model import RESERVED
from dialsum_tools.recipe_doc import _TOP_LEVEL, render_recipe, top_level_docs, undocumented


def test_the_top_level_keys_are_the_cores_reserved_ones() -> None:
    assert set(_TOP_LEVEL) == set(RESERVED)  # a description for a key the core no longer reserves is stale
    page = render_recipe(build_plugins())
    table = page.split("## Top-level keys", 1)[1].split("\n## ", 1)[0]
    assert [line.split("`")[1] for line in table.splitlines() if line.startswith("| `")] == list(RESERVED)
    assert not [line for line in undocumented(None) if "top-level" in line]


def test_a_reserved_key_without_a_description_is_reported() -> None:
    (new,) = [o for o in top_level_docs((*RESERVED, "profile")) if not o.help]
    assert new.key == "profile" and new.owner == "dialsum_tools.recipe_doc._TOP_LEVEL"


def recipe_doc(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dialsum_core", "recipe-doc", *args],
                          capture_output=True, text=True, timeout=300)


def test_a_place_that_cannot_be_written_is_one_error_line_and_nothing_is_written(tmp_path: Path) -> None:
    """A file where a folder of the path goes: one ``error:`` line naming the path, exit 2; the other
    reference asked for is not written either (the two are written together or not at all)."""
    (tmp_path / "notes.txt").write_text("a file, not a folder", encoding="utf-8")
    bad, hooks = tmp_path / "notes.txt" / "recipe.md", tmp_path / "hooks.md"
    for args in (["-o", str(bad), "--hooks-output", str(hooks)], ["-o", str(hooks), "--hooks-output", str(bad)]):
        res = recipe_doc(*args)
        assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
        assert res.stderr.strip().splitlines() == [
            f"error: {bad}: cannot write it ({tmp_path / 'notes.txt'} is a file); nothing was written"]
        assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize(("args", "why"), [
    (["-o", "{d}/ref.md", "--hooks-output", "{d}/ref.md"], "--output and --hooks-output name one file"),
    (["--check", "-o", "{d}/ref.md"], "--check writes nothing"),
])
def test_options_that_contradict_each_other_are_refused(tmp_path: Path, args: list[str], why: str) -> None:
    """Both references into one file would leave only the second; --check with a file to write would
    silently write nothing."""
    res = recipe_doc(*[a.format(d=tmp_path) for a in args])
    assert res.returncode == 2 and why in res.stderr and "Traceback" not in res.stderr, res.stderr
    assert list(tmp_path.iterdir()) == []


def test_pages_given_with_a_leading_tilde_are_in_the_home_folder(tmp_path: Path) -> None:
    """``--output=~/ref.md`` reaches the program as it is typed: it wrote into a folder named ``~``."""
    home, cwd = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    cwd.mkdir()
    res = subprocess.run([sys.executable, "-m", "dialsum_core", "recipe-doc", "--output=~/ref/recipe.md",
                          "--hooks-output=~/ref/hooks.md"], capture_output=True, text=True, timeout=300, cwd=cwd,
                         env={**os.environ, "HOME": str(home)})
    assert res.returncode == 0, res.stderr
    assert (home / "ref" / "recipe.md").read_text(encoding="utf-8").startswith("# Recipe reference")
    assert "dialsum_before_run" in (home / "ref" / "hooks.md").read_text(encoding="utf-8")
    assert list(cwd.iterdir()) == []


@pytest.mark.parametrize("option", ["--output", "--hooks-output"])
def test_an_empty_path_is_refused(tmp_path: Path, option: str) -> None:
    """``-o "$UNSET_VARIABLE"`` named the current folder and failed writing it with "Device or resource busy"."""
    res = subprocess.run([sys.executable, "-m", "dialsum_core", "recipe-doc", option, ""],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
    assert res.stderr.strip().splitlines()[-1].endswith(": an empty path; give a path")
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_as_the_first_page_appears_leaves_both_pages_or_none(tmp_path: Path) -> None:
    """The recipe reference was written before the hook reference was made: interrupted in between,
    recipe-doc left a new recipe page beside an old (or no) hook page. (Whether the interrupt still
    ends the command depends on when it lands: the pages are whole either way.)"""
    recipe, hooks = tmp_path / "recipe.md", tmp_path / "hooks.md"
    proc = subprocess.Popen([sys.executable, "-m", "dialsum_core", "recipe-doc", "-o", str(recipe),
                             "--hooks-output", str(hooks)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while proc.poll() is None and not (recipe.exists() or hooks.exists()):
        time.sleep(0.001)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    # an interrupt landing after the command, as Python exits, may print its own lines: not checked
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hooks.md", "recipe.md"], err  # no temporary file left
    assert hooks.read_text(encoding="utf-8").startswith("# Hook reference")



def test_a_sigterm_after_the_first_page_waits_for_the_second(tmp_path: Path, monkeypatch) -> None:
    """recipe-doc held Ctrl-C back while it moved its pages in (and lost it), but not SIGTERM: one
    landing after the first rename left a new page beside an old one. Now both pages are moved in, then
    the stop takes effect."""
    from dialsum_tools.recipe_doc import write_together

    pages = {tmp_path / "recipe.md": "new recipe page\n", tmp_path / "hooks.md": "new hook page\n"}
    for page in pages:
        page.write_text("old page\n", encoding="utf-8")
    replace, renamed = os.replace, []

    def replace_then_stop(src, dst):
        replace(src, dst)
        renamed.append(dst)
        if len(renamed) == 1:
            os.kill(os.getpid(), signal.SIGTERM)

    def stopped(_signum, _frame):
        raise KeyboardInterrupt("stopped by SIGTERM")

    monkeypatch.setattr(os, "replace", replace_then_stop)
    previous = signal.signal(signal.SIGTERM, stopped)
    try:
        with pytest.raises(KeyboardInterrupt, match="SIGTERM"):
            write_together(pages)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert {page.read_text(encoding="utf-8") for page in pages} == {"new recipe page\n", "new hook page\n"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hooks.md", "recipe.md"]  # no temporary file left


def test_a_page_given_as_a_link_is_written_through_it(tmp_path: Path) -> None:
    """``-o docs/recipe.md`` where that is a symbolic link (to a shared docs checkout) replaced the link
    by a file, leaving the shared page as it was: the link's target is written, atomically, as an
    editor saves it, and the link stays."""
    shared, docs = tmp_path / "shared", tmp_path / "docs"
    shared.mkdir()
    docs.mkdir()
    (shared / "recipe.md").write_text("old page\n", encoding="utf-8")
    (docs / "recipe.md").symlink_to(Path("..") / "shared" / "recipe.md")
    (docs / "hooks.md").symlink_to(shared / "hooks.md")  # a link to a page not written yet
    res = recipe_doc("-o", str(docs / "recipe.md"), "--hooks-output", str(docs / "hooks.md"))
    assert res.returncode == 0, res.stderr
    assert (docs / "recipe.md").is_symlink() and (docs / "hooks.md").is_symlink()
    assert (shared / "recipe.md").read_text(encoding="utf-8").startswith("# Recipe reference")
    assert (shared / "hooks.md").read_text(encoding="utf-8").startswith("# Hook reference")
    assert sorted(p.name for p in shared.iterdir()) == ["hooks.md", "recipe.md"]  # no temporary file left


def test_a_link_into_a_folder_that_is_gone_is_refused_not_made(tmp_path: Path) -> None:
    """``-o docs/recipe.md`` linking into a shared checkout that is not there (a disk not mounted) made
    the missing folders on the local disk and wrote the page into them, where nobody looks."""
    docs = tmp_path / "docs"
    docs.mkdir()
    target = tmp_path / "mnt" / "shared" / "recipe.md"
    (docs / "recipe.md").symlink_to(target)
    res = recipe_doc("-o", str(docs / "recipe.md"))
    assert res.returncode == 2, res.stderr
    assert res.stderr.strip().splitlines()[-1] == (
        f"error: {docs / 'recipe.md'}: cannot write it (it links to {target}, whose folder does not exist); "
        "nothing was written")
    assert not (tmp_path / "mnt").exists()
    assert os.listdir(docs) == ["recipe.md"]
