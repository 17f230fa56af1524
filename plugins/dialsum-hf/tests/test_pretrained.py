"""Pretrained loaders through the real code path: tiny random models of each family saved to a folder,
loaded by the presets, trained a few steps with and without LoRA, generating and reloading."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dialsum_core.errors import DialsumError
from dialsum_hf.features import IGNORE

CASES = [
    ("bart", "kobart", False),
    ("bart", "hf-seq2seq", True),
    ("llama", "solar-10.7b", True),
    ("llama", "ldcc-solar", False),
    ("gpt_neox", "polyglot-ko-12.8b", True),
    ("gpt_neox", "koalpaca", False),
]


def _ctx(context, tiny_models, family: str, name: str, lora: bool, max_length: int = 64, **extra: object):
    table = {"model_name_or_path": str(tiny_models[family]), "use_lora": lora, "torch_dtype": "float32",
             "lora_r": 4, "lora_alpha": 8, **extra}
    return context({"run": {"models": [name]}, "models": {name: table}, "train": {"max_steps": 3},
                    "data": {"max_length": max_length}}, name=name)


@pytest.mark.parametrize(("family", "name", "lora"), CASES)
def test_train_generate_save_load(context, tiny_models, tmp_path: Path, family: str, name: str, lora: bool) -> None:
    ctx = _ctx(context, tiny_models, family, name, lora)
    data = ctx.data()
    loader = ctx.build("model_loaders", name)
    model = loader.build(ctx, data.train)
    assert model.is_encoder_decoder == (family == "bart")
    assert model.tokenizer.tokenize("#Person2#")[-1] == "#Person2#"
    trainable = sum(p.numel() for p in model.model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.model.parameters())
    assert (trainable < total / 2) == lora

    result = model.fit(data.train, data.valid, ctx, tmp_path / "ckpt")
    assert result.details["global_step"] == 3 and len(result.history) == 1
    dialogues = [e.dialogue for e in data.valid[:3]]
    preds = model.generate(dialogues, ctx)
    assert len(preds) == 3 and all(isinstance(p, str) for p in preds)
    if not model.is_encoder_decoder:
        assert model.prompt("X") != "X" and "X" in model.prompt("X")
        assert not any("###" in p for p in preds)  # only the new text comes back

    model.save(tmp_path / "saved")
    saved = {p.name for p in (tmp_path / "saved").iterdir()}
    assert ("adapter_model.safetensors" in saved) == lora
    if lora:  # the seed's --lora_r and the LoRA scaling reach the adapters
        adapter = json.loads((tmp_path / "saved" / "adapter_config.json").read_text(encoding="utf-8"))
        assert (adapter["r"], adapter["lora_alpha"]) == (4, 8)
    assert ("model.safetensors" in saved) == (not lora)
    again = loader.load(ctx, tmp_path / "saved")
    assert again.generate(dialogues, ctx) == preds
    assert again.tokenizer_signature == model.tokenizer_signature
    assert again.prompt("X") == model.prompt("X")


def test_causal_loss_covers_only_the_summary_and_batches_pad_left(context, tiny_models) -> None:
    ctx = _ctx(context, tiny_models, "llama", "hf-causal", False, max_length=400, prompt_template="solar")
    ctx = ctx.evolve(recipe=ctx.recipe.evolve(generation=ctx.recipe.generation.__class__(
        num_beams=1, max_new_tokens=6, min_new_tokens=0, repetition_penalty=1.0, no_repeat_ngram_size=0,
        batch_size=3)))
    data = ctx.data()
    model = ctx.build("model_loaders", "hf-causal").build(ctx, data.train)
    tok = model.tokenizer
    pair = model.encode_pairs([data.train[0].dialogue], [data.train[0].summary], ctx)[0]
    prompt_len = sum(1 for x in pair["labels"] if x == IGNORE)
    assert pair["input_ids"][:prompt_len] == model.encode_inputs([data.train[0].dialogue], 400)[0]
    assert pair["labels"][prompt_len:] == pair["input_ids"][prompt_len:]
    assert pair["labels"][-1] == tok.eos_token_id
    assert tok.decode(pair["labels"][prompt_len:], skip_special_tokens=True).strip() == data.train[0].summary

    # left padding: a batch of different lengths gives what each prompt gives alone
    dialogues = [data.train[i].dialogue for i in (0, 1, 5)]
    assert len({len(x) for x in model.encode_inputs(dialogues, 400)}) > 1
    together = model.generate(dialogues, ctx)
    alone = [model.generate([d], ctx)[0] for d in dialogues]
    assert together == alone


def test_merge_lora_exports_a_plain_model(context, tiny_models, tmp_path: Path) -> None:
    # the KULLM template alone is ~120 tokens of the tiny tokenizer: room for the dialogue too
    ctx = _ctx(context, tiny_models, "gpt_neox", "kullm-v2", True, max_length=256, merge_lora=True)
    data = ctx.data()
    loader = ctx.build("model_loaders", "kullm-v2")
    model = loader.build(ctx, data.train)
    model.fit(data.train, data.valid, ctx, tmp_path / "ckpt")
    dialogues = [e.dialogue for e in data.valid[:2]]
    before = model.generate(dialogues, ctx)
    model.save(tmp_path / "merged")
    assert (tmp_path / "merged" / "model.safetensors").is_file()
    assert not (tmp_path / "merged" / "adapter_config.json").exists()
    assert loader.load(ctx, tmp_path / "merged").generate(dialogues, ctx) == before


def test_a_model_that_cannot_be_found_is_a_one_line_error(context, tmp_path: Path) -> None:
    ctx = context({"run": {"models": ["hf-seq2seq"]},
                   "models": {"hf-seq2seq": {"model_name_or_path": str(tmp_path / "missing")}}})
    with pytest.raises(DialsumError, match=r"models\.hf-seq2seq\.model_name_or_path: cannot load"):
        ctx.build("model_loaders", "hf-seq2seq").build(ctx, ctx.data().train)


@pytest.mark.parametrize("family", ["bart", "llama", "gpt_neox"])
def test_a_random_model_takes_the_shape_and_dtype_it_is_asked_for(tmp_path: Path, family: str) -> None:
    """Benchmarks rebuild a reported model's shape (heads, feed-forward size) in bfloat16."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM

    from dialsum_core.testing import TINY_DIALOGUES
    from dialsum_hf.testing import save_tiny_model

    texts = [t for _f, d, s, _t in TINY_DIALOGUES for t in (d, s)]
    path = save_tiny_model(family, tmp_path / family, texts, vocab_size=200, d_model=16, layers=1, heads=4,
                           intermediate=24, dtype="bfloat16")
    config = AutoConfig.from_pretrained(str(path))
    heads = config.encoder_attention_heads if family == "bart" else config.num_attention_heads
    ffn = config.encoder_ffn_dim if family == "bart" else config.intermediate_size
    assert (heads, ffn) == (4, 24)
    auto = AutoModelForSeq2SeqLM if family == "bart" else AutoModelForCausalLM
    assert next(auto.from_pretrained(str(path), dtype="auto").parameters()).dtype == torch.bfloat16
