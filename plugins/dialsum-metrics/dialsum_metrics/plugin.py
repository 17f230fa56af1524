"""Entry-point module: cheap to import; kiwipiepy and sacrebleu load only when a metric is built."""

from __future__ import annotations

from typing import Any

import attrs

from dialsum_core import hookimpl

TOKENIZERS = ("auto", "kiwi", "whitespace")


@attrs.define
class RougeOptions:
    #: ``kiwi`` (Korean morphemes), ``whitespace``, or ``auto`` (kiwi when the text has Hangul).
    tokenizer: str = attrs.field(default="auto", validator=attrs.validators.in_(TOKENIZERS))
    #: Keep ``#Person1#``-style tags as single tokens.
    keep_tags: bool = True


@attrs.define
class BleuOptions:
    #: ``kiwi`` (Korean morphemes), ``whitespace``, or ``auto`` (kiwi when the text has Hangul).
    tokenizer: str = attrs.field(default="auto", validator=attrs.validators.in_(TOKENIZERS))


def make_rouge(options: RougeOptions, ctx: Any) -> Any:
    from dialsum_metrics.rouge import RougeMetric

    return RougeMetric(options.tokenizer, options.keep_tags)


def make_bleu(options: BleuOptions, ctx: Any) -> Any:
    from dialsum_metrics.bleu import BleuMetric

    return BleuMetric(options.tokenizer)


@hookimpl
def dialsum_register_metrics(register: Any) -> None:
    register(
        "rouge",
        make_rouge,
        options=RougeOptions,
        description="ROUGE-1/2/L F1 on Korean morphemes (kiwipiepy), best over references",
    )
    register("bleu", make_bleu, options=BleuOptions, description="Corpus BLEU (sacrebleu) on morphemes")


@hookimpl
def dialsum_register_sections(register: Any) -> None:
    register("run", defaults={"metrics": ["rouge", "bleu"]},
             description="The metrics a recipe that names none uses")
