"""Entry-point module of the ensemble strategies (cheap to import: numpy, torch load when built)."""

from __future__ import annotations

from typing import Any

import attrs

from dialsum_core import hookimpl
from dialsum_core.protocols import TOKEN_LEVEL
from dialsum_core.validators import at_least, each, finite, non_negative, one_of
from dialsum_metrics import MEASURES, TOKENIZERS

#: What a candidate's agreement with the others is measured by: the mean of the ROUGE F1 measures, or one.
AGREEMENT = ("mean", *MEASURES)
Problems = list[tuple[str, str]]


def _grid(inst: Any, attr: Any, value: list[float]) -> None:
    if not value:
        raise ValueError("must be a non-empty list of weights >= 0")
    each(non_negative)(inst, attr, value)
    each(finite)(inst, attr, value)


@attrs.define
class MbrOptions:
    #: How candidates are split into tokens for ROUGE (as the ``rouge`` metric).
    tokenizer: str = attrs.field(default="auto", validator=one_of(TOKENIZERS))
    #: Agreement measure: the mean of ROUGE-1/2/L F1, or one of them.
    measure: str = attrs.field(default="mean", validator=one_of(AGREEMENT))


@attrs.define
class RougeWeightedOptions(MbrOptions):
    #: Votes count as (source validation ROUGE) ** power; larger values favour the best source more
    #: (`inf`: only the best source votes); 0: every source votes equally.
    power: float = attrs.field(default=1.0, validator=non_negative)


@attrs.define
class StackingOptions(MbrOptions):
    #: Ridge penalty (per training candidate) of the candidate scorer; 0: plain least squares.
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

    level = TOKEN_LEVEL

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
#: The tag of a model loader whose models can decode jointly with others that share their tokenizer.
TOKEN_ENSEMBLE = "token-ensemble"
#: The tag of the strategies below that decode jointly (the core's ``TOKEN_LEVEL``), so that a model
#: loader's check can tell when the recipe's models must share a tokenizer (docs/ensembles.md).
TOKEN = TOKEN_LEVEL


def check_token(recipe: Any, plugins: Any, *, name: str) -> Problems:
    """Refuse token-level averaging when the models cannot share one decoding.

    Reads only what the core defines and the loaders declare: ``run.models``, which key chose this
    strategy and whether augmenters are used (``recipe.uses``), and each loader's registration (its
    ``token-ensemble`` tag, its options class). Whether loaders of *one* options class share a
    tokenizer is the knowledge of the plugin that owns the class (dialsum-hf compares their
    ``model_name_or_path``, also for a preset another plugin registers with dialsum-hf's options): its
    loaders' checks refuse a recipe whose ensemble carries the ``token`` tag. Models of different
    options classes are never assumed to share one.
    """
    uses = recipe.uses(plugins)
    key = next((k for k, kind, names in uses if kind == "ensembles" and name in names), "run.models")
    models = list(recipe.run.models)
    tta = any(kind == "augmenters" for _k, kind, _names in uses)
    mode = plugins.get("run_modes", recipe.run.mode)
    # TTA candidates of one model, or of each model alone in a mode that combines no models (the tag
    # "ensemble" is documented in docs/concepts.md): inputs differ, so they are combined by the vote
    if tta and (len(models) == 1 or (mode is not None and "ensemble" not in mode.tags)):
        return []
    regs = [r for r in (plugins.get("model_loaders", n) for n in models) if r is not None]
    hint = ("the strategy averages log-probabilities token by token, which needs models that share a "
            f"tokenizer; use an output-level strategy such as {key} = \"majority_vote\" or \"rouge_weighted\"")
    untagged = [r.name for r in regs if TOKEN_ENSEMBLE not in r.tags]
    if untagged:
        return [(key, f"model loader(s) {untagged} cannot decode jointly (no '{TOKEN_ENSEMBLE}' tag); {hint}")]
    if len({r.options for r in regs}) > 1:
        kinds = sorted({f"{r.options.__name__} of {r.distribution}" for r in regs})
        return [(key, f"models {models} are built by different loaders ({', '.join(kinds)}), which cannot be "
                 f"shown to share a tokenizer; {hint}")]
    return []


#: The strategies that never read ``run.ensemble_weights``, with what to use instead.
UNWEIGHTED = {
    "averaging": "weighs every model equally; use \"weighted_avg\" to weigh them",
    "stacking": "scores candidates with a model learnt on validation; use \"rouge_weighted\" or "
                "\"majority_vote\" to weigh the sources",
}


def check_weights(recipe: Any, plugins: Any, *, name: str) -> Problems:
    """Refuse ``run.ensemble_weights`` given to a strategy that would silently ignore them (the run
    would log them as the weights it used)."""
    weights = list(getattr(recipe.run, "ensemble_weights", None) or [])
    if weights and name in UNWEIGHTED:
        return [("run.ensemble_weights", f"{weights} are ignored by run.ensemble = {name!r}, which "
                 f"{UNWEIGHTED[name]}, or leave run.ensemble_weights empty")]
    return []


def check_averaging(recipe: Any, plugins: Any, *, name: str) -> Problems:
    return check_token(recipe, plugins, name=name) + check_weights(recipe, plugins, name=name)


@hookimpl
def dialsum_register_ensembles(register: Any) -> None:
    import functools

    for name, weighted, description in (
        ("averaging", False, "Token level: beam search over the mean log-probability of models sharing a tokenizer"),
        ("weighted_avg", True, "Token level: beam search over weighted log-probabilities (run.ensemble_weights)"),
    ):
        register(name, functools.partial(make_token, weighted=weighted), options=MbrOptions, tags=(TOKEN,),
                 check=functools.partial(check_averaging, name=name), description=description)
    register("majority_vote", functools.partial(make_output, name="majority_vote"), options=MbrOptions,
             description="Output level: the candidate with the highest mean ROUGE against the others (MBR)")
    register("rouge_weighted", functools.partial(make_output, name="rouge_weighted"),
             options=RougeWeightedOptions,
             description="Output level: MBR with votes weighted by each source's validation ROUGE")
    register("stacking", functools.partial(make_output, name="stacking"), options=StackingOptions,
             check=functools.partial(check_weights, name="stacking"),
             description="Output level: a ridge scorer of candidates learnt on out-of-fold/validation candidates")
    register("blending", functools.partial(make_output, name="blending"), options=BlendingOptions,
             description="Output level: source weights fitted on the held-out split, then MBR")
