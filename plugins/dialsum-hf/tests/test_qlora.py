"""QLoRA (4-bit base + LoRA) and bf16 on a CUDA GPU; skipped elsewhere."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
    pytest.mark.skipif(importlib.util.find_spec("bitsandbytes") is None, reason="needs bitsandbytes"),
]


@pytest.mark.parametrize(("family", "name", "bits"), [("llama", "solar-10.7b", 4), ("gpt_neox", "kullm-v2", 8)])
def test_quantized_lora_trains_generates_and_reloads(context, tiny_models, tmp_path: Path, family: str,
                                                     name: str, bits: int) -> None:
    table = {"model_name_or_path": str(tiny_models[family]), "use_lora": True, f"load_in_{bits}bit": True,
             "lora_r": 4, "lora_alpha": 8}
    ctx = context({"run": {"models": [name]}, "models": {name: table},
                   "train": {"max_steps": 3, "bf16": bool(torch.cuda.is_bf16_supported())}}, name=name)
    data = ctx.data()
    loader = ctx.build("model_loaders", name)
    model = loader.build(ctx, data.train)
    assert getattr(model.model.base_model.model, f"is_loaded_in_{bits}bit", False)
    result = model.fit(data.train, data.valid, ctx, tmp_path / "ckpt")
    assert result.details["global_step"] == 3
    dialogues = [e.dialogue for e in data.valid[:2]]
    preds = model.generate(dialogues, ctx)
    model.save(tmp_path / "saved")
    assert (tmp_path / "saved" / "adapter_model.safetensors").is_file()
    assert loader.load(ctx, tmp_path / "saved").generate(dialogues, ctx) == preds
