"""Tokenisation for scoring: Korean morphemes with kiwipiepy, whitespace otherwise.

``rouge-score``'s default tokenizer keeps only ``[a-z0-9]`` and silently scores Hangul as nothing,
so Korean summaries must be split into morphemes before any n-gram is counted.

``auto`` picks kiwi for Hangul text and whitespace otherwise. A scorer must make that choice once
per comparison (:func:`pair_tokenizer`), never per text: ``#Person2# Tom.`` split on whitespace
against ``#Person2#은 Tom.`` split by kiwi shares fewer tokens than the same two texts split alike,
and the score then measures the tokenizers, not the summaries.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Any

from dialsum_core.data import TAG_RE as TAGS

#: The core's tag pattern, captured: ``re.split`` keeps the tags as pieces of their own.
TAG_RE = re.compile(f"({TAGS.pattern})")
HANGUL_RE = re.compile(r"[\uac00-\ud7a3\u3131-\u318e]")


@functools.lru_cache(maxsize=1)
def kiwi() -> Any:
    """The process's one kiwipiepy analyser: ROUGE and the test-time augmenters split the same
    dialogues, and each analyser takes about 2 s to build and warm up and 400 MiB of memory."""
    from kiwipiepy import Kiwi

    return Kiwi()


def _kiwi_tokens(text: str) -> list[str]:
    return [tok.form for tok in kiwi().tokenize(text)] if text.strip() else []


def has_hangul(text: str) -> bool:
    return HANGUL_RE.search(text) is not None


def pair_tokenizer(tokenizer: str, *texts: str) -> str:
    """The concrete tokenizer (``kiwi`` or ``whitespace``) for texts that are compared together.

    ``auto`` becomes ``kiwi`` when *any* of them has Hangul, so that both sides of a comparison are
    always split the same way.
    """
    if tokenizer == "auto":
        return "kiwi" if any(has_hangul(t) for t in texts) else "whitespace"
    if tokenizer not in ("kiwi", "whitespace"):
        raise ValueError(f"unknown tokenizer {tokenizer!r} (expected auto, kiwi or whitespace)")
    return tokenizer


def tokenize(text: str, tokenizer: str = "auto", keep_tags: bool = True) -> list[str]:
    """Tokens of ``text``; ``#Tags#`` stay whole when ``keep_tags``.

    ``auto`` decides for this text alone; scorers pass the tokenizer of :func:`pair_tokenizer`.
    Results are cached per process: validation scores the same references after every epoch and
    weight searches score the same candidates hundreds of times, and kiwi is the slow part.
    """
    return list(_tokenize(text, pair_tokenizer(tokenizer, text), keep_tags))


@functools.lru_cache(maxsize=1 << 16)
def _tokenize(text: str, tokenizer: str, keep_tags: bool) -> tuple[str, ...]:
    use_kiwi = tokenizer == "kiwi"
    pieces = TAG_RE.split(text) if keep_tags else [text]
    tokens: list[str] = []
    for piece in pieces:
        if keep_tags and TAG_RE.fullmatch(piece):
            tokens.append(piece)
        elif use_kiwi:
            tokens.extend(_kiwi_tokens(piece))
        else:
            tokens.extend(piece.lower().split())
    return tuple(tokens)


def tokenize_many(texts: Sequence[str], tokenizer: str = "auto", keep_tags: bool = True) -> list[list[str]]:
    cache: dict[str, list[str]] = {}
    out = []
    for t in texts:
        if t not in cache:
            cache[t] = tokenize(t, tokenizer, keep_tags)
        out.append(cache[t])
    return out
