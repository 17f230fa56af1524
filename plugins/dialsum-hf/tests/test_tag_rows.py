"""Speaker tags can be generated: under LoRA, the tags added to an untied model are trained in both
embedding matrices (input rows and lm_head rows), and no other row of either moves."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

CASES = [("llama", "solar-10.7b"), ("gpt_neox", "polyglot-ko-12.8b")]


def _effective(model: object) -> tuple[torch.Tensor, torch.Tensor]:
    """Input and output embedding matrices as the model uses them (adapters merged into a copy)."""
    plain = copy.deepcopy(model).merge_and_unload()
    return (plain.get_input_embeddings().weight.detach().clone(),
            plain.get_output_embeddings().weight.detach().clone())


@pytest.mark.parametrize(("family", "name"), CASES)
def test_only_the_new_tag_rows_of_both_matrices_are_trained(context, tiny_models, tmp_path: Path, family: str,
                                                            name: str) -> None:
    table = {"model_name_or_path": str(tiny_models[family]), "use_lora": True, "torch_dtype": "float32",
             "lora_r": 4, "lora_alpha": 8}
    ctx = context({"run": {"models": [name]}, "models": {name: table},
                   "train": {"max_steps": 3, "learning_rate": 5e-2}}, name=name)
    data = ctx.data()
    hf = ctx.build("model_loaders", name).build(ctx, data.train)
    from transformers import AutoTokenizer

    new = list(range(len(AutoTokenizer.from_pretrained(str(tiny_models[family]))), len(hf.tokenizer)))
    assert hf.tokenizer.convert_tokens_to_ids("#Person1#") in new  # the loader added the tags
    base = hf.model.get_base_model()
    assert base.get_output_embeddings().weight is not base.get_input_embeddings().weight  # untied

    emb_before, head_before = _effective(hf.model)
    hf.fit(data.train, data.valid, ctx, tmp_path / "ckpt")
    emb_after, head_after = _effective(hf.model)

    for before, after in ((emb_before, emb_after), (head_before, head_after)):
        changed = sorted(torch.nonzero((after != before).any(dim=1)).flatten().tolist())
        assert changed == sorted(new)


@pytest.mark.parametrize(("family", "name"), CASES)
def test_the_tag_rows_survive_save_and_reload(context, tiny_models, tmp_path: Path, family: str, name: str) -> None:
    table = {"model_name_or_path": str(tiny_models[family]), "use_lora": True, "torch_dtype": "float32",
             "lora_r": 4, "lora_alpha": 8}
    ctx = context({"run": {"models": [name]}, "models": {name: table},
                   "train": {"max_steps": 2, "learning_rate": 5e-2}}, name=name)
    data = ctx.data()
    loader = ctx.build("model_loaders", name)
    hf = loader.build(ctx, data.train)
    hf.fit(data.train, data.valid, ctx, tmp_path / "ckpt")
    hf.save(tmp_path / "saved")
    again = loader.load(ctx, tmp_path / "saved")
    for a, b in zip(_effective(hf.model), _effective(again.model), strict=True):
        assert torch.equal(a, b)
