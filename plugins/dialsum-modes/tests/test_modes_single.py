"""``single``: one model (the reference) and several models compared, on real small data."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import pytest
from modes_fixtures import *  # noqa: F403 - pytest fixtures
from modes_helpers import read_csv, results


def test_single_writes_predictions_submission_and_results(make_recipe, run, small_data) -> None:
    res = run(make_recipe(save_visualizations=True))
    out = results(res)
    assert out["status"] == "complete" and out["mode"] == "single"
    assert out["best_rouge"] == out["valid"]["rouge_mean"] == out["rouge_mean"] > 0
    assert {"rouge1", "rouge2", "rougeL"} <= set(out)
    sub = read_csv(res.experiment / "predictions" / "submission.csv")
    test = read_csv(small_data["test"])
    assert list(sub[0]) == ["fname", "summary"]
    assert [r["fname"] for r in sub] == [r["fname"] for r in test] and all(r["summary"] for r in sub)
    valid = read_csv(res.experiment / "predictions" / "valid_predictions.csv")
    assert len(valid) == 8 and {"fname", "summary", "reference", "lead"} <= set(valid[0])
    assert (res.experiment / "checkpoints" / "lead" / "lead.json").exists()
    assert (res.experiment / "visualizations" / "length_distribution.png").read_bytes()[:4] == b"\x89PNG"
    assert out["visualizations"] == ["visualizations/length_distribution.png"]  # lead trains one epoch


def test_learning_curves_are_drawn_from_two_epochs_on(make_recipe, run) -> None:
    """One epoch gives one point per panel: nothing to read that results.json does not say."""
    one = results(run(make_recipe(models=["growing"], save_visualizations=True, name="one")))
    assert [h["epoch"] for h in one["history"]] == [1]
    assert "visualizations/learning_curves.png" not in one["visualizations"]
    three = run(make_recipe(("train.epochs", 3), models=["growing"], save_visualizations=True, name="three"))
    assert "visualizations/learning_curves.png" in results(three)["visualizations"]
    assert (three.experiment / "visualizations" / "learning_curves.png").read_bytes()[:4] == b"\x89PNG"


def test_single_with_several_models_submits_the_best_one(make_recipe, run) -> None:
    res = run(make_recipe(models=["lead1", "lead"], ensemble="best_score"))
    out = results(res)
    per_model = {m: r["valid"]["rouge_mean"] for m, r in out["models_results"].items()}
    assert set(per_model) == {"lead1", "lead"}
    best = max(per_model, key=per_model.get)
    assert out["best_model"] == best and out["best_rouge"] == per_model[best]
    valid = read_csv(res.experiment / "predictions" / "valid_predictions.csv")
    assert all(r["summary"] == r[best] for r in valid)


def test_screening_every_model_needs_no_ensemble_and_ranks_them(make_recipe, run) -> None:
    """The seed's first step (``single`` with several models) was refused because of the default
    ensemble, which single mode never uses; it ends with the models ranked."""
    res = run(make_recipe(models=["lead1", "lead"], ensemble="no-such-ensemble"))
    out = results(res)
    ranking = [r["model"] for r in out["ranking"]]
    assert sorted(ranking) == ["lead", "lead1"] and ranking[0] == out["best_model"]
    scores = [r["rouge_mean"] for r in out["ranking"]]
    assert scores == sorted(scores, reverse=True)


def test_rerun_of_the_same_experiment_reuses_trained_sources(make_recipe, run) -> None:
    recipe = make_recipe()
    first = run(recipe)
    stage = first.experiment / "stages" / "sources" / "lead.json"
    stamp = stage.stat().st_mtime_ns
    second = run(recipe)
    assert stage.stat().st_mtime_ns == stamp  # not trained again
    assert results(second)["best_rouge"] == results(first)["best_rouge"]
    # a change that matters (the model's options) trains again
    run(recipe.override(("models.lead.strip_speaker", True)))
    assert stage.stat().st_mtime_ns != stamp


def test_seed_compatible_outputs_best_last_and_train_predictions(make_recipe, run, small_data) -> None:
    """checkpoints/best and checkpoints/last point at real checkpoint folders (usable by resume_from);
    predictions/train_predictions.csv on request."""
    res = run(make_recipe(models=["lead1", "lead"], ensemble="best_score", save_train_predictions=True))
    out = results(res)
    best, last = res.experiment / "checkpoints" / "best", res.experiment / "checkpoints" / "last"
    chosen = Path(out["models_results"][out["best_model"]]["checkpoint"])
    assert best.is_symlink() and best.resolve() == chosen.resolve() and any(best.iterdir())
    assert last.is_symlink() and last.resolve() == (res.experiment / "checkpoints" / "lead").resolve()
    train = read_csv(res.experiment / "predictions" / "train_predictions.csv")
    assert len(train) == len(read_csv(small_data["train"])) and {"fname", "reference", "lead", "lead1"} <= set(train[0])


def test_single_never_submits_a_degenerate_model_while_another_is_not(make_recipe, run) -> None:
    out = results(run(make_recipe(models=["constant", "lead"])))
    per_model = {m: r["valid"]["rouge_mean"] for m, r in out["models_results"].items()}
    assert per_model["constant"] > per_model["lead"]  # one summary for all outscores lead on Korean morphemes
    assert out["best_model"] == "lead" and out["best_rouge"] == per_model["lead"]


def test_final_scores_round_every_metric_and_fall_back_without_rouge_mean() -> None:
    """The top of every mode's results.json (toolkit.final_scores): a metric set without
    ``rouge_mean`` reports the mode's own ``default`` as ``best_rouge``."""
    from dialsum_modes import toolkit

    assert toolkit.final_scores({"bleu": 0.123456}, default=0.5) == {"best_rouge": 0.5, "valid": {"bleu": 0.1235},
                                                                     "bleu": 0.1235}


