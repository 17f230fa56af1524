"""Output-level strategies on small Korean candidate sets (real engine, real plugin registrations)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialsum_core import hookimpl
from dialsum_core.context import RunContext
from dialsum_core.events import Events
from dialsum_core.experiment import Experiment
from dialsum_core.manager import build_plugins
from dialsum_core.protocols import Candidate
from dialsum_core.recipe import Recipe

REF = [
    "#Person1#이 사과 세 개를 산다.",
    "#Person2#가 회의는 오전 열 시라고 말한다.",
    "#Person1#이 금요일 오후 두 시로 병원을 예약한다.",
    "#Person2#가 #Person1#에게 버스 정류장을 알려준다.",
]
# per dialogue: a good source (close to the reference), a paraphrasing one, and a bad one
GOOD = ["#Person1#이 사과 세 개를 산다.", "#Person2#가 회의가 오전 열 시라고 말한다.",
        "#Person1#이 금요일 오후 두 시에 병원을 예약한다.", "#Person2#가 #Person1#에게 정류장을 알려준다."]
MID = ["#Person1#이 사과를 산다.", "#Person2#는 회의가 열 시라고 한다.",
       "#Person1#은 병원을 예약한다.", "#Person2#가 버스 정류장을 알려준다."]
BAD = ["날씨가 좋다.", "#Person1#이 커피를 마신다.", "#Person2#가 전화번호를 묻는다.", "#Person1#이 노래한다."]


def make_ctx(tmp_path: Path, **run: object) -> RunContext:
    plugins = build_plugins()
    recipe = Recipe.from_dict({"run": {"models": ["good", "mid", "bad"], **run}})
    return RunContext(recipe=recipe, plugins=plugins, experiment=Experiment(tmp_path), events=Events(plugins.pm))


def groups(order: tuple[str, ...] = ("good", "mid", "bad")) -> list[list[Candidate]]:
    texts = {"good": GOOD, "mid": MID, "bad": BAD}
    return [[Candidate(texts[s][i], s) for s in order] for i in range(len(REF))]


def build(ctx: RunContext, name: str):
    ens = ctx.build("ensembles", name)
    assert ens.level == "output"
    return ens


def test_majority_vote_rejects_the_outlier(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    ens = build(ctx, "majority_vote")
    assert ens.fit(groups(), [[r] for r in REF], {}, ctx) == {}
    picked = ens.combine(groups(), {}, ctx)
    assert all(p not in BAD for p in picked)
    # the order of candidates does not change the choice
    assert ens.combine(groups(("bad", "mid", "good")), {}, ctx) == picked
    # one candidate: returned as is
    assert ens.combine([[Candidate("혼자", "good")]], {}, ctx) == ["혼자"]


def test_majority_vote_follows_given_weights(tmp_path: Path) -> None:
    uniform = build(make_ctx(tmp_path), "majority_vote").combine(groups(), {}, make_ctx(tmp_path))
    assert uniform != GOOD and uniform[0] == MID[0]  # the medoid of three
    # only "mid" has weight: the evidence is "mid" alone, and nothing agrees with it more than itself
    ctx = make_ctx(tmp_path)
    assert build(ctx, "majority_vote").combine(groups(), {"good": 0.0, "mid": 1.0, "bad": 0.0}, ctx) == MID


@pytest.mark.parametrize("name", ["majority_vote", "rouge_weighted", "averaging", "weighted_avg"])
def test_two_sources_weight_one_and_zero_choose_the_weighted_one(tmp_path: Path, name: str) -> None:
    ctx = make_ctx(tmp_path, models=["good", "bad"])
    ens = ctx.build("ensembles", name)
    pair = [[Candidate(GOOD[i], "good"), Candidate(BAD[i], "bad")] for i in range(len(REF))]
    swapped = [g[::-1] for g in pair]
    if name == "averaging":  # ignores weights by definition: two candidates tie, the first is kept
        assert ens.combine(pair, {"good": 0.0, "bad": 1.0}, ctx) == GOOD
        assert ens.combine(swapped, {"good": 1.0, "bad": 0.0}, ctx) == BAD
        return
    for order in (pair, swapped):  # the order of the candidates does not decide
        assert ens.combine(order, {"good": 1.0, "bad": 0.0}, ctx) == GOOD
        assert ens.combine(order, {"good": 0.0, "bad": 1.0}, ctx) == BAD


@settings(max_examples=40, deadline=None)
@given(weights=st.lists(st.floats(0.0, 4.0), min_size=5, max_size=5), which=st.integers(0, 4),
       extra=st.floats(0.01, 4.0))
def test_a_higher_weight_never_makes_a_source_lose(tmp_path_factory, weights, which, extra) -> None:
    sources = ["good", "good2", "mid", "mid2", "mid3"]
    ctx = make_ctx(tmp_path_factory.mktemp("w"), models=sources)
    ens = build(ctx, "majority_vote")
    before = dict(zip(sources, weights, strict=True))
    after = {**before, sources[which]: before[sources[which]] + extra}
    chosen = ens.select(crowd(), before)
    again = ens.select(crowd(), after)
    for c0, c1 in zip(chosen, again, strict=True):
        if c0.source == sources[which]:
            assert c1.source == sources[which]


def _edit(text: str) -> str:
    return text.replace("한다.", "했다.").replace("산다.", "샀다.")


def crowd() -> list[list[Candidate]]:
    """Two good sources against three near-identical mediocre ones: the crowd wins a plain vote."""
    return [[Candidate(GOOD[i], "good"), Candidate(_edit(GOOD[i]), "good2"), Candidate(MID[i], "mid"),
             Candidate(_edit(MID[i]), "mid2"), Candidate(MID[i].rstrip("."), "mid3")] for i in range(len(REF))]


def test_rouge_weighted_learns_source_quality(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, models=["good", "good2", "mid", "mid2", "mid3"])
    refs = [[r] for r in REF]
    vote = build(ctx, "majority_vote").combine(crowd(), {}, ctx)
    assert sum(p in MID or p.rstrip(".") in [m.rstrip(".") for m in MID] for p in vote) >= 3
    ctx = make_ctx(tmp_path, models=["good", "good2", "mid", "mid2", "mid3"])
    ctx = ctx.evolve(recipe=ctx.recipe.merge({"ensembles": {"rouge_weighted": {"power": 8.0}}}))
    ens = build(ctx, "rouge_weighted")
    q = ens.fit(crowd(), refs, {}, ctx)["source_rouge"]
    assert q["good"] > q["mid"] and q["good2"] > q["mid2"]
    picked = ens.combine(crowd(), {}, ctx)
    assert sum(p in GOOD or p in [_edit(g) for g in GOOD] for p in picked) >= 3


def test_rouge_weighted_uses_candidate_scores_without_fit(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    ens = build(ctx, "rouge_weighted")
    scored = [[Candidate(c.text, c.source, {"good": 0.9, "mid": 0.0, "bad": 0.0}[c.source]) for c in g]
              for g in groups()]
    # only "good" votes, and "good" agrees with itself more than anything else does
    assert ens.combine(scored, {}, ctx) == GOOD


@pytest.mark.parametrize("power", [1000.0, float("inf")])
def test_rouge_weighted_a_large_power_gives_the_vote_to_the_best_source(tmp_path: Path, power: float) -> None:
    # a ROUGE below 1 raised to a large power underflows to 0 for every source: all-zero votes then
    # counted equally, and the crowd of mediocre sources won, the opposite of what the power asks
    ctx = make_ctx(tmp_path, models=["good", "good2", "mid", "mid2", "mid3"])
    ctx = ctx.evolve(recipe=ctx.recipe.merge({"ensembles": {"rouge_weighted": {"power": power}}}))
    quality = {"good": 0.3, "good2": 0.25, "mid": 0.2, "mid2": 0.2, "mid3": 0.2}
    scored = [[Candidate(c.text, c.source, quality[c.source]) for c in g] for g in crowd()]
    picked = build(ctx, "rouge_weighted").combine(scored, {}, ctx)
    assert picked == GOOD


def test_stacking_learns_a_scorer(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    ens = build(ctx, "stacking")
    info = ens.fit(groups(), [[r] for r in REF], {}, ctx)
    assert info["groups"] == len(REF)
    assert "cons_mean" in info["coefficients"] and "source=good" in info["coefficients"]
    picked = ens.combine(groups(("mid", "bad", "good")), {}, ctx)
    assert picked == GOOD
    assert info["valid_selected_rouge"] > 0.8


def stacking_fitted(tmp_path: Path, l2: float) -> tuple[Any, dict[str, Any], np.ndarray, np.ndarray]:
    """A stacking ensemble fitted on :func:`groups` with penalty ``l2``, what its fit returned, and
    the standardised features and targets it was fitted on."""
    from dialsum_ensemble.output import reference_scores

    ctx = RunContext(recipe=Recipe.from_dict({"run": {"models": ["good", "mid", "bad"]},
                                              "ensembles": {"stacking": {"l2": l2}}}),
                     plugins=build_plugins(), experiment=Experiment(tmp_path), events=None)
    ens = build(ctx, "stacking")
    info = ens.fit(groups(), [[r] for r in REF], {}, ctx)
    z = np.concatenate([(ens.features(g) - ens.mean) / ens.std for g in groups()])
    gains = reference_scores(groups(), [[r] for r in REF], ens.tokenizer, ens.measure)
    return ens, info, z, np.concatenate([s - s.mean() for s in gains])


def test_stacking_without_a_penalty_fits_a_singular_system(tmp_path: Path) -> None:
    """``l2 = 0`` is plain least squares, whose system is singular as soon as features are tied
    (the source indicators always sum to one; here no candidate has a model score): the
    minimum-norm solution is taken, the limit of the ridge scorer as its penalty goes to zero."""
    ens, info, z, y = stacking_fitted(tmp_path, 0.0)
    assert np.linalg.matrix_rank(z) < z.shape[1]
    assert np.isfinite(ens.coef).all() and np.allclose(ens.coef, np.linalg.pinv(z) @ y)
    assert info["coefficients"]["has_model_score"] == 0.0  # a constant feature gets no weight
    assert ens.combine(groups(("mid", "bad", "good")), {}, None) == GOOD
    nearly = stacking_fitted(tmp_path, 1e-9)[0].coef
    assert np.allclose(ens.coef, nearly, atol=1e-4)


def test_stacking_with_a_penalty_is_ridge(tmp_path: Path) -> None:
    """The usual case, unchanged: ``l2 > 0`` solves the ridge system, which is never singular."""
    ens, _, z, y = stacking_fitted(tmp_path, 0.5)
    expected = np.linalg.solve(z.T @ z + 0.5 * len(z) * np.eye(z.shape[1]), z.T @ y)
    assert np.allclose(ens.coef, expected)
    assert ens.combine(groups(("mid", "bad", "good")), {}, None) == GOOD


def test_stacking_without_fit_falls_back_to_the_vote(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    assert build(ctx, "stacking").combine(groups(), {}, ctx) == build(ctx, "majority_vote").combine(groups(), {}, ctx)


def test_blending_fits_source_weights(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    ens = build(ctx, "blending")
    info = ens.fit(groups(), [[r] for r in REF], {}, ctx)
    assert info["valid_selected_rouge"] >= info["valid_start_rouge"]
    w = info["weights"]
    assert w["bad"] <= min(w["good"], w["mid"])
    assert ens.combine(groups(), {}, ctx) == build(ctx, "majority_vote").combine(groups(), {}, ctx) or \
        info["valid_selected_rouge"] > info["valid_start_rouge"]


def test_source_prefixes_share_weights() -> None:
    from dialsum_core.protocols import weight_of

    assert weight_of("kobart/fold2/tta:mask:3", {"kobart": 2.0, "kobart/fold2": 0.5}) == 0.5
    assert weight_of("kobart/tta:reorder:1", {"kobart": 2.0}) == 2.0
    assert weight_of("t5/tta:mask:1", {"kobart": 2.0}) == 1.0


@pytest.mark.parametrize("name", ["averaging", "weighted_avg", "majority_vote", "rouge_weighted",
                                  "stacking", "blending"])
def test_all_six_seed_names_are_registered(name: str) -> None:
    reg = build_plugins().get("ensembles", name)
    assert reg is not None and reg.distribution == "dialsum-ensemble"


def test_check_refuses_token_level_for_lead_and_bad_weights(tmp_path: Path) -> None:
    plugins = build_plugins()
    recipe = Recipe.from_dict({"run": {"mode": "kfold", "models": ["lead"], "ensemble": "averaging"}})
    problems = "\n".join(recipe.problems(plugins))
    assert "run.ensemble" in problems and "majority_vote" in problems
    ok = Recipe.from_dict({"run": {"mode": "kfold", "models": ["lead"], "ensemble": "majority_vote"}})
    assert not [p for p in ok.problems(plugins) if "run.ensemble:" in p]
    bad = Recipe.from_dict({"run": {"mode": "single", "models": ["lead"], "use_tta": True,
                                    "tta_strategies": ["reorder"], "ensemble": "majority_vote",
                                    "ensemble_weights": [1.0, 2.0]}})
    assert any("run.ensemble_weights" in p for p in bad.problems(plugins))


def test_check_refuses_weights_a_strategy_ignores_and_infinite_grid_values() -> None:
    plugins = build_plugins()

    def problems(ensemble: str, **more: Any) -> list[str]:
        run = {"mode": "kfold", "models": ["scratch"], "ensemble": ensemble, "ensemble_weights": [1.0, 2.0, 3.0]}
        recipe = Recipe.from_dict({"run": run, "modes": {"kfold": {"k_folds": 3}}, **more})
        return [p for p in recipe.problems(plugins) if "ensemble" in p]

    # averaging weighs every model equally, stacking learns its scorer: the weights would be ignored
    for name, instead in (("averaging", "weighted_avg"), ("stacking", "rouge_weighted")):
        (line,) = problems(name)
        assert f"run.ensemble_weights: [1.0, 2.0, 3.0] are ignored by run.ensemble = '{name}'" in line, line
        assert instead in line and "or leave run.ensemble_weights empty" in line
    for name in ("weighted_avg", "majority_vote", "rouge_weighted", "blending"):
        assert problems(name) == [], name
    # an infinite weight in the search grid makes the votes inf / inf
    (line,) = problems("blending", ensembles={"blending": {"grid": [1.0, float("inf")]}})
    assert line.endswith("ensembles.blending.grid: must be a finite number, got inf"), line


def test_token_level_combine_is_the_weighted_vote(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    weights = {"good": 0.0, "mid": 0.0, "bad": 1.0}
    ens = ctx.build("ensembles", "weighted_avg")
    assert ens.level == "token"
    assert ens.combine(groups(), weights, ctx) == build(ctx, "majority_vote").combine(groups(), weights, ctx)
    plain = ctx.build("ensembles", "averaging")  # ignores the weights
    assert plain.combine(groups(), weights, ctx) == build(ctx, "majority_vote").combine(groups(), {}, ctx)


class ProgressLog:
    """A logger that keeps the ``dialsum_on_progress`` events of one task."""

    def __init__(self, task: str) -> None:
        self.task = task
        self.events: list[tuple[int, int | None]] = []

    @hookimpl
    def dialsum_on_progress(self, task: str, completed: int, total: int | None) -> None:
        if task == self.task:
            self.events.append((completed, total))


@pytest.mark.parametrize("name", ["majority_vote", "stacking", "blending"])
def test_candidate_rouge_is_reported_as_progress_once(tmp_path: Path, name: str) -> None:
    """Pairwise ROUGE of every dialogue's candidates is the long part of an ensemble at full scale
    (every fold, model and TTA variant a candidate): it shows as a progress task the first time, and
    not again for the cached groups a weight search combines over and over."""
    ctx = make_ctx(tmp_path)
    seen = ProgressLog("candidate ROUGE")
    ctx.plugins.pm.register(seen, f"progress-{name}")
    # texts of this test only: the pairwise cache is the process's
    tagged = [[Candidate(f"{c.text} {name} 진행", c.source) for c in g] for g in groups()]
    ens = build(ctx, name)
    ens.fit(tagged, [[r] for r in REF], {}, ctx)
    ens.combine(tagged, {}, ctx)
    assert seen.events[0] == (0, len(REF)) and seen.events[-1] == (len(REF), len(REF))
    assert [c for c, _ in seen.events] == list(range(len(REF) + 1))  # computed once, not again by combine
    before = len(seen.events)
    ens.combine(tagged, {}, ctx)
    assert len(seen.events) == before


@pytest.mark.parametrize("name", ["stacking", "rouge_weighted"])
def test_a_fit_that_ignores_the_weights_is_learnt_once_per_input(tmp_path: Path, name: str) -> None:
    """A weight search fits a fresh strategy on the same validation candidates for every trial:
    stacking's scorer and rouge_weighted's source ROUGE do not depend on the weights, and were
    learnt again each time. Learnt once per input now, with the same result."""
    import attrs

    from dialsum_ensemble import output

    ctx = make_ctx(tmp_path)
    base = type(build(ctx, name))
    learnt: list[int] = []

    class Counting(base):  # the real strategy, counting the ROUGE it computes against the references
        def fit(self, candidates, references, weights, ctx):
            real = output.reference_scores

            def counted(*args, **kwargs):
                learnt.append(1)
                return real(*args, **kwargs)

            output.reference_scores = counted
            try:
                return super().fit(candidates, references, weights, ctx)
            finally:
                output.reference_scores = real

    refs = [[r] for r in REF]
    options = ctx.options("ensembles", name)
    first = Counting(options)
    info = first.fit(groups(), refs, {"good": 1.0, "mid": 1.0, "bad": 1.0}, ctx)
    once = len(learnt)
    assert once >= 1
    for weights in ({"good": 0.2, "mid": 0.5, "bad": 0.3}, {}):
        again = Counting(options)
        # equal candidates in other objects (a run mode rescores them) are the same input
        copies = [[attrs.evolve(c) for c in g] for g in groups()]
        assert again.fit(copies, refs, weights, ctx) == info
        assert again.combine(groups(("bad", "good", "mid")), weights, ctx) == \
            first.combine(groups(("bad", "good", "mid")), weights, ctx)
    assert len(learnt) == once
    Counting(options).fit(groups()[:3], refs[:3], {}, ctx)  # other dialogues: learnt again
    assert len(learnt) > once
