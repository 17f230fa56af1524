"""A third party's run mode built on the public toolkit is held to the same rules as the bundled ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from modes_fixtures import *  # noqa: F403 - pytest fixtures

from dialsum_core import hookimpl
from dialsum_core.errors import DialsumError
from dialsum_core.runner import run_recipe
from dialsum_modes import toolkit


class CombineAll(toolkit.Mode):
    """Trains every model and combines them, without looking at ``run.only``: a fan-out job of it
    would write the experiment's submission from the units of one job."""

    def run(self, ctx: Any) -> dict[str, Any]:
        data = ctx.data()
        sources = list(toolkit.train_models(ctx, data))
        comb = toolkit.combine(ctx, sources, data.valid, data.test, None)
        predictions = toolkit.write_predictions(ctx, valid=data.valid, valid_preds=comb.valid, test=data.test,
                                                test_preds=comb.test, sources=sources)
        return {"predictions": predictions, **toolkit.final_scores(comb.scores)}


class CombineAllPlugin:
    @hookimpl
    def dialsum_register_run_modes(self, register: Any) -> None:
        register("combine_all", lambda o, c: CombineAll(o), tags=("ensemble",), description="a third party's mode")


def test_a_fan_out_job_of_a_mode_that_ignores_run_only_never_writes_the_experiments_submission(
    make_recipe, plugins, register_plugin
) -> None:
    register_plugin(CombineAllPlugin(), "combine-all")
    recipe = make_recipe(mode="combine_all", models=["lead", "lead1"], ensemble="best_score", name="fan")
    with pytest.raises(DialsumError, match=r"run.only \['model=lead'\]: the combine_all mode writes the "
                                           r"experiment's predictions in a fan-out job.*toolkit.job_results"):
        run_recipe(recipe.merge({"run": {"only": ["model=lead"]}}), plugins)
    experiment = Path(recipe.run.output_dir) / "fan"
    assert not list((experiment / "predictions").iterdir())  # no submission of one job's units
    assert (experiment / "stages" / "sources" / "lead.json").exists()  # the job's unit is saved all the same
    final = run_recipe(recipe, plugins)  # without run.only: reuses the job's unit, writes the submission
    assert (final.experiment / "predictions" / "submission.csv").exists()


class Plotting(toolkit.Mode):
    """Combines every model and draws what ``run.save_visualizations`` asks for, through the toolkit."""

    def run(self, ctx: Any) -> dict[str, Any]:
        data = ctx.data()
        sources = list(toolkit.train_models(ctx, data))
        comb = toolkit.combine(ctx, sources, data.valid, data.test, None)
        return {"visualizations": toolkit.visualizations(ctx, sources, data.valid, combined=comb),
                **toolkit.final_scores(comb.scores)}


class PlottingPlugin:
    @hookimpl
    def dialsum_register_run_modes(self, register: Any) -> None:
        register("plotting", lambda o, c: Plotting(o), tags=("ensemble",), description="a third party's mode")


@pytest.mark.parametrize("save", [True, False])
def test_a_third_party_mode_draws_the_plots_save_visualizations_asks_for(make_recipe, plugins, register_plugin,
                                                                          save: bool) -> None:
    register_plugin(PlottingPlugin(), "plotting")
    recipe = make_recipe(mode="plotting", models=["lead", "lead1"], ensemble="best_score", save_visualizations=save)
    result = run_recipe(recipe, plugins)
    drawn = result.results["visualizations"]
    written = sorted(p.relative_to(result.experiment).as_posix()
                     for p in (result.experiment / "visualizations").glob("*.png"))
    assert sorted(drawn) == written
    if save:  # each source's and the ensemble's scores, the summaries' lengths (lead trains one epoch: no curve)
        assert written == ["visualizations/length_distribution.png", "visualizations/validation_rouge.png"]
    else:
        assert written == []


def test_the_toolkits_stable_api_lists_every_name_its_versions_added() -> None:
    """The docstring's "Stable API" list is what a third party may rely on; names added by later versions
    (``name_best``, ``visualizations``, ``VALID_PREDICTIONS``...) were left out of it, in the version notes
    alone, and a removed one must not stay listed."""
    import re

    from dialsum_modes import toolkit

    stable, _, notes = toolkit.__doc__.partition("Version 1.1")
    listed = set(re.findall(r":(?:func|class|data):`(\w+)`", stable))
    cited = {n for n in re.findall(r":(?:func|class|data):`(\w+)`", notes) if hasattr(toolkit, n)}
    assert cited <= listed, sorted(cited - listed)
    assert all(hasattr(toolkit, n) for n in listed), sorted(n for n in listed if not hasattr(toolkit, n))
