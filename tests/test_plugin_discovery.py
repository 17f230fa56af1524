"""Plugin discovery through real entry points: third-party packages, broken ones, clashes, typos."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from conftest import make_dist, run_cli
from dialsum_core import hookimpl
from dialsum_core.errors import PluginError
from dialsum_core.manager import Plugins, build_plugins

GOOD = """
import attrs
from dialsum_core import hookimpl

@attrs.define
class EchoOptions:
    prefix: str = ">"

def make(options, ctx):
    return options

@hookimpl
def dialsum_register_metrics(register):
    register("echo-metric", make, options=EchoOptions, description="A third-party metric")
"""

BROKEN_IMPORT = """
raise RuntimeError("this plugin is broken on purpose")
"""

TYPO = """
from dialsum_core import hookimpl

@hookimpl
def dialsum_afterr_epoch(ctx):
    pass

@hookimpl
def dialsum_register_metrics(register):
    register("typo-metric", lambda o, c: None, description="never offered")
"""

CLASH = """
from dialsum_core import hookimpl

@hookimpl
def dialsum_register_metrics(register):
    register("rouge", lambda o, c: None, description="steals the rouge name")
"""


def test_builtin_plugins_come_from_entry_points() -> None:
    plugins = build_plugins()
    reg = plugins.get("metrics", "rouge")
    assert reg is not None and reg.distribution == "dialsum-metrics"
    lead = plugins.get("model_loaders", "lead")
    assert lead is not None and lead.distribution == "dialsum-lead"


def test_third_party_distribution_is_listed(tmp_path: Path) -> None:
    make_dist(tmp_path, "dialsum-echo", "1.2.3", "dialsum_echo", GOOD, {"echo": "dialsum_echo"})
    res = run_cli(["plugins"], site=tmp_path)
    assert res.returncode == 0, res.stderr
    line = next(ln for ln in res.stdout.splitlines() if ln.startswith("echo-metric"))
    assert "dialsum-echo" in line and "1.2.3" in line and "A third-party metric" in line


def test_broken_plugin_warns_in_listing_and_help_but_fails_a_run_that_needs_it(tmp_path: Path) -> None:
    make_dist(tmp_path, "dialsum-broken", "0.0.1", "dialsum_broken", BROKEN_IMPORT, {"broken": "dialsum_broken"})
    listing = run_cli(["plugins"], site=tmp_path)
    assert listing.returncode == 0
    assert "plugin 'broken' from dialsum-broken 0.0.1 could not be loaded" in listing.stderr
    assert "rouge" in listing.stdout
    helped = run_cli(["--help"], site=tmp_path)
    assert helped.returncode == 0 and "Commands:" in helped.stdout
    recipe = tmp_path / "r.toml"
    recipe.write_text('[run]\nmode = "single"\nmodels = ["lead"]\nloggers = []\nmetrics = ["nope"]\n')
    checked = run_cli(["check", str(recipe)], site=tmp_path)
    assert checked.returncode == 2
    assert "unknown metric 'nope'" in checked.stderr and "dialsum-broken 0.0.1" in checked.stderr
    assert "Traceback" not in checked.stderr


def build_with_site(site: Path, *modules: str) -> Plugins:
    """``build_plugins()`` in this process, with the distributions written into ``site`` installed."""
    import importlib

    sys.path.insert(0, str(site))
    try:
        importlib.invalidate_caches()
        return build_plugins()
    finally:
        sys.path.remove(str(site))
        for module in modules:
            sys.modules.pop(module, None)


def test_misspelled_hook_is_reported_not_ignored(tmp_path: Path) -> None:
    make_dist(tmp_path, "dialsum-typo", "0.2.0", "dialsum_typo", TYPO, {"typo": "dialsum_typo"})
    plugins = build_with_site(tmp_path, "dialsum_typo")
    broken = {b.name: b for b in plugins.broken}
    assert "typo" in broken
    assert "dialsum_afterr_epoch" in broken["typo"].error
    assert broken["typo"].distribution == "dialsum-typo"
    assert plugins.get("metrics", "typo-metric") is None


WRONG_FOLD = """
from dialsum_core import hookimpl

@hookimpl(optionalhook=True)
def dialsum_after_fold(fold, accuracy):
    pass
