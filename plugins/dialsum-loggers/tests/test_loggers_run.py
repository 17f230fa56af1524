"""The default loggers (file, console, jsonl) on real runs made by the real runner, and `dialsum report`."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from loggers_testkit import ListHandler, ScriptedPlugin, scripted_recipe

from dialsum_core.cli import cli
from dialsum_core.runner import run_recipe
from dialsum_loggers.report import RunRecord, curve_metrics, curve_series, plot_curves


@pytest.fixture
def plugins(register_plugin):
    return register_plugin(ScriptedPlugin(), "scripted-mode")


def exp_dir(tmp_path: Path) -> Path:
    return tmp_path / "experiments" / "scripted"


def _events(exp: Path) -> list[dict]:
    return [json.loads(line) for line in (exp / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]


def test_default_loggers_record_a_whole_run(tmp_path: Path, plugins, capsys) -> None:
    result = run_recipe(scripted_recipe(tmp_path, ["file", "console", "jsonl"]), plugins)
    exp = result.experiment

    log = (exp / "train.log").read_text(encoding="utf-8")
    assert "INFO    experiment " in log and "loaded " in log and "scripted run done" in log
    # printed output is copied as it was shown, in order with the log lines
    assert log.index("fold 0 trained") < log.index("fold 1 trained") < log.index("scripted run done")
    # stdout was not a terminal: the console logger stayed quiet, printing still reached the console
    out = capsys.readouterr().out
    assert out.splitlines() == ["fold 0 trained", "fold 1 trained"]

    events = _events(exp)
    names = [e["event"] for e in events]
    assert names[0] == "before_run" and names[-1] == "after_run"
    # each log file announced once, inside the run's segment (the file logger announces before the jsonl one starts)
    assert [e["path"] for e in events if e["event"] == "on_artifact" and e["kind"] == "log"] == [
        "train.log", "metrics.jsonl"]
    assert events[-1]["results"]["status"] == "complete"
    assert names.count("before_fold") == 2 and names.count("after_trial") == 3
    epochs = [e for e in events if e["event"] == "after_epoch"]
    assert [(e["stage"], e["fold"], e["epoch"]) for e in epochs] == [("kfold", 0, 1), ("kfold", 1, 1)]
    assert all("eval_rouge_mean" in e["metrics"] for e in epochs)
    steps = [e for e in events if e["event"] == "on_metrics"]
    assert [s["step"] for s in steps] == [1, 2, 3, 4, 1, 2, 3, 4] and steps[0]["tags"] == {"fold": 0}
    pruned = next(e for e in events if e["event"] == "after_trial" and e["state"] == "pruned")
    assert pruned["value"] is None and pruned["stage"] == "optuna" and pruned["trial"] == 1
    assert all(e["time"] >= events[0]["time"] for e in events)


def test_report_rebuilds_plots_and_summary(tmp_path: Path, plugins) -> None:
    exp = run_recipe(scripted_recipe(tmp_path, ["jsonl"]), plugins).experiment
    res = CliRunner().invoke(cli, ["report", str(exp)])
    assert res.exit_code == 0, res.output
    out = exp / "report"
    for name in ("steps.png", "folds.png", "trials.png"):
        data = (out / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, name
    assert not (out / "learning_curves.png").exists()  # one epoch per fold: no curve to draw
    md = (out / "report.md").read_text(encoding="utf-8")
    assert md.startswith("# Run report: scripted")
    assert "- **status**: complete" in md and "## Folds" in md and "| mean |" in md
    assert "## Trials (3, best first)" in md and "| 2 | complete | 30.00 |" in md  # rouge_mean, x100
    assert "![folds](folds.png)" in md and "prediction: `predictions/valid_predictions.csv`" in md


def test_report_reads_the_records_under_the_name_the_recipe_gives_them(tmp_path: Path, plugins) -> None:
    recipe = scripted_recipe(tmp_path, ["jsonl"], loggers={"jsonl": {"filename": "events.jsonl"}})
    exp = run_recipe(recipe, plugins).experiment
    assert not (exp / "metrics.jsonl").exists()
    res = CliRunner().invoke(cli, ["report", str(exp)])
    assert res.exit_code == 0, res.output
    md = (exp / "report" / "report.md").read_text(encoding="utf-8")
    assert "events in events.jsonl" in md and "## Trials (3, best first)" in md and "## Folds" in md
    assert (exp / "report" / "folds.png").exists()


def test_logs_in_a_subfolder_are_written_and_reported(tmp_path: Path, plugins) -> None:
    """``logs/train.log`` is a valid name: the loggers make its folder (they could not open the file
    without it, and the run went on with neither log)."""
    recipe = scripted_recipe(tmp_path, ["file", "jsonl"], loggers={"file": {"filename": "logs/train.log"},
                                                                  "jsonl": {"filename": "logs/events/m.jsonl"}})
    exp = run_recipe(recipe, plugins).experiment
    assert "scripted run done" in (exp / "logs" / "train.log").read_text(encoding="utf-8")
    res = CliRunner().invoke(cli, ["report", str(exp)])
    assert res.exit_code == 0, res.output
    md = (exp / "report" / "report.md").read_text(encoding="utf-8")
    assert "events in logs/events/m.jsonl" in md and "- **status**: complete" in md


def test_report_with_a_folder_in_the_place_of_its_file_is_one_line_and_writes_nothing(tmp_path: Path,
                                                                                        plugins) -> None:
    exp = run_recipe(scripted_recipe(tmp_path, ["jsonl"]), plugins).experiment
    (exp / "report" / "report.md").mkdir(parents=True)
    res = CliRunner().invoke(cli, ["report", str(exp)])
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    assert lines == [f"error: {exp / 'report' / 'report.md'}: a folder where the report writes its file; remove it "
                     "or give another folder with --out"], res.output
    assert [p.name for p in (exp / "report").iterdir()] == ["report.md"]  # no plot written before the refusal


def test_report_panels_are_curves_of_measurements(tmp_path: Path, plugins) -> None:
    """A panel needs a series with two points or more, and the epoch logged with the steps is no metric."""
    exp = run_recipe(scripted_recipe(tmp_path, ["jsonl"]), plugins).experiment
    run = RunRecord.read(exp)
    steps = [r for r in run.of("on_metrics") if r.get("step") is not None]
    assert all("epoch" in r["metrics"] for r in steps)
    assert curve_metrics(curve_series(steps, "step"), "step") == ["loss", "learning_rate"]
    epochs = run.of("after_epoch")
    assert [r["epoch"] for r in epochs] == [1, 1]  # one epoch per fold: dots, not curves
    assert curve_metrics(curve_series(epochs, "epoch"), "epoch") == []
    assert plot_curves(epochs, "epoch", "t", "epoch", tmp_path / "lc.png") is None
    # a second epoch of fold 0 makes its curve; fold 1 still has one point
    second = {**epochs[0], "epoch": 2, "metrics": {k: v / 2 for k, v in epochs[0]["metrics"].items()}}
    assert "eval_rouge_mean" in curve_metrics(curve_series([*epochs, second], "epoch"), "epoch")
    drawn = plot_curves([*epochs, second], "epoch", "t", "epoch", tmp_path / "lc.png")
    assert drawn is not None and drawn.read_bytes()[:4] == b"\x89PNG"


def test_report_shows_rouge_on_the_leaderboard_scale_and_results_keep_0_to_1(tmp_path: Path, plugins) -> None:
    exp = run_recipe(scripted_recipe(tmp_path, ["jsonl"]), plugins).experiment
    results = json.loads((exp / "results.json").read_text(encoding="utf-8"))
    assert 0 < results["rouge_mean"] < 1  # the record stays on the 0-1 scale
    assert CliRunner().invoke(cli, ["report", str(exp)]).exit_code == 0
    md = (exp / "report" / "report.md").read_text(encoding="utf-8")
    assert f"| rouge_mean | {100 * results['rouge_mean']:.2f} |" in md
    assert "Shown x100 (the leaderboard's scale): rouge_mean; results.json and metrics.jsonl keep 0-1." in md
    folds = {e["fold"]: e["metrics"] for e in _events(exp) if e["event"] == "after_fold"}
    assert f"| 1 | {100 * folds[0]['rouge1']:.2f} |" in md.split("## Folds")[1]  # counted from 1, as results.json
    # what is not ROUGE keeps its own scale: the share of distinct predictions, the mean length
    header = next(line for line in md.split("## Folds")[1].splitlines() if line.startswith("| fold"))
    columns = [c.strip() for c in header.strip("|").split("|")]
    row = next(line for line in md.split("## Folds")[1].splitlines() if line.startswith("| 1 "))
    cells = dict(zip(columns, [c.strip() for c in row.strip("|").split("|")], strict=True))
    for name, value in folds[0].items():
        if name in cells:
            expected = f"{100 * value:.2f}" if name.startswith("rouge") else f"{value:.4f}"
            assert cells[name] == expected, name


def test_failed_run_leaves_traceback_in_log_and_report(tmp_path: Path, plugins) -> None:
    recipe = scripted_recipe(tmp_path, ["file", "console", "jsonl"], modes={"scripted": {"fail": True}})
    with pytest.raises(RuntimeError, match="boom"):
        run_recipe(recipe, plugins)
    exp = tmp_path / "experiments" / "scripted"
    log = (exp / "train.log").read_text(encoding="utf-8")
    assert "ERROR   run failed: RuntimeError: boom in the scripted mode" in log
    assert "Traceback (most recent call last)" in log and "loggers_testkit.py" in log
    error = _events(exp)[-1]
    assert error["event"] == "on_error" and error["status"] == "failed" and "raise RuntimeError" in error["traceback"]
    res = CliRunner().invoke(cli, ["report", str(exp), "--out", str(tmp_path / "rep")])
    assert res.exit_code == 0, res.output
    md = (tmp_path / "rep" / "report.md").read_text(encoding="utf-8")
    assert "- **status**: failed" in md and "RuntimeError: boom" in md and "## Traceback" in md
    assert (tmp_path / "rep" / "folds.png").exists() and not (tmp_path / "rep" / "trials.png").exists()


def test_report_of_a_killed_run(tmp_path: Path, plugins) -> None:
    """A run killed mid-write: no results.json, a torn last line; the report says so and goes on."""
    exp = run_recipe(scripted_recipe(tmp_path, ["jsonl"]), plugins).experiment
    lines = (exp / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    cut = next(i for i, line in enumerate(lines) if '"before_trial"' in line)
    (exp / "metrics.jsonl").write_text("\n".join(lines[:cut]) + "\n" + lines[cut][:25], encoding="utf-8")
    (exp / "results.json").unlink()
    res = CliRunner().invoke(cli, ["report", str(exp)])
    assert res.exit_code == 0, res.output
    md = (exp / "report" / "report.md").read_text(encoding="utf-8")
    assert "- **status**: interrupted" in md and "1 unreadable lines skipped" in md
    assert "- **last event**: before_stage at " in md and "## Trials" not in md


def test_a_rerun_into_the_same_folder_reports_the_last_run(tmp_path: Path, plugins) -> None:
    recipe = scripted_recipe(tmp_path, ["jsonl"], modes={"scripted": {"folds": 3}})
    run_recipe(recipe, plugins)
    exp = run_recipe(recipe.override("modes.scripted.folds=2"), plugins).experiment
    assert [e["event"] for e in _events(exp)].count("before_run") == 2
    CliRunner().invoke(cli, ["report", str(exp)])
    md = (exp / "report" / "report.md").read_text(encoding="utf-8")
    folds = md.split("## Folds")[1].split("##")[0]
    assert [line.split(" | ")[0] for line in folds.splitlines() if line.startswith("| ")][1:] == [
        "| 1", "| 2", "| mean", "| std"]


@pytest.mark.parametrize("make", ["missing", "empty", "results-list"])
def test_report_on_a_wrong_folder_is_one_line_and_exit_2(tmp_path: Path, make: str) -> None:
    target = tmp_path / "nothing-here"
    if make != "missing":
        target.mkdir()
    if make == "results-list":  # valid JSON, but not a run's results: the report lacked them, silently
        (target / "results.json").write_text("[0.25, 0.31]", encoding="utf-8")
    res = CliRunner().invoke(cli, ["report", str(target)])
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(target) in lines[0]


def test_report_of_records_with_fields_of_other_types_plots_the_others(tmp_path: Path, plugins) -> None:
    """Records a person or another program wrote (a fold named "x", a trial 2.5, params as a list)
    are left out of the plots instead of stopping the report with a traceback."""
    exp = run_recipe(scripted_recipe(tmp_path, ["jsonl"]), plugins).experiment
    odd = [{"event": "after_fold", "fold": "x", "metrics": {"rouge_mean": 0.1}},
           {"event": "after_fold", "fold": 2.5, "metrics": {"rouge_mean": 0.1}},
           {"event": "after_trial", "trial": "a", "value": 0.2, "state": "complete", "params": [1]},
           {"event": "after_trial", "trial": True, "value": 0.3, "state": "complete"}]
    with (exp / "metrics.jsonl").open("a", encoding="utf-8") as fh:
        fh.writelines(json.dumps(rec) + "\n" for rec in odd)
    res = CliRunner().invoke(cli, ["report", str(exp)])
    assert res.exit_code == 0, res.output
    assert (exp / "report" / "folds.png").exists() and (exp / "report" / "trials.png").exists()


@pytest.mark.parametrize("entry", ["results.json", "metrics.jsonl"])
def test_report_with_a_folder_in_the_place_of_its_file_is_one_line_and_exit_2(tmp_path: Path, plugins,
                                                                                entry: str) -> None:
    exp = run_recipe(scripted_recipe(tmp_path, ["jsonl"]), plugins).experiment
    (exp / entry).unlink()
    (exp / entry).mkdir()
    res = CliRunner().invoke(cli, ["report", str(exp)])
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0] == f"error: {exp / entry}: cannot read it (Is a directory)", lines


def test_report_where_a_file_takes_the_folders_place_is_one_line_and_exit_2(tmp_path: Path, plugins) -> None:
    exp = run_recipe(scripted_recipe(tmp_path, ["jsonl"]), plugins).experiment
    (exp / "report").write_text("a file where the report folder goes", encoding="utf-8")
    for args, out in (([], exp / "report"), (["--out", str(exp / "report" / "sub")], exp / "report" / "sub")):
        res = CliRunner().invoke(cli, ["report", str(exp), *args])
        assert res.exit_code == 2
        lines = res.output.strip().splitlines()
        # what stands in the way, not the system's "File exists" or "Not a directory"
        assert lines == [f"error: {out}: cannot make the report folder ({exp / 'report'} is a file); give "
                         "another with --out"], lines


def test_console_display_on_a_terminal(tmp_path: Path, plugins, capsys) -> None:
    """Forced on (as on a terminal): bars with ETA, one line per epoch/fold/trial, a results table."""
    recipe = scripted_recipe(tmp_path, ["file", "console"], loggers={"console": {"force": True}})
    with ListHandler():
        exp = run_recipe(recipe, plugins).experiment
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", capsys.readouterr().out)
    assert "dialsum scripted · lead" in shown
    assert "fold 1/2" in shown and "fold 2/2" in shown and "epoch 1/1" in shown and "eta" in shown
    assert "trial 1 pruned: -" in shown and "✓ stage kfold" in shown
    # its lines on the table's scale: the trials' ROUGE 0.2 and 0.3, each fold's and the stage's mean
    assert "trial 0 complete: 20.00" in shown and "trial 2 complete: 30.00" in shown, shown
    folds = [float(v) for v in re.findall(r"fold \d/2  .*?rouge_mean=(\S+)", shown)]
    stage = re.search(r"✓ stage kfold  rouge_mean=(\S+)", shown)
    assert len(folds) == 2 and all(v > 1 for v in folds) and stage and float(stage[1]) > 1, shown
    assert shown.count("Shown x100") == 2  # said once above the lines, once under the table
    assert "results" in shown and "Shown x100 (the leaderboard's scale)" in shown
    score = json.loads((exp_dir(tmp_path) / "results.json").read_text(encoding="utf-8"))["rouge_mean"]
    assert re.search(rf"rouge_mean\s*│\s*{100 * score:.2f}\s*│", shown), shown  # the leaderboard's scale
    # the library's print() went above the bars and into train.log; no bar frame reached the file
    assert "fold 0 trained" in shown
    log = (exp / "train.log").read_text(encoding="utf-8")
    assert "fold 0 trained" in log and "eta" not in log and "━" not in log


def test_console_routes_the_command_log_above_its_bars(tmp_path: Path) -> None:
    """Under `dialsum run` the log lines written while the display is live go through it (stdout)."""
    import subprocess
    import sys

    from dialsum_core.testing import TINY_DIALOGUES, write_csv

    train = write_csv(tmp_path / "train.csv", TINY_DIALOGUES)
    recipe = tmp_path / "console.toml"
    recipe.write_text(
        '[run]\nmode = "single"\nmodels = ["lead"]\nmetrics = ["rouge"]\nname = "console"\n'
        f'loggers = ["console"]\noutput_dir = "{tmp_path / "experiments"}"\n'
        f'[data]\ntrain_path = "{train.name}"\nvalid_fraction = 0.5\n[metrics.rouge]\ntokenizer = "whitespace"\n'
        "[loggers.console]\nforce = true\n",
        encoding="utf-8",
    )
    res = subprocess.run([sys.executable, "-m", "dialsum_core.cli", "run", str(recipe)], capture_output=True,
                         text=True, cwd=tmp_path, env={**os.environ}, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "INFO experiment " in res.stderr  # logged before the display starts
    assert "INFO data: " in res.stdout and "INFO data: " not in res.stderr


def test_file_logger_copies_printed_lines_as_a_terminal_shows_them(tmp_path: Path, plugins) -> None:
    import logging
    import sys

    from dialsum_loggers.file import FileLogger

    before = sys.stdout, sys.stderr
    logger = FileLogger(tmp_path / "train.log", "INFO", True, logging.getLogger("dialsum"))
    try:
        print("plain line")
        sys.stderr.write("progress 10%\rprogress 50%\rprogress 100%\n")
        sys.stdout.write("partial ")
        sys.stdout.write("line\r\n")
        logging.getLogger("dialsum").debug("not at INFO")
    finally:
        logger.close()
    assert (sys.stdout, sys.stderr) == before
    text = (tmp_path / "train.log").read_text(encoding="utf-8")
    assert text.splitlines() == ["plain line", "progress 100%", "partial line"]
    print("after close")
    assert "after close" not in (tmp_path / "train.log").read_text(encoding="utf-8")


def test_plugin_modules_import_nothing_heavy() -> None:
    import subprocess
    import sys

    code = (
        "import sys, dialsum_loggers.plugin\n"
        "heavy = [m for m in ('rich', 'matplotlib', 'tensorboard', 'torch', 'wandb', 'numpy') if m in sys.modules]\n"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ}, check=True)
    assert out.stdout.strip() == "[]"


def test_report_with_a_broken_config_and_a_renamed_file_says_so(tmp_path: Path, plugins) -> None:
    """The name of the records is in config.toml: a report that fell back to the default name built a
    report with no event and said nothing."""
    recipe = scripted_recipe(tmp_path, ["jsonl"], loggers={"jsonl": {"filename": "events.jsonl"}})
    exp = run_recipe(recipe, plugins).experiment
    (exp / "config.toml").write_text("[run\nname = 'x'\n", encoding="utf-8")
    res = CliRunner().invoke(cli, ["report", str(exp)])
    assert res.exit_code == 2, res.output
    assert res.output.strip().splitlines() == [
        f"error: {exp / 'config.toml'}: cannot read it (Expected ']' at the end of a table declaration (at line 1, "
        "column 5)), and the name of the jsonl logger's file is written there (metrics.jsonl is not in the folder); "
        "fix or restore it"], res.output
    assert not (exp / "report").exists()
    (exp / "events.jsonl").rename(exp / "metrics.jsonl")  # the default name: the file is found without the config
    res = CliRunner().invoke(cli, ["report", str(exp)])
    assert res.exit_code == 0, res.output
    assert "events in metrics.jsonl" in (exp / "report" / "report.md").read_text(encoding="utf-8")


def test_report_says_when_validation_had_several_references(tmp_path: Path, plugins) -> None:
    """ROUGE averaged over two references (``data.dev_references``) reads lower than over one: the report
    said nothing, and its figures looked comparable with a single-reference run's."""
    exp = run_recipe(scripted_recipe(tmp_path, ["jsonl"]), plugins).experiment
    predictions = exp / "predictions" / "valid_predictions.csv"
    predictions.parent.mkdir(exist_ok=True)
    predictions.write_text("fname,summary,reference,reference2,m\nd0,a,b,c,a\nd1,a,b,,a\nd2,a,b,c,a\n",
                           encoding="utf-8")
    assert CliRunner().invoke(cli, ["report", str(exp)]).exit_code == 0
    md = (exp / "report" / "report.md").read_text(encoding="utf-8")
    assert "- **validation references**: 2 for 2, 1 for 1 of the 3 validation dialogues; each ROUGE F1 is " \
           "their mean" in md, md
    predictions.write_text("fname,summary,reference,m\nd0,a,b,a\n", encoding="utf-8")
    assert CliRunner().invoke(cli, ["report", str(exp)]).exit_code == 0
    assert "validation references" not in (exp / "report" / "report.md").read_text(encoding="utf-8")


def test_report_given_the_experiment_name_points_at_its_folder(tmp_path: Path, monkeypatch) -> None:
    """``dialsum report single1`` after a run that printed ``results: experiments/single1/...``: the
    error said only "no such experiment folder"; it now names the folder the run wrote."""
    (tmp_path / "experiments" / "single1").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(cli, ["report", "single1"])
    assert res.exit_code == 2, res.output
    assert res.output.strip() == "error: single1: no such experiment folder (did you mean experiments/single1?)"
    res = CliRunner().invoke(cli, ["report", "nothing"])
    assert res.output.strip() == "error: nothing: no such experiment folder"
