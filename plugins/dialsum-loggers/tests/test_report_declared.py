"""What the report and the console learn from the installed plugins and from what a run announced:
which scores are percentages (shown x100), and which file holds the validation predictions."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import attrs
from loggers_testkit import scripted_recipe

from dialsum_core import hookimpl
from dialsum_core.manager import build_plugins
from dialsum_core.runner import run_recipe
from dialsum_loggers.report import build_report
from dialsum_metrics import score_tags


class ExactMetric:
    """The share of a reference's characters the prediction has (a fraction), and the predictions' length."""

    def compute(self, predictions: list[str], references: list[list[str]]) -> dict[str, float]:
        shares = [len(set(p) & set(refs[0])) / len(set(refs[0]))
                  for p, refs in zip(predictions, references, strict=True)]
        return {"exact_match": sum(shares) / len(shares), "exact_chars": sum(map(len, predictions)) / len(predictions)}


class DevFileMode:
    """A third party's mode: scores the lead model, names its prediction files its own way and announces
    them (the training file first, one reference; the validation file with two)."""

    def run(self, ctx: Any) -> dict[str, Any]:
        data = ctx.data()
        model = ctx.build("model_loaders", "lead").build(ctx, data.train)
        preds = model.generate([e.dialogue for e in data.valid], ctx)
        scores = ctx.score(preds, [list(e.summaries) for e in data.valid])
        exp = ctx.experiment
        exp.write_csv("predictions/fit_side.csv", ["fname", "summary", "reference"],
                      [[e.fname, e.summary, e.summary] for e in data.train])
        ctx.emit("dialsum_on_artifact", path="predictions/fit_side.csv", kind="prediction")
        exp.write_csv("predictions/dev_scored.csv", ["fname", "summary", "reference", "reference2"],
                      [[e.fname, p, e.summary, e.summary] for e, p in zip(data.valid, preds, strict=True)])
        ctx.emit("dialsum_on_artifact", path="predictions/dev_scored.csv", kind="prediction")
        return {"valid": scores}


class DeclaredPlugin:
    @hookimpl
    def dialsum_register_metrics(self, register: Any) -> None:
        register("exact-declared", lambda options, ctx: ExactMetric(), options=attrs.make_class("ExactOpts", {}),
                 description="Share of predictions equal to a reference, and their mean length",
                 tags=score_tags("exact_match", "exact_chars", percent=["exact_match"]))

    @hookimpl
    def dialsum_register_run_modes(self, register: Any) -> None:
        register("dev-file", lambda options, ctx: DevFileMode(), description="names its predictions its own way")


def _run(tmp_path: Path, active: list[str], **tables: Any) -> tuple[Path, Any]:
    plugins = build_plugins(extra=[("declared-scores", DeclaredPlugin())])
    recipe = scripted_recipe(tmp_path, active, name="declared", run={"mode": "dev-file",
                                                                     "metrics": ["rouge", "exact-declared"]}, **tables)
    return run_recipe(recipe, plugins).experiment, plugins


def test_a_third_party_metrics_percent_score_and_renamed_predictions_reach_the_report(tmp_path: Path) -> None:
    exp, plugins = _run(tmp_path, ["jsonl"])
    valid = json.loads((exp / "results.json").read_text(encoding="utf-8"))["valid"]
    assert 0 < valid["exact_match"] < 1 and valid["exact_chars"] > 1  # recorded on their own scales
    md = build_report(exp, plugins=plugins).markdown.read_text(encoding="utf-8")
    results = md.split("## Results")[1].split("\n## ")[0]
    assert f"| valid.exact_match | {100 * valid['exact_match']:.2f} |" in results  # declared a percentage
    assert f"| valid.exact_chars | {valid['exact_chars']:.4f} |" in results  # declared, not a percentage
    assert f"| valid.rouge_mean | {100 * valid['rouge_mean']:.2f} |" in results
    assert "Shown x100 (the leaderboard's scale): rouge1, rouge2, rougeL, rouge_mean, exact_match;" in results
    # the announced validation file (two references), not the training one announced before it
    n = len((exp / "predictions" / "dev_scored.csv").read_text(encoding="utf-8").splitlines()) - 1
    assert f"- **validation references**: 2 for {n} of the {n} validation dialogues;" in md, md


def test_the_console_table_shows_a_third_party_percent_score_x100(tmp_path: Path, capsys) -> None:
    exp, _ = _run(tmp_path, ["console"], loggers={"console": {"force": True, "max_rows": 40}})
    valid = json.loads((exp / "results.json").read_text(encoding="utf-8"))["valid"]
    out = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", capsys.readouterr().out)
    assert re.search(rf"valid\.exact_match\s*│\s*{100 * valid['exact_match']:.2f}\s*│", out), out
    assert re.search(rf"valid\.exact_chars\s*│\s*{valid['exact_chars']:.4f}\s*│", out), out


def test_what_no_installed_plugin_declares_a_percentage_keeps_its_scale(tmp_path: Path) -> None:
    """The loggers know no metric's keys: ROUGE is x100 because dialsum-metrics says so, and the run
    modes' ``best_rouge`` because they say it holds the ranking score; without them, both are as recorded."""
    exp = tmp_path / "finished"
    exp.mkdir()
    (exp / "results.json").write_text(json.dumps({"status": "complete", "best_rouge": 0.25, "rouge_mean": 0.25,
                                                  "valid": {"bleu": 0.1834}, "mean_length": 31.5}), encoding="utf-8")
    md = build_report(exp).markdown.read_text(encoding="utf-8")
    assert "| best_rouge | 25.00 |" in md and "| rouge_mean | 25.00 |" in md and "| mean_length | 31.5000 |" in md
    assert "| valid.bleu | 18.34 |" in md  # sacrebleu's own 0-100 number, beside ROUGE x100
    bare = build_report(exp, plugins=build_plugins(disable=["metrics"])).markdown.read_text(encoding="utf-8")
    assert "| best_rouge | 0.2500 |" in bare and "| rouge_mean | 0.2500 |" in bare and "Shown x100" not in bare
    assert "| valid.bleu | 0.1834 |" in bare


