"""Tiny random models of each architecture family behind the presets, for tests and benchmarks.

Each is saved to a folder with a tokenizer trained on the given texts, so it loads through exactly
the code path a downloaded model takes (``model_name_or_path = <folder>``). :func:`run_context`
gives the context a loader needs without a run mode around it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dialsum_hf.presets import ARCHITECTURES

#: family -> the preset names it stands for in tests.
FAMILIES: dict[str, tuple[str, ...]] = {
    family: tuple(name for name, arch in ARCHITECTURES.items() if arch == family)
    for family in ("bart", "llama", "gpt_neox")
}


def tiny_config(family: str, vocab_size: int, tok: Any, d_model: int = 32, layers: int = 2, *, heads: int = 2,
                intermediate: int = 0) -> Any:
    """A random ``family`` config; ``intermediate`` 0 means twice ``d_model`` (the feed-forward size).

    The defaults give the tiny models of the tests; ``heads`` and ``intermediate`` let a benchmark
    build one of a real model's shape (e.g. 2048 hidden, 16 layers, 16 heads, 5632 intermediate).
    """
    from transformers import BartConfig, GPTNeoXConfig, LlamaConfig

    ffn = intermediate or 2 * d_model
    ids = {"pad_token_id": tok.pad_token_id, "bos_token_id": tok.bos_token_id, "eos_token_id": tok.eos_token_id}
    if family == "bart":
        return BartConfig(vocab_size=vocab_size, d_model=d_model, encoder_layers=layers, decoder_layers=layers,
                          encoder_attention_heads=heads, decoder_attention_heads=heads, encoder_ffn_dim=ffn,
                          decoder_ffn_dim=ffn, max_position_embeddings=512,
                          decoder_start_token_id=tok.bos_token_id, forced_bos_token_id=None, **ids)
    if family == "llama":
        return LlamaConfig(vocab_size=vocab_size, hidden_size=d_model, intermediate_size=ffn,
                           num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=heads,
                           max_position_embeddings=2048, tie_word_embeddings=False, **ids)
    if family == "gpt_neox":
        return GPTNeoXConfig(vocab_size=vocab_size, hidden_size=d_model, intermediate_size=ffn,
                             num_hidden_layers=layers, num_attention_heads=heads, max_position_embeddings=2048,
                             rotary_pct=0.5, use_parallel_residual=True, tie_word_embeddings=False, **ids)
    raise ValueError(f"unknown family {family!r}; one of {', '.join(FAMILIES)}")


def save_tiny_model(family: str, path: Path, texts: Sequence[str], *, vocab_size: int = 600,
                    d_model: int = 32, layers: int = 2, seed: int = 0, tags: Sequence[str] = (), heads: int = 2,
                    intermediate: int = 0, dtype: str = "float32", device: str = "cpu") -> Path:
    """Build a random ``family`` model and a BPE tokenizer trained on ``texts``; save both to ``path``.

    ``tags`` (e.g. ``#Person1#``) are added to the tokenizer before the model is built, so loading
    the folder adds no token and resizes nothing: a plain transformers script and dialsum then read
    the very same ids, which benchmarks comparing the two need. Without ``tags`` the folder is like
    a downloaded model, which lacks them: dialsum adds them when it loads the folder.

    ``dtype`` is the dtype the weights are drawn and saved in, and ``device`` where they are drawn:
    a model of a billion parameters is built in seconds on ``cuda`` in ``bfloat16``, in minutes on
    the CPU in float32 (and saved at twice the size).
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

    from dialsum_hf.quiet import quiet_progress_bars
    from dialsum_hf.tokenizer import add_tags, train_tokenizer

    quiet_progress_bars()
    template = {"bart": "eos", "llama": "bos", "gpt_neox": "none"}[family]
    tok = train_tokenizer(texts, vocab_size, min_frequency=1, template=template)
    add_tags(tok, tags)
    torch.manual_seed(seed)
    config = tiny_config(family, len(tok), tok, d_model, layers, heads=heads, intermediate=intermediate)
    auto = AutoModelForSeq2SeqLM if family == "bart" else AutoModelForCausalLM
    with torch.device(device):
        model = auto.from_config(config, dtype=getattr(torch, dtype))
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(path), safe_serialization=True)
    tok.save_pretrained(str(path))
    return path


def save_tiny_model_for(examples: Sequence[Any], family: str, path: Path, **kwargs: Any) -> Path:
    """:func:`save_tiny_model` with the tokenizer trained on ``examples`` (dialogues and summaries) and
    their ``#Tag#`` tokens already added."""
    from dialsum_hf.tokenizer import special_tokens

    texts = [t for e in examples for t in (e.dialogue, *e.summaries)]
    return save_tiny_model(family, path, texts, tags=special_tokens(examples), **kwargs)


def run_context(recipe: Mapping[str, Any], name: str = "exp") -> Any:
    """A :class:`~dialsum_core.context.RunContext` built as the runner builds one (minus the run mode
    and loggers), so a test or benchmark can drive a loader, ``fit`` and ``generate`` directly."""
    from dialsum_core.context import RunContext
    from dialsum_core.events import Events
    from dialsum_core.experiment import Experiment
    from dialsum_core.manager import build_plugins
    from dialsum_core.recipe import Recipe

    parsed = Recipe.from_dict(dict(recipe))
    plugins = build_plugins()
    experiment = Experiment.create(Path(parsed.run.output_dir), name)
    return RunContext(recipe=parsed, plugins=plugins, experiment=experiment, events=Events(plugins.pm))
