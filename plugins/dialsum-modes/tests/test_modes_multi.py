"""``multi_model``: several models, scored, then ensembled with given or searched weights."""

from __future__ import annotations

import logging
import re

import pytest
from modes_fixtures import *  # noqa: F403 - pytest fixtures
from modes_helpers import read_csv, results

from dialsum_metrics.rouge import RougeMetric


def rouge_mean(preds: list[str], refs: list[str]) -> float:
    return round(RougeMetric().compute(preds, [[r] for r in refs])["rouge_mean"], 4)


def test_multi_model_searches_weights_when_none_are_given(make_recipe, run) -> None:
    recipe = make_recipe(("modes.multi_model.weight_search_trials", 6), mode="multi_model",
                         models=["lead1", "lead"], ensemble="best_score", save_visualizations=True)
    res = run(recipe)
    out = results(res)
    ens = out["ensemble"]
    singles = {m: r["valid"]["rouge_mean"] for m, r in out["models_results"].items()}
    assert ens["weights_from"] == "searched on validation"
    assert set(ens["weights"]) == {"lead1", "lead"} and abs(sum(ens["weights"].values()) - 1) < 1e-3
    # the run never submits less than its best model on validation
    assert out["best_rouge"] >= max(singles.values())
    valid = read_csv(res.experiment / "predictions" / "valid_predictions.csv")
    assert {"lead1", "lead"} <= set(valid[0])
    for name in ("ensemble_weights", "validation_rouge", "length_distribution"):
        assert (res.experiment / "visualizations" / f"{name}.png").exists(), name


def test_searched_weights_report_the_out_of_fold_score_of_the_predictions(make_recipe, run, caplog) -> None:
    caplog.set_level(logging.INFO, logger="dialsum")
    res = run(make_recipe(("modes.multi_model.weight_search_trials", 6), mode="multi_model",
                          models=["lead1", "lead"], ensemble="majority_vote"))
    out = results(res)
    ens = out["ensemble"]
    # two parts of the 8 validation dialogues, each combined with weights searched on the other
    parts = ens["crossfit"]["per_part"]
    assert ens["crossfit"]["parts"] == 2 and [p["dialogues"] for p in parts] == [4, 4]
    assert all(p["fitted_on"] == 4 and set(p["weights"]) <= {"lead1", "lead"} for p in parts)
    # one score for the ensemble: logged, in results.json, and the ROUGE of what it predicted
    logged = [float(x) for x in re.findall(r"on validation, out of fold: rouge_mean ([0-9.]+)", caplog.text)]
    assert logged == [ens["valid"]["rouge_mean"]]
    searches = [line for line in caplog.text.splitlines() if "ensemble weights searched on" in line]
    assert len(searches) == 3  # one per part, one on all 8 dialogues for the test predictions
    assert not [line for line in searches if "rouge_mean" in line]  # no second, in-sample number
    if ens["used"] == "ensemble":
        valid = read_csv(res.experiment / "predictions" / "valid_predictions.csv")
        assert rouge_mean([r["summary"] for r in valid], [r["reference"] for r in valid]) == \
            ens["valid"]["rouge_mean"] == out["best_rouge"]


def test_an_ensemble_below_its_best_model_is_replaced_by_that_model(make_recipe, run, caplog) -> None:
    caplog.set_level(logging.INFO, logger="dialsum")
    # weight 1 on lead1 (one turn) and 0 on lead (N turns): the vote returns lead1, the weaker model
    res = run(make_recipe(mode="multi_model", models=["lead1", "lead"], ensemble="majority_vote",
                          ensemble_weights=[1.0, 0.0]))
    out = results(res)
    singles = {m: r["valid"]["rouge_mean"] for m, r in out["models_results"].items()}
    assert singles["lead"] > singles["lead1"]
    ens = out["ensemble"]
    assert ens["valid"]["rouge_mean"] == singles["lead1"]  # the vote followed its weights...
    assert ens["used"] == "lead" and "below lead's" in ens["note"]  # ...and lost, so lead is used
    assert out["best_rouge"] == out["valid"]["rouge_mean"] == singles["lead"]
    assert "the run uses lead's predictions" in caplog.text
    rows = read_csv(res.experiment / "predictions" / "test_predictions.csv")
    assert all(r["summary"] == r["lead"] for r in rows)
    sub = read_csv(res.experiment / "predictions" / "submission.csv")
    assert [r["summary"] for r in sub] == [r["lead"] for r in rows]