def test_rerun_after_the_data_file_was_edited_in_place_trains_again(make_recipe, run, small_data) -> None:
    """A re-run under the same name reuses a model only when its data is the same: a file edited in
    place (same path, same ``fname`` column) holds other dialogues and references, and a model and
    scores kept from the old ones would be reported as this data's without a word."""
    from modes_helpers import _write

    recipe = make_recipe()
    first = run(recipe)
    before = results(first)["best_rouge"]
    stage = first.experiment / "stages" / "sources" / "lead.json"
    stamp = stage.stat().st_mtime_ns
    rows = read_csv(small_data["dev"])
    for r in rows:  # every reference is now one the lead model's summaries share nothing with
        r["summary"] = "전혀 다른 요약입니다."
    _write(small_data["dev"], rows, ["fname", "dialogue", "summary", "topic"])
    second = run(recipe)
    assert stage.stat().st_mtime_ns != stamp  # trained (and scored) again on the edited data
    fresh = run(recipe.override(("run.name", "fresh")))
    assert results(second)["best_rouge"] == results(fresh)["best_rouge"] != before


def test_a_unit_another_job_is_training_is_waited_for_then_reused(make_recipe, run) -> None:
    """A final run started before a fan-out job finished (or two jobs selecting one unit) must not
    train that unit too, into the folder the job is writing: it waits for the job's lock on the
    unit, then reuses what the job stored. Here the test is the job: it holds the lock, and stores
    the unit (trained by another experiment of the same recipe) before letting go."""
    import fcntl
    import logging
    import shutil
    import threading

    other = run(make_recipe(name="other"))
    recipe = make_recipe()
    exp = Path(recipe.run.output_dir) / "exp"
    sources = exp / "stages" / "sources"
    sources.mkdir(parents=True)
    waiting = threading.Event()

    class Seen(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "waiting for it to finish" in record.getMessage():
                waiting.set()

    seen = Seen()
    logging.getLogger("dialsum").addHandler(seen)
    box: dict[str, object] = {}
    try:
        with (sources / "lead.lock").open("a+b") as held:
            fcntl.flock(held, fcntl.LOCK_EX)
            final = threading.Thread(target=lambda: box.update(res=run(recipe)))
            final.start()
            while final.is_alive() and not waiting.wait(0.05):  # until it waits, or ends without waiting
                pass
            assert waiting.is_set(), "the final run did not wait for the unit's lock"
            assert not (sources / "lead.json").exists()
            shutil.copy2(other.experiment / "stages" / "sources" / "lead.json", sources / "lead.json")
            stamp = (sources / "lead.json").stat().st_mtime_ns
        final.join(120)
    finally:
        logging.getLogger("dialsum").removeHandler(seen)
    assert results(box["res"])["status"] == "complete"  # type: ignore[arg-type]
    assert (sources / "lead.json").stat().st_mtime_ns == stamp  # reused, not trained again
    assert not (exp / "checkpoints" / "lead").exists() and not (sources / "lead.lock").exists()


def test_use_cache_skips_a_model_whose_checkpoint_was_trained_again_with_other_settings(make_recipe, run) -> None:
    """``run.use_cache`` hands out another run's checkpoint. When that run is run again with a changed
    key, it trains again into the same folder: the cache entry of the first training still names
    the folder, which now holds the other model, and must not be reused for it."""
    first = make_recipe(name="a", use_cache=True)
    run(first)
    run(first.override(("models.lead.strip_speaker", True)))  # the same experiment, another model, the same folder
    b = run(make_recipe(name="b", use_cache=True))
    assert (b.experiment / "checkpoints" / "lead").is_dir()  # trained, not the changed checkpoint of a
    assert results(b)["models_results"]["lead"]["checkpoint"].startswith(str(b.experiment))


#: A fan-out job run in a process of its own, with the test plugins (``modes_helpers``).
_JOB = """
import sys
sys.path.insert(0, sys.argv[1])
from modes_helpers import TestPlugins
from dialsum_core.manager import build_plugins
from dialsum_core.recipe import load_recipe
from dialsum_core.runner import run_recipe

plugins = build_plugins()
plugins.add(TestPlugins(), "modes-test-plugins")
run_recipe(load_recipe(sys.argv[2]), plugins)
"""


def test_a_second_job_with_the_same_selection_fails_while_the_first_runs(make_recipe, run, tmp_path) -> None:
    """Two jobs with one ``run.only`` would write one ``jobs/<selection>/`` folder (config, results,
    logs): the second, started while the first runs in another process, fails at once with one
    line naming the selection and the first's host and pid, and writes nothing there. A job whose
    process died leaves its lock free: the selection runs again."""
    import json
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    import pytest

    from dialsum_core.errors import DialsumError
    from dialsum_core.recipe import write_recipe

    started, go = tmp_path / "started", tmp_path / "go"
    recipe = make_recipe(("models.waiting.started", str(started)), ("models.waiting.go", str(go)),
                         models=["waiting"], only=["model=waiting"])
    path = write_recipe(recipe, tmp_path / "job.toml")
    job = Path(recipe.run.output_dir) / "exp" / "jobs" / "model_waiting"
    tests = str(Path(__file__).parent)

    def start(path: Path) -> subprocess.Popen[bytes]:
        started.unlink(missing_ok=True)
        proc = subprocess.Popen([sys.executable, "-c", _JOB, tests, str(path)])
        deadline = time.monotonic() + 120
        while not started.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert started.exists(), "the first job did not start training"
        return proc

    first = start(path)
    try:
        written = {name: (job / name).stat().st_mtime_ns for name in ("config.toml", "results.json")}
        with pytest.raises(DialsumError) as caught:  # a user error: one line, exit code 2
            run(recipe)
        message = str(caught.value)
        assert "\n" not in message and "['model=waiting']" in message
        assert f"{socket.gethostname()} pid {first.pid}" in message
        assert {name: (job / name).stat().st_mtime_ns for name in written} == written  # the first job's, untouched
        assert json.loads((job / "results.json").read_text(encoding="utf-8"))["status"] == "running"
        go.touch()
        assert first.wait(timeout=120) == 0
    finally:
        first.kill()
    assert not (job.parent / "model_waiting.lock").exists()
    again = recipe.override(("models.waiting.go", str(tmp_path / "go-again")))  # trained anew, not reused
    killed = start(write_recipe(again, tmp_path / "again.toml"))  # a job that dies while it holds its selection
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait(timeout=60)
    (tmp_path / "go-again").touch()
    run(again)
    assert json.loads((job / "results.json").read_text(encoding="utf-8"))["status"] == "complete"


def test_a_file_a_models_options_name_edited_in_place_trains_again(make_recipe, run, tmp_path) -> None:
    """A file named in a plugin's options (a ``PATH`` field: a lexicon, a table) keeps its path when
    it is edited in place: a re-run of the experiment, and ``run.use_cache`` for another one, must
    train the model again instead of reusing the one made with the file's old content."""
    summary = tmp_path / "summary.txt"
    summary.write_text("첫 번째 요약입니다.\n", encoding="utf-8")
    recipe = make_recipe(("models.reading.summary_file", str(summary)), models=["reading"], use_cache=True)
    first = run(recipe)
    stage = first.experiment / "stages" / "sources" / "reading.json"
    stamp = stage.stat().st_mtime_ns
    run(recipe)
    assert stage.stat().st_mtime_ns == stamp  # unchanged: reused
    summary.write_text("두 번째 요약입니다.\n", encoding="utf-8")  # the same path, other content
    second = run(recipe)
    assert stage.stat().st_mtime_ns != stamp  # trained again with the edited file
    submitted = read_csv(second.experiment / "predictions" / "submission.csv")
    assert {r["summary"] for r in submitted} == {"두 번째 요약입니다."}
    summary.write_text("세 번째 요약입니다.\n", encoding="utf-8")
    other = run(recipe.override(("run.name", "other")))  # run.use_cache: the cached model read the old file
    submitted = read_csv(other.experiment / "predictions" / "submission.csv")
    assert {r["summary"] for r in submitted} == {"세 번째 요약입니다."}
    assert results(other)["models_results"]["reading"]["checkpoint"].startswith(str(other.experiment))


def test_tta_says_how_many_variants_each_augmenter_made(make_recipe, run, plugins, small_data, caplog) -> None:
    """The seed's ``--tta_num_aug``: the log says what it gave, per augmenter (at most that many per
    dialogue; ``reorder`` has one exchange of two speakers, whatever the number asked for)."""
    if plugins.get("augmenters", "reorder") is None:
        pytest.skip("the reorder augmenter (dialsum-tta) is not installed")
    recipe = make_recipe(ensemble="best_score", use_tta=True, tta_strategies=["reorder"], tta_num_aug=3)
    with caplog.at_level(logging.INFO, logger="dialsum"):
        run(recipe)
    said = [r.getMessage() for r in caplog.records if "TTA variants" in r.getMessage()]
    reorder = plugins.get("augmenters", "reorder").factory(recipe.options("augmenters", "reorder", plugins), None)
    made = sum(len(reorder.augment(r["fname"], r["dialogue"], n=3, seed=recipe.run.seed))
               for r in read_csv(small_data["dev"]))
    assert said == [f"lead: TTA variants of 8 valid dialogues (run.tta_num_aug = 3 at most each): reorder {made}"]
    assert 8 <= made < 3 * 8  # every dialogue has two speakers or more; most have only two


def test_without_save_predictions_only_the_submission_is_written(make_recipe, run) -> None:
    """The seed's ``evaluation.save_predictions: false``: no prediction files, the submission still."""
    res = run(make_recipe(save_predictions=False))
    assert sorted(p.name for p in (res.experiment / "predictions").iterdir()) == ["submission.csv"]
    assert results(res)["predictions"] == {"submission": "predictions/submission.csv"}


def test_a_submission_with_empty_summaries_is_warned_about(make_recipe, run, tmp_path, caplog) -> None:
    """A model may write nothing for a dialogue (only an end-of-text token, or only spaces): the
    submission is written as it is, but the log says which rows are empty before anybody uploads
    it (an empty summary scores 0 on the leaderboard, and some upload checks refuse the file)."""
    summary = tmp_path / "summary.txt"
    summary.write_text("   \n", encoding="utf-8")
    caplog.set_level(logging.WARNING, logger="dialsum")
    res = run(make_recipe(("models.reading.summary_file", str(summary)), models=["reading"]))
    sub = read_csv(res.experiment / "predictions" / "submission.csv")
    assert len(sub) == 6 and all(not r["summary"].strip() for r in sub)
    said = [r.getMessage() for r in caplog.records if "empty" in r.getMessage() and "submission" in r.getMessage()]
    assert len(said) == 1 and "6 of the 6 summaries" in said[0] and sub[0]["fname"] in said[0]


def test_valid_predictions_carry_every_reference_the_score_used(make_recipe, run, small_data, tmp_path) -> None:
    """With several references per dialogue (``data.dev_references``, or ``summary1, summary2``
    columns), results.json scores against all of them; the predictions file held the first only, so
    re-scoring the file gave another figure (on DialogSum-ko's two translations: 0.1912 for 0.1840)."""
    from dialsum_metrics.rouge import RougeMetric

    dev = read_csv(small_data["dev"])
    second = tmp_path / "dev_second.csv"
    with second.open("w", encoding="utf-8", newline="") as fh:
        fh.write("fname,summary\n" + "".join(f'{r["fname"]},"{r["summary"][: len(r["summary"]) // 2]}"\n'
                                             for r in dev))
    res = run(make_recipe(("data.dev_references", [str(second)])))
    valid = read_csv(res.experiment / "predictions" / "valid_predictions.csv")
    assert list(valid[0])[:4] == ["fname", "summary", "reference", "reference2"]
    refs = [[r["reference"], r["reference2"]] for r in valid]
    rescored = RougeMetric().compute([r["summary"] for r in valid], refs)["rouge_mean"]
    assert round(rescored, 4) == results(res)["valid"]["rouge_mean"]
    assert round(RougeMetric().compute([r["summary"] for r in valid], [[r] for r, _ in refs])["rouge_mean"], 4) != \
        results(res)["valid"]["rouge_mean"]


def test_a_degenerate_model_is_warned_about_once_not_once_per_rescoring(make_recipe, run, caplog) -> None:
    """The same validation predictions were scored three times after training (the source, its
    candidates, the mode's ranking), and each scoring repeated the same warning word for word."""
    caplog.set_level(logging.INFO, logger="dialsum")
    recipe = make_recipe(models=["constant"])
    for again in (False, True):  # the second run reuses the trained source, and still says it once
        caplog.clear()
        run(recipe)
        said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("degenerate predictions")]
        assert len(said) == 1, said
        assert ("already trained in this experiment, reusing its predictions" in caplog.text) is again


