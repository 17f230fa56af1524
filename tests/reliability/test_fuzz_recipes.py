"""Fuzzed recipes: every malformed recipe ends in one-line errors naming the file and key, nothing else.

The Python API test covers >= 1,000 recipes on every run (``DIALSUM_FUZZ_EXAMPLES`` to change it);
the CLI test starts a real ``python -m dialsum_core.cli check|run`` for a bounded sample
(``DIALSUM_FUZZ_CLI_EXAMPLES``) to prove exit code 2, no traceback and no experiment folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialsum_core.errors import DialsumError, RecipeError
from dialsum_core.manager import Plugins
from dialsum_core.recipe import load_recipe
from dialsum_core.runner import run_recipe

from .conftest import env_int
from .recipe_cases import SET, Case, any_case, defect_case, file_case, registered_names

API_EXAMPLES = env_int("DIALSUM_FUZZ_EXAMPLES", 1000)
CLI_EXAMPLES = env_int("DIALSUM_FUZZ_CLI_EXAMPLES", 24)
OUT = "OUT_DIR_PLACEHOLDER"
FUZZ = settings(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


def _snapshot(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def _materialise(case: Case, folder: Path) -> tuple[Path, Path]:
    out = folder / "out"
    rec = folder / "rec"
    rec.mkdir()
    fixed = Case(case.family, case.kinds,
                 {n: d.replace(OUT.encode(), str(out).encode()) for n, d in case.files.items()},
                 case.overrides, case.expected, case.entry)
    return fixed.write(rec), out


def shown(text: str) -> str:
    """How a key from the user's file appears in a one-line error: control characters escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def check_lines(lines: list[str], case: Case, folder: Path) -> None:
    """One line per problem, each starting with a file of the chain (or ``--set``), every defect named."""
    files = {str(folder / "rec" / name) for name in case.files} | {str(folder / "rec" / case.entry)}
    assert lines, "an error without any message"
    for line in lines:
        assert "\n" not in line and "\r" not in line, f"problem spans several lines: {line!r}"
        assert "Traceback" not in line
        assert any(line.startswith(f) for f in files | {SET}), f"problem does not start with a file: {line!r}"
    for name, key, phrase in case.expected:
        where = SET if name == SET else str(folder / "rec" / name)
        prefix = f"{where}: {shown(key)}" if key is not None else where
        hits = [ln for ln in lines if ln.startswith(prefix)]
        if key is not None:
            hits = [ln for ln in hits if ln[len(prefix) : len(prefix) + 1] in (":", "[", ".")]
        if phrase is not None:
            hits = [ln for ln in hits if phrase in ln]
        assert hits, f"no problem names {prefix!r} ({phrase or 'any message'}); got:\n" + "\n".join(lines)


def run_case_api(case: Case, plugins: Plugins, tally: Counter[str]) -> None:
    with tempfile.TemporaryDirectory(prefix="dialsum-fuzz-") as tmp:
        folder = Path(tmp)
        entry, out = _materialise(case, folder)
        before = _snapshot(folder)
        cwd = os.getcwd()
        os.chdir(folder)  # a default `experiments/` would appear here
        try:
            try:
                recipe = load_recipe(str(entry), case.overrides)
            except RecipeError as exc:
                lines = exc.problems
                stage = "load"
                assert exc.exit_code == 2
            else:
                lines = recipe.problems(plugins)
                stage = "validate"
                assert lines, f"malformed recipe accepted: {case}"
                with pytest.raises(DialsumError) as refused:
                    run_recipe(recipe, plugins)
                assert refused.value.exit_code == 2  # what `dialsum run` exits with (the CLI test proves it)
        finally:
            os.chdir(cwd)
        check_lines(lines, case, folder)
        if case.family == "plugin":
            assert stage == "validate", lines
        assert not out.exists(), "an experiment folder was created for a bad recipe"
        assert _snapshot(folder) == before, "a bad recipe created files"
    tally["recipes fuzzed through the Python API"] += 1
    for kind in case.kinds:
        tally[f"recipe defect: {case.family}/{kind}"] += 1


def test_fuzzed_recipes_python_api(plugins: Plugins, tally: Counter[str]) -> None:
    registered = registered_names(plugins)
    seen: Counter[str] = Counter()

    @settings(FUZZ, max_examples=API_EXAMPLES)
    @given(case=any_case(OUT, registered))
    def fuzz(case: Case) -> None:
        run_case_api(case, plugins, tally)
        seen[case.family] += 1

    fuzz()
    assert sum(seen.values()) >= API_EXAMPLES, seen
    assert all(seen[f] > 0 for f in ("core", "plugin", "file")), seen


def run_case_cli(case: Case, command: str, tally: Counter[str]) -> None:
    with tempfile.TemporaryDirectory(prefix="dialsum-fuzz-cli-") as tmp:
        folder = Path(tmp)
        entry, out = _materialise(case, folder)
        before = _snapshot(folder)
        args = [sys.executable, "-m", "dialsum_core.cli", command, str(entry)]
        for item in case.overrides:
            args += ["--set", item]
        res = subprocess.run(args, capture_output=True, text=True, cwd=folder, timeout=120, errors="replace")
        assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
        assert "Traceback" not in res.stderr and "Traceback" not in res.stdout
        lines = res.stderr.splitlines()
        errors = [ln.removeprefix("error: ") for ln in lines if ln.startswith("error: ")]
        others = [ln for ln in lines if not ln.startswith(("error: ", "warning: "))]
        assert not others, f"stderr lines that are not one-line errors: {others}"
        check_lines(errors, case, folder)
        assert not out.exists() and _snapshot(folder) == before
    tally[f"recipes fuzzed through `dialsum {command}`"] += 1


@pytest.mark.parametrize("command", ["check", "run"])
def test_fuzzed_recipes_cli(command: str, plugins: Plugins, tally: Counter[str]) -> None:
    registered = registered_names(plugins)

    @settings(FUZZ, max_examples=max(1, CLI_EXAMPLES // 2))
    @given(case=st.one_of(defect_case(OUT, registered), file_case(OUT)))
    def fuzz(case: Case) -> None:
        run_case_cli(case, command, tally)

    fuzz()