"""


def test_a_wrong_implementation_of_a_plugins_event_is_reported_whichever_loads_first(tmp_path: Path) -> None:
    """``dialsum_after_fold`` is declared by dialsum-modes (entry point ``modes``): a plugin loaded
    before it (``aardvark``) and one loaded after it (``zebra``) are both checked against it."""
    for name in ("aardvark", "zebra"):
        make_dist(tmp_path, f"dialsum-{name}", "0.1.0", f"dialsum_{name}", WRONG_FOLD, {name: f"dialsum_{name}"})
    plugins = build_with_site(tmp_path, "dialsum_aardvark", "dialsum_zebra")
    broken = {b.name: b for b in plugins.broken}
    assert sorted(broken) == ["aardvark", "zebra"] and plugins.hook_owners["dialsum_after_fold"] == "modes"
    for name, b in broken.items():
        assert b.distribution == f"dialsum-{name}" and "dialsum_after_fold" in b.error and "accuracy" in b.error
        assert plugins.pm.get_plugin(name) is None
    assert plugins.get("run_modes", "kfold") is not None


def test_duplicate_registered_name_names_both_distributions(tmp_path: Path) -> None:
    make_dist(tmp_path, "dialsum-clash", "9.9", "dialsum_clash", CLASH, {"clash": "dialsum_clash"})
    res = run_cli(["plugins"], site=tmp_path)
    assert res.returncode == 2
    assert "registered twice" in res.stderr
    assert "dialsum-metrics" in res.stderr and "dialsum-clash 9.9" in res.stderr
    # the disable list is the way out
    ok = run_cli(["plugins", "--disable-plugin", "clash"], site=tmp_path)
    assert ok.returncode == 0 and "rouge" in ok.stdout


def test_register_plugin_fixture_adds_and_removes(register_plugin, dialsum_plugins) -> None:
    class Extra:
        @hookimpl
        def dialsum_register_ensembles(self, register):
            register("pick-first", lambda o, c: None, description="first candidate")

    register_plugin(Extra(), "extra")
    assert dialsum_plugins.get("ensembles", "pick-first") is not None


def test_registering_a_class_instead_of_an_instance_is_a_clear_error(dialsum_plugins) -> None:
    class Loggerish:
        pass

    with pytest.raises(PluginError, match="is a class"):
        dialsum_plugins.add(Loggerish, "cls")


def test_non_attrs_options_class_is_refused() -> None:
    class Bad:
        @hookimpl
        def dialsum_register_metrics(self, register):
            register("bad", lambda o, c: None, options=dict)

    with pytest.raises(PluginError, match="not an attrs class"):
        build_plugins(entry_points=False, extra=[("bad", Bad())])


def test_plugin_raising_inside_registry_hook_is_isolated() -> None:
    class Raises:
        @hookimpl
        def dialsum_register_metrics(self, register):
            register("half", lambda o, c: None)
            raise ValueError("boom")

    plugins = build_plugins(entry_points=False, extra=[("raises", Raises())])
    assert plugins.get("metrics", "half") is None
    assert any("boom" in b.error for b in plugins.broken)


def test_disabling_a_plugin_that_is_not_there_is_refused() -> None:
    """A misspelt disable name (the distribution's name, say) used to disable nothing, silently: the
    run then used the very plugin the user meant to leave out."""
    recipe = ["recipes/single-tiny.toml", "--set", 'run.models=["lead"]']
    by_env = {"DIALSUM_DISABLE_PLUGINS": "lead,dialsum-lead"}
    for args, env in ((["--disable-plugin", "dialsum-lead"], {}), ([], by_env)):
        for command in (["check", *recipe], ["run", *recipe], ["plugins"]):
            res = run_cli([*command, *args], env=env)
            assert res.returncode == 2, (command, res.stdout, res.stderr)
            (line,) = [x for x in res.stderr.splitlines() if "dialsum-lead" in x]
            assert line.startswith("error:") and "did you mean 'lead'" in line and "Traceback" not in res.stderr
    # a plugin that is not installed here is disabled already: a shared DIALSUM_DISABLE_PLUGINS must not
    # stop every command on the machines that lack it
    res = run_cli(["check", *recipe], env={"DIALSUM_DISABLE_PLUGINS": "some-private-logger"})
    assert res.returncode == 0, res.stderr


def test_a_name_missing_because_its_plugin_is_disabled_says_what_is_disabled() -> None:
    """``unknown run mode 'single' (installed: ...)`` left the user to remember a DIALSUM_DISABLE_PLUGINS set
    long ago: the refusal names the disabled plugins."""
    res = run_cli(["check", "recipes/single-tiny.toml"], env={"DIALSUM_DISABLE_PLUGINS": "modes"})
    assert res.returncode == 2, res.stderr
    (line,) = [x for x in res.stderr.splitlines() if "run.mode" in x]
    assert "unknown run mode 'single'" in line and "disabled: modes" in line, line
