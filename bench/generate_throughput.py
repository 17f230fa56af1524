"""Greedy generation speed: dialsum's batched generation against what a user would write instead.

The same tiny random model (``--family``: BART, or Llama / GPT-NeoX as behind the causal presets),
built once with a tokenizer trained on ``data/sample/train.csv``, summarizes the 499 test dialogues
of ``../shared/data/dialogsum-ko/test.csv`` twice in the same process:

* dialsum: the loader's real path (``hf-seq2seq`` / ``hf-causal`` with ``model_name_or_path`` = the
  tiny model's folder), ``dialsum_hf.generation``: batches of similar length, longest first, right
  padding for encoder-decoders and left padding for causal models;
* batched (the peer that matters): ``tokenizer(texts, padding=True)`` then ``model.generate`` on
  batches of ``--batch-size`` dialogues in their file order, left padding for causal models, on the
  same model object with the same generation options (what a transformers script does);
* plain: ``model.generate`` one dialogue at a time (``--peers batched,plain``; slow, kept to show
  what batching itself brings).

Both decode greedily with ``min_new_tokens`` close to ``max_new_tokens``, so a random model still
writes summaries of a realistic length. The script prints generated tokens per second of each
side, the ratio, and whether every output string is identical (it must be; exit code 1 if not).

    python bench/generate_throughput.py                     # BART, 499 dialogues, batched peer
    python bench/generate_throughput.py --family llama --limit 100 --repeats 3 --peers batched,plain
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DIALSUM_SHARED_DATA", ROOT.parent / "shared" / "data")) / "dialogsum-ko"
SAMPLE_TRAIN = ROOT / "data" / "sample" / "train.csv"
#: Longest input: BART's learned positions stop at 512; the causal families use rotary positions and
#: read every prompt whole (the longest test prompt is about 1,000 tokens).
MAX_LENGTH = {"bart": 512, "llama": 2000, "gpt_neox": 2000}


def build(family: str, folder: Path, args: argparse.Namespace) -> tuple[Any, Any]:
    """The tiny model loaded by dialsum's own loader, and the context its generation reads options from."""
    from dialsum_data import read_csv
    from dialsum_hf.testing import run_context, save_tiny_model_for

    train, _ = read_csv(SAMPLE_TRAIN, require_summary=True)
    save_tiny_model_for(train, family, folder / "model", vocab_size=2000, d_model=args.d_model, layers=args.layers)
    name = "hf-seq2seq" if family == "bart" else "hf-causal"
    table: dict[str, Any] = {"model_name_or_path": str(folder / "model"), "torch_dtype": "float32"}
    if name == "hf-causal":
        table["prompt_template"] = "plain"
    ctx = run_context({
        "run": {"models": [name], "loggers": [], "metrics": [], "output_dir": str(folder / "experiments")},
        "data": {"train_path": str(SAMPLE_TRAIN), "max_length": MAX_LENGTH[family]},
        "generation": {"num_beams": 1, "do_sample": False, "max_new_tokens": args.max_new_tokens,
                       "min_new_tokens": args.min_new_tokens, "repetition_penalty": 1.0,
                       "no_repeat_ngram_size": 0, "batch_size": args.batch_size},
        "models": {name: table},
    })
    hf = ctx.build("model_loaders", name).build(ctx, train)
    import torch

    hf.model.to("cuda" if torch.cuda.is_available() else "cpu")
    return hf, ctx


def new_tokens(ids: list[int], pad_id: int, seq2seq: bool) -> int:
    """Generated tokens of one output: without the decoder's start token (encoder-decoders) and the
    padding a batch adds after a finished row."""
    n = len(ids)
    while n and ids[n - 1] == pad_id:
        n -= 1
    return n - 1 if seq2seq else n


def dialsum_side(hf: Any, ctx: Any, dialogues: list[str]) -> tuple[list[str], int]:
    """Exactly what ``HFModel.generate`` runs, keeping the ids to count the tokens."""
    from dialsum_hf import generation

    ids = generation.generate_ids(hf, hf.encode_inputs(dialogues, ctx.recipe.data.max_length), ctx)
    tokens = sum(new_tokens(x, hf.tokenizer.pad_token_id, hf.is_encoder_decoder) for x in ids)
    return generation.decode(hf.tokenizer, ids), tokens


def plain_side(hf: Any, ctx: Any, dialogues: list[str]) -> tuple[list[str], int]:
    """One dialogue at a time through ``model.generate``, as a transformers script would do it."""
    import torch

    model, tok, gen = hf.model, hf.tokenizer, ctx.recipe.generation
    seq2seq = hf.is_encoder_decoder
    texts, tokens = [], 0
    model.eval()
    with torch.inference_mode():
        for dialogue in dialogues:
            # dialsum's prompt template is part of the model (the causal families are trained on it)
            enc = tok(hf.prompt(dialogue), return_tensors="pt", truncation=True,
                      max_length=ctx.recipe.data.max_length).to(model.device)
            out = model.generate(**enc, max_new_tokens=gen.max_new_tokens, min_new_tokens=gen.min_new_tokens,
                                 num_beams=1, do_sample=False, pad_token_id=tok.pad_token_id)
            row = out[0] if seq2seq else out[0, enc["input_ids"].shape[1]:]
            tokens += new_tokens(row.tolist(), tok.pad_token_id, seq2seq)
            texts.append(tok.decode(row, skip_special_tokens=True).strip())
    return texts, tokens