def test_augmenting_shows_progress_before_training_and_summarizing(make_recipe, run, plugins) -> None:
    """Training copies and TTA variants are made dialogue by dialogue before anything is trained or
    summarized (kiwipiepy's analysis, a paraphrase model's beams: minutes on a full file): each
    augmenter's pass is a progress task of the run, as ``metrics.jsonl`` records it."""
    if plugins.get("augmenters", "reorder") is None:
        pytest.skip("the reorder augmenter (dialsum-tta) is not installed")
    recipe = make_recipe(("data.preprocessing.augmentation.enable", True),
                         ("data.preprocessing.augmentation.strategies", ["reorder"]),
                         ensemble="best_score", use_tta=True, tta_strategies=["reorder"], loggers=["jsonl"])
    res = run(recipe)
    events = [json.loads(line) for line in (res.experiment / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    last = {e["task"]: (e["completed"], e["total"]) for e in events if e["event"] == "on_progress"}
    assert last["augment train (reorder)"] == (30, 30)
    assert last["augment valid (lead, tta:reorder)"] == (8, 8)
    assert last["augment test (lead, tta:reorder)"] == (6, 6)


def test_a_tta_strategy_that_varies_no_test_dialogue_is_warned_about(make_recipe, run, plugins, tmp_path,
                                                                     caplog) -> None:
    """An augmenter that makes variants of the validation dialogues and of no test dialogue (here
    reorder, on test dialogues of one speaker each; a paraphrase table of the training and validation
    dialogues was the case found on real data): validation was ensembled with its candidates and the
    submission without, and nothing said so."""
    if plugins.get("augmenters", "reorder") is None:
        pytest.skip("the reorder augmenter (dialsum-tta) is not installed")
    test = tmp_path / "monologues.csv"
    with test.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["fname", "dialogue"])
        w.writerows([f"m{i}", f"#Person1#: 오늘은 {i}번째 날이에요.\n#Person1#: 혼자 말해요."] for i in range(3))
    recipe = make_recipe(("data.test_path", str(test)), ensemble="best_score", use_tta=True,
                         tta_strategies=["reorder"], tta_num_aug=1)
    with caplog.at_level(logging.INFO, logger="dialsum"):
        run(recipe)
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "made no variant" in
            r.getMessage()] == ["lead: TTA reorder made no variant of any of the 3 test dialogues: their "
                                "predictions have none of its candidates, unlike the validation predictions the "
                                "ensemble was scored on"]


