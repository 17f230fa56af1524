"""Entry-point module: cheap to import; kiwipiepy, numpy and sacrebleu load only when a metric is built."""

from __future__ import annotations

from typing import Any

import attrs

from dialsum_core import hookimpl
from dialsum_core.validators import one_of
from dialsum_metrics.bleu import SCORE as BLEU
from dialsum_metrics.conventions import COUNTS, PROFILES, REFERENCES, ROUGE_L, TOKENIZERS, resolve
from dialsum_metrics.declared import percent_scores, score_tags
from dialsum_metrics.outputs import DEFAULT_THRESHOLD
from dialsum_metrics.rouge import PERCENT, SCORES


def _fits_profile(inst: Any, attr: attrs.Attribute, value: str) -> None:
    """``counts`` and ``rouge_l``: one of the named conventions, or empty for the profile's."""
    choices = COUNTS if attr.name == "counts" else ROUGE_L
    if value and value not in choices:
        raise ValueError(f"must be one of {['', *choices]}, got {value!r}")
    profile = getattr(inst, "profile", "standard") if inst is not None else "standard"
    if profile in PROFILES:
        resolve(profile, **{attr.name: value})


@attrs.define
class RougeOptions:
    #: `kiwi` (Korean morphemes), `whitespace`, or `auto`: kiwi on both sides of a
    #: prediction/reference pair when either has Hangul, whitespace otherwise.
    tokenizer: str = attrs.field(default="auto", validator=one_of(TOKENIZERS))
    #: Keep `#Person1#`-style tags as single tokens (`false`: the analyzer splits them).
    keep_tags: bool = True
    #: Several references per dialogue: `mean` averages each F1 over them (the competition's
    #: score); `max` keeps the best reference per measure (higher by construction).
    references: str = attrs.field(default="mean", validator=one_of(REFERENCES))
    #: `standard`: rouge-score's formulas; `baseline`: the `rouge` package that the competition's
    #: baseline code uses (n-gram sets, summary-level ROUGE-L, `.` dropped), on the same tokens.
    profile: str = attrs.field(default="standard", validator=one_of(PROFILES))
    #: `clipped` (an n-gram counts as often as it occurs on both sides) or `unique` (n-gram sets);
    #: empty: the profile's (`standard`: clipped; `baseline`: unique).
    counts: str = attrs.field(default="", validator=_fits_profile)
    #: `plain` (one LCS over the whole summary) or `summary` (union LCS over sentences, cut after
    #: `.`, `?`, `!`); empty: the profile's (`standard`: plain; `baseline`: summary).
    rouge_l: str = attrs.field(default="", validator=_fits_profile)
    #: Warn when fewer than this share of the predictions are distinct (a collapsed model).
    degenerate_threshold: float = attrs.field(default=DEFAULT_THRESHOLD,
                                              validator=[attrs.validators.ge(0.0), attrs.validators.le(1.0)])


@attrs.define
class BleuOptions:
    #: `kiwi` (Korean morphemes), `whitespace`, or `auto`: kiwi for a dialogue's prediction and
    #: references when any of them has Hangul.
    tokenizer: str = attrs.field(default="auto", validator=one_of(TOKENIZERS))


def make_rouge(options: RougeOptions, ctx: Any) -> Any:
    from dialsum_metrics.rouge import RougeMetric

    return RougeMetric(options.tokenizer, options.keep_tags, references=options.references, profile=options.profile,
                       counts=options.counts, rouge_l=options.rouge_l,
                       degenerate_threshold=options.degenerate_threshold)


def make_bleu(options: BleuOptions, ctx: Any) -> Any:
    from dialsum_metrics.bleu import BleuMetric

    return BleuMetric(options.tokenizer)


@hookimpl
def dialsum_register_metrics(register: Any) -> None:
    register(
        "rouge",
        make_rouge,
        options=RougeOptions,
        description="ROUGE-1/2/L F1 on Korean morphemes (kiwipiepy), averaged over references; "
        "with the share of distinct predictions and their mean length",
        tags=score_tags(*SCORES, percent=PERCENT),
    )
    register("bleu", make_bleu, options=BleuOptions, description="Corpus BLEU (sacrebleu) on morphemes",
             tags=score_tags(BLEU, percent=[BLEU]))


@hookimpl
def dialsum_add_hookspecs(add: Any) -> None:
    """The question of which scores are percentages is the metrics': without this plugin nothing asks it."""
    from dialsum_metrics import hooks

    add(hooks)


@hookimpl
def dialsum_percent_scores(plugins: Any) -> list[str]:
    return percent_scores(plugins)


@hookimpl
def dialsum_register_sections(register: Any) -> None:
    register("run", defaults={"metrics": ["rouge", "bleu"]},
             description="The metrics a recipe that names none uses")
