"""Token-level ensembles: one beam search over the (weighted) average of every model's log-probabilities.

Design: the first model with a positive weight *drives* transformers' own ``generate`` (its beam
search, length penalty, n-gram blocking, repetition penalty, forced tokens, all unchanged); a
forward hook on it replaces the next-token logits by ``sum_m w_m log_softmax(logits_m) / sum_m w_m``
computed by every member on the same prefixes. Because the hook sits *before* the logits
processors, every processor acts on the ensemble's distribution, exactly as it would on one model.

Every model decodes with its key/value cache: the driver as ``generate`` runs it, each other member
with a cache of its own, fed the same new tokens, positions and attention mask as the driver, and
reordered with the driver's beams (the hook wraps the driver cache's ``reorder_cache``, which beam
search calls with the chosen beams). So a step costs one token per member, not the whole prefix;
``use_cache=False`` keeps the earlier, cache-less decoding (full prefixes each step) for comparison.
With a single member of positive weight, the hook hands on that member's raw logits, so the result
is exactly that model's own beam search (tested).

The driver is asked through its own ``generate(dialogues, ctx)`` when it has one (a dialsum model),
so tokenisation, batching and decoding are the loader's; a bare transformers model also works.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np


def _core(model: Any) -> Any:
    """The transformers module whose forward ``generate`` calls (unwraps peft)."""
    get = getattr(model, "get_base_model", None)
    return get() if callable(get) else model


class _Hook:
    """Averages the members' next-token log-probabilities into the driver's output logits."""

    def __init__(self, driver: Any, members: Sequence[Any], weights: Sequence[float], is_encoder_decoder: bool,
                 use_cache: bool = True):
        self.driver = _core(driver)
        self.members = [_core(m) for m in members]
        total = float(sum(weights))
        self.weights = [float(w) / total for w in weights]
        self.is_encoder_decoder = is_encoder_decoder
        self.use_cache = use_cache
        self.encoded: list[Any] = []
        self.caches: dict[int, Any] = {}
        self.handles: list[Any] = []

    def _member_cache(self, k: int, kwargs: dict[str, Any]) -> tuple[str, Any]:
        """Member ``k``'s cache (new at the first step of a generation, reordered with the driver's
        beams), and the keyword the driver's forward received its own under (``cache`` in recent
        transformers, ``past_key_values`` before)."""
        from transformers import DynamicCache, EncoderDecoderCache

        name = "cache" if "cache" in kwargs else "past_key_values"
        driver_cache = kwargs.get(name)
        first = (self.is_encoder_decoder and k not in self.caches) or (
            not self.is_encoder_decoder and kwargs["input_ids"].shape[1] > 1)  # the prompt: a new generation
        if first or k not in self.caches:
            self.caches[k] = EncoderDecoderCache(DynamicCache(), DynamicCache()) if self.is_encoder_decoder \
                else DynamicCache()
        if driver_cache is not None and not getattr(driver_cache, "_dialsum_mirrored", False):
            reorder = driver_cache.reorder_cache

            def mirrored(beam_idx: Any) -> Any:
                for cache in self.caches.values():
                    cache.reorder_cache(beam_idx.to(self._device_of(cache, beam_idx)))
                return reorder(beam_idx)

            driver_cache.reorder_cache = mirrored
            driver_cache._dialsum_mirrored = True
        return name, self.caches[k]

    @staticmethod
    def _device_of(cache: Any, default: Any) -> Any:
        layers = getattr(getattr(cache, "self_attention_cache", cache), "layers", None) or []
        keys = getattr(layers[0], "keys", None) if layers else None
        return keys.device if keys is not None else default.device

    # encoder-decoder: encode the batch once per member, when the driver encodes it
    def _capture_encoder(self, _module: Any, args: Any, kwargs: dict[str, Any]) -> None:
        input_ids = kwargs.get("input_ids", args[0] if args else None)
        mask = kwargs.get("attention_mask")
        self.encoded = []
        self.caches = {}
        for m in self.members:
            if m is self.driver:
                self.encoded.append(None)
                continue
            dev = next(m.parameters()).device
            out = m.get_encoder()(input_ids=input_ids.to(dev), attention_mask=None if mask is None else mask.to(dev))
            self.encoded.append((out, None if mask is None else mask.to(dev)))

    def _member_logits(self, k: int, member: Any, kwargs: dict[str, Any]) -> Any:
        import torch
        from transformers.modeling_outputs import BaseModelOutput

        dev = next(member.parameters()).device
        cache: dict[str, Any] = {"use_cache": self.use_cache}
        if self.use_cache:
            name, own = self._member_cache(k, kwargs)
            cache[name] = own
            if isinstance(kwargs.get("cache_position"), torch.Tensor):
                cache["cache_position"] = kwargs["cache_position"].to(dev)
        if self.is_encoder_decoder:
            dec = kwargs["decoder_input_ids"]
            enc, mask = self.encoded[k]
            rows = dec.shape[0]
            hidden = enc.last_hidden_state
            if hidden.shape[0] != rows:  # generate expanded the batch by num_beams
                factor = rows // hidden.shape[0]
                hidden = hidden.repeat_interleave(factor, dim=0)
                mask = None if mask is None else mask.repeat_interleave(factor, dim=0)
            out = member(encoder_outputs=BaseModelOutput(last_hidden_state=hidden), attention_mask=mask,
                         decoder_input_ids=dec.to(dev), **cache)
        else:
            extra = {k2: kwargs[k2].to(dev) for k2 in ("attention_mask", "position_ids")
                     if isinstance(kwargs.get(k2), torch.Tensor)}
            out = member(input_ids=kwargs["input_ids"].to(dev), **extra, **cache)
        return out.logits[:, -1, :]

    def _replace_logits(self, _module: Any, _args: Any, kwargs: dict[str, Any], output: Any) -> Any:
        import torch

        own = output.logits[:, -1, :]
        active = [(k, m, w) for k, (m, w) in enumerate(zip(self.members, self.weights, strict=True)) if w > 0]
        if len(active) == 1:
            k, m, _ = active[0]
            mixed = own if m is self.driver else self._member_logits(k, m, kwargs).to(own.device, own.dtype)
        else:
            mixed = torch.zeros_like(own, dtype=torch.float32)
            for k, m, w in active:
                logits = own if m is self.driver else self._member_logits(k, m, kwargs).to(own.device)
                mixed += w * torch.log_softmax(logits.float(), dim=-1)
            mixed = mixed.to(own.dtype)
        logits = output.logits.clone()
        logits[:, -1, :] = mixed
        output.logits = logits
        return output

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        cfg = self.driver.generation_config
        old_cache = cfg.use_cache
        cfg.use_cache = self.use_cache
        for m in self.members:
            m.eval()
        try:
            if self.is_encoder_decoder:
                self.handles.append(self.driver.get_encoder().register_forward_pre_hook(
                    self._capture_encoder, with_kwargs=True))
            self.handles.append(self.driver.register_forward_hook(self._replace_logits, with_kwargs=True))
            yield
        finally:
            for h in self.handles:
                h.remove()
            self.handles.clear()
            self.encoded = []
            self.caches = {}
            cfg.use_cache = old_cache


def shared_signature(models: Sequence[Any]) -> str | None:
    """Why ``models`` cannot decode jointly, or ``None`` when they can."""
    from dialsum_core.protocols import TokenModel

    other = sorted({type(m).__name__ for m in models if not isinstance(m, TokenModel)})
    if other:
        return (f"{', '.join(other)} cannot decode step by step beside other models (not a "
                "dialsum_core.protocols.TokenModel: model, tokenizer, is_encoder_decoder, tokenizer_signature)")
    sigs = {m.tokenizer_signature for m in models}
    if len(sigs) > 1:
        return "the models do not share a tokenizer (different tokenizer signatures)"
    kinds = {bool(m.is_encoder_decoder) for m in models}
    if len(kinds) > 1:
        return "encoder-decoder and decoder-only models cannot decode jointly"
    vocab = {int(_core(m.model).config.get_text_config().vocab_size) for m in models}
    if len(vocab) > 1:
        return f"the models' vocabularies differ in size ({sorted(vocab)})"
    return None


def generate(models: Sequence[Any], weights: Sequence[float], dialogues: Sequence[str], ctx: Any, *,
             use_cache: bool = True) -> list[str]:
    """One summary per dialogue, decoded jointly by ``models`` with ``weights``."""
    from dialsum_core.errors import DialsumError

    if not models:
        raise DialsumError("token-level ensemble: no model to decode with")
    if len(weights) != len(models):
        raise DialsumError(f"token-level ensemble: {len(weights)} weights for {len(models)} models")
    w = np.asarray(weights, dtype=np.float64)
    if (w < 0).any() or w.sum() <= 0:
        raise DialsumError(f"token-level ensemble: weights must be >= 0 with a positive sum, got {list(weights)}")
    problem = shared_signature(models)
    if problem:
        raise DialsumError(f"token-level ensemble: {problem}; use an output-level strategy "
                           "(run.ensemble = \"majority_vote\" or \"rouge_weighted\")")
    driver = models[int(np.flatnonzero(w > 0)[0])]
    hook = _Hook(driver.model, [m.model for m in models], list(w), bool(driver.is_encoder_decoder), use_cache)
    with hook.active():
        return list(driver.generate(list(dialogues), ctx))
