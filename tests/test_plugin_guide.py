"""The code of docs/writing-a-plugin.md runs as a third party copies it.

Each Python block of a recipe for a common extension is written to a package of its own, imported
and registered as an installed plugin would be, then used: a block that names something it never
imports, or a reader whose saved recipe no longer finds its files, fails here.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

from conftest import ROOT, make_dist, run_cli
from dialsum_core.manager import build_plugins

GUIDE = ROOT / "docs" / "writing-a-plugin.md"
SAMPLE = ROOT / "data" / "sample"


def python_blocks(heading: str, page: Path = GUIDE) -> list[str]:
    """The ```python blocks (dedented) of the section ``heading`` of ``page``, up to the next heading
    of the same or a higher level (``#`` lines inside the blocks are comments, not headings)."""
    level = len(heading) - len(heading.lstrip("#"))
    blocks: list[str] = []
    inside, fence, current = False, None, []
    for line in page.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if fence is None and not inside:
            inside = line == heading
            continue
        if fence is None and stripped.startswith("```"):
            fence, current = stripped, []
            continue
        if fence is not None:
            if stripped == "```":
                if fence == "```python":
                    blocks.append(textwrap.dedent("\n".join(current)))
                fence = None
            else:
                current.append(line)
            continue
        match = re.match(r"(#+) ", line)
        if match and len(match.group(1)) <= level:
            break
    assert blocks, f"no python block under {heading!r} in {page.name}"
    return blocks


