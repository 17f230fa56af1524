"""Entry-point module of the ensemble strategies (cheap to import: numpy, torch load when built)."""

from __future__ import annotations

from typing import Any

import attrs

from dialsum_core import hookimpl
from dialsum_core.validators import at_least, each, non_negative, one_of
from dialsum_metrics import MEASURES, TOKENIZERS

#: What a candidate's agreement with the others is measured by: the mean of the ROUGE F1 measures, or one.
AGREEMENT = ("mean", *MEASURES)
Problems = list[tuple[str, str]]


def _grid(inst: Any, attr: Any, value: list[float]) -> None:
    if not value:
        raise ValueError("must be a non-empty list of weights >= 0")
    each(non_negative)(inst, attr, value)


@attrs.define
class MbrOptions:
    #: How candidates are split into tokens for ROUGE (as the ``rouge`` metric).
    tokenizer: str = attrs.field(default="auto", validator=one_of(TOKENIZERS))
    #: Agreement measure: the mean of ROUGE-1/2/L F1, or one of them.
    measure: str = attrs.field(default="mean", validator=one_of(AGREEMENT))


@attrs.define
class RougeWeightedOptions(MbrOptions):
    #: Votes count as (source validation ROUGE) ** power; larger values favour the best source more.
    power: float = attrs.field(default=1.0, validator=non_negative)


@attrs.define
class StackingOptions(MbrOptions):
    #: Ridge penalty (per training candidate) of the candidate scorer.
    l2: float = attrs.field(default=1.0, validator=non_negative)


@attrs.define
class BlendingOptions(MbrOptions):
    #: Values tried for each source weight by the coordinate search.
    grid: list[float] = attrs.field(factory=lambda: [0.0, 0.25, 0.5, 1.0, 2.0, 4.0], validator=_grid)
    #: Passes of the coordinate search over the sources.
    rounds: int = attrs.field(default=3, validator=at_least(1))


def make_output(options: Any, ctx: Any, *, name: str) -> Any:
    from dialsum_ensemble import output

    cls = {"majority_vote": output.MbrEnsemble, "rouge_weighted": output.RougeWeighted,
           "stacking": output.Stacking, "blending": output.Blending}[name]
    return cls(options)


class TokenAveraging:
    """``averaging`` / ``weighted_avg``: joint beam search over averaged log-probabilities.

    ``combine`` (used for candidates that cannot be decoded jointly, such as TTA variants, whose
    inputs differ) falls back to the weighted consensus vote.
    """

    level = "token"

    def __init__(self, options: MbrOptions, weighted: bool):
        from dialsum_ensemble.output import MbrEnsemble

        self.weighted = weighted
        self._vote = MbrEnsemble(options)

    def fit(self, candidates: Any, references: Any, weights: Any, ctx: Any) -> dict[str, Any]:
        return {}

    def combine(self, candidates: Any, weights: Any, ctx: Any) -> list[str]:
        return self._vote.combine(candidates, weights if self.weighted else {}, ctx)

    def generate(self, models: Any, weights: Any, dialogues: Any, ctx: Any) -> list[str]:
        from dialsum_ensemble.token import generate

        w = list(weights) if self.weighted and weights else [1.0] * len(models)
        return generate(models, w, dialogues, ctx)


def make_token(options: MbrOptions, ctx: Any, *, weighted: bool) -> Any:
    return TokenAveraging(options, weighted)


# -- checks (cheap: registrations and the recipe only) ------------------------------------------------
def check_token(recipe: Any, plugins: Any) -> Problems:
    """Refuse token-level averaging when the models cannot share one decoding."""
    found: Problems = []
    models = list(recipe.run.models)
    if len(models) == 1 and recipe.run.use_tta:
        return found  # TTA candidates of one model: inputs differ, so they are combined by the weighted vote
    regs = [plugins.get("model_loaders", n) for n in models]
    untagged = [r.name for r in regs if r is not None and "token-ensemble" not in r.tags]
    paths = {str({**r.defaults, **recipe.models.get(r.name, {})}.get("model_name_or_path", ""))
             for r in regs if r is not None}
    loaders = {r.name for r in regs if r is not None}
    hint = ("the strategy averages log-probabilities token by token, which needs models that "
            "share a tokenizer; use an output-level strategy such as run.ensemble = \"majority_vote\" "
            "or \"rouge_weighted\"")
    if untagged:
        found.append(("run.ensemble", f"model loader(s) {untagged} cannot decode jointly (no 'token-ensemble' "
                      f"tag); {hint}"))
    elif len(loaders) > 1 and (len(paths) > 1 or paths == {""}):
        found.append(("run.ensemble", f"models {models} do not share a tokenizer (different "
                      f"model_name_or_path: {sorted(paths)}); {hint}"))
    return found


@hookimpl
def dialsum_register_ensembles(register: Any) -> None:
    import functools

    register("averaging", functools.partial(make_token, weighted=False), options=MbrOptions,
             tags=("token",), check=check_token,
             description="Token level: beam search over the mean log-probability of models sharing a tokenizer")
    register("weighted_avg", functools.partial(make_token, weighted=True), options=MbrOptions,
             tags=("token",), check=check_token,
             description="Token level: beam search over weighted log-probabilities (run.ensemble_weights)")
    register("majority_vote", functools.partial(make_output, name="majority_vote"), options=MbrOptions,
             description="Output level: the candidate with the highest mean ROUGE against the others (MBR)")
    register("rouge_weighted", functools.partial(make_output, name="rouge_weighted"),
             options=RougeWeightedOptions,
             description="Output level: MBR with votes weighted by each source's validation ROUGE")
    register("stacking", functools.partial(make_output, name="stacking"), options=StackingOptions,
             description="Output level: a ridge scorer of candidates learnt on out-of-fold/validation candidates")
    register("blending", functools.partial(make_output, name="blending"), options=BlendingOptions,
             description="Output level: source weights fitted on the held-out split, then MBR")