def test_a_model_reused_from_the_cache_is_not_said_to_be_of_this_experiment(make_recipe, run, caplog) -> None:
    """A second experiment with ``run.use_cache`` logged both "trained by an earlier run ... reusing
    it" and "already trained in this experiment": the second is true only of a re-run."""
    run(make_recipe(name="a", use_cache=True))
    with caplog.at_level(logging.INFO, logger="dialsum"):
        run(make_recipe(name="b", use_cache=True))
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("lead: ")]
    assert "lead: trained by an earlier run on the same dialogues (run.use_cache), reusing it" in said
    assert not [m for m in said if "in this experiment" in m], said
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="dialsum"):
        run(make_recipe(name="b", use_cache=True))  # the re-run of b: its own record
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("lead: ")]
    assert "lead: already trained in this experiment, reusing its predictions" in said
    assert not [m for m in said if "earlier run" in m], said


def test_the_length_plot_gives_the_mean_length_results_json_gives(make_recipe, run, monkeypatch) -> None:
    """results.json's mean_length counts characters; the length plot counted whitespace words, so a
    real run showed 'ensemble (mean 24.7)' beside mean_length 122.575 for the same predictions."""
    from matplotlib.figure import Figure

    legends: list[str] = []
    save = Figure.savefig

    def spy(fig: Figure, *args: object, **kwargs: object) -> None:
        legends.extend(t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts())
        save(fig, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", spy)
    out = results(run(make_recipe(save_visualizations=True)))
    mean = out["models_results"]["lead"]["valid"]["mean_length"]
    assert f"lead (mean {mean:.1f})" in legends, (legends, mean)