def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: str) -> dict[str, ModuleType]:
    """Write a block made of ``# yourpkg/NAME.py`` parts (the whole block is ``plugin.py`` without
    one) as the package ``yourpkg``, and import each module."""
    parts = re.split(r"^# yourpkg/(\w+)\.py\n", block, flags=re.M)
    files = {"plugin": parts[0]} if len(parts) == 1 else dict(zip(parts[1::2], parts[2::2], strict=True))
    pkg = tmp_path / "site" / "yourpkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("", encoding="utf-8")
    for name, source in files.items():
        (pkg / f"{name}.py").write_text(source, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    for name in [m for m in list(sys.modules) if m == "yourpkg" or m.startswith("yourpkg.")]:
        monkeypatch.delitem(sys.modules, name)
    return {name: importlib.import_module(f"yourpkg.{name}") for name in files}


def test_the_preset_of_the_guide_registers_a_preset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    block = python_blocks("### A new model family or preset")[0]
    plugin = package(tmp_path, monkeypatch, block)["plugin"]
    plugins = build_plugins(extra=[("my-ko-llm-plugin", plugin)])
    reg = plugins.require("model_loaders", "my-ko-llm")
    assert "preset" in reg.tags and reg.defaults["model_name_or_path"] == "org/model"


def test_the_events_of_the_guide_are_declared_and_emitted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    block = python_blocks("### A plugin's own events")[0]
    plugin = package(tmp_path, monkeypatch, block)["plugin"]
    seen = []

    class Listener:
        from dialsum_core import hookimpl

        @hookimpl(optionalhook=True)
        def dialsum_after_round(self, round: int, metrics: dict) -> None:
            seen.append((round, metrics))

    plugins = build_plugins(extra=[("yourpkg", plugin), ("listener", Listener())])
    plugins.pm.hook.dialsum_after_round(ctx=None, round=3, metrics={"rouge_mean": 0.5})
    assert seen == [(3, {"rouge_mean": 0.5})]


def _jsonl(path: Path, rows: list[dict[str, str]]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def test_the_data_reader_of_the_guide_runs_and_its_saved_recipe_runs_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Relative paths in the recipe, a run, then the experiment's config.toml checked from elsewhere."""
    import csv

    from dialsum_core.recipe import load_recipe
    from dialsum_core.runner import run_recipe

    block = python_blocks("### A new data format")[0]
    plugin = package(tmp_path, monkeypatch, block)["plugin"]
    plugins = build_plugins(disable=["data"], extra=[("jsonl-reader", plugin)])
    data = tmp_path / "data"
    data.mkdir()
    for split in ("train", "dev", "test"):
        with (SAMPLE / f"{split}.csv").open(encoding="utf-8") as fh:
            rows = [{"fname": r["fname"], "dialogue": r["dialogue"], "summary": r.get("summary", "")}
                    for r in list(csv.DictReader(fh))[:40 if split == "train" else 6]]
        _jsonl(data / f"{split}.jsonl", rows)
    recipes = tmp_path / "recipes"
    recipes.mkdir()
    (recipes / "r.toml").write_text(textwrap.dedent(f"""
        [run]
        mode = "single"
        models = ["lead"]
        loggers = []
        metrics = ["rouge"]
        name = "jsonl"
        output_dir = "{(tmp_path / "experiments").as_posix()}"

        [jsonl_data]
        train_path = "../data/train.jsonl"
        dev_path = "../data/dev.jsonl"
        test_path = "../data/test.jsonl"
        """), encoding="utf-8")
    recipe = load_recipe(recipes / "r.toml", schema=plugins.schema)
    assert recipe.problems(plugins) == []
    result = run_recipe(recipe, plugins)
    assert result.results["status"] == "complete"
    submission = (result.experiment / "predictions" / "submission.csv").read_text(encoding="utf-8")
    assert submission.count("\n") == 7  # the header and the six test dialogues of the JSON Lines file
    assert len(plugin.dialsum_load_data(recipe, quiet=True).train) == 40
    debug = plugin.dialsum_load_data(recipe.merge({"run": {"debug": True}}), quiet=True)
    assert (len(debug.train), len(debug.valid), len(debug.test)) == (32, 6, 6)  # a debug run keeps a few
    saved = load_recipe(result.experiment / "config.toml", schema=plugins.schema)
    assert saved.problems(plugins) == [], "the saved config.toml no longer finds the data files"
    assert saved.jsonl_data.train_path == str(data / "train.jsonl")
    assert "jsonl-reader" in saved.versions, "the reader of the run's data is missing from its versions"

    (data / "dev.jsonl").write_text('{"fname": "d0", "dialogue": "hi", "summary": "s"}\n[1, 2]\n', encoding="utf-8")
    problems = load_recipe(recipes / "r.toml", schema=plugins.schema).problems(plugins)
    assert len(problems) == 1 and "r.toml: jsonl_data.dev_path: " in problems[0], problems
    assert "dev.jsonl: line 2: not an object with fname and dialogue" in problems[0], problems


def test_the_command_of_the_guide_reports_a_bad_recipe_in_one_line(tmp_path: Path) -> None:
    block = python_blocks("## Hooks")[0]
    make_dist(tmp_path / "site", "dialsum-guide-command", "0.1.0", "guide_command", block,
              {"guide-command": "guide_command"})
    recipe = ROOT / "recipes" / "tiny.toml"
    good = run_cli(["sources", str(recipe)], site=tmp_path / "site")
    assert good.returncode == 0 and good.stdout.strip() == "scratch", good.stderr
    bad = run_cli(["sources", str(recipe), "--set", "train.epochs=many"], site=tmp_path / "site")
    assert bad.returncode == 2, bad.stderr
    assert bad.stderr.strip() == "error: --set: train.epochs: expected an integer, got string 'many'"


def test_the_logger_of_the_logging_page_has_its_options_described(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guide's rule (every option described, or ``undocumented`` fails the plugin's tests) holds
    for the logger the logging page shows."""
    from dialsum_tools.recipe_doc import undocumented

    block = python_blocks("## Writing your own logger", ROOT / "docs" / "logging.md")[0]
    plugin = package(tmp_path, monkeypatch, block)["plugin"]
    plugins = build_plugins(extra=[("print-logger", plugin)])
    reg = plugins.require("loggers", "print")
    assert undocumented(plugins, core=False, distributions=[reg.distribution]) == []


def test_the_folder_check_of_the_guide_refuses_a_folder_transformers_cannot_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guide named `dialsum_hf.folders`' checks without saying what they take: `config_problem` takes
    the folder's `config.json` read, and a check that gave it the folder failed on every recipe."""
    from dialsum_core.recipe import load_recipe
    from dialsum_hf.testing import save_tiny_model

    block = python_blocks("### A new model family or preset")[1]
    plugin = package(tmp_path, monkeypatch, block)["plugin"]
    plugins = build_plugins(extra=[("my-family-plugin", plugin)])
    model = save_tiny_model("bart", tmp_path / "model", ["#Person1#: 안녕하세요. #Person2#: 네."], d_model=16, layers=1)

    def problems(folder: Path) -> list[str]:
        overrides = ['run.models=["my-family"]', f"models.my-family.folder={folder}"]
        return load_recipe(ROOT / "recipes" / "tiny.toml", overrides, schema=plugins.schema).problems(plugins)

    assert problems(model) == []
    (model / "tokenizer.json").unlink()
    (problem,) = problems(model)
    assert problem.startswith(f"--set: models.my-family.folder: {model}: no tokenizer files"), problem
    (model / "config.json").write_text("[]", encoding="utf-8")
    (problem,) = problems(model)
    assert "config.json is not a readable JSON object" in problem, problem
    (problem,) = problems(tmp_path)
    assert problem.endswith(f"{tmp_path}: no config.json, so not a saved model folder"), problem


def test_the_sweep_of_the_guide_shows_its_objective_on_its_metrics_scale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guide did not say how a search of one's own makes its objective value read x100 where its
    metric does (``dialsum_objective_keys``), nor what its trial events promise (numbered from 0)."""
    block = python_blocks("### A new run mode")[0]
    package(tmp_path, monkeypatch, block)
    site = tmp_path / "site"
    info = site / "dialsum_guide_sweep-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: dialsum-guide-sweep\nVersion: 0.1.0\n",
                                   encoding="utf-8")
    (info / "entry_points.txt").write_text("[dialsum]\nsweep = yourpkg.plugin\n", encoding="utf-8")
    exp = tmp_path / "exp"
    run = run_cli(["run", str(ROOT / "recipes" / "single-tiny.toml"), "--set", "run.mode=sweep",
                   "--set", 'run.models=["lead"]', "--set", "modes.sweep.key=models.lead.max_turns",
                   "--set", "modes.sweep.values=[1, 3]", "--set", f"run.output_dir={exp}",
                   "--set", "run.name=sweep"], site=site)
    assert run.returncode == 0, run.stderr
    results = json.loads((exp / "sweep" / "results.json").read_text(encoding="utf-8"))
    best = results["sweep"]["best_objective"]
    assert round(best, 4) == results["best_rouge"] and 0 < best < 1
    assert results["sweep"]["models.lead.max_turns"] in (1, 3)
    assert (exp / "sweep" / "predictions" / "submission_debug.csv").is_file()
    report = run_cli(["report", str(exp / "sweep")], site=site)
    assert report.returncode == 0, report.stderr
    text = (exp / "sweep" / "report" / "report.md").read_text(encoding="utf-8")
    assert f"| sweep.best_objective | {100 * best:.2f} |" in text, text
    assert "## Trials (2, best first)" in text and f"| complete | {100 * best:.2f} |" in text, text


def test_a_command_interrupted_as_the_guide_says_names_its_partial_results(tmp_path: Path) -> None:
    """The guide told command authors that Ctrl-C ends in one line, not how theirs says where it left
    partial results."""
    import os
    import signal
    import subprocess
    import time

    section = GUIDE.read_text(encoding="utf-8").split("\n## Hooks\n", 1)[1]
    note = re.search(r"`(exc\.add_note\(.*?\))`", section.replace("\n", " ")).group(1)
    out, mark = tmp_path / "out", tmp_path / "out" / "part-0"
    make_dist(tmp_path / "site", "dialsum-guide-slow-command", "0.1.0", "guide_slow_command", f'''
        import time

        import click

        from dialsum_core import hookimpl


        @hookimpl
        def dialsum_register_commands(cli):
            @cli.command("export-slowly")
            @click.argument("out")
            def export_slowly(out):
                """Write parts into OUT, one a second."""
                try:
                    for n in range(600):
                        with open(f"{{out}}/part-{{n}}", "w") as fh:
                            fh.write("part")
                        time.sleep(1)
                except KeyboardInterrupt as exc:
                    {note}
                    raise
        ''', {"guide-slow-command": "guide_slow_command"})
    out.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path / "site"),
                                                                     os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen([sys.executable, "-m", "dialsum_core.cli", "export-slowly", str(out)],
                            stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    deadline = time.monotonic() + 120
    while proc.poll() is None and not mark.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert (proc.returncode, err) == (130, f"interrupted; partial results are in {out}\n")
