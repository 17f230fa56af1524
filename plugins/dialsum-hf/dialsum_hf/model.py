"""The trained-or-trainable model object every Hugging Face loader returns.

Besides the :class:`dialsum_core.protocols.Model` methods it exposes what token-level ensembles need:
``model``, ``tokenizer``, ``is_encoder_decoder``, ``prompt()``, ``tokenizer_signature`` and
``score()``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dialsum_core.protocols import FitResult
from dialsum_hf import features as feats
from dialsum_hf import generation
from dialsum_hf.presets import render_template
from dialsum_hf.tokenizer import signature

METADATA = "dialsum_model.json"


#: The lines already logged once per run, with their experiment folder: the trials of a study and the
#: folds of one model often train on the same dialogues, and one line says what all would repeat.
_SAID: set[tuple[str, str]] = set()


def forget_said(root: Path | str) -> None:
    """A run starts in the experiment folder ``root``: what an earlier run in it said (a script or
    notebook that runs a recipe twice under one ``run.name``, in one process) is said again."""
    folder = str(root)
    _SAID.difference_update({key for key in _SAID if key[0] == folder})


def say_once(ctx: Any, level: int, message: str, *, topic: str = "") -> bool:
    """Log ``message`` unless this run (its experiment folder) said it, or another line of the same
    ``topic``, already; returns whether it was logged."""
    key = (str(getattr(ctx.experiment, "root", "")), topic or message)
    if key in _SAID:
        return False
    _SAID.add(key)
    ctx.log.log(level, "%s", message)
    return True


class HFModel:
    """A transformers model (possibly wrapped by peft) with its tokenizer and prompt."""

    def __init__(self, model: Any, tokenizer: Any, *, loader: str, is_encoder_decoder: bool,
                 options: Any, prompt_template: str = "", instruction: str = "", base_model: str = "",
                 tokenizer_key: str = ""):
        self.model = model
        self.tokenizer = tokenizer
        self.loader = loader
        self.is_encoder_decoder = is_encoder_decoder
        self.options = options
        self.prompt_template = prompt_template
        self.instruction = instruction
        self.base_model = base_model
        #: For a tokenizer trained on the data (``scratch``): :func:`~dialsum_hf.tokenizer.tokenizer_key`.
        self.tokenizer_key = tokenizer_key
        self.last_fit: FitResult | None = None
        #: Whether :meth:`say_cut` has spoken for this model (generation then says nothing more).
        self._cut_said = False

    # -- what ensembles use ---------------------------------------------------------------------
    @property
    def tokenizer_signature(self) -> str:
        return signature(self.tokenizer)

    @property
    def device(self) -> Any:
        return next(self.model.parameters()).device

    def prompt(self, dialogue: str) -> str:
        """The exact text the model reads for ``dialogue`` (the dialogue itself for seq2seq)."""
        if self.is_encoder_decoder:
            return dialogue
        return render_template(self.prompt_template, self.instruction, dialogue)

    def encode_inputs(self, dialogues: Sequence[str], max_length: int) -> list[list[int]]:
        """Input ids for generation: the truncated dialogue, or the prompt for a causal model."""
        if self.is_encoder_decoder:
            return [list(x) for x in self.tokenizer(list(dialogues), max_length=max_length,
                                                     truncation=True).input_ids]
        return [feats.encode_prompt(self.tokenizer, self.prompt, d, max_length) for d in dialogues]

    def say_cut(self, splits: Sequence[tuple[str, Sequence[str]]], ctx: Any) -> None:
        """Log, in one line, how many dialogues of each ``(what, dialogues)`` are longer than
        ``data.max_length``: a cut dialogue loses its end, and with it what its summary says, and
        nothing else in a run shows it. Training says it for its splits; a model that generates
        without having trained (a reloaded checkpoint) says it once, for the first dialogues it reads."""
        self._cut_said = True
        limit = ctx.recipe.data.max_length
        counts: list[str] = []
        cut = total = longest = 0
        for what, dialogues in splits:
            if not dialogues:
                continue
            if self.is_encoder_decoder:
                sizes = [len(ids) for ids in self.tokenizer(list(dialogues)).input_ids]
            else:
                sizes = [len(feats.prompt_ids(self.tokenizer, self.prompt(d))) for d in dialogues]
            n = sum(size > limit for size in sizes)
            counts.append(f"{n} of {len(sizes)} {what}")
            cut, total, longest = cut + n, total + len(sizes), max(longest, *sizes)
        if cut:
            say_once(ctx, logging.WARNING if cut >= total / 10 else logging.INFO,
                      f"data.max_length = {limit} tokens cuts {', '.join(counts)} (the longest has {longest} tokens)")

    def say_cut_summaries(self, summaries: Sequence[str], ctx: Any) -> None:
        """Log how many training summaries are longer than ``data.max_target_length``: each is
        learnt up to there, so the model learns to stop mid-sentence, and nothing else shows it."""
        limit = ctx.recipe.data.max_target_length
        if self.is_encoder_decoder:
            sizes = [len(ids) for ids in self.tokenizer(text_target=list(summaries)).input_ids]
        else:  # the summary's tokens and the end-of-text token (feats.target_ids)
            sizes = [len(ids) + 1 for ids in self.tokenizer(list(summaries), add_special_tokens=False).input_ids]
        cut = sum(n > limit for n in sizes)
        if cut:
            say_once(ctx, logging.WARNING if cut >= len(sizes) / 10 else logging.INFO,
                      f"data.max_target_length = {limit} tokens cuts {cut} of {len(sizes)} training summaries (the "
                      f"longest has {max(sizes)} tokens): the model learns to stop there")

    def encode_pairs(self, dialogues: Sequence[str], summaries: Sequence[str], ctx: Any) -> list[dict[str, list[int]]]:
        d = ctx.recipe.data
        if self.is_encoder_decoder:
            return feats.encode_seq2seq(self.tokenizer, dialogues, summaries, d.max_length, d.max_target_length)
        return feats.encode_causal(self.tokenizer, self.prompt, dialogues, summaries, d.max_length,
                                   d.max_target_length)

    def score(self, dialogues: Sequence[str], summaries: Sequence[str], ctx: Any) -> list[float]:
        """Mean per-token log-probability of each summary given its dialogue."""
        pairs = self.encode_pairs(dialogues, summaries, ctx)
        return generation.score(self, pairs, batch_size=generation.batch_size_for(ctx))

    # -- Model protocol ---------------------------------------------------------------------------
    def generate(self, dialogues: Sequence[str], ctx: Any) -> list[str]:
        # Under a multi-process launch each process decodes its share; results come back in order.
        return ctx.processes.map_in_order(lambda part: self._generate(part, ctx), list(dialogues))

    def _generate(self, dialogues: Sequence[str], ctx: Any) -> list[str]:
        if not dialogues:
            return []
        if not self._cut_said:
            self.say_cut([("dialogues to summarize", dialogues)], ctx)
        inputs = self.encode_inputs(dialogues, ctx.recipe.data.max_length)
        return generation.decode(self.tokenizer, generation.generate_ids(self, inputs, ctx))

    def fit(self, train: Sequence[Any], valid: Sequence[Any], ctx: Any, output_dir: Path) -> FitResult:
        from dialsum_hf.training import fit

        self.last_fit = fit(self, train, valid, ctx, Path(output_dir))
        return self.last_fit

    def save(self, path: Path) -> None:
        """Weights (safetensors, or the LoRA adapter), tokenizer and dialsum's own metadata."""
        from dialsum_hf.saving import save_model

        save_model(self, Path(path))

    @property
    def is_peft(self) -> bool:
        return hasattr(self.model, "peft_config")