def batched_side(hf: Any, ctx: Any, dialogues: list[str]) -> tuple[list[str], int]:
    """``model.generate`` on batches in file order, padded as transformers' docs show."""
    import torch

    model, tok, gen = hf.model, hf.tokenizer, ctx.recipe.generation
    seq2seq = hf.is_encoder_decoder
    tok.padding_side = "right" if seq2seq else "left"
    texts, tokens = [], 0
    size = ctx.recipe.generation.batch_size
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(dialogues), size):
            prompts = [hf.prompt(d) for d in dialogues[start:start + size]]
            enc = tok(prompts, return_tensors="pt", padding=True, truncation=True,
                      max_length=ctx.recipe.data.max_length).to(model.device)
            out = model.generate(**enc, max_new_tokens=gen.max_new_tokens, min_new_tokens=gen.min_new_tokens,
                                 num_beams=1, do_sample=False, pad_token_id=tok.pad_token_id)
            rows = out if seq2seq else out[:, enc["input_ids"].shape[1]:]
            for row in rows:
                tokens += new_tokens(row.tolist(), tok.pad_token_id, seq2seq)
                texts.append(tok.decode(row, skip_special_tokens=True).strip())
    return texts, tokens


def timed(fn: Any, *args: Any) -> tuple[list[str], int, float]:
    started = time.perf_counter()
    texts, tokens = fn(*args)
    return texts, tokens, time.perf_counter() - started


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--family", choices=("bart", "llama", "gpt_neox"), default="bart")
    ap.add_argument("--limit", type=int, default=0, help="first N test dialogues only (0: all)")
    ap.add_argument("--batch-size", type=int, default=32, help="dialsum's generation.batch_size")
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--min-new-tokens", type=int, default=40)
    ap.add_argument("--d-model", type=int, default=64)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=1, help="alternate the two sides this many times")
    ap.add_argument("--peers", default="batched", help="comma-separated: batched, plain (one at a time)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch CPU threads (0: torch's default); a tiny model gains nothing from more")
    args = ap.parse_args()
    test_csv = SHARED / "test.csv"
    if not test_csv.is_file():
        print(f"skipped: {test_csv} not found (set DIALSUM_SHARED_DATA to the folder holding dialogsum-ko/)",
              file=sys.stderr)
        return 2
    import torch
    import transformers

    from dialsum_data import read_csv

    if args.threads:
        torch.set_num_threads(args.threads)
    transformers.logging.set_verbosity_error()
    test, _ = read_csv(test_csv, require_summary=False)
    dialogues = [e.dialogue for e in (test[: args.limit] if args.limit else test)]
    with tempfile.TemporaryDirectory(prefix="dialsum-genbench-") as tmp:
        hf, ctx = build(args.family, Path(tmp), args)
        device = hf.device
        print(f"model: tiny random {args.family} ({hf.model.num_parameters() / 1e6:.2f}M parameters, "
              f"vocabulary {len(hf.tokenizer)}), device {device}, torch threads {torch.get_num_threads()}")
        print(f"data: {len(dialogues)} dialogues of {test_csv}; greedy, {args.min_new_tokens}-{args.max_new_tokens} "
              f"new tokens; dialsum batch size {args.batch_size}")
        peers = [p.strip() for p in args.peers.split(",") if p.strip()]
        sides = {"dialsum": dialsum_side, "batched": batched_side, "plain": plain_side}
        order = ["dialsum", *peers]
        for side in order:
            sides[side](hf, ctx, dialogues[:4])  # warm-up (allocations, lazy imports), not timed
        runs: dict[str, list[tuple[int, float]]] = {side: [] for side in order}
        outputs: dict[str, list[str]] = {}
        for r in range(args.repeats):
            for side in order[:: 1 if r % 2 == 0 else -1]:
                texts, tokens, seconds = timed(sides[side], hf, ctx, dialogues)
                runs[side].append((tokens, seconds))
                outputs.setdefault(side, texts)
                print(f"  round {r + 1} {side:8s} {tokens} tokens in {seconds:7.2f} s = {tokens / seconds:8.1f} tok/s")
    # all rounds together (total tokens / total seconds); a busy machine makes single rounds noisy
    speed = {side: sum(t for t, _ in v) / sum(s for _, s in v) for side, v in runs.items()}
    differ = {}
    for peer in peers:
        differ[peer] = [i for i, (a, b) in enumerate(zip(outputs["dialsum"], outputs[peer], strict=True)) if a != b]
    print(f"dialsum batched generation: {speed['dialsum']:.1f} tokens/s")
    for peer in peers:
        same = len(dialogues) - len(differ[peer])
        print(f"{peer:8s} peer: {speed[peer]:.1f} tokens/s; ratio dialsum/{peer}: "
              f"{speed['dialsum'] / speed[peer]:.2f}x; identical greedy outputs {same}/{len(dialogues)}"
              + (f"; first difference at dialogue {differ[peer][0]}:\n  dialsum: "
                 f"{outputs['dialsum'][differ[peer][0]]!r}\n  {peer}: {outputs[peer][differ[peer][0]]!r}"
                 if differ[peer] else ""))
    differ = [i for v in differ.values() for i in v]
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
