"""``dialsum new-plugin`` on mistakes: one ``error:`` line, exit 2, and nothing written, neither half
a package nor one that would break what is installed once ``pip install -e`` puts it next to it."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


def new_plugin(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dialsum_core", "new-plugin", *args],
                          capture_output=True, text=True, timeout=300)


def assert_one_error(res: subprocess.CompletedProcess[str], *words: str) -> None:
    assert res.returncode == 2, res.stdout + res.stderr
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: new-plugin: "), res.stderr
    for word in words:
        assert word in lines[0]


def test_a_folder_that_cannot_be_made_is_one_error_line(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("a file, not a folder", encoding="utf-8")
    res = new_plugin("csv-log", "logger", "--dir", str(tmp_path / "notes.txt" / "plugins"))
    assert_one_error(res, "cannot write", "nothing was written")


def test_a_scaffold_that_fails_halfway_leaves_nothing(tmp_path: Path) -> None:
    """A name whose package folder is longer than a file name may be: the project file and README
    are written before that folder fails; neither they nor the folders made for them remain."""
    parent = tmp_path / "new" / "plugins"
    res = new_plugin("a" * 248, "metric", "--dir", str(parent))
    assert_one_error(res, "cannot write", "nothing was written")
    assert list(tmp_path.iterdir()) == []


def test_a_name_too_long_for_an_existing_folder_is_one_error_line(tmp_path: Path) -> None:
    """In a folder that exists, asking whether dialsum-NAME is there already fails on the name's length
    itself: that too is the one error line, not a traceback."""
    res = new_plugin("a" * 300, "metric", "--dir", str(tmp_path))
    assert_one_error(res, "cannot write", "File name too long", "nothing was written")
    assert list(tmp_path.iterdir()) == []


def test_a_long_name_the_file_system_holds_gives_a_whole_package(tmp_path: Path) -> None:
    name = "a" * 230
    res = new_plugin(name, "metric", "--dir", str(tmp_path))
    assert res.returncode == 0, res.stderr
    root = tmp_path / f"dialsum-{name}"
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) == sorted([
        "README.md", "pyproject.toml", f"dialsum_{name}/__init__.py", f"dialsum_{name}/impl.py",
        f"dialsum_{name}/plugin.py", f"tests/test_{name}.py"])
    assert [p.name for p in tmp_path.iterdir()] == [root.name]  # no staging folder left beside it


@pytest.mark.parametrize(("name", "kind", "why"), [
    ("core", "metric", "the distribution dialsum-core is installed already"),   # pip would replace the core
    ("tools", "logger", "the distribution dialsum-tools is installed already"),
    ("rouge", "metric", "metric 'rouge' is registered by dialsum-metrics already"),  # every command would stop
    ("dialsum-scratch", "model_loader", "model loader 'scratch' is registered by dialsum-hf already"),
])
def test_a_name_installed_plugins_use_is_refused(tmp_path: Path, name: str, kind: str, why: str) -> None:
    res = new_plugin(name, kind, "--dir", str(tmp_path))
    assert_one_error(res, why)
    assert list(tmp_path.iterdir()) == []


def test_a_name_another_kind_uses_is_fine(tmp_path: Path) -> None:
    """Names are unique per kind: a model loader called ``rouge`` clashes with nothing."""
    res = new_plugin("rouge", "model_loader", "--dir", str(tmp_path))
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "dialsum-rouge" / "dialsum_rouge" / "plugin.py").exists()


def test_a_folder_given_with_a_leading_tilde_is_in_the_home_folder(tmp_path: Path) -> None:
    """``--dir=~/plugins`` reaches the program as it is typed (the shell expands ``~`` only at the start
    of a word): it made a folder named ``~`` in the working folder, one ``rm -rf ~`` away from a disaster."""
    home, cwd = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    cwd.mkdir()
    res = subprocess.run([sys.executable, "-m", "dialsum_core", "new-plugin", "csv-log", "logger", "--dir=~/plugins"],
                         capture_output=True, text=True, timeout=300, cwd=cwd, env={**os.environ, "HOME": str(home)})
    assert res.returncode == 0, res.stderr
    assert (home / "plugins" / "dialsum-csv-log" / "pyproject.toml").is_file()
    assert list(cwd.iterdir()) == []


def test_the_next_commands_can_be_pasted_for_a_folder_with_a_space(tmp_path: Path) -> None:
    """The ``next:`` line is a shell command: a folder with a space (or a quote) printed as it is split
    into two arguments when pasted."""
    parent = tmp_path / "my plugins" / "그룹's"
    res = new_plugin("csv-log", "logger", "--dir", str(parent))
    assert res.returncode == 0, res.stderr
    (next_line,) = [line for line in res.stdout.splitlines() if line.startswith("next: ")]
    words = shlex.split(next_line.removeprefix("next: "))
    root = parent / "dialsum-csv-log"
    assert words[:4] == ["pip", "install", "-e", str(root)] and words[6] == str(root / "tests")


def writing_slowly(tmp_path: Path, parent: Path) -> subprocess.Popen:
    """``dialsum new-plugin csv-log logger --dir PARENT``, returned once its hidden working folder
    exists; each file takes a second to write there, so that the test stops it while it writes."""
    slow = tmp_path / "slow"
    slow.mkdir()
    (slow / "sitecustomize.py").write_text(
        "import pathlib, time\n_write = pathlib.Path.write_text\n"
        "pathlib.Path.write_text = lambda self, *a, **k: (\n"
        "    time.sleep(1.0) if '.new-plugin-' in str(self) else None, _write(self, *a, **k))[1]\n",
        encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(slow), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen([sys.executable, "-m", "dialsum_core", "new-plugin", "csv-log", "logger", "--dir",
                             str(parent)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    def writing() -> bool:
        return parent.is_dir() and any(n.startswith(".new-plugin-") for n in os.listdir(parent))

    while proc.poll() is None and not writing():
        time.sleep(0.001)
    return proc


def test_ctrl_c_while_writing_leaves_nothing(tmp_path: Path) -> None:
    """Interrupted while it wrote, new-plugin left its hidden working folder (and the folders made for
    it) behind, and said click's "Aborted!" with exit status 1."""
    proc = writing_slowly(tmp_path, tmp_path / "new" / "plugins")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert (proc.returncode, err) == (130, "interrupted\n")
    assert not (tmp_path / "new").exists()


def test_the_working_folder_of_a_scaffold_killed_outright_goes_with_the_next_one(tmp_path: Path) -> None:
    """Killed while it wrote (SIGKILL, no handler runs), new-plugin left its hidden working folder
    beside the packages for good."""
    parent = tmp_path / "plugins"
    proc = writing_slowly(tmp_path, parent)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=300)
    (left,) = os.listdir(parent)
    assert left.startswith(".new-plugin-")
    res = new_plugin("csv-log", "logger", "--dir", str(parent))
    assert res.returncode == 0, res.stderr
    assert os.listdir(parent) == ["dialsum-csv-log"]
