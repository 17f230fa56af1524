"""Batched generation and teacher-forced scoring.

Dialogues are processed longest first in batches of similar length (little padding, and an
out-of-memory error shows up in the first batch rather than the last); results come back in input
order. Causal models are padded on the left so every row's new tokens start at the same column, and
only the new tokens are decoded.

For causal models ``repetition_penalty`` and ``no_repeat_ngram_size`` look at the generated tokens
only. transformers' own processors see the whole sequence, prompt included, so a summary could not
reuse any trigram of the dialogue (speaker tags, names, the very facts it summarizes) and every
dialogue token would be penalised; an encoder-decoder's decoder never sees the dialogue, so its
summaries could copy all along. The prompt length is the same for every row (left padding), so
one column says where the generated tokens start.
"""

from __future__ import annotations

import contextlib
import copy
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from dialsum_hf.features import IGNORE, pad_batch


class GeneratedRepetitionPenalty:
    """``repetition_penalty`` over the tokens after column ``start`` (CTRL's rule, as transformers applies it)."""

    def __init__(self, penalty: float, start: int):
        self.penalty = float(penalty)
        self.start = int(start)

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        generated = input_ids[:, self.start :]
        if generated.shape[1] == 0 or self.penalty == 1.0:
            return scores
        seen = torch.gather(scores, 1, generated)
        seen = torch.where(seen < 0, seen * self.penalty, seen / self.penalty)
        return scores.scatter(1, generated, seen)


class GeneratedNoRepeatNGram:
    """``no_repeat_ngram_size`` over the tokens after column ``start``: an n-gram of the prompt may be
    generated once, an n-gram already generated may not be generated again."""

    def __init__(self, size: int, start: int):
        self.size = int(size)
        self.start = int(start)

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        n = self.size
        generated = input_ids[:, self.start :]
        if n <= 0 or generated.shape[1] < n:
            return scores
        scores = scores.clone()
        for row, ids in enumerate(generated.tolist()):
            prefix = tuple(ids[len(ids) - n + 1 :])
            banned = {ids[i + n - 1] for i in range(len(ids) - n + 1) if tuple(ids[i : i + n - 1]) == prefix}
            if banned:
                scores[row, list(banned)] = -float("inf")
        return scores


def causal_processors(cfg: Any, prompt_length: int) -> tuple[Any, list[Any]]:
    """The generation config with the built-in repetition controls off, and the processors that
    replace them looking only past ``prompt_length``."""
    processors: list[Any] = []
    if cfg.repetition_penalty is not None and cfg.repetition_penalty != 1.0:
        processors.append(GeneratedRepetitionPenalty(cfg.repetition_penalty, prompt_length))
    if cfg.no_repeat_ngram_size:
        processors.append(GeneratedNoRepeatNGram(cfg.no_repeat_ngram_size, prompt_length))
    if processors:
        cfg = copy.deepcopy(cfg)
        cfg.repetition_penalty = 1.0
        cfg.no_repeat_ngram_size = 0
    return cfg, processors


def generation_config(model: Any, gen: Any, tokenizer: Any) -> Any:
    """The recipe's ``[generation]`` options on top of the model's own generation config."""
    cfg = copy.deepcopy(model.generation_config)
    beams = gen.num_beams
    cfg.update(
        max_new_tokens=gen.max_new_tokens,
        min_new_tokens=gen.min_new_tokens or None,
        num_beams=beams,
        do_sample=gen.do_sample,
        temperature=gen.temperature if gen.do_sample else None,
        top_p=gen.top_p if gen.do_sample else None,
        top_k=None,
        repetition_penalty=gen.repetition_penalty,
        no_repeat_ngram_size=gen.no_repeat_ngram_size,
        length_penalty=gen.length_penalty if beams > 1 else 1.0,
        early_stopping=True if beams > 1 else False,
        max_length=None,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    return cfg


def batch_size_for(ctx: Any) -> int:
    r = ctx.recipe
    return r.generation.batch_size or r.train.eval_batch_size or max(2 * r.train.batch_size, 16)


@contextlib.contextmanager
def eval_mode(model: Any) -> Iterator[None]:
    import torch

    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            yield
    finally:
        if was_training:
            model.train()


def own_bars(ctx: Any) -> bool:
    """Whether dialsum-hf draws its own progress bars (and the Trainer's): on a terminal, unless a
    logger of the run draws the progress events there (``displays_progress``, see
    ``dialsum_core.protocols.Logger``)."""
    if not sys.stderr.isatty():
        return False
    listeners = ctx.plugins.pm.hook.dialsum_on_progress.get_hookimpls() if ctx is not None else []
    return not any(getattr(impl.plugin, "displays_progress", False) for impl in listeners)


def _progress(total: int, desc: str, ctx: Any) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="dlg", disable=not own_bars(ctx), leave=False)


def generate_ids(hf: Any, inputs: Sequence[list[int]], ctx: Any, *, batch_size: int | None = None,
                 task: str = "generate") -> list[list[int]]:
    """New token ids for each input (prompt ids for causal models), in input order."""
    model, tok = hf.model, hf.tokenizer
    cfg = generation_config(model, ctx.recipe.generation, tok)
    size = batch_size or batch_size_for(ctx)
    order = sorted(range(len(inputs)), key=lambda i: -len(inputs[i]))
    out: list[list[int]] = [[] for _ in inputs]
    done = 0
    bar = _progress(len(inputs), task, ctx)
    device = hf.device
    try:
        with eval_mode(model):
            for start in range(0, len(order), size):
                idx = order[start : start + size]
                batch = pad_batch([{"input_ids": inputs[i]} for i in idx], tok.pad_token_id,
                                  left=not hf.is_encoder_decoder)
                batch = {k: v.to(device) for k, v in batch.items()}
                extra: dict[str, Any] = {}
                run_cfg = cfg
                if not hf.is_encoder_decoder:
                    from transformers import LogitsProcessorList

                    run_cfg, procs = causal_processors(cfg, batch["input_ids"].shape[1])
                    if procs:
                        extra["logits_processor"] = LogitsProcessorList(procs)
                seqs = model.generate(**batch, generation_config=run_cfg, **extra)
                if not hf.is_encoder_decoder:
                    seqs = seqs[:, batch["input_ids"].shape[1] :]
                for row, i in enumerate(idx):
                    out[i] = seqs[row].tolist()
                done += len(idx)
                bar.update(len(idx))
                ctx.emit("dialsum_on_progress", task=task, completed=done, total=len(inputs))
    finally:
        bar.close()
    return out


def decode(tokenizer: Any, ids: Sequence[list[int]]) -> list[str]:
    return [t.strip() for t in tokenizer.batch_decode(ids, skip_special_tokens=True)]


def score(hf: Any, features: Sequence[dict[str, list[int]]], *, batch_size: int) -> list[float]:
    """Mean log-probability per summary token, teacher-forced, one value per feature."""
    import torch

    model = hf.model
    values: list[float] = []
    with eval_mode(model):
        for start in range(0, len(features), batch_size):
            batch = pad_batch(features[start : start + batch_size], hf.tokenizer.pad_token_id)
            batch = {k: v.to(hf.device) for k, v in batch.items()}
            labels = batch["labels"]
            logits = model(**batch).logits.float()
            if not hf.is_encoder_decoder:
                logits, labels = logits[:, :-1], labels[:, 1:]
            mask = labels != IGNORE
            logp = torch.log_softmax(logits, dim=-1).gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
            per_row = (logp * mask).sum(-1) / mask.sum(-1).clamp(min=1)
            values.extend(per_row.tolist())
    return values
