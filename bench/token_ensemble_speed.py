"""Token-level ensemble decoding: every member with its key/value cache against the earlier,
cache-less decoding (each step re-reads the whole prefix), on the same models and dialogues.

Two random models of one architecture share a tokenizer trained on the sample dialogues (BART, or
Llama with ``--family llama``); both sides decode the same dialogues jointly with beam search and
``--new-tokens`` new tokens (``min_new_tokens`` = ``max_new_tokens``, so every step is taken), in
alternating rounds in this process; the outputs must be identical.

    python bench/token_ensemble_speed.py                     # BART, 48 new tokens, 4 beams
    python bench/token_ensemble_speed.py --family llama --dialogues 8
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", choices=["bart", "llama"], default="bart")
    parser.add_argument("--dialogues", type=int, default=16)
    parser.add_argument("--new-tokens", type=int, default=48)
    parser.add_argument("--beams", type=int, default=4)
    parser.add_argument("--d-model", type=int, default=128)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    import torch

    from dialsum_data import load_csv
    from dialsum_ensemble.token import generate
    from dialsum_hf.testing import run_context, save_tiny_model_for

    torch.set_num_threads(1)
    examples = load_csv(ROOT / "data" / "sample" / "train.csv")
    dialogues = [e.dialogue for e in load_csv(ROOT / "data" / "sample" / "dev.csv")][: args.dialogues]
    folder = Path(tempfile.mkdtemp())
    loader = "hf-seq2seq" if args.family == "bart" else "hf-causal"
    recipe = {"run": {"output_dir": str(folder / "exp"), "models": [loader], "loggers": []},
              "data": {"max_length": 256},
              "generation": {"num_beams": args.beams, "max_new_tokens": args.new_tokens,
                             "min_new_tokens": args.new_tokens, "no_repeat_ngram_size": 0,
                             "repetition_penalty": 1.0, "batch_size": args.dialogues}}
    members = []
    for seed in (0, 1):
        path = save_tiny_model_for(examples, args.family, folder / f"m{seed}", vocab_size=800,
                                   d_model=args.d_model, layers=args.layers, seed=seed)
        recipe["models"] = {loader: {"model_name_or_path": str(path)}}
        ctx = run_context(recipe, name=f"m{seed}")
        members.append(ctx.build("model_loaders", loader).build(ctx, examples))
    times: dict[bool, list[float]] = {True: [], False: []}
    outputs: dict[bool, list[str]] = {}
    for _ in range(args.rounds):
        for cached in (True, False):
            started = time.perf_counter()
            outputs[cached] = generate(members, [1.0, 1.0], dialogues, ctx, use_cache=cached)
            times[cached].append(time.perf_counter() - started)
    same = sum(a == b for a, b in zip(outputs[True], outputs[False], strict=True))
    with_cache, without = statistics.median(times[True]), statistics.median(times[False])
    print(f"{args.family}, {len(dialogues)} dialogues, {args.beams} beams, {args.new_tokens} new tokens, "
          f"{args.rounds} rounds (median)")
    print(f"  cached   {with_cache:7.2f} s")
    print(f"  no cache {without:7.2f} s")
    print(f"  ratio    {without / with_cache:7.2f}x faster with the cache; identical outputs {same}/{len(dialogues)}")


if __name__ == "__main__":
    main()
