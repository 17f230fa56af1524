"""Tokenizers: training one on the data (``scratch``) and adding the dialogue tags as whole tokens.

Tags such as ``#Person1#`` are added as ordinary (non-special) tokens: they must survive decoding
with ``skip_special_tokens=True``, since summaries refer to speakers by them.

A trained tokenizer is cached in a folder under a key of its training texts, tags and options
(:func:`cached_tokenizer`), so every model of a run trained on the same data (the k-fold models,
repeated runs) gets the very same ids and can be ensembled token by token.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from dialsum_core.data import KNOWN_TAGS, TAG_RE

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"


def train_tokenizer(
    texts: Iterable[str], vocab_size: int, min_frequency: int = 2, *, template: str = "eos",
    alphabet: Sequence[str] = (),
) -> Any:
    """A BPE tokenizer over SentencePiece-style word pieces (``▁`` marks a space), from ``texts``.

    ``alphabet``: characters given a token of their own even where ``texts`` lack them (see
    :func:`input_alphabet`); the merges are learnt from ``texts`` alone.

    ``template`` says what encoding adds: ``eos`` (encoder-decoder: input and target end with
    ``</s>``; the decoder starts from ``<s>``), ``bos`` (Llama-style: ``<s>`` first) or ``none``
    (GPT-NeoX-style).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE(unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first")
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=[PAD, BOS, EOS, UNK],
        initial_alphabet=list(alphabet),
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
    return _wrap(tok)


def _wrap(tok: Any) -> Any:
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=PAD, bos_token=BOS, eos_token=EOS, unk_token=UNK)


def cached_tokenizer(
    folder: Path, texts: Sequence[str], tags: Sequence[str], vocab_size: int, min_frequency: int = 2,
    *, template: str = "eos", alphabet: Sequence[str] = (),
) -> Any:
    """:func:`train_tokenizer` on ``texts`` plus ``tags``, trained once and kept in ``folder``.

    The file is named by a hash of everything that shapes the result, so a later call with the
    same texts and options (another fold, another run in the same experiment) loads identical ids,
    and a call with other data trains its own. Every caller, the first included, gets the tokenizer
    read back from the file: the ids cannot differ between the one that trained it and the others.
    """
    from tokenizers import Tokenizer

    from dialsum_core.atomic import atomic_write_text

    key = tokenizer_key(texts, tags, vocab_size, min_frequency, template=template, alphabet=alphabet)
    path = Path(folder) / f"{key}.json"
    if not path.is_file():
        tok = train_tokenizer(texts, vocab_size, min_frequency, template=template, alphabet=alphabet)
        add_tags(tok, tags)
        atomic_write_text(path, tok.backend_tokenizer.to_str())
    return _wrap(Tokenizer.from_str(path.read_text(encoding="utf-8")))


def tokenizer_key(texts: Sequence[str], tags: Sequence[str], vocab_size: int, min_frequency: int = 2,
                  *, template: str = "eos", alphabet: Sequence[str] = ()) -> str:
    """A hash of everything that shapes a trained tokenizer: equal keys, equal ids.

    It names the file :func:`cached_tokenizer` keeps, and a ``scratch`` checkpoint records it, so that
    ``dialsum check`` can tell, without training one, that ``run.resume_from`` names a model whose
    tokenizer was learned from other data (its ids would mean other words, or not fit at all)."""
    shaping = [list(texts), list(tags), vocab_size, min_frequency, template] + ([list(alphabet)] if alphabet else [])
    return hashlib.sha256(json.dumps(shaping, ensure_ascii=False).encode("utf-8")).hexdigest()[:20]


def input_alphabet(dialogues: Iterable[str]) -> list[str]:
    """Every character of ``dialogues`` (the space aside, which the word pieces mark with ``▁``), sorted.

    BPE maps a character it never saw to ``<unk>``, and decoding drops it: a name or rare syllable of a
    test dialogue absent from the training data vanished from what the model read and wrote. Given as
    the trainer's initial alphabet, each keeps a token of its own (one id per character, so a Korean
    syllable stays one token, unlike a byte fallback's three), while the merges are still learnt from
    the training texts alone: validation and test dialogues add characters, never merges."""
    return sorted({c for text in dialogues for c in text} - {" "})


def scratch_corpus(examples: Sequence[Any], extra_tags: Iterable[str],
                   inputs: Iterable[Any] = ()) -> tuple[list[str], list[str], list[str]]:
    """The texts and whole-token tags the ``scratch`` tokenizer learns from ``examples``, and its alphabet:
    the characters of the dialogues of ``examples`` and ``inputs`` (the validation and test splits the
    model will read). One rule for the loader that trains it and the check that compares a checkpoint's
    with it."""
    texts = [e.dialogue for e in examples] + [s for e in examples for s in e.summaries]
    alphabet = input_alphabet(e.dialogue for split in (examples, inputs) for e in split)
    return texts, special_tokens(examples, extra_tags), alphabet


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


def special_tokens(examples: Iterable[Any], extra: Iterable[str] = ()) -> list[str]:
    """The tokens a tokenizer must keep whole: the known tags, the recipe's ``data.special_tokens`` and
    every ``#Tag#`` seen in the data, in a stable order (models trained apart then share ids)."""
    found: list[str] = list(KNOWN_TAGS)
    for tok in extra:
        if tok not in found:
            found.append(tok)
    seen: set[str] = set(found)
    for e in examples:
        for text in (e.dialogue, *e.summaries):
            for tag in TAG_RE.findall(text):
                if tag not in seen:
                    seen.add(tag)
                    found.append(tag)
    return found
