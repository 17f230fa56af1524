"""`dialsum report` on the folders a user really has: a fan-out's experiment before its final run,
the folder of the experiments, a run killed outright, and a report stopped with Ctrl-C."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from loggers_testkit import ScriptedPlugin, scripted_recipe

from dialsum_core.cli import cli
from dialsum_core.runner import run_recipe


@pytest.fixture
def plugins(register_plugin):
    return register_plugin(ScriptedPlugin(), "scripted-mode")


def test_a_folder_with_runs_below_it_names_them(tmp_path: Path, plugins) -> None:
    """A fan-out's jobs record into jobs/<selection>/ until the final run writes the experiment's own
    records; the report named neither and asked whether this was an experiment folder at all."""
    exp = run_recipe(scripted_recipe(tmp_path, ["jsonl"]), plugins).experiment
    fanned = tmp_path / "fanned"
    for job in ("fold_1", "fold_2"):
        (fanned / "jobs" / job).mkdir(parents=True)
        for name in ("results.json", "metrics.jsonl"):
            shutil.copy(exp / name, fanned / "jobs" / job / name)
    res = CliRunner().invoke(cli, ["report", str(fanned)])
    assert res.exit_code == 2
    assert res.output.strip().splitlines() == [
        f"error: {fanned}: no metrics.jsonl or results.json of its own; the runs recorded below it are "
        f"{fanned / 'jobs' / 'fold_1'}, {fanned / 'jobs' / 'fold_2'}: give one of them"]
    # the folder of the experiments (run.output_dir) given in place of one of them
    res = CliRunner().invoke(cli, ["report", str(tmp_path / "experiments")])
    assert res.exit_code == 2 and f"the runs recorded below it are {exp}: give one of them" in res.output
    assert not (fanned / "report").exists()


def test_a_run_killed_outright_is_not_reported_as_running(tmp_path: Path, plugins) -> None:
    """The runner writes results.json saying "running" when a run starts; a run killed outright leaves
    it so, and the report said the run was running."""
    exp = run_recipe(scripted_recipe(tmp_path, ["jsonl"]), plugins).experiment
    (exp / "results.json").write_text(json.dumps({"status": "running", "experiment": "scripted",
                                                  "mode": "scripted"}), encoding="utf-8")
    lines = (exp / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    cut = next(i for i, line in enumerate(lines) if '"before_trial"' in line)
    (exp / "metrics.jsonl").write_text("\n".join(lines[:cut]) + "\n", encoding="utf-8")
    last = json.loads(lines[cut - 1])
    res = CliRunner().invoke(cli, ["report", str(exp)])
    assert res.exit_code == 0, res.output
    md = (exp / "report" / "report.md").read_text(encoding="utf-8")
    assert "- **status**: running, or killed (no end recorded)" in md
    # when it was last heard of, to tell the two apart
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(last["time"]))
    assert f"- **last event**: {last['event']} at {last['elapsed']:.1f} s ({when})" in md


def test_ctrl_c_during_a_report_leaves_a_whole_report_or_none(tmp_path: Path, plugins) -> None:
    """Interrupted as soon as its first file appears, a report used to stop with a plot written and no
    report.md (or the previous one) beside it, and click's "Aborted!" with exit status 1."""
    exp = run_recipe(scripted_recipe(tmp_path, ["jsonl"]), plugins).experiment
    whole = tmp_path / "whole"
    assert CliRunner().invoke(cli, ["report", str(exp), "--out", str(whole)]).exit_code == 0
    expected = sorted(p.name for p in whole.iterdir())
    assert "report.md" in expected and len(expected) >= 3  # the report and at least two plots

    out = tmp_path / "interrupted"
    proc = subprocess.Popen([sys.executable, "-m", "dialsum_core", "report", str(exp), "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    shown: list[str] = []
    while proc.poll() is None and not shown:
        shown = [n for n in (os.listdir(out) if out.is_dir() else []) if not n.startswith(".")]
        time.sleep(0.001)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    # the files are moved in with Ctrl-C held back; one landing after that, as Python exits, may print
    # its own lines: not checked
    assert sorted(os.listdir(out)) == expected, err  # no staging folder left, no file missing


def test_a_sigterm_between_two_of_the_reports_renames_waits_for_the_last(tmp_path: Path, plugins,
                                                                         monkeypatch) -> None:
    """The report held Ctrl-C back while it moved its files in, but not SIGTERM, which ``dialsum run``
    turns into an interrupt (a scheduler's stop): landing after the first rename, it left report.md
    without its plots. Now the files are all moved in, then the run stops."""
    from dialsum_loggers.report import build_report

    exp = run_recipe(scripted_recipe(tmp_path, ["jsonl"]), plugins).experiment
    whole = build_report(exp, tmp_path / "whole").markdown.parent
    expected = sorted(p.name for p in whole.iterdir())
    assert len(expected) >= 3  # the report and at least two plots

    replace, renamed = os.replace, []

    def replace_then_stop(src, dst):  # the stop arrives right after the first file is in place
        replace(src, dst)
        if Path(dst).parent == out and not renamed:
            renamed.append(dst)
            os.kill(os.getpid(), signal.SIGTERM)

    def stopped(_signum, _frame):
        raise KeyboardInterrupt("stopped by SIGTERM")

    out = tmp_path / "stopped"
    monkeypatch.setattr(os, "replace", replace_then_stop)
    previous = signal.signal(signal.SIGTERM, stopped)
    try:
        with pytest.raises(KeyboardInterrupt, match="SIGTERM"):
            build_report(exp, out)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert sorted(os.listdir(out)) == expected, renamed


def test_a_report_given_as_a_link_is_written_through_it(tmp_path: Path, plugins) -> None:
    """A report.md that is a link (to a shared notes folder) was replaced by a file, the shared page left
    as it was; every other file dialsum writes is written through a link, as editors save."""
    from dialsum_loggers.report import build_report

    exp = run_recipe(scripted_recipe(tmp_path, ["jsonl"]), plugins).experiment
    shared, out = tmp_path / "shared", tmp_path / "report"
    shared.mkdir()
    out.mkdir()
    (shared / "report.md").write_text("old report\n", encoding="utf-8")
    (out / "report.md").symlink_to(shared / "report.md")
    build_report(exp, out)
    assert (out / "report.md").is_symlink()
    assert (shared / "report.md").read_text(encoding="utf-8").startswith("# ")
    assert os.listdir(shared) == ["report.md"]  # no temporary file left


def drawing_slowly(tmp_path: Path, exp: Path, out: Path) -> subprocess.Popen:
    """``dialsum report EXP --out OUT``, returned once its hidden working folder exists (the plots are
    drawn there). Each plot takes a second to save, so that the report is still drawing when the test
    stops it, however slowly this process is scheduled beside it."""
    slow = tmp_path / "slow"
    slow.mkdir()
    (slow / "sitecustomize.py").write_text(
        "import time\nimport matplotlib.figure as f\n_save = f.Figure.savefig\n"
        "f.Figure.savefig = lambda self, *a, **k: (time.sleep(1.0), _save(self, *a, **k))[1]\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(slow), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen([sys.executable, "-m", "dialsum_core", "report", str(exp), "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    while proc.poll() is None and not (out.is_dir() and any(n.startswith(".report-") for n in os.listdir(out))):
        time.sleep(0.001)
    return proc


def test_ctrl_c_while_the_plots_are_drawn_says_so_and_writes_nothing(tmp_path: Path, plugins) -> None:
    """Interrupted while it draws, a report ends as an interrupted run does: one line, exit status 130,
    and nothing in the report folder."""
    exp = run_recipe(scripted_recipe(tmp_path, ["jsonl"]), plugins).experiment
    out = tmp_path / "interrupted"
    proc = drawing_slowly(tmp_path, exp, out)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == ["interrupted; the report was not written"]
    assert os.listdir(out) == []


def test_the_working_folder_of_a_report_killed_outright_goes_with_the_next_report(tmp_path: Path,
                                                                                   plugins) -> None:
    """A report killed while it draws (SIGKILL, no handler runs) left its hidden working folder in the
    report folder for good, one more with every such report."""
    exp = run_recipe(scripted_recipe(tmp_path, ["jsonl"]), plugins).experiment
    out = tmp_path / "killed"
    proc = drawing_slowly(tmp_path, exp, out)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=300)
    (left,) = os.listdir(out)
    assert left.startswith(".report-")
    res = CliRunner().invoke(cli, ["report", str(exp), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "report.md" in os.listdir(out) and not [n for n in os.listdir(out) if n.startswith(".")]


def test_folders_given_with_a_leading_tilde_are_in_the_home_folder(tmp_path: Path, plugins) -> None:
    """``--out=~/reports`` reaches the program as it is typed: the report went into a folder named ``~``."""
    exp = run_recipe(scripted_recipe(tmp_path, ["jsonl"]), plugins).experiment
    home, cwd = tmp_path / "home", tmp_path / "work"
    shutil.copytree(exp, home / "exp")
    cwd.mkdir()
    res = subprocess.run([sys.executable, "-m", "dialsum_core", "report", "~/exp", "--out=~/reports"],
                         capture_output=True, text=True, timeout=300, cwd=cwd, env={**os.environ, "HOME": str(home)})
    assert res.returncode == 0, res.stderr
    assert (home / "reports" / "report.md").read_text(encoding="utf-8").startswith("# Run report: scripted")
    assert list(cwd.iterdir()) == []


def test_an_empty_folder_argument_is_refused(tmp_path: Path, plugins) -> None:
    """``dialsum report "$EXP"`` with EXP unset read the current folder; ``--out ""`` wrote into it."""
    exp = run_recipe(scripted_recipe(tmp_path, ["jsonl"]), plugins).experiment
    for args in ([""], [str(exp), "--out", ""]):
        res = subprocess.run([sys.executable, "-m", "dialsum_core", "report", *args], capture_output=True,
                             text=True, timeout=300, cwd=exp)
        assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
        assert res.stderr.strip().splitlines()[-1].endswith(": an empty path; give a path")
    assert not (exp / "report").exists() and not (exp / "report.md").exists()


@pytest.mark.parametrize("elapsed", [None, "12 s"])
def test_a_last_record_without_a_number_of_seconds_is_reported(tmp_path: Path, plugins, elapsed) -> None:
    """A record written by another program (or edited) with ``elapsed`` null or text stopped the report
    of an unfinished run with a TypeError traceback, a ``time`` out of any date's range with an
    OverflowError; one without ``elapsed`` said "at 0.0 s"."""
    exp = run_recipe(scripted_recipe(tmp_path, ["jsonl"]), plugins).experiment
    (exp / "results.json").unlink()
    lines = (exp / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    cut = next(i for i, line in enumerate(lines) if '"before_trial"' in line)
    odd = [{"event": "on_metrics", "elapsed": elapsed}, {"event": "on_metrics"},
           {"event": "on_metrics", "time": 1e300}]  # no date has that many seconds
    for record in odd:
        (exp / "metrics.jsonl").write_text("\n".join([*lines[:cut], json.dumps(record)]) + "\n", encoding="utf-8")
        res = CliRunner().invoke(cli, ["report", str(exp)])
        assert res.exit_code == 0, res.output
        md = (exp / "report" / "report.md").read_text(encoding="utf-8")
        assert "- **last event**: on_metrics at ? (?)" in md


def test_a_plot_of_the_earlier_report_goes_and_another_programs_file_stays(tmp_path: Path, plugins) -> None:
    """A report whose run has no trials replaces one that had: the old trials.png is no longer shown,
    so it goes. A file of the same name the report never wrote (a run mode's own plot, in a folder
    --out names) stays."""
    with_trials = run_recipe(scripted_recipe(tmp_path, ["jsonl"], name="a"), plugins).experiment
    without = run_recipe(scripted_recipe(tmp_path, ["jsonl"], name="b", modes={"scripted": {"trials": 0}}),
                         plugins).experiment
    out = tmp_path / "out"
    assert CliRunner().invoke(cli, ["report", str(with_trials), "--out", str(out)]).exit_code == 0
    assert (out / "trials.png").exists()
    assert CliRunner().invoke(cli, ["report", str(without), "--out", str(out)]).exit_code == 0
    assert not (out / "trials.png").exists() and "trials.png" not in (out / "report.md").read_text(encoding="utf-8")

    theirs = tmp_path / "visualizations"
    theirs.mkdir()
    (theirs / "trials.png").write_bytes(b"a run mode's own plot")
    assert CliRunner().invoke(cli, ["report", str(without), "--out", str(theirs)]).exit_code == 0
    assert (theirs / "trials.png").read_bytes() == b"a run mode's own plot"


def test_a_fan_out_jobs_report_says_it_is_one_job(tmp_path: Path, plugins) -> None:
    """A job's results.json (``"partial": true``, its ``run.only``) was reported under the experiment's
    name alone, as if it were the experiment's."""
    exp = run_recipe(scripted_recipe(tmp_path, ["jsonl"]), plugins).experiment
    results = json.loads((exp / "results.json").read_text(encoding="utf-8"))
    (exp / "results.json").write_text(json.dumps({**results, "partial": True, "only": ["fold=2"]}), encoding="utf-8")
    assert CliRunner().invoke(cli, ["report", str(exp)]).exit_code == 0
    md = (exp / "report" / "report.md").read_text(encoding="utf-8")
    assert "- **job**: fold=2: this job's units only; the experiment's final run ensembles them" in md


@pytest.mark.parametrize("name", ["../elsewhere.jsonl", "{outside}"])
def test_a_records_file_outside_the_experiment_folder_is_refused(tmp_path: Path, plugins, name: str) -> None:
    """``[loggers.jsonl] filename`` is read from the experiment's config.toml, which is only a file (edited,
    or copied from someone else): ``../`` or an absolute path made the report read a file outside the
    folder, which the option itself refuses for a run."""
    exp = run_recipe(scripted_recipe(tmp_path, ["jsonl"]), plugins).experiment
    outside = tmp_path / "outside.jsonl"
    shutil.copy(exp / "metrics.jsonl", outside)
    shutil.copy(exp / "metrics.jsonl", exp.parent / "elsewhere.jsonl")
    name = name.format(outside=outside)
    config = (exp / "config.toml").read_text(encoding="utf-8")
    assert 'filename = "metrics.jsonl"' in config
    (exp / "config.toml").write_text(config.replace('filename = "metrics.jsonl"', f'filename = "{name}"'),
                                     encoding="utf-8")
    res = CliRunner().invoke(cli, ["report", str(exp)])
    assert res.exit_code == 2, res.output
    assert res.output.splitlines() == [
        f"error: {exp / 'config.toml'}: loggers.jsonl.filename: must be a path inside the experiment folder, "
        f"got {name!r}; the report reads only the experiment folder's files"]
    assert not (exp / "report").exists()
