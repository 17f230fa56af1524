"""A run that ranks by a score its metrics cannot give is refused by ``dialsum check``, not after training."""

from __future__ import annotations

from dialsum_core.manager import build_plugins
from dialsum_core.recipe import Recipe


def _problems(run: dict, **tables: dict) -> list[str]:
    plugins = build_plugins()
    recipe = Recipe.from_dict({"run": run, **tables}, schema=plugins.schema)
    return plugins.resolve(recipe).problems(plugins)


def test_ranking_models_needs_a_metric_that_gives_the_ranking_score() -> None:
    bleu_only = _problems({"mode": "multi_model", "models": ["lead", "scratch"], "metrics": ["bleu"],
                           "ensemble": "majority_vote"})
    assert any("run.metrics: the run ranks its models and sources by rouge_mean, which none of ['bleu']" in p
               for p in bleu_only), bleu_only
    assert not any("run.metrics" in p for p in _problems({"mode": "multi_model", "models": ["lead", "scratch"],
                                                          "metrics": ["bleu", "rouge"],
                                                          "ensemble": "majority_vote"}))
    # one model, nothing combined: nothing is ranked, any metric will do (the lead model selects by bleu)
    assert not any("run.metrics" in p for p in _problems({"mode": "single", "models": ["lead"],
                                                          "metrics": ["bleu"]}, models={"lead": {"metric": "bleu"}}))


def test_a_study_must_maximise_a_score_of_the_recipes_metrics() -> None:
    space = {"optuna": {"space": {"models.lead.max_turns": {"type": "int", "low": 1, "high": 3}}}}
    found = _problems({"mode": "optuna", "models": ["lead"], "metrics": ["bleu"]}, modes=space)
    assert any("modes.optuna.metric: 'rouge_mean' is not a score of run.metrics ['bleu']" in p for p in found), found
    space["optuna"]["metric"] = "bleu"
    assert not any("modes.optuna.metric" in p for p in _problems({"mode": "optuna", "models": ["lead"],
                                                                   "metrics": ["bleu"]}, modes=space))
