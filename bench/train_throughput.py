"""Training speed: dialsum's training path against what a user would write with transformers alone.

``--family bart`` (the default): the same tiny random BART (a tokenizer trained on
``data/sample/train.csv``, the ``#Tag#`` tokens already in its vocabulary) is fine-tuned on the same
examples (``data/sample/train.csv``, shipped with the project) for the same number of epochs, hence
the same number of optimiser steps and the same tokens, in the same process, the two sides
alternating:

* dialsum: the ``hf-seq2seq`` loader and ``HFModel.fit`` (``dialsum_hf.training``): length-grouped
  batches, padding to the longest example of each batch, a checkpoint per epoch and an evaluation
  per epoch (generating the validation summaries and scoring them with ROUGE);
* plain: ``Seq2SeqTrainer`` with its defaults (random order) and ``DataCollatorForSeq2Seq``, the
  collator of the transformers summarization example (it pads each batch to its longest example).

Both use the Trainer's default optimiser settings (learning rate 5e-5, linear schedule, no warm-up,
no weight decay), the same batch size and seed. Tokens per second count the real (unpadded) input
and summary tokens of every example seen, per second of wall-clock time and per second of the
process's CPU time (steadier on a shared machine). dialsum's evaluation time is measured and left out of its
training time (the plain Trainer does not evaluate); it is printed on its own line.

``--family llama`` or ``gpt_neox``: a tiny random causal model (the architectures behind SOLAR and
Polyglot) trained with LoRA (r 16, alpha 32, dropout 0.05, on the preset's target modules, learning
rate 2e-4, linear schedule), the setting of the QLoRA figures in the issue tracker minus the 4-bit
base, which needs CUDA:

* dialsum: the ``hf-causal`` loader with ``use_lora`` and the ``solar`` prompt template, ``HFModel.fit``;
* plain: ``Trainer`` + ``peft.get_peft_model`` + ``DataCollatorForSeq2Seq`` on the same examples, the
  prompt rendered from the same template, the loss on the summary tokens only (prompt labels
  ``-100``), the summary closed by the end-of-text token, as a user would write it.

    python bench/train_throughput.py                   # 400 examples, 2 epochs, 5 rounds (~3 min on 2 cores)
    python bench/train_throughput.py --rows 128 --epochs 1 --repeats 1
    python bench/train_throughput.py --family llama    # causal LoRA against Trainer + peft
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
#: The Trainer's own defaults, given to dialsum too so that only the frameworks differ.
TRAINER_DEFAULTS = {"learning_rate": 5e-5, "scheduler": "linear", "warmup_ratio": 0.0, "weight_decay": 0.0}
#: The causal runs: the issue's QLoRA setting (learning rate 2e-4, linear), the LoRA of the presets.
CAUSAL_TRAIN = {"learning_rate": 2e-4, "scheduler": "linear", "warmup_ratio": 0.0, "weight_decay": 0.0}
LORA = {"r": 16, "alpha": 32, "dropout": 0.05}
TEMPLATE = "solar"


def model_name(args: argparse.Namespace) -> str:
    return "hf-seq2seq" if args.family == "bart" else "hf-causal"


def lora_targets(family: str) -> list[str]:
    from dialsum_hf.presets import LLAMA_TARGETS, NEOX_TARGETS

    return list(LLAMA_TARGETS if family == "llama" else NEOX_TARGETS)


def recipe(folder: Path, model: Path, args: argparse.Namespace) -> dict[str, Any]:
    name = model_name(args)
    table: dict[str, Any] = {"model_name_or_path": str(model), "torch_dtype": "float32"}
    if name == "hf-causal":
        table.update(use_lora=True, lora_r=LORA["r"], lora_alpha=LORA["alpha"], lora_dropout=LORA["dropout"],
                     lora_target_modules=lora_targets(args.family), prompt_template=TEMPLATE)
    return {
        "run": {"models": [name], "loggers": [], "metrics": ["rouge"], "seed": args.seed,
                "output_dir": str(folder / "experiments")},
        "data": {"train_path": str(args.train_csv), "dev_path": str(SAMPLE / "dev.csv"),
                 "max_length": args.max_length, "max_target_length": args.max_target_length},
        "train": {"epochs": args.epochs, "batch_size": args.batch_size,
                  **(TRAINER_DEFAULTS if name == "hf-seq2seq" else CAUSAL_TRAIN)},
        "generation": {"num_beams": 1, "max_new_tokens": 32, "min_new_tokens": 1, "batch_size": 32},
        "models": {name: table},
    }


def dialsum_run(folder: Path, model: Path, args: argparse.Namespace, run: int | str, train: list[Any],
                valid: list[Any]) -> dict[str, float]:
    from dialsum_hf.testing import run_context

    ctx = run_context(recipe(folder, model, args), name=f"dialsum-{run}")
    hf = ctx.build("model_loaders", model_name(args)).build(ctx, train)
    fit = hf.fit(train, valid, ctx, ctx.experiment.checkpoints)
    d = fit.details
    return {"seconds": d["train_seconds"] - d["eval_seconds"], "eval_seconds": d["eval_seconds"],
            "cpu_seconds": d["train_cpu_seconds"] - d["eval_cpu_seconds"],
            "tokens": d["train_tokens_per_epoch"] * args.epochs, "steps": d["global_step"], "loss": d["train_loss"]}


def plain_causal_run(folder: Path, model: Path, args: argparse.Namespace, run: int | str, rows: list[Any],
                     _valid: list[Any]) -> dict[str, float]:
    """Trainer + peft LoRA + DataCollatorForSeq2Seq, as a user would write it, minus evaluation."""
    from peft import LoraConfig, TaskType, get_peft_model
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        DataCollatorForSeq2Seq,
        Trainer,
        TrainingArguments,
        set_seed,
    )

    from dialsum_hf.presets import DEFAULT_INSTRUCTION, TEMPLATES

    set_seed(args.seed)
    tok = AutoTokenizer.from_pretrained(str(model))
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    net = AutoModelForCausalLM.from_pretrained(str(model), dtype="float32")
    net = get_peft_model(net, LoraConfig(task_type=TaskType.CAUSAL_LM, r=LORA["r"], lora_alpha=LORA["alpha"],
                                         lora_dropout=LORA["dropout"], target_modules=lora_targets(args.family)))
    features = []
    for e in rows:
        prompt = tok(TEMPLATES[TEMPLATE].format(instruction=DEFAULT_INSTRUCTION, dialogue=e.dialogue),
                     truncation=True, max_length=args.max_length).input_ids
        summary = tok(e.summary, add_special_tokens=False).input_ids[: args.max_target_length - 1]
        target = [*summary, tok.eos_token_id]
        features.append({"input_ids": prompt + target, "attention_mask": [1] * (len(prompt) + len(target)),
                         "labels": [-100] * len(prompt) + target})
    training_args = TrainingArguments(
        output_dir=str(folder / f"plain-{run}"), per_device_train_batch_size=args.batch_size,
        num_train_epochs=args.epochs, learning_rate=CAUSAL_TRAIN["learning_rate"], lr_scheduler_type="linear",
        seed=args.seed, report_to=[], disable_tqdm=not sys.stderr.isatty(),
    )
    trainer = Trainer(model=net, args=training_args, train_dataset=features, processing_class=tok,
                      data_collator=DataCollatorForSeq2Seq(tok, model=net))
    started, cpu = time.perf_counter(), time.process_time()
    output = trainer.train()
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    tokens = sum(len(f["input_ids"]) for f in features) * args.epochs
    return {"seconds": seconds, "eval_seconds": 0.0, "cpu_seconds": cpu_seconds, "tokens": tokens,
            "steps": trainer.state.global_step, "loss": float(output.training_loss)}


def plain_run(folder: Path, model: Path, args: argparse.Namespace, run: int | str, rows: list[Any],
              _valid: list[Any]) -> dict[str, float]:
    """What the transformers summarization example does, minus evaluation."""
    if args.family != "bart":
        return plain_causal_run(folder, model, args, run, rows, _valid)
    from transformers import (
        AutoModelForSeq2SeqLM,
        AutoTokenizer,
        DataCollatorForSeq2Seq,
        Seq2SeqTrainer,
        Seq2SeqTrainingArguments,
        set_seed,
    )

    set_seed(args.seed)
    tok = AutoTokenizer.from_pretrained(str(model))
    net = AutoModelForSeq2SeqLM.from_pretrained(str(model))
    enc = tok([e.dialogue for e in rows], max_length=args.max_length, truncation=True)
    lab = tok(text_target=[e.summary for e in rows], max_length=args.max_target_length, truncation=True)
    features = [{"input_ids": i, "attention_mask": m, "labels": t}
                for i, m, t in zip(enc["input_ids"], enc["attention_mask"], lab["input_ids"], strict=True)]
    training_args = Seq2SeqTrainingArguments(
        output_dir=str(folder / f"plain-{run}"), per_device_train_batch_size=args.batch_size,
        num_train_epochs=args.epochs, learning_rate=TRAINER_DEFAULTS["learning_rate"], seed=args.seed,
        report_to=[], disable_tqdm=not sys.stderr.isatty(),
    )
    trainer = Seq2SeqTrainer(model=net, args=training_args, train_dataset=features, processing_class=tok,
                             data_collator=DataCollatorForSeq2Seq(tok, model=net))
    started, cpu = time.perf_counter(), time.process_time()
    output = trainer.train()
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    tokens = sum(len(f["input_ids"]) + len(f["labels"]) for f in features) * args.epochs
    return {"seconds": seconds, "eval_seconds": 0.0, "cpu_seconds": cpu_seconds, "tokens": tokens,
            "steps": trainer.state.global_step, "loss": float(output.training_loss)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--family", choices=("bart", "llama", "gpt_neox"), default="bart",
                    help="bart: full fine-tuning vs Seq2SeqTrainer; llama / gpt_neox: LoRA vs Trainer + peft")
    ap.add_argument("--train-csv", type=Path, default=SAMPLE / "train.csv",
                    help="training CSV (e.g. ../shared/data/dialogsum-ko/dev.csv for longer dialogues)")
    ap.add_argument("--rows", type=int, default=400, help="first N training examples (data/sample/train.csv has 400)")
    ap.add_argument("--valid", type=int, default=16, help="validation dialogues dialsum evaluates each epoch")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-length", type=int, default=512)
    ap.add_argument("--max-target-length", type=int, default=128)
    ap.add_argument("--d-model", type=int, default=64)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5, help="rounds; each runs both sides, in alternating order")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: torch's default)")
    args = ap.parse_args()
    import logging

    import torch
    import transformers

    from dialsum_core.recipe import Recipe
    from dialsum_data import load_splits
    from dialsum_hf.testing import save_tiny_model_for

    if args.threads:
        torch.set_num_threads(args.threads)
    transformers.logging.set_verbosity_error()
    warnings.filterwarnings("ignore", message=".*pin_memory.*")  # the plain Trainer's default, moot on CPU
    logging.getLogger("dialsum").setLevel(logging.WARNING)
    runs: dict[str, list[dict[str, float]]] = {"dialsum": [], "plain": []}
    sides = (("dialsum", dialsum_run), ("plain", plain_run))
    with tempfile.TemporaryDirectory(prefix="dialsum-trainbench-") as tmp:
        folder = Path(tmp)
        model = folder / "model"
        # the examples as dialsum reads and cleans them; both sides train on these
        data = load_splits(Recipe.from_dict(recipe(folder, model, args)))
        train, valid = data.train[: args.rows], data.valid[: args.valid]
        save_tiny_model_for(data.train, args.family, model, vocab_size=2000, d_model=args.d_model,
                            layers=args.layers)
        kind = f"BART (d_model {args.d_model}, {args.layers}+{args.layers} layers)" if args.family == "bart" else \
            f"{args.family} (hidden {args.d_model}, {args.layers} layers), LoRA r {LORA['r']} on " \
            f"{', '.join(lora_targets(args.family))}"
        print(f"model: tiny random {kind}, "
              f"device {'cuda' if torch.cuda.is_available() else 'cpu'}, torch threads {torch.get_num_threads()}")
        print(f"data: {len(train)} examples of {args.train_csv}, {args.epochs} epoch(s), "
              f"batch size {args.batch_size}, max_length {args.max_length}")
        for _side, fn in sides:  # warm-up: lazy imports, allocator, the metric's tokenizer; not timed
            fn(folder, model, args, "warmup", train[: 2 * args.batch_size], valid[:2])
        for r in range(args.repeats):
            for side, fn in sides[:: 1 if r % 2 == 0 else -1]:
                res = fn(folder, model, args, r, train, valid)
                runs[side].append(res)
                extra = f", evaluation {res['eval_seconds']:.2f} s apart" if side == "dialsum" else ""
                print(f"  round {r + 1} {side:8s} {int(res['steps'])} steps, {int(res['tokens'])} tokens in "
                      f"{res['seconds']:6.2f} s ({res['cpu_seconds']:6.2f} s CPU) = "
                      f"{res['tokens'] / res['seconds']:8.1f} tok/s (loss {res['loss']:.3f}{extra})")
    steps = {side: {int(x["steps"]) for x in v} for side, v in runs.items()}
    tokens = {side: {int(x["tokens"]) for x in v} for side, v in runs.items()}
    if steps["dialsum"] != steps["plain"] or tokens["dialsum"] != tokens["plain"]:
        print(f"not comparable: steps {steps}, tokens {tokens}", file=sys.stderr)
        return 1
    # All rounds together (total tokens / total seconds). CPU time is printed too: on a busy machine
    # the wall time of one round can be off by half, whichever side it times; CPU time hardly moves.
    wall = {side: sum(x["tokens"] for x in v) / sum(x["seconds"] for x in v) for side, v in runs.items()}
    cpu = {side: sum(x["tokens"] for x in v) / sum(x["cpu_seconds"] for x in v) for side, v in runs.items()}
    evals = statistics.median(x["eval_seconds"] for x in runs["dialsum"])
    plain = "plain Seq2SeqTrainer (defaults):" if args.family == "bart" else "plain Trainer + peft LoRA:"
    print(f"dialsum training ({model_name(args)}, HFModel.fit): {wall['dialsum']:.1f} tokens/s, "
          f"{cpu['dialsum']:.1f} tokens per CPU second")
    print(f"{plain:41s}  {wall['plain']:.1f} tokens/s, {cpu['plain']:.1f} tokens per CPU second")
    print(f"ratio dialsum/plain over {args.repeats} rounds: {wall['dialsum'] / wall['plain']:.2f}x wall-clock, "
          f"{cpu['dialsum'] / cpu['plain']:.2f}x CPU time")
    print(f"dialsum per-epoch evaluation (generation + ROUGE on {args.valid} dialogues), not counted above: "
          f"{evals:.2f} s per run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