def test_multi_model_uses_given_weights(make_recipe, run) -> None:
    res = run(make_recipe(mode="multi_model", models=["lead1", "lead"], ensemble="best_score",
                          ensemble_weights=[0.0, 1.0]))
    out = results(res)
    assert out["ensemble"]["weights_from"] == "given"
    assert out["ensemble"]["weights"] == {"lead1": 0.0, "lead": 1.0}
    assert out["ensemble"]["info"]["weights_seen"] == {"lead1": 0.0, "lead": 1.0}
    assert all(p["weights"] == {"lead1": 0.0, "lead": 1.0} for p in out["ensemble"]["crossfit"]["per_part"])
    rows = read_csv(res.experiment / "predictions" / "test_predictions.csv")
    assert all(r["summary"] == r["lead"] for r in rows)


def test_weights_a_strategy_learns_are_the_weights_reported(make_recipe, run) -> None:
    # blending starts its search from the given weights and votes with those it found: results.json
    # named the given ones as the weights used
    res = run(make_recipe(mode="multi_model", models=["lead1", "lead"], ensemble="blending",
                          ensemble_weights=[1.0, 0.0]))
    ens = results(res)["ensemble"]
    assert ens["weights_from"] == "learnt by blending from the given ones"
    assert ens["weights"] == ens["info"]["weights"] and ens["weights"] != {"lead1": 1.0, "lead": 0.0}
    assert all(p["weights"] == p["info"]["weights"] for p in ens["crossfit"]["per_part"])


def test_what_an_ensemble_learns_from_validation_is_scored_on_other_dialogues(make_recipe, run) -> None:
    # "memorise" is the oracle on the dialogues it was fitted on and knows nothing elsewhere
    res = run(make_recipe(mode="multi_model", models=["lead1", "lead"], ensemble="memorise",
                          ensemble_weights=[1.0, 1.0]))
    out = results(res)
    singles = {m: r["valid"]["rouge_mean"] for m, r in out["models_results"].items()}
    ens = out["ensemble"]
    # out of fold it remembers nothing and keeps the first candidate (lead1's): no oracle gain reported
    assert ens["valid"]["rouge_mean"] == singles["lead1"] < singles["lead"]
    assert [p["info"]["remembered"] for p in ens["crossfit"]["per_part"]] == [8, 8]  # 4 dialogues x 2
    assert ens["info"]["remembered"] == 16  # the test predictions use the fit on all 8
    assert ens["used"] == "lead"


def test_a_degenerate_model_is_never_submitted_while_another_is_not(make_recipe, run, caplog) -> None:
    caplog.set_level(logging.INFO, logger="dialsum")
    # the collapsed model outscores lead; weights 1/0 make the vote return its constant summary
    res = run(make_recipe(mode="multi_model", models=["constant", "lead"], ensemble="majority_vote",
                          ensemble_weights=[1.0, 0.0]))
    out = results(res)
    singles = {m: r["valid"]["rouge_mean"] for m, r in out["models_results"].items()}
    assert singles["constant"] > singles["lead"]
    ens = out["ensemble"]
    assert ens["valid"]["rouge_mean"] == singles["constant"]
    assert ens["used"] == "lead" and ens["degenerate"] == ["constant", "ensemble"]
    assert "degenerate" in ens["note"] and out["best_rouge"] == singles["lead"]
    assert "score higher on validation but give degenerate predictions" in caplog.text
    rows = read_csv(res.experiment / "predictions" / "test_predictions.csv")
    assert all(r["summary"] == r["lead"] for r in rows)
    # weights 0/1: the vote returns lead's summaries, and the ensemble is kept over the higher constant
    out = results(run(make_recipe(mode="multi_model", models=["constant", "lead"], ensemble="majority_vote",
                                  ensemble_weights=[0.0, 1.0], name="other")))
    assert out["ensemble"]["used"] == "ensemble" and out["best_rouge"] == singles["lead"]


