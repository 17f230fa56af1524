"""A study's objective reaches the console and the report through the trial events.

A real optuna study that minimises a metric which is not ROUGE (the mean length of the
predictions): the trials come best (lowest) first and no objective value is multiplied by 100.
One that maximises ROUGE: its values are shown x100, the result keys that hold them named by the
run modes (``dialsum_objective_keys``), so that without that plugin they keep their scale.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from loggers_testkit import scripted_recipe

from dialsum_core.cli import cli
from dialsum_core.manager import build_plugins
from dialsum_core.runner import run_recipe
from dialsum_loggers.report import build_report

OBJECTIVE = "mean_length"


def _minimising_study(tmp_path: Path, active: list[str], metric: str = OBJECTIVE, direction: str = "minimize",
                      **tables: dict) -> Path:
    recipe = scripted_recipe(
        tmp_path, active, name="shortest", run={"mode": "optuna", "seed": 3},
        models={"lead": {"tune": False}},
        modes={"optuna": {"metric": metric, "direction": direction, "trials": 4, "sampler": "random",
                          "pruner": "none", "space": {"model.turns": {"type": "int", "low": 1, "high": 2}}}},
        **tables,
    )
    return run_recipe(recipe).experiment


def _trial_values(exp: Path, metric: str = OBJECTIVE, direction: str = "minimize") -> list[float]:
    events = [json.loads(line) for line in (exp / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    trials = [e for e in events if e["event"] in ("before_trial", "after_trial")]
    assert trials and all((e["metric"], e["direction"]) == (metric, direction) for e in trials)
    return [e["value"] for e in trials if e["event"] == "after_trial" and e["state"] == "complete"]


def test_report_of_a_minimised_study_lists_the_lowest_first_unscaled(tmp_path: Path) -> None:
    exp = _minimising_study(tmp_path, ["jsonl"])
    values = _trial_values(exp)
    assert len(set(values)) == 2, values  # one and two turns: two lengths, so the order shows
    md = build_report(exp).markdown.read_text(encoding="utf-8")
    trials = md.split("## Trials")[1].split("\n## ")[0]
    shown = [row.split(" | ")[2] for row in trials.splitlines() if re.match(r"\| \d+ \| complete \|", row)]
    assert shown == [f"{v:.4f}" for v in sorted(values)]  # ascending, on the metric's own scale
    results = md.split("## Results")[1].split("\n## ")[0]
    assert f"| optuna.best_value | {min(values):.4f} |" in results


def test_console_table_keeps_a_length_objective_unscaled(tmp_path: Path, capsys) -> None:
    exp = _minimising_study(tmp_path, ["console"], loggers={"console": {"force": True, "max_rows": 60}})
    best = json.loads((exp / "results.json").read_text(encoding="utf-8"))["optuna"]["best_value"]
    out = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", capsys.readouterr().out)
    assert re.search(rf"optuna\.best_value\s*│\s*{best:.4f}\s*│", out), out
    # the console's lines ("  trial 0 complete: 51.6667  (model.turns=1)"), not the run mode's log lines
    lines = [float(v) for v in re.findall(r"trial \d+ complete: ([-\d.]+)  \(", out)]
    assert lines and min(lines) == round(best, 4), out  # its trials' lines alike, on the length's own scale


def test_report_names_the_results_its_table_leaves_out(tmp_path: Path) -> None:
    """A full run's results.json has more scalars than the Results table shows (30): its best_params
    came last and three of the four were dropped without a word."""
    exp = tmp_path / "full_run"
    exp.mkdir()
    results = {"experiment": "full_run", "mode": "full", **{f"k{i}": i for i in range(29)},
               "best_params": {"train.learning_rate": 0.0004, "model.d_model": 16, "generation.num_beams": 4}}
    (exp / "results.json").write_text(json.dumps(results), encoding="utf-8")
    md = build_report(exp).markdown.read_text(encoding="utf-8")
    table = md.split("## Results")[1].split("\n## ")[0]
    assert "| best_params.train.learning_rate | 0.0004 |" in table
    assert "2 more in results.json: best_params.model.d_model, best_params.generation.num_beams" in table


def _section(md: str, title: str) -> str:
    return md.split(f"## {title}")[1].split("\n## ")[0]


def test_a_rouge_objective_is_shown_x100_where_the_run_modes_name_its_keys(tmp_path: Path, capsys) -> None:
    exp = _minimising_study(tmp_path, ["jsonl", "console"], metric="rouge_mean", direction="maximize",
                            loggers={"console": {"force": True, "max_rows": 60}})
    values = _trial_values(exp, "rouge_mean", "maximize")
    study = json.loads((exp / "results.json").read_text(encoding="utf-8"))["optuna"]
    keys = [key for answer in build_plugins().hook.dialsum_objective_keys() for key in answer]
    assert keys and all(isinstance(study[key], float) for key in keys)  # the keys the study's summary holds
    best = study[keys[0]]
    assert best == pytest.approx(max(values), abs=1e-6)
    out = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", capsys.readouterr().out)
    assert re.search(rf"optuna\.{keys[0]}\s*│\s*{100 * best:.2f}\s*│", out), out

    res = CliRunner().invoke(cli, ["report", str(exp)])
    assert res.exit_code == 0, res.output
    md = (exp / "report" / "report.md").read_text(encoding="utf-8")
    assert f"| optuna.{keys[0]} | {100 * best:.2f} |" in _section(md, "Results")
    shown = [row.split(" | ")[2] for row in _section(md, "Trials").splitlines()
             if re.match(r"\| \d+ \| complete \|", row)]
    assert shown == [f"{100 * v:.2f}" for v in sorted(values, reverse=True)]

    # without the run modes' plugin nothing names the objective's keys: they keep the records' scale
    res = CliRunner().invoke(cli, ["report", str(exp), "--disable-plugin", "modes", "--out", str(tmp_path / "bare")])
    assert res.exit_code == 0, res.output
    bare = (tmp_path / "bare" / "report.md").read_text(encoding="utf-8")
    assert f"| optuna.{keys[0]} | {best:.4f} |" in _section(bare, "Results")
    rouge = json.loads((exp / "results.json").read_text(encoding="utf-8"))["rouge_mean"]
    assert f"| rouge_mean | {100 * rouge:.2f} |" in _section(bare, "Results")  # the metrics still answer


def test_report_refuses_to_disable_a_plugin_by_another_name(tmp_path: Path) -> None:
    exp = tmp_path / "run"
    exp.mkdir()
    (exp / "results.json").write_text(json.dumps({"mode": "single", "rouge_mean": 0.25}), encoding="utf-8")
    res = CliRunner().invoke(cli, ["report", str(exp), "--disable-plugin", "dialsum-modes"])
    assert res.exit_code == 2
    errors = [line for line in res.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "cannot disable 'dialsum-modes' (did you mean 'modes'?)" in errors[0], res.output
    assert not (exp / "report").exists()
