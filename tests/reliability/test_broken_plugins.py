"""Broken third-party plugins: real distributions (a module and its ``.dist-info`` on ``PYTHONPATH``)
that fail in each way a plugin can, installed all at once beside the project's own plugins.

* ``dialsum-onimport`` raises when its entry point is imported;
* ``dialsum-halfreg`` raises inside a registry hook, after registering a metric;
* ``dialsum-loud`` raises inside a lifecycle hook (``dialsum_after_epoch``) of every run;
* ``dialsum-cmds`` raises while adding its CLI commands;
* ``dialsum-picky`` offers a metric whose options class rejects a bad ``threshold``;
* ``dialsum-crashy`` offers a metric whose options class crashes on any recipe (a plugin bug).

``dialsum plugins`` and ``--help`` still work and name each broken plugin with its distribution; a
run that does not use them ends with the same results as without them; a run that needs one stops
before creating anything, with one-line errors (exit code 2) that name the plugin and its
distribution, or the recipe key its options class refused.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from conftest import make_dist, run_cli

from .runs import lead_recipe, normalised, small_data, write_recipe

PLUGINS: dict[str, tuple[str, str]] = {
    "onimport": ("0.1.0", 'raise RuntimeError("broken on import")\n'),
    "halfreg": ("0.2.0", """
from dialsum_core import hookimpl

@hookimpl
def dialsum_register_metrics(register):
    register("half", lambda options, ctx: None, description="registered before the hook raised")
    raise ValueError("registry hook failed")
"""),
    "loud": ("0.3.0", """
from dialsum_core import hookimpl

@hookimpl
def dialsum_after_epoch(ctx, epoch, n_epochs, metrics):
    raise RuntimeError("lifecycle hook failed")
"""),
    "cmds": ("0.4.0", """
from dialsum_core import hookimpl

@hookimpl
def dialsum_register_commands(cli):
    raise RuntimeError("command hook failed")
"""),
    "picky": ("0.5.0", """
import attrs
from dialsum_core import hookimpl

def _positive(instance, attribute, value):
    if value <= 0:
        raise ValueError(f"must be > 0, got {value!r}")

@attrs.define
class PickyOptions:
    threshold: float = attrs.field(default=1.0, validator=_positive)

class Picky:
    def compute(self, predictions, references):
        return {"picky": 1.0}

@hookimpl
def dialsum_register_metrics(register):
    register("picky", lambda options, ctx: Picky(), options=PickyOptions, description="a metric with a range")
"""),
    "crashy": ("0.6.0", """
import attrs
from dialsum_core import hookimpl

def _crash(instance, attribute, value):
    raise RuntimeError("options validator crashed")

@attrs.define
class CrashyOptions:
    level: int = attrs.field(default=1, validator=_crash)

@hookimpl
def dialsum_register_metrics(register):
    register("crashy", lambda options, ctx: None, options=CrashyOptions, description="options that crash")