def test_when_every_candidate_is_degenerate_the_note_does_not_call_the_chosen_source_sound() -> None:
    """A short run of a small model collapses every fold and the ensemble alike: the source is then
    chosen by score alone, and the note in results.json must say so rather than that it is sound."""
    from dialsum_modes.toolkit import Combined

    comb = Combined(valid=[], test=[], info={}, ensemble_scores={"rouge_mean": 0.0396},
                    source_scores={"m/fold1": 0.0422, "m/fold2": 0.03}, fallback="m/fold1",
                    degenerate=["ensemble", "m/fold1", "m/fold2"])
    note = comb.report()["note"]
    assert "m/fold1's are not" not in note
    assert note.startswith("every candidate's validation predictions are degenerate") and "0.0422" in note
    comb.degenerate = ["ensemble"]  # the chosen source is sound: said as before
    assert "m/fold1's are not (0.0422)" in comb.report()["note"]


def test_an_error_in_the_weight_search_is_one_line_on_the_console(make_recipe, run, register_plugin) -> None:
    """Optuna logged a weight-search trial that failed (an error, Ctrl-C) with its traceback on the
    console before the run's own one-line error."""
    import pytest
    from modes_helpers import BestScore

    from dialsum_core import hookimpl
    from dialsum_core.errors import DialsumError

    class Tiring(BestScore):
        calls = 0

        def combine(self, candidates, weights, ctx):
            Tiring.calls += 1
            if Tiring.calls > 4:  # the probes (equal weights, each model alone) pass, a search trial fails
                raise DialsumError("run.ensemble: tired")
            return super().combine(candidates, weights, ctx)

    class Plugin:
        @hookimpl
        def dialsum_register_ensembles(self, register):
            register("tiring", lambda o, c: Tiring(), description="fails in the weight search")

    register_plugin(Plugin(), "tiring-ensemble")
    recipe = make_recipe(("modes.multi_model.weight_search_trials", 6), mode="multi_model",
                         models=["lead1", "lead"], ensemble="tiring")
    console: list[str] = []  # what Optuna's own handler (stderr) writes

    class Console(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            console.append(logging.Formatter().format(record))

    handler = Console()
    logging.getLogger("optuna").addHandler(handler)
    try:
        with pytest.raises(DialsumError, match="tired"):
            run(recipe)
    finally:
        logging.getLogger("optuna").removeHandler(handler)
    assert any("Trial 4 failed" in line for line in console)
    assert not any("Traceback" in line for line in console)


def test_the_weight_search_computes_no_metric_that_cannot_give_the_ranked_score(make_recipe, run,
                                                                                register_plugin) -> None:
    """Each trial of the weight search and each source's quality rank by rouge_mean only: a metric
    of run.metrics that declares other scores (corpus BLEU on every trial) is computed where the run
    reports scores, as often with a search as without one."""
    from dialsum_core import hookimpl
    from dialsum_metrics import score_tags

    computed: list[int] = []

    class Length:
        def compute(self, predictions, references):
            computed.append(len(predictions))
            return {"length": sum(len(p) for p in predictions) / max(len(predictions), 1)}

    class Plugin:
        @hookimpl
        def dialsum_register_metrics(self, register):
            register("length", lambda o, c: Length(), description="mean length", tags=score_tags("length"))

    register_plugin(Plugin(), "length-metric")
    counts = {}
    for trials, weights in ((6, []), (0, [0.5, 0.5])):
        computed.clear()
        recipe = make_recipe(("modes.multi_model.weight_search_trials", trials), ("run.metrics", ["rouge", "length"]),
                             ("run.name", f"trials{trials}"), mode="multi_model", models=["lead1", "lead"],
                             ensemble="best_score", ensemble_weights=weights)
        out = results(run(recipe))
        assert out["ensemble"]["weights_from"] == ("searched on validation" if trials else "given")
        assert all("length" in r["valid"] for r in out["models_results"].values())  # still reported
        counts[trials] = len(computed)
    assert counts[6] == counts[0], counts


def test_each_source_quality_is_measured_once_per_fit_and_shows_as_progress(make_recipe, run,
                                                                            register_plugin) -> None:
    """Before the ensemble learns anything, every candidate source (each fold, model and TTA variant)
    is scored on validation: a progress task of its own, measured once for each cross-fitting part
    and once for the whole split, never again by the weight search on the same dialogues."""
    from dialsum_core import hookimpl
    from dialsum_modes.toolkit import CROSSFIT_PARTS

    seen: list[tuple[str, int, int | None]] = []

    class Progress:
        @hookimpl
        def dialsum_on_progress(self, task, completed, total):
            seen.append((task, completed, total))

        @hookimpl
        def dialsum_before_stage(self, stage):
            seen.append((stage, -1, None))

    register_plugin(Progress(), "progress-seen")
    recipe = make_recipe(("modes.multi_model.weight_search_trials", 6), mode="multi_model",
                         models=["lead1", "lead"], ensemble="majority_vote")
    assert results(run(recipe))["ensemble"]["weights_from"] == "searched on validation"
    quality = [(c, t) for task, c, t in seen if task == "source ROUGE"]
    assert [c for c, _ in quality].count(0) == CROSSFIT_PARTS + 1  # not twice per part
    assert quality[-1] == (2, 2)  # lead1 and lead
    # the weight search shows its bar from the start, before its first fit and trial
    first = [task for task, _, _ in seen].index("weight_search")
    assert ("weight search", 0, 6) in seen[first:]


def test_the_weight_search_fits_the_strategy_once_per_trial(make_recipe, run, register_plugin) -> None:
    """Whether a strategy learns its own weights is read from the fit of the search's first probe
    (equal weights), which that probe then combines with: it was fitted a second time, on the same
    dialogues with the same weights, once per cross-fitting part and once for the whole split."""
    from modes_helpers import BestScore

    from dialsum_core import hookimpl
    from dialsum_modes.toolkit import CROSSFIT_PARTS

    fits: list[tuple[int, tuple[tuple[str, float], ...]]] = []

    class Counting(BestScore):
        def fit(self, candidates, references, weights, ctx):
            fits.append((len(candidates), tuple(sorted(weights.items()))))
            return super().fit(candidates, references, weights, ctx)

    class Plugin:
        @hookimpl
        def dialsum_register_ensembles(self, register):
            register("counting", lambda o, c: Counting(), description="counts its fits")

    register_plugin(Plugin(), "counting-ensemble")
    trials = 6
    recipe = make_recipe(("modes.multi_model.weight_search_trials", trials), mode="multi_model",
                         models=["lead1", "lead"], ensemble="counting")
    out = results(run(recipe))
    assert out["ensemble"]["weights_from"] == "searched on validation"
    searches = CROSSFIT_PARTS + 1
    # one fit per trial of each search (the probes are trials), and the fit the chosen weights apply with
    assert len(fits) == searches * (trials + 1), fits
    assert [n for n, _ in fits].count(8) == trials + 1  # the whole split's search, then its fit


@pytest.mark.parametrize(("level", "tags"), [("token", ()), ("output", ("token",))])
def test_a_strategy_whose_level_and_tag_disagree_is_refused_naming_both(make_recipe, run, register_plugin,
                                                                         level, tags) -> None:
    """The checks tell a token-level strategy by its registration's tag, the run by its ``level``: a
    third party's strategy with one and not the other ran as one kind after its recipe was checked
    as the other (models that cannot decode jointly reached the joint decoding)."""
    from modes_helpers import BestScore

    from dialsum_core import hookimpl
    from dialsum_core.errors import PluginError

    class Strategy(BestScore):
        pass

    Strategy.level = level

    class Plugin:
        @hookimpl
        def dialsum_register_ensembles(self, register):
            register("odd", lambda o, c: Strategy(), description="level and tag disagree", tags=tags)

    register_plugin(Plugin(), "odd-ensemble")
    recipe = make_recipe(mode="multi_model", models=["lead1", "lead"], ensemble="odd")
    with pytest.raises(PluginError, match=rf"ensemble 'odd' .* has level '{level}' but its registration "
                                          rf"{'carries' if tags else 'lacks'} the tag 'token'"):
        run(recipe)
