"""``run.gpu_check`` (what device, how much memory, bf16, does the model fit) and ``run.auto_batch``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

GIB = 1024**3


def count_parameters(config: Any, family: str = "seq2seq") -> int:
    """Parameters of the model ``config`` describes, without allocating its weights."""
    from accelerate import init_empty_weights
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

    auto = AutoModelForSeq2SeqLM if family == "seq2seq" else AutoModelForCausalLM
    with init_empty_weights():
        model = auto.from_config(config)
    return sum(p.numel() for p in model.parameters())


def memory_needed(n_params: int, bytes_per_param: float, *, lora: bool) -> float:
    """Rough training memory in bytes: weights, plus gradients and Adam moments unless LoRA
    (then about 1% of the weights are trained); activations add more, hence the 20% margin."""
    weights = n_params * bytes_per_param
    trained = n_params * (0.01 if lora else 1.0)
    return 1.2 * (weights + trained * (4 + 8))


def gpu_check(ctx: Any, config: Any, *, lora: bool, bytes_per_param: float, family: str = "seq2seq") -> dict[str, Any]:
    """Log the device, its memory, bf16 support and whether the model is likely to fit."""
    import torch

    report: dict[str, Any] = {"cuda": torch.cuda.is_available()}
    if report["cuda"]:
        free, total = torch.cuda.mem_get_info()
        report.update(device=torch.cuda.get_device_name(0), free_gib=free / GIB, total_gib=total / GIB,
                      bf16=torch.cuda.is_bf16_supported())
        ctx.log.info("gpu_check: %s, %.1f GiB free of %.1f GiB, bf16 %s", report["device"], report["free_gib"],
                     report["total_gib"], "supported" if report["bf16"] else "not supported")
    else:
        import os

        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        report.update(device="cpu", free_gib=free / GIB, bf16=False)
        ctx.log.info("gpu_check: no CUDA GPU; training on CPU (%.1f GiB RAM available)", report["free_gib"])
    if config is not None:
        n = count_parameters(config, family)
        need = memory_needed(n, bytes_per_param, lora=lora)
        report.update(parameters=n, need_gib=need / GIB, fits=need <= free)
        ctx.log.info("gpu_check: model %.2fB parameters needs ~%.1f GiB to train (%s): %s", n / 1e9, need / GIB,
                     "LoRA" if lora else "full fine-tuning",
                     "fits" if report["fits"] else "does NOT fit; try use_lora, load_in_4bit or a smaller model")
    return report


def largest_batch(trial: Any, start: int) -> int:
    """The largest batch size <= ``start`` for which ``trial(batch_size)`` runs, halving on out-of-memory.

    Out-of-memory is recognised (and the device cache emptied between tries) by accelerate's helpers.
    """
    import gc

    from accelerate.utils.memory import clear_device_cache, should_reduce_batch_size

    tried: list[int] = []
    size = max(1, start)
    while True:
        tried.append(size)
        try:
            trial(size)
            break
        except Exception as exc:
            if not should_reduce_batch_size(exc) or size == 1:
                raise
            gc.collect()
            clear_device_cache()
            size //= 2
    largest_batch.tried = tried  # type: ignore[attr-defined]
    return size


def auto_batch_size(hf: Any, features: Sequence[dict[str, list[int]]], ctx: Any, *, start: int) -> int:
    """Try a forward and backward pass on the longest examples, plus room for Adam's two moments."""
    import torch

    from dialsum_hf.features import pad_batch

    longest = sorted(features, key=lambda f: -len(f["input_ids"]))
    model = hf.model

    def trial(batch_size: int) -> None:
        batch = pad_batch(longest[:batch_size], hf.tokenizer.pad_token_id)
        batch = {k: v.to(hf.device) for k, v in batch.items()}
        params = [p for p in model.parameters() if p.requires_grad]
        moments = [torch.zeros_like(p, dtype=torch.float32) for p in params for _ in range(2)]
        was_training = model.training
        model.train()
        try:
            model(**batch).loss.backward()
        finally:
            model.zero_grad(set_to_none=True)
            model.train(was_training)
            del moments, batch

    size = largest_batch(trial, max(1, start))
    tried = getattr(largest_batch, "tried", [size])
    ctx.log.info("auto_batch: batch size %d (tried %s)", size, ", ".join(map(str, tried)))
    return size
