"""Turning examples into token ids, and batches of ids into padded tensors.

Encoder-decoder models read the dialogue and are trained on the summary. Causal models read a
prompt (template + dialogue) followed by the summary and an end-of-text token; the loss covers only
the summary tokens (the prompt's labels are ``-100``), and the prompt keeps its end (the "answer
here" marker) when a long dialogue has to be shortened.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

IGNORE = -100


def encode_prompt(tokenizer: Any, render: Any, dialogue: str, max_length: int) -> list[int]:
    """Ids of ``render(dialogue)``, shortening the dialogue (not the template) to fit ``max_length``."""
    ids = prompt_ids(tokenizer, render(dialogue))
    if len(ids) <= max_length:
        return ids
    dialogue_ids = tokenizer(dialogue, add_special_tokens=False).input_ids
    keep = max(1, len(dialogue_ids) - (len(ids) - max_length))
    for _ in range(8):  # re-tokenising the shortened text can shift a token or two
        short = tokenizer.decode(dialogue_ids[:keep], skip_special_tokens=False)
        ids = prompt_ids(tokenizer, render(short))
        if len(ids) <= max_length or keep == 1:
            break
        keep = max(1, keep - (len(ids) - max_length))
    return ids[-max_length:] if len(ids) > max_length else ids


def prompt_ids(tokenizer: Any, text: str) -> list[int]:
    ids = list(tokenizer(text, add_special_tokens=True).input_ids)
    if ids and tokenizer.eos_token_id is not None and ids[-1] == tokenizer.eos_token_id:
        ids = ids[:-1]  # tokenizers that close every text with EOS: the prompt must stay open
    return ids


def target_ids(tokenizer: Any, summary: str, max_target_length: int) -> list[int]:
    """Summary ids for a causal model, always ending with EOS so the model learns to stop."""
    ids = list(tokenizer(summary, add_special_tokens=False).input_ids)[: max_target_length - 1]
    return [*ids, tokenizer.eos_token_id]


def encode_seq2seq(tokenizer: Any, dialogues: Sequence[str], summaries: Sequence[str],
                   max_length: int, max_target_length: int) -> list[dict[str, list[int]]]:
    enc = tokenizer(list(dialogues), max_length=max_length, truncation=True)
    lab = tokenizer(text_target=list(summaries), max_length=max_target_length, truncation=True)
    return [
        {"input_ids": list(i), "attention_mask": list(m), "labels": list(t)}
        for i, m, t in zip(enc["input_ids"], enc["attention_mask"], lab["input_ids"], strict=True)
    ]


def encode_causal(tokenizer: Any, render: Any, dialogues: Sequence[str], summaries: Sequence[str],
                  max_length: int, max_target_length: int) -> list[dict[str, list[int]]]:
    out = []
    for dialogue, summary in zip(dialogues, summaries, strict=True):
        target = target_ids(tokenizer, summary, max_target_length)
        prompt = encode_prompt(tokenizer, render, dialogue, max_length)
        ids = prompt + target
        out.append({"input_ids": ids, "attention_mask": [1] * len(ids),
                    "labels": [IGNORE] * len(prompt) + target})
    return out


def pad_batch(features: Sequence[dict[str, list[int]]], pad_id: int, *, left: bool = False) -> dict[str, Any]:
    """Pad ids with ``pad_id``, the mask with 0 and labels with -100, on the right (or the left)."""
    import torch

    width = max(len(f["input_ids"]) for f in features)
    batch: dict[str, list[list[int]]] = {"input_ids": [], "attention_mask": []}
    has_labels = "labels" in features[0]
    label_width = max(len(f["labels"]) for f in features) if has_labels else 0
    if has_labels:
        batch["labels"] = []
    for f in features:
        n = width - len(f["input_ids"])
        ids, mask = list(f["input_ids"]), list(f.get("attention_mask", [1] * len(f["input_ids"])))
        batch["input_ids"].append([pad_id] * n + ids if left else ids + [pad_id] * n)
        batch["attention_mask"].append([0] * n + mask if left else mask + [0] * n)
        if has_labels:
            labels = list(f["labels"])
            m = (width if len(labels) == len(ids) else label_width) - len(labels)
            batch["labels"].append([IGNORE] * m + labels if left else labels + [IGNORE] * m)
    return {k: torch.tensor(v, dtype=torch.long) for k, v in batch.items()}


class Collator:
    """The Trainer's data collator: right padding for training (positions start at 0 everywhere).

    For an encoder-decoder it also builds ``decoder_input_ids`` from the labels, as transformers'
    ``DataCollatorForSeq2Seq`` does: with label smoothing the Trainer takes ``labels`` out of the batch
    before the forward pass, and the model would otherwise have nothing to build its decoder input from.
    """

    def __init__(self, pad_id: int, model: Any = None):
        self.pad_id = pad_id
        self.prepare = getattr(model, "prepare_decoder_input_ids_from_labels", None)

    def __call__(self, features: Sequence[dict[str, list[int]]]) -> dict[str, Any]:
        batch = pad_batch(features, self.pad_id)
        if self.prepare is not None and "labels" in batch:
            batch["decoder_input_ids"] = self.prepare(labels=batch["labels"])
        return batch
