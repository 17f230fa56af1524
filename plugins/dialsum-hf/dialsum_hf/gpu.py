"""``run.gpu_check`` (what device, how much memory, bf16, does the model fit) and ``run.auto_batch``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

GIB = 1024**3


def count_parameters(config: Any, family: str = "seq2seq") -> int:
    """Parameters of the model ``config`` describes, without allocating its weights.

    Built on the meta device, where transformers ties shared matrices as it does for real weights:
    under accelerate's ``init_empty_weights`` it left BART's embeddings and output projection untied,
    counting KoBART's 124M parameters as 193M."""
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

    auto = AutoModelForSeq2SeqLM if family == "seq2seq" else AutoModelForCausalLM
    with torch.device("meta"):
        model = auto.from_config(config)
    return sum(p.numel() for p in model.parameters())


def model_shape(config: Any, n_params: int) -> Any:
    """The sizes :mod:`dialsum_hf.estimate` needs, from a transformers config of any family."""
    from dialsum_hf.estimate import Shape

    c = config.get_text_config() if hasattr(config, "get_text_config") else config
    hidden = getattr(c, "hidden_size", None) or getattr(c, "d_model", 0)
    layers = getattr(c, "num_hidden_layers", None) or getattr(c, "encoder_layers", 0) + getattr(c, "decoder_layers", 0)
    inner = getattr(c, "intermediate_size", None) or getattr(c, "encoder_ffn_dim", None) or 4 * hidden
    return Shape(parameters=n_params, hidden=int(hidden), layers=int(layers), intermediate=int(inner),
                 vocab=int(getattr(c, "vocab_size", 0)))


def batch_searched(recipe: Any) -> bool:
    """Whether the training batch size is found when training starts (``run.auto_batch``, or
    ``train.batch_size = 0``) rather than given: ``gpu_check`` then estimates batch 1, the smallest the
    search can end with (estimating the unset 0 said any model fits, with no activations at all)."""
    return bool(recipe.run.auto_batch or not recipe.train.batch_size)


def training_setting(ctx: Any, *, lora: bool, bytes_per_param: float, options: Any = None) -> Any:
    """The recipe's batch, lengths and checkpointing as an :class:`~dialsum_hf.estimate.Setting`
    (the longest allowed sequence: prompt or dialogue plus summary)."""
    from dialsum_hf.estimate import Setting

    r = ctx.recipe
    batch = 1 if batch_searched(r) else r.train.batch_size
    return Setting(bytes_per_param=bytes_per_param, lora=lora, batch_size=batch,
                   seq_len=r.data.max_length + r.data.max_target_length,
                   lora_r=int(getattr(options, "lora_r", 16)),
                   lora_modules_per_layer=len(getattr(options, "lora_target_modules", []) or []) or 4,
                   gradient_checkpointing=bool(getattr(options, "gradient_checkpointing", False)),
                   gradient_accumulation_steps=r.train.gradient_accumulation_steps,
                   activation_bytes=2 if (r.train.bf16 or r.train.fp16 or bytes_per_param < 4) else 4)


def gpu_check(ctx: Any, config: Any, *, lora: bool, bytes_per_param: float, family: str = "seq2seq",
              options: Any = None) -> dict[str, Any]:
    """Log the device, its memory, bf16 support, the estimated training memory and, when it does not
    fit, the first change that does (see :mod:`dialsum_hf.estimate`)."""
    import torch

    from dialsum_hf.estimate import estimate, suggestion

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
        shape = model_shape(config, n)
        setting = training_setting(ctx, lora=lora, bytes_per_param=bytes_per_param, options=options)
        e = estimate(shape, setting)
        tip = suggestion(shape, setting, free)
        parts = {k: getattr(e, k) / GIB for k in ("weights", "trainable", "activations", "logits")}
        report.update(parameters=n, need_gib=e.total / GIB, fits=tip is None, suggestion=tip, parts_gib=parts)
        ctx.log.info("gpu_check: model %.2fB parameters, batch %d%s x %d tokens%s needs ~%.1f GiB to train (%s: "
                     "weights %.1f, trained parameters and Adam %.1f, activations %.1f, logits %.1f): %s",
                     n / 1e9, setting.batch_size,
                     " (the smallest the automatic batch size can choose)" if batch_searched(ctx.recipe) else "",
                     setting.seq_len,
                     " with gradient checkpointing" if setting.gradient_checkpointing else "", e.total / GIB,
                     "LoRA" if lora else "full fine-tuning", *parts.values(),
                     "fits" if tip is None else f"does NOT fit; try {tip}")
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


def longest_first(features: Sequence[dict[str, list[int]]]) -> list[dict[str, list[int]]]:
    """Training examples from the most tokens to the fewest, the summary's labels counted too (an
    encoder-decoder's labels are a second sequence; a decoder's follow its input, so the order is
    its input's): the first ``n`` are the largest real batch."""
    return sorted(features, key=lambda f: -(len(f["input_ids"]) + len(f.get("labels", ()))))


def training_device(hf: Any) -> Any:
    """Where the Trainer will train: the GPU when there is one, whatever the model is on now (a model
    loaded without ``device_map`` waits on the CPU until the Trainer moves it)."""
    import torch

    return torch.device("cuda") if torch.cuda.is_available() else hf.device


def auto_batch_size(hf: Any, features: Sequence[dict[str, list[int]]], ctx: Any, *, start: int) -> int:
    """Try a forward and backward pass on the longest examples, on the device that trains, plus room
    for Adam's two moments; halve on out-of-memory."""
    import torch

    from dialsum_hf.features import pad_batch

    longest = longest_first(features)
    model = hf.model
    device = training_device(hf)
    if not getattr(model, "hf_device_map", None) and next(model.parameters()).device != device:
        model.to(device)  # what the Trainer would do first; probing on the CPU finds no GPU limit

    def trial(batch_size: int) -> None:
        batch = pad_batch(longest[:batch_size], hf.tokenizer.pad_token_id)
        batch = {k: v.to(device) for k, v in batch.items()}
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
    ctx.log.info("auto_batch: batch size %d on %s (tried %s)", size, device, ", ".join(map(str, tried)))
    return size
