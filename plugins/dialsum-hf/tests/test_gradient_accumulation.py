"""``train.gradient_accumulation_steps`` (the seed's ``--gradient_accumulation_steps``) trades memory
for time: the same batch in smaller pieces, with the same loss and the same gradients."""

from __future__ import annotations

from pathlib import Path


def _first_loss(context, tmp_path: Path, batch_size: int, accumulation: int) -> float:
    ctx = context({"train": {"epochs": 1, "batch_size": batch_size, "gradient_accumulation_steps": accumulation,
                             "logging_steps": 1}}, name=f"b{batch_size}x{accumulation}")
    data = ctx.data()
    model = ctx.build("model_loaders", "scratch").build(ctx, data.train)
    fit = model.fit(data.train, data.valid, ctx, tmp_path / f"b{batch_size}x{accumulation}")
    return float(fit.history[0]["loss"])


def test_accumulated_batches_report_the_loss_of_the_whole_batch(context, tmp_path: Path) -> None:
    """A BART's own loss ignores the item count the Trainer passes for accumulation: the pieces' losses
    were added up instead of averaged (loss=12.03 with 4 x 2 where 8 x 1 gave 6.01), and so were the
    gradients clipped by max_grad_norm."""
    whole = _first_loss(context, tmp_path, 8, 1)
    pieces = _first_loss(context, tmp_path, 4, 2)
    assert 0.9 < pieces / whole < 1.1, (whole, pieces)


def test_only_the_models_whose_loss_ignores_the_item_count_are_changed(tiny_models) -> None:
    """Llama and GPT-NeoX divide by the Trainer's item count (transformers' exact accumulation stays
    theirs, LoRA-wrapped too); BART does not."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

    from dialsum_hf.training import loss_counts_items

    assert not loss_counts_items(AutoModelForSeq2SeqLM.from_pretrained(tiny_models["bart"]))
    for family in ("llama", "gpt_neox"):
        causal = AutoModelForCausalLM.from_pretrained(tiny_models[family])
        assert loss_counts_items(causal), family
        assert loss_counts_items(get_peft_model(causal, LoraConfig(r=2, task_type="CAUSAL_LM"))), family
