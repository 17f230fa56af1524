"""Decoder-only generation can copy from the dialogue: ``repetition_penalty`` and
``no_repeat_ngram_size`` look at the generated tokens only, never at the prompt.

The model is a real one-layer Llama whose weights are set by hand so that it is a lookup table:
its attention and MLP add nothing, the embeddings are one-hot, and ``lm_head`` holds the logits of
the next token given the last one. That makes the greedy output known in advance.
"""

from __future__ import annotations

import math

import pytest
import torch

from dialsum_hf.generation import GeneratedNoRepeatNGram, GeneratedRepetitionPenalty, generate_ids
from dialsum_hf.model import HFModel
from dialsum_hf.tokenizer import train_tokenizer

HIDDEN = 64


def lookup_llama(logits: dict[tuple[int, int], float]) -> tuple[object, object]:
    """A Llama whose next-token logits after token ``t`` are ``logits[(t, j)]`` (0 elsewhere)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = train_tokenizer(["a b c d e f g h"], vocab_size=40, min_frequency=1, template="bos")
    vocab = len(tok)
    assert vocab <= HIDDEN
    config = LlamaConfig(vocab_size=vocab, hidden_size=HIDDEN, intermediate_size=HIDDEN, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64,
                         tie_word_embeddings=False, pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                         eos_token_id=tok.eos_token_id)
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():
        layer = model.model.layers[0]
        layer.self_attn.o_proj.weight.zero_()
        layer.mlp.down_proj.weight.zero_()
        model.model.embed_tokens.weight.zero_()
        model.model.embed_tokens.weight[:, :vocab] = torch.eye(vocab)
        model.lm_head.weight.zero_()
        scale = math.sqrt(HIDDEN)  # the final RMSNorm turns a one-hot row into sqrt(hidden) * one-hot
        for (t, j), value in logits.items():
            model.lm_head.weight[j, t] = value / scale
    return model, tok


def ids(tok: object, *letters: str) -> list[int]:
    return [tok.convert_tokens_to_ids(f"▁{x}") for x in letters]


def _run(context, model: object, tok: object, prompts: list[list[int]], **gen: object) -> list[list[int]]:
    table = {"num_beams": 1, "max_new_tokens": 6, "min_new_tokens": 0, "repetition_penalty": 1.0,
             "no_repeat_ngram_size": 0, "batch_size": 4, **gen}
    ctx = context({"generation": table})
    hf = HFModel(model, tok, loader="hf-causal", is_encoder_decoder=False, options=None)
    return generate_ids(hf, prompts, ctx)


@pytest.fixture
def copier() -> tuple[object, object, dict[str, int]]:
    """After the prompt's last token ``z`` the model says ``a b c`` and stops; ``d`` is a close second
    everywhere, so any penalty or ban on ``a``, ``b`` or ``c`` turns the output into ``d``."""
    _, probe = lookup_llama({})
    a, b, c, d, z = ids(probe, "a", "b", "c", "d", "h")
    eos = probe.eos_token_id
    table = {(z, a): 2.0, (a, b): 2.0, (b, c): 2.0, (c, eos): 2.0}
    for t in (z, a, b, c, d):
        table[(t, d)] = 1.6
    model, tok = lookup_llama(table)
    return model, tok, {"a": a, "b": b, "c": c, "d": d, "z": z, "eos": eos}


def test_the_summary_may_repeat_a_trigram_of_the_dialogue(context, copier) -> None:
    model, tok, t = copier
    prompt = [tok.bos_token_id, t["a"], t["b"], t["c"], t["z"]]  # the dialogue holds the trigram a b c
    plain = _run(context, model, tok, [prompt])
    assert plain == [[t["a"], t["b"], t["c"], t["eos"]]]
    assert _run(context, model, tok, [prompt], no_repeat_ngram_size=3) == plain
    assert _run(context, model, tok, [prompt], repetition_penalty=1.5) == plain
    assert _run(context, model, tok, [prompt], repetition_penalty=1.5, no_repeat_ngram_size=3) == plain


def test_generated_tokens_are_still_penalised_and_blocked(context) -> None:
    _, probe = lookup_llama({})
    a, b, c, d, z = ids(probe, "a", "b", "c", "d", "h")
    table = {(z, a): 2.0, (a, b): 2.0, (b, c): 2.0, (c, a): 2.0}  # a b c a b c ... without an end
    for x in (z, a, b, c, d):
        table[(x, d)] = 1.6
    model, tok = lookup_llama(table)
    prompt = [tok.bos_token_id, z]
    assert _run(context, model, tok, [prompt]) == [[a, b, c, a, b, c]]
    # the second "c" would close the generated trigram "a b c" again
    assert _run(context, model, tok, [prompt], no_repeat_ngram_size=3)[0][:5] == [a, b, c, a, b]
    assert _run(context, model, tok, [prompt], no_repeat_ngram_size=3)[0][5] != c
    # the second "a" is penalised (2.0 / 1.5 < 1.6) once "a" has been generated
    assert _run(context, model, tok, [prompt], repetition_penalty=1.5)[0][:4] == [a, b, c, d]


def test_a_left_padded_batch_gives_what_each_prompt_gives_alone(context, copier) -> None:
    model, tok, t = copier
    prompts = [[tok.bos_token_id, t["a"], t["b"], t["c"], t["z"]], [tok.bos_token_id, t["z"]],
               [tok.bos_token_id, t["d"], t["c"], t["a"], t["b"], t["c"], t["z"]]]
    gen = {"repetition_penalty": 1.5, "no_repeat_ngram_size": 2}
    together = _run(context, model, tok, prompts, **gen)
    alone = [_run(context, model, tok, [p], **gen)[0] for p in prompts]
    assert together == alone
    assert together[2][:3] == [t["a"], t["b"], t["c"]]


@pytest.mark.parametrize("seed", range(5))
def test_processors_equal_transformers_on_the_generated_part(seed: int) -> None:
    """Past the prompt, each processor is exactly transformers' own processor on the generated tokens."""
    from transformers import NoRepeatNGramLogitsProcessor, RepetitionPenaltyLogitsProcessor

    g = torch.Generator().manual_seed(seed)
    rows, prompt, new, vocab = 3, 7, 9, 12
    input_ids = torch.randint(0, 5, (rows, prompt + new), generator=g)  # few ids: many repeats
    scores = torch.randn(rows, vocab, generator=g)
    generated = input_ids[:, prompt:]
    for ours, theirs in ((GeneratedRepetitionPenalty(1.3, prompt), RepetitionPenaltyLogitsProcessor(1.3)),
                         (GeneratedNoRepeatNGram(2, prompt), NoRepeatNGramLogitsProcessor(2)),
                         (GeneratedNoRepeatNGram(3, prompt), NoRepeatNGramLogitsProcessor(3))):
        assert torch.equal(ours(input_ids, scores.clone()), theirs(generated, scores.clone()))
    # nothing generated yet: the prompt's tokens are neither penalised nor banned
    assert torch.equal(GeneratedRepetitionPenalty(1.3, prompt + new)(input_ids, scores), scores)
    assert torch.equal(GeneratedNoRepeatNGram(2, prompt + new)(input_ids, scores), scores)
