"""Batched generation (sorted by length, padded) returns what one-at-a-time generation returns."""

from __future__ import annotations

import pytest

NAMES = {"bart": "hf-seq2seq", "llama": "hf-causal", "gpt_neox": "hf-causal"}


@pytest.mark.parametrize("family", sorted(NAMES))
def test_batched_greedy_equals_one_dialogue_at_a_time(context, tiny_models, family: str) -> None:
    name = NAMES[family]
    ctx = context({"run": {"models": [name]},
                   "models": {name: {"model_name_or_path": str(tiny_models[family]), "torch_dtype": "float32"}},
                   "generation": {"num_beams": 1, "max_new_tokens": 10, "min_new_tokens": 8,
                                  "repetition_penalty": 1.0, "no_repeat_ngram_size": 0, "batch_size": 4}},
                  name=family)
    data = ctx.data()
    model = ctx.build("model_loaders", name).build(ctx, data.train)
    dialogues = [e.dialogue for e in data.train[:6]] + [data.train[0].dialogue * 3]  # lengths differ widely
    assert len({len(x) for x in model.encode_inputs(dialogues, 64)}) > 2
    together = model.generate(dialogues, ctx)
    alone = [model.generate([d], ctx)[0] for d in dialogues]
    assert together == alone
    assert all(len(model.tokenizer(t, add_special_tokens=False).input_ids) >= 4 for t in together)
