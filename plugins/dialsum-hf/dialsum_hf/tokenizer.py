"""Tokenizers: training one on the data (``scratch``) and adding the dialogue tags as whole tokens.

Tags such as ``#Person1#`` are added as ordinary (non-special) tokens: they must survive decoding
with ``skip_special_tokens=True``, since summaries refer to speakers by them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"


def train_tokenizer(
    texts: Iterable[str], vocab_size: int, min_frequency: int = 2, *, template: str = "eos"
) -> Any:
    """A BPE tokenizer over SentencePiece-style word pieces (``▁`` marks a space), from ``texts``.

    ``template`` says what encoding adds: ``eos`` (encoder-decoder: input and target end with
    ``</s>``; the decoder starts from ``<s>``), ``bos`` (Llama-style: ``<s>`` first) or ``none``
    (GPT-NeoX-style).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first")
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=[PAD, BOS, EOS, UNK],
        show_progress=False,
    )
    tok.train_from_iterator(list(texts), trainer=trainer)
    if template == "eos":
        tok.post_processor = processors.TemplateProcessing(
            single=f"$A {EOS}", pair=f"$A {EOS} $B:1 {EOS}:1", special_tokens=[(EOS, tok.token_to_id(EOS))]
        )
    elif template == "bos":
        tok.post_processor = processors.TemplateProcessing(
            single=f"{BOS} $A", pair=f"{BOS} $A $B:1", special_tokens=[(BOS, tok.token_to_id(BOS))]
        )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token=PAD, bos_token=BOS, eos_token=EOS, unk_token=UNK
    )


def add_tags(tokenizer: Any, tags: Sequence[str]) -> list[int]:
    """Add ``tags`` as whole, non-special tokens; returns the ids of the tokens that were new."""
    from tokenizers import AddedToken

    vocab = tokenizer.get_vocab()
    new = [t for t in tags if t not in vocab]
    if new:
        tokenizer.add_tokens([AddedToken(t, normalized=False, special=False, single_word=False) for t in new])
    return tokenizer.convert_tokens_to_ids(new) if new else []


def signature(tokenizer: Any) -> str:
    """Equal for two tokenizers iff they map the same token strings to the same ids."""
    items = sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])
    return hashlib.sha256(json.dumps(items, ensure_ascii=False).encode("utf-8")).hexdigest()[:32]