def test_a_run_recorded_without_announcements_finds_its_predictions_in_the_folder(tmp_path: Path) -> None:
    """No jsonl logger, so no announced file: the CSV files of the experiment's predictions folder."""
    exp = tmp_path / "unrecorded"
    (exp / "predictions").mkdir(parents=True)
    (exp / "results.json").write_text(json.dumps({"status": "complete"}), encoding="utf-8")
    (exp / "predictions" / "a_train.csv").write_text("fname,summary,reference\nt0,a,b\n", encoding="utf-8")
    (exp / "predictions" / "b_dev.csv").write_text("fname,summary,reference,reference2\nd0,a,b,c\nd1,a,b,\n",
                                                   encoding="utf-8")
    (exp / "predictions" / "c_test.csv").write_text("fname,summary\nx0,a\n", encoding="utf-8")
    md = build_report(exp).markdown.read_text(encoding="utf-8")
    assert "- **validation references**: 2 for 1, 1 for 1 of the 2 validation dialogues;" in md, md


class BrokenAnswer:
    """A third party's plugin whose answer to the percentage question fails."""

    @hookimpl
    def dialsum_percent_scores(self) -> list[str]:
        raise RuntimeError("no metrics table")


def test_a_plugin_whose_answer_fails_is_named_and_the_others_answers_stand(caplog) -> None:
    """One plugin raising in ``dialsum_percent_scores`` took the report (a traceback) and the console's
    final table down with it."""
    from dialsum_loggers.scale import percent_scores

    plugins = build_plugins(extra=[("broken-answer", BrokenAnswer())])
    with caplog.at_level("WARNING", logger="dialsum"):
        found = percent_scores(plugins)
    assert {"rouge1", "rouge_mean", "best_rouge"} <= found
    assert any("broken-answer" in r.getMessage() and "no metrics table" in r.getMessage() for r in caplog.records)


def test_the_console_table_says_how_many_results_it_leaves_out(tmp_path: Path, capsys) -> None:
    """Past ``max_rows`` the final table stopped without a word: a run's own metric could be missing from
    it, the reader taking the table for everything there is."""
    exp, _ = _run(tmp_path, ["console"], loggers={"console": {"force": True, "max_rows": 3}})
    from dialsum_loggers.console import result_rows
    from dialsum_loggers.scale import Scale

    every = result_rows(json.loads((exp / "results.json").read_text(encoding="utf-8")), Scale())
    out = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", capsys.readouterr().out)
    assert len(every) > 3 and all(key in out for key, _ in every[:3])
    assert f"… {len(every) - 3} more in results.json" in out, out