"""),
}


def dist(name: str) -> str:
    return f"dialsum-{name} {PLUGINS[name][0]}"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("broken-site")
    for name, (version, source) in PLUGINS.items():
        make_dist(folder, f"dialsum-{name}", version, f"dialsum_{name}", source, {name: f"dialsum_{name}"})
    return folder


@pytest.fixture(scope="module")
def recipe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("broken-run")
    return write_recipe(folder / "r.toml", lead_recipe(small_data(folder / "data"), folder / "experiments"))


def one_line_errors(stderr: str) -> list[str]:
    """The ``error:`` lines; fails when stderr holds anything but one-line errors and warnings."""
    lines = stderr.splitlines()
    assert "Traceback" not in stderr
    assert all(ln.startswith(("error: ", "warning: ")) for ln in lines), lines
    return [ln for ln in lines if ln.startswith("error: ")]


def test_listing_and_help_name_each_broken_plugin(site: Path, tally: Counter[str]) -> None:
    listing = run_cli(["plugins"], site=site)
    assert listing.returncode == 0, listing.stderr
    assert one_line_errors(listing.stderr) == []
    warnings = listing.stderr
    assert f"plugin 'onimport' from {dist('onimport')} could not be loaded: RuntimeError: broken on import" in warnings
    assert f"plugin 'halfreg' from {dist('halfreg')} could not be loaded" in warnings
    assert "registry hook failed" in warnings
    rows = {ln.split()[0]: ln for ln in listing.stdout.splitlines() if ln.strip()}
    assert "half" not in rows, "a plugin whose registry hook raised must offer nothing"
    for name in ("picky", "crashy"):
        assert f"dialsum-{name}" in rows[name] and PLUGINS[name][0] in rows[name]
    assert "rouge" in rows and "lead" in rows

    helped = run_cli(["--help"], site=site)
    assert helped.returncode == 0 and "Commands:" in helped.stdout
    cmds = f"plugin 'cmds' from {dist('cmds')} could not add its commands: RuntimeError: command hook failed"
    assert cmds in helped.stderr
    assert "Traceback" not in helped.stderr
    tally["broken plugins installed together (distributions)"] = len(PLUGINS)


def test_a_run_that_does_not_use_them_is_unaffected(site: Path, recipe: Path, tally: Counter[str]) -> None:
    clean = run_cli(["run", str(recipe), "--set", "run.name=clean"])
    assert clean.returncode == 0, clean.stderr[-2000:]
    broken = run_cli(["run", str(recipe), "--set", "run.name=broken"], site=site)
    assert broken.returncode == 0, broken.stderr[-2000:]
    assert "Traceback" not in broken.stderr
    root = recipe.parent / "experiments"
    want = json.loads((root / "clean" / "results.json").read_text(encoding="utf-8"))
    got = json.loads((root / "broken" / "results.json").read_text(encoding="utf-8"))
    assert normalised(got, root / "broken") == normalised(want, root / "clean")
    assert (root / "broken" / "predictions" / "submission.csv").read_bytes() == \
        (root / "clean" / "predictions" / "submission.csv").read_bytes()
    # the lifecycle hook's failure is reported once, naming the plugin and its distribution, in the log too
    log = (root / "broken" / "train.log").read_text(encoding="utf-8")
    message = f"plugin 'loud' from {dist('loud')} failed in dialsum_after_epoch (RuntimeError: lifecycle hook failed)"
    assert log.count(message) == 1 and message in broken.stderr
    for name in ("onimport", "halfreg"):
        assert f"plugin {name!r} from {dist(name)} could not be loaded" in log
    events = [json.loads(ln)["event"] for ln in (root / "broken" / "metrics.jsonl").read_text().splitlines()]
    assert events[0] == "before_run" and events[-1] == "after_run"
    tally["runs beside broken plugins with unchanged results"] += 1


NEEDS = [
    # (what the run asks for, what the error must say)
    (["run.metrics=[\"rouge\", \"half\"]"], ["unknown metric 'half'", f"plugin 'halfreg' from {dist('halfreg')}"]),
    (["run.metrics=[\"rouge\", \"ghost\"]"], ["unknown metric 'ghost'", f"plugin 'onimport' from {dist('onimport')}"]),
    (["run.metrics=[\"rouge\", \"crashy\"]"],
     ["metrics.crashy: the options of metric 'crashy'", f"plugin 'crashy' from {dist('crashy')}",
      "RuntimeError: options validator crashed"]),
    (["run.metrics=[\"rouge\", \"picky\"]", "metrics.picky.threshold=-2.0"],
     ["--set: metrics.picky.threshold: must be > 0, got -2.0"]),
]


@pytest.mark.parametrize("command", ["check", "run"])
@pytest.mark.parametrize(("sets", "phrases"), NEEDS, ids=["registry-hook", "import", "options-crash",
                                                          "options-reject"])
def test_a_run_that_needs_a_broken_plugin_stops_cleanly(site: Path, recipe: Path, command: str, sets: list[str],
                                                         phrases: list[str], tally: Counter[str]) -> None:
    args = [command, str(recipe), "--set", "run.name=needs"]
    for item in sets:
        args += ["--set", item]
    res = run_cli(args, site=site)
    assert res.returncode == 2, res.stderr[-2000:]
    errors = one_line_errors(res.stderr)
    assert len(errors) == 1, errors
    for phrase in phrases:
        assert phrase in errors[0], (phrase, errors)
    assert not (recipe.parent / "experiments" / "needs").exists()
    tally[f"`dialsum {command}` refusing a broken plugin"] += 1


def test_picky_options_accept_a_good_value(site: Path, recipe: Path) -> None:
    """The options class that refused -2 is not refusing everything: 0.5 runs (so the refusal above is its own)."""
    res = run_cli(["run", str(recipe), "--set", "run.name=picky", "--set", 'run.metrics=["rouge", "picky"]',
                  "--set", "metrics.picky.threshold=0.5"], site=site)
    assert res.returncode == 0, res.stderr[-2000:]
    results = json.loads((recipe.parent / "experiments" / "picky" / "results.json").read_text(encoding="utf-8"))
    assert results["picky"] == 1.0


def test_in_process_a_raising_listener_is_isolated(register_plugin, recipe: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    """The same through the Python API and the core's pytest fixtures: a plugin object whose
    lifecycle hooks raise is reported once, by name, and the run's results do not change."""
    import logging

    from dialsum_core import hookimpl
    from dialsum_core.recipe import load_recipe
    from dialsum_core.runner import run_recipe

    class Noisy:
        calls = 0

        @hookimpl
        def dialsum_on_progress(self, task: str, completed: int, total: int | None) -> None:
            Noisy.calls += 1
            raise OSError("disk full")

    base = load_recipe(recipe).override(("run.loggers", []))
    plugins = register_plugin(Noisy(), "noisy")
    with caplog.at_level(logging.WARNING, logger="dialsum"):
        noisy = run_recipe(base.override(("run.name", "in-process-noisy")), plugins)
    plugins.remove("noisy")
    quiet = run_recipe(base.override(("run.name", "in-process-quiet")), plugins)
    assert normalised(noisy.results, noisy.experiment) == normalised(quiet.results, quiet.experiment)
    assert Noisy.calls == 1  # disabled after its first failure
    failures = [r.getMessage() for r in caplog.records if "failed in dialsum_on_progress" in r.getMessage()]
    assert failures == ["plugin 'noisy' from noisy failed in dialsum_on_progress (OSError: disk full); "
                        "it is disabled for the rest of this run"]
