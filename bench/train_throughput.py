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
training time (the plain Trainer does not evaluate); it is printed on its own line. Its per-epoch
checkpoint is counted (the plain Trainer saves none in so few steps) and printed apart as well.

``--family llama`` or ``gpt_neox``: a random causal model (the architectures behind SOLAR and
Polyglot) trained with LoRA (r 16, alpha 32, dropout 0.05, on the preset's target modules, learning
rate 2e-4, linear schedule), the setting of the reported QLoRA run minus the 4-bit base:

* dialsum: the ``hf-causal`` loader with ``use_lora`` and the ``solar`` prompt template, ``HFModel.fit``;
* plain: ``Trainer`` + ``peft.get_peft_model`` + ``DataCollatorForSeq2Seq`` on the same examples, the
  prompt rendered from the same template, the loss on the summary tokens only (prompt labels
  ``-100``), the summary closed by the end-of-text token, as a user would write it.

``--4bit`` (CUDA with bitsandbytes only; elsewhere it says so and exits with code 2): the QLoRA
comparison. Both sides load the causal model in 4-bit NF4 with double quantization and bfloat16
compute and train in bf16: dialsum through the ``hf-causal`` options ``load_in_4bit = true`` and
``use_lora`` with ``[train] bf16 = true``; the plain side through ``BitsAndBytesConfig``,
``prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)``, ``get_peft_model`` and
``TrainingArguments(bf16=True)``. Peak CUDA memory (``torch.cuda.max_memory_allocated``, reset before
each side) is printed per side, over the whole side and up to its last training step. The report
this reproduces: a random 855M Llama (hidden 2048, 16 layers, 16 heads, intermediate 5632, an 8k
BPE vocabulary trained on the dialogues, no ``#Tag#`` tokens), batch 8, ``max_length`` 1024, one
epoch over the 400 dialogues of ``dialogsum-ko/dev.csv``: ``HFModel.fit`` 26.9 s against 16.9 s
(0.63x) at the same peak memory::

    python bench/train_throughput.py --4bit --hidden 2048 --layers 16 --heads 16 --intermediate 5632 \\
        --vocab 8000 --train-csv ../shared/data/dialogsum-ko/dev.csv --rows 400 --epochs 1 \\
        --max-length 1024 --max-target-length 128 --repeats 1

``bench/cuda_check.sh`` runs that and the isolating variants below on a CUDA machine.

Every run also splits each side's time into the step loop (from the first optimiser step to the
end of the last, the GPU synchronized at both ends) and what lies outside it (setting up the
optimizer and the data loader; for dialsum the per-epoch checkpoint, printed apart), and counts the
padded batch tokens per real token each side's data loader produced. A per-step cost shows in the
step loop; a one-off cost outside it.

What could make dialsum slower than the plain side, and how to tell on CUDA (one flag changes one
thing; dialsum's own behaviour is unchanged without the flags):

* New tokens. A downloaded model lacks the ``#Person1#``... tags; dialsum adds them (15 with the
  DialogSum-ko data) and the plain side adds none. Three things follow:

  - The two sides no longer read the same tokens. The report's 8k BPE tokenizer, trained on the
    dialogues, holds whole pieces such as ``"▁어떠세요?\n#Person2#:"``; with the tags added, dialsum
    splits them at each tag: its 400 dialogues are 76,928 tokens against the plain side's 64,368
    (+19.5%). (A real model's tokenizer, SOLAR's, cuts a tag into several pieces, so there adding
    it shortens the input instead.) The bench prints each side's tokens.
  - The embeddings and ``lm_head`` grow to 8,015 rows, no multiple of 8: the matmuls of ``lm_head``
    run on an unaligned size.
  - peft's ``trainable_token_indices`` wraps ``embed_tokens`` and ``lm_head`` to train the new rows:
    every forward rebuilds both full matrices (``index_copy``) and copies the row indices to the
    device with a blocking copy (on CUDA a stream synchronization, twice per step), and the
    backward computes the full ``lm_head`` weight gradient (a third large matmul) and a dense
    embedding gradient.

  ``--no-new-tokens`` builds the model with the tags in its vocabulary (dialsum adds none, both
  sides read the same ids); ``--pad-vocab 64`` keeps the new tokens but grows the matrices to a
  multiple of 64 rows, which tells the unaligned size from the wrapper.

  Measured on the CPU (2 cores, one thread; a Llama of hidden 64, 2 layers, with the 8k vocabulary,
  so ``lm_head`` weighs far more than in the 855M model; 400 dialogues of ``dev.csv``, one epoch, 2
  rounds): same ids 1.51x (dialsum 10.5 s, plain 15.9 s); dialsum adding the tags 1.00x (dialsum
  12.0 s, plain 12.0 s on its 16% fewer tokens); adding them with ``--pad-vocab 64`` 1.13x (dialsum
  10.9 s). So in the report's setting the plain side trains on fewer tokens, and dialsum's new
  rows cost it 14% here, most of it the odd size (4% left with 64-row padding). How much each
  weighs on CUDA, where ``lm_head`` is 2% of the 855M model's work but bf16 matmuls want aligned
  sizes, is what ``bench/cuda_check.sh`` measures.
* ``prepare_model_for_kbit_training`` casts every weight that is not 4-bit (embeddings, norms,
  ``lm_head``) to float32. Both sides call it: not a difference, but with new tokens the float32
  ``lm_head`` is the matrix the wrapper rebuilds each step.
* ``dataloader_pin_memory = False`` (dialsum) against the Trainer's default ``True``: both copy each
  batch with a blocking copy (the Trainer's default ``non_blocking = False``), some tens of kilobytes of
  ids; ``--pin-memory`` turns pinning on for dialsum.
* Length-grouped batches (dialsum) against random ones: fewer padding tokens (1.09 padded tokens
  per real one against 1.6 on these dialogues), but the longest batch comes first and the shapes
  differ; ``--random-order`` samples at random.
* Per-step callbacks (a progress event per step) and logging every ``train.logging_steps`` = 10
  steps (each log reads the loss and the gradient norm back from the GPU) against the Trainer's
  500: ``--set train.logging_steps=500``. The events measured below 10 us per step on the CPU.
* The per-epoch checkpoint, counted in dialsum's time (the adapter, and with new tokens both grown
  matrices in float32, as peft saves resized embeddings): 0.02 s on the CPU, printed apart;
  ``--set train.save_checkpoints=false`` leaves it out.
* Evaluation (generation and ROUGE per epoch): measured and left out of dialsum's time.
* A first run in a fresh process pays CUDA's lazy initialization (context, cuBLAS, the 4-bit
  kernels) for whichever side runs first: both sides are warmed up before timing, and the rounds
  alternate which side goes first.

    python bench/train_throughput.py                   # 400 examples, 2 epochs, 5 rounds (~3 min on 2 cores)
    python bench/train_throughput.py --rows 128 --epochs 1 --repeats 1
    python bench/train_throughput.py --family llama    # causal LoRA against Trainer + peft
    python bench/train_throughput.py --family llama --new-tokens   # dialsum adds the tags (CPU)
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
#: The Trainer's own defaults, given to dialsum too so that only the frameworks differ.
TRAINER_DEFAULTS = {"learning_rate": 5e-5, "scheduler": "linear", "warmup_ratio": 0.0, "weight_decay": 0.0}
#: The causal runs: the reported QLoRA setting (learning rate 2e-4, linear), the LoRA of the presets.
CAUSAL_TRAIN = {"learning_rate": 2e-4, "scheduler": "linear", "warmup_ratio": 0.0, "weight_decay": 0.0}
LORA = {"r": 16, "alpha": 32, "dropout": 0.05}
TEMPLATE = "solar"
GIB = 1024**3


def model_name(args: argparse.Namespace) -> str:
    return "hf-seq2seq" if args.family == "bart" else "hf-causal"


def lora_targets(family: str) -> list[str]:
    from dialsum_hf.presets import LLAMA_TARGETS, NEOX_TARGETS

    return list(LLAMA_TARGETS if family == "llama" else NEOX_TARGETS)


def recipe(folder: Path, model: Path, args: argparse.Namespace) -> dict[str, Any]:
    name = model_name(args)
    table: dict[str, Any] = {"model_name_or_path": str(model), "torch_dtype": "auto" if args.four_bit else "float32"}
    if name == "hf-causal":
        table.update(use_lora=True, lora_r=LORA["r"], lora_alpha=LORA["alpha"], lora_dropout=LORA["dropout"],
                     lora_target_modules=lora_targets(args.family), prompt_template=TEMPLATE)
    if args.four_bit:
        table["load_in_4bit"] = True
    out = {
        "run": {"models": [name], "loggers": [], "metrics": ["rouge"], "seed": args.seed,
                "output_dir": str(folder / "experiments")},
        "data": {"train_path": str(args.train_csv), "dev_path": str(SAMPLE / "dev.csv"),
                 "max_length": args.max_length, "max_target_length": args.max_target_length},
        "train": {"epochs": args.epochs, "batch_size": args.batch_size, "bf16": args.four_bit,
                  **(TRAINER_DEFAULTS if name == "hf-seq2seq" else CAUSAL_TRAIN)},
        "generation": {"num_beams": 1, "max_new_tokens": 32, "min_new_tokens": 1, "batch_size": 32},
        "models": {name: table},
    }
    if args.set:
        from dialsum_core.recipe.io import parse_override, set_dotted

        for item in args.set:
            set_dotted(out, *parse_override(item), names=(name,))
    return out


# ------------------------------------------------------------------------------------------------
# Measuring inside the Trainer: the step loop, the checkpoint, padding, peak memory
# ------------------------------------------------------------------------------------------------
def cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def synchronize() -> None:
    """Wait for the GPU: a time read afterwards covers the work queued before (no-op on the CPU)."""
    if cuda():
        import torch

        torch.cuda.synchronize()


class Probe:
    """What one side's run measures besides its total time.

    The GPU is synchronized at the first step's start and the last step's end only, so the step
    loop's time is exact and the run is otherwise left as it is (each synchronization lets the GPU
    run dry once).
    """

    def __init__(self) -> None:
        self.first_step = self.last_step = 0.0
        self.checkpoint_seconds = 0.0
        self.padded = self.real = 0
        self.train_peak = 0

    @property
    def step_seconds(self) -> float:
        return self.last_step - self.first_step

    def callback(self) -> Any:
        from transformers import TrainerCallback

        probe = self

        class StepClock(TrainerCallback):
            def on_step_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
                if not probe.first_step:
                    synchronize()
                    probe.first_step = time.perf_counter()

            def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
                if state.global_step >= state.max_steps:
                    synchronize()
                    probe.last_step = time.perf_counter()
                    if cuda():
                        import torch

                        probe.train_peak = torch.cuda.max_memory_allocated()

        return StepClock()

    def collator(self, collate: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """``collate`` that also counts the padded and the real input ids of every batch."""

        def counting(features: Any) -> Any:
            batch = collate(features)
            self.padded += int(batch["input_ids"].numel())
            self.real += int(batch["attention_mask"].sum())
            return batch

        return counting


#: The probe of the side that runs now (the checkpoint timer finds it here).
CURRENT: list[Probe] = []


@contextlib.contextmanager
def patched(owner: Any, name: str, value: Any) -> Iterator[None]:
    old = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, old)


def timed_checkpoints() -> contextlib.AbstractContextManager[None]:
    """``Trainer._save_checkpoint`` timed into the current probe (dialsum's per-epoch checkpoint)."""
    from transformers import Trainer

    save = Trainer._save_checkpoint

    @functools.wraps(save)
    def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
        synchronize()
        started = time.perf_counter()
        try:
            return save(self, *args, **kwargs)
        finally:
            if CURRENT:
                CURRENT[-1].checkpoint_seconds += time.perf_counter() - started

    return patched(Trainer, "_save_checkpoint", timed)


def dialsum_probed(probe: Probe, args: argparse.Namespace) -> contextlib.ExitStack:
    """The patches that measure dialsum's fit (and, with the isolating flags, change one thing)."""
    from dialsum_hf import training

    stack = contextlib.ExitStack()
    make_callbacks, collator = training._callbacks, training.Collator

    def callbacks() -> tuple[type, type]:
        events, trainer = make_callbacks()

        class ProbedTrainer(trainer):  # type: ignore[misc,valid-type]
            def __init__(self, *a: Any, **kw: Any) -> None:
                super().__init__(*a, **kw)
                self.add_callback(probe.callback())

        return events, ProbedTrainer

    stack.enter_context(patched(training, "_callbacks", callbacks))
    stack.enter_context(patched(training, "Collator", lambda pad_id, model=None: probe.collator(
        collator(pad_id, model))))
    if args.pin_memory or args.random_order:
        arguments = training.training_arguments

        def changed(*a: Any, **kw: Any) -> Any:
            out = arguments(*a, **kw)
            if args.pin_memory:
                out.dataloader_pin_memory = True
            if args.random_order:
                if hasattr(out, "train_sampling_strategy"):
                    out.train_sampling_strategy = "random"
                else:
                    out.group_by_length = False
            return out

        stack.enter_context(patched(training, "training_arguments", changed))
    if args.pad_vocab:
        from transformers import PreTrainedModel

        resize = PreTrainedModel.resize_token_embeddings

        def padded(self: Any, new_num_tokens: int | None = None, pad_to_multiple_of: int | None = None,
                   mean_resizing: bool = True) -> Any:
            return resize(self, new_num_tokens, pad_to_multiple_of or args.pad_vocab, mean_resizing)

        stack.enter_context(patched(PreTrainedModel, "resize_token_embeddings", padded))
    return stack


# ------------------------------------------------------------------------------------------------
# The two sides
# ------------------------------------------------------------------------------------------------
def dialsum_run(folder: Path, model: Path, args: argparse.Namespace, run: int | str, train: list[Any],
                valid: list[Any], probe: Probe) -> dict[str, float]:
    from dialsum_hf.testing import run_context

    ctx = run_context(recipe(folder, model, args), name=f"dialsum-{run}")
    with dialsum_probed(probe, args):
        hf = ctx.build("model_loaders", model_name(args)).build(ctx, train)
        fit = hf.fit(train, valid, ctx, ctx.experiment.checkpoints)
    d = fit.details
    return {"seconds": d["train_seconds"] - d["eval_seconds"], "eval_seconds": d["eval_seconds"],
            "cpu_seconds": d["train_cpu_seconds"] - d["eval_cpu_seconds"],
            "tokens": d["train_tokens_per_epoch"] * args.epochs, "steps": d["global_step"], "loss": d["train_loss"]}


def plain_causal_model(model: Path, args: argparse.Namespace) -> Any:
    """The model as a user loads it: float32 on the CPU; with ``--4bit`` QLoRA as the peft docs show it."""
    from peft import LoraConfig, TaskType, get_peft_model
    from transformers import AutoModelForCausalLM

    if args.four_bit:
        import torch
        from peft import prepare_model_for_kbit_training
        from transformers import BitsAndBytesConfig

        quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                                   bnb_4bit_compute_dtype=torch.bfloat16)
        net = AutoModelForCausalLM.from_pretrained(str(model), quantization_config=quant, dtype=torch.bfloat16,
                                                   device_map={"": torch.cuda.current_device()})
        net = prepare_model_for_kbit_training(net, use_gradient_checkpointing=False)
    else:
        net = AutoModelForCausalLM.from_pretrained(str(model), dtype="float32")
    return get_peft_model(net, LoraConfig(task_type=TaskType.CAUSAL_LM, r=LORA["r"], lora_alpha=LORA["alpha"],
                                          lora_dropout=LORA["dropout"], target_modules=lora_targets(args.family)))


def plain_causal_run(folder: Path, model: Path, args: argparse.Namespace, run: int | str, rows: list[Any],
                     _valid: list[Any], probe: Probe) -> dict[str, float]:
    """Trainer + peft LoRA + DataCollatorForSeq2Seq, as a user would write it, minus evaluation."""
    from transformers import AutoTokenizer, DataCollatorForSeq2Seq, Trainer, TrainingArguments, set_seed

    from dialsum_hf.presets import DEFAULT_INSTRUCTION, TEMPLATES

    set_seed(args.seed)
    tok = AutoTokenizer.from_pretrained(str(model))
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    net = plain_causal_model(model, args)
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
        seed=args.seed, report_to=[], disable_tqdm=not sys.stderr.isatty(), bf16=args.four_bit,
    )
    trainer = Trainer(model=net, args=training_args, train_dataset=features, processing_class=tok,
                      data_collator=probe.collator(DataCollatorForSeq2Seq(tok, model=net)),
                      callbacks=[probe.callback()])
    started, cpu = time.perf_counter(), time.process_time()
    output = trainer.train()
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    tokens = sum(len(f["input_ids"]) for f in features) * args.epochs
    return {"seconds": seconds, "eval_seconds": 0.0, "cpu_seconds": cpu_seconds, "tokens": tokens,
            "steps": trainer.state.global_step, "loss": float(output.training_loss)}


def plain_run(folder: Path, model: Path, args: argparse.Namespace, run: int | str, rows: list[Any],
              _valid: list[Any], probe: Probe) -> dict[str, float]:
    """What the transformers summarization example does, minus evaluation."""
    if args.family != "bart":
        return plain_causal_run(folder, model, args, run, rows, _valid, probe)
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
                             data_collator=probe.collator(DataCollatorForSeq2Seq(tok, model=net)),
                             callbacks=[probe.callback()])
    started, cpu = time.perf_counter(), time.process_time()
    output = trainer.train()
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    tokens = sum(len(f["input_ids"]) + len(f["labels"]) for f in features) * args.epochs
    return {"seconds": seconds, "eval_seconds": 0.0, "cpu_seconds": cpu_seconds, "tokens": tokens,
            "steps": trainer.state.global_step, "loss": float(output.training_loss)}


def measured(fn: Callable[..., dict[str, float]], *fn_args: Any) -> dict[str, float]:
    """One side's run with its probe: a clean GPU before it, the peak memory and the split after."""
    import torch

    gc.collect()
    if cuda():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    probe = Probe()
    CURRENT.append(probe)
    try:
        res = fn(*fn_args, probe)
    finally:
        CURRENT.pop()
    res.update(step_seconds=probe.step_seconds, checkpoint_seconds=probe.checkpoint_seconds,
               padded=probe.padded, real=probe.real, train_peak=probe.train_peak,
               peak=torch.cuda.max_memory_allocated() if cuda() else 0)
    gc.collect()
    return res


# ------------------------------------------------------------------------------------------------
# The model both sides train
# ------------------------------------------------------------------------------------------------
def has_tags(model: Path, examples: list[Any]) -> bool:
    from transformers import AutoTokenizer

    from dialsum_hf.tokenizer import special_tokens

    vocab = AutoTokenizer.from_pretrained(str(model)).get_vocab()
    return all(t in vocab for t in special_tokens(examples))


def build_model(args: argparse.Namespace, examples: list[Any], path: Path) -> Path:
    """A random model of the asked size, its tokenizer trained on ``examples``, with or without the tags."""
    from dialsum_hf.testing import save_tiny_model
    from dialsum_hf.tokenizer import special_tokens

    texts = [t for e in examples for t in (e.dialogue, *e.summaries)]
    return save_tiny_model(args.family, path, texts, vocab_size=args.vocab, d_model=args.d_model,
                           layers=args.layers, heads=args.heads, intermediate=args.intermediate,
                           tags=() if args.new_tokens else special_tokens(examples),
                           dtype="bfloat16" if cuda() else "float32", device="cuda" if cuda() else "cpu")


def describe(args: argparse.Namespace, model: Path) -> str:
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(str(model))
    size = getattr(config, "hidden_size", getattr(config, "d_model", 0))
    layers = getattr(config, "num_hidden_layers", getattr(config, "encoder_layers", 0))
    kind = f"{config.model_type} (hidden {size}, {layers} layers, vocabulary {config.vocab_size})"
    if args.family != "bart":
        kind += f", LoRA r {LORA['r']} on {', '.join(lora_targets(args.family))}"
    if args.four_bit:
        kind += ", 4-bit NF4 base, bf16"
    return kind


def refusal(args: argparse.Namespace) -> str:
    """Why this run cannot go ahead here (empty: it can)."""
    import importlib.util

    if args.four_bit:
        if args.family == "bart":
            return "--4bit compares causal QLoRA: use --family llama or gpt_neox"
        if not cuda():
            return "--4bit needs a CUDA GPU (4-bit loading through bitsandbytes) and none is visible"
        if importlib.util.find_spec("bitsandbytes") is None:
            return "--4bit needs bitsandbytes (pip install 'plugins/dialsum-hf[quantization]')"
    if args.model is not None and not (args.model / "config.json").is_file():
        return f"--model {args.model}: no config.json there (a local model folder is needed)"
    return ""


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--family", choices=("bart", "llama", "gpt_neox"), default=None,
                    help="bart (default): full fine-tuning vs Seq2SeqTrainer; llama (default with --4bit) / "
                         "gpt_neox: LoRA vs Trainer + peft")
    ap.add_argument("--4bit", dest="four_bit", action="store_true",
                    help="QLoRA on CUDA: both sides load the model in 4-bit NF4 (bitsandbytes) and train in bf16")
    ap.add_argument("--model", type=Path, default=None,
                    help="a local model folder to compare on (default: a random one of the size below)")
    ap.add_argument("--save-model", type=Path, default=None, metavar="DIR",
                    help="only build the random model the flags describe, save it to DIR and exit "
                         "(then compare on it with --model DIR)")
    ap.add_argument("--train-csv", type=Path, default=SAMPLE / "train.csv",
                    help="training CSV (e.g. ../shared/data/dialogsum-ko/dev.csv for longer dialogues)")
    ap.add_argument("--rows", type=int, default=400, help="first N training examples (data/sample/train.csv has 400)")
    ap.add_argument("--valid", type=int, default=16, help="validation dialogues dialsum evaluates each epoch")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-length", type=int, default=512)
    ap.add_argument("--max-target-length", type=int, default=128)
    size = ap.add_argument_group("the random model (without --model)")
    size.add_argument("--d-model", "--hidden", dest="d_model", type=int, default=64, help="hidden size")
    size.add_argument("--layers", type=int, default=2)
    size.add_argument("--heads", type=int, default=2, help="attention heads")
    size.add_argument("--intermediate", type=int, default=0, help="feed-forward size (0: twice the hidden size)")
    size.add_argument("--vocab", type=int, default=2000, help="BPE vocabulary trained on the training dialogues")
    size.add_argument("--new-tokens", action=argparse.BooleanOptionalAction, default=None,
                      help="build the model without the #Tag# tokens, so that dialsum adds them as it does to a "
                           "downloaded model (default with --4bit), or with them (--no-new-tokens, the default "
                           "otherwise: both sides read the same ids); with --model the folder decides")
    iso = ap.add_argument_group("isolating one difference (dialsum's side; its behaviour is unchanged without them)")
    iso.add_argument("--pad-vocab", type=int, default=0, metavar="N",
                     help="grow the embeddings for new tokens to a multiple of N rows (e.g. 64)")
    iso.add_argument("--pin-memory", action="store_true", help="dataloader_pin_memory = True, as the Trainer's default")
    iso.add_argument("--random-order", action="store_true", help="random batches instead of length-grouped ones")
    iso.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="a recipe override for dialsum, e.g. train.logging_steps=500 or train.save_checkpoints=false")
    ap.add_argument("--repeats", type=int, default=5, help="rounds; each runs both sides, in alternating order")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=None,
                    help="torch CPU threads (0: torch's default; default 1, and torch's default with --4bit)")
    args = ap.parse_args(argv)
    if args.family is None:
        args.family = "llama" if args.four_bit else "bart"
    if args.threads is None:
        args.threads = 0 if args.four_bit else 1
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    import logging

    import torch
    import transformers

    from dialsum_core.recipe import Recipe
    from dialsum_data import load_splits

    problem = refusal(args)
    if problem:
        print(f"train_throughput: {problem}", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    transformers.logging.set_verbosity_error()
    warnings.filterwarnings("ignore", message=".*pin_memory.*")  # the plain Trainer's default, moot on CPU
    warnings.filterwarnings("ignore", message=".*save_embedding_layers.*")  # peft: saving the grown matrices
    warnings.filterwarnings("ignore", category=FutureWarning)  # deprecations inside transformers and peft
    logging.getLogger("dialsum").setLevel(logging.WARNING)
    runs: dict[str, list[dict[str, float]]] = {"dialsum": [], "plain": []}
    sides = (("dialsum", dialsum_run), ("plain", plain_run))
    with tempfile.TemporaryDirectory(prefix="dialsum-trainbench-") as tmp:
        folder = Path(tmp)
        # the examples as dialsum reads and cleans them; both sides train on these
        data = load_splits(Recipe.from_dict(recipe(folder, args.model or folder / "model", args)))
        train, valid = data.train[: args.rows], data.valid[: args.valid]
        if args.save_model is not None:
            args.new_tokens = args.four_bit if args.new_tokens is None else args.new_tokens
            build_model(args, data.train, args.save_model)
            print(f"saved {describe(args, args.save_model)} to {args.save_model}")
            return 0
        if args.model is not None:
            model, built = args.model, ""
            tags = has_tags(model, data.train)
            if args.new_tokens is not None and args.new_tokens == tags:
                print(f"train_throughput: {model} {'holds' if tags else 'lacks'} the #Tag# tokens: the folder decides "
                      "(build one with --save-model DIR and --new-tokens or --no-new-tokens)", file=sys.stderr)
                return 2
            args.new_tokens = not tags
        else:
            args.new_tokens = args.four_bit if args.new_tokens is None else args.new_tokens
            model, built = build_model(args, data.train, folder / "model"), "random "
        with timed_checkpoints():
            print(f"model: {built}{describe(args, model)}, device {'cuda' if cuda() else 'cpu'}, "
                  f"torch threads {torch.get_num_threads()}")
            print(f"data: {len(train)} examples of {args.train_csv}, {args.epochs} epoch(s), "
                  f"batch size {args.batch_size}, max_length {args.max_length}, max_target_length "
                  f"{args.max_target_length}")
            changes = [f"--{k.replace('_', '-')}" + (f" {v}" if not isinstance(v, bool) else "")
                       for k, v in vars(args).items() if k in ("pad_vocab", "pin_memory", "random_order") and v]
            changes += [f"--set {s}" for s in args.set]
            adds = "dialsum adds the #Tag# tokens, the plain side none" if args.new_tokens else \
                "none (the model holds the #Tag# tokens)"
            print(f"new tokens: {adds}; dialsum changed by: {', '.join(changes) or 'nothing'}")
            for _side, fn in sides:  # warm-up: lazy imports, CUDA kernels, allocator, the metric's tokenizer
                measured(fn, folder, model, args, "warmup", train[: 2 * args.batch_size], valid[:2])
            for r in range(args.repeats):
                for side, fn in sides[:: 1 if r % 2 == 0 else -1]:
                    res = measured(fn, folder, model, args, r, train, valid)
                    runs[side].append(res)
                    extra = f", evaluation {res['eval_seconds']:.2f} s apart" if side == "dialsum" else ""
                    print(f"  round {r + 1} {side:8s} {int(res['steps'])} steps, {int(res['tokens'])} tokens in "
                          f"{res['seconds']:6.2f} s ({res['cpu_seconds']:6.2f} s CPU) = "
                          f"{res['tokens'] / res['seconds']:8.1f} tok/s (loss {res['loss']:.3f}{extra})")
    return summary(args, runs)


def summary(args: argparse.Namespace, runs: dict[str, list[dict[str, float]]]) -> int:
    steps = {side: {int(x["steps"]) for x in v} for side, v in runs.items()}
    tokens = {side: {int(x["tokens"]) for x in v} for side, v in runs.items()}
    if steps["dialsum"] != steps["plain"] or (tokens["dialsum"] != tokens["plain"] and not args.new_tokens):
        print(f"not comparable: steps {steps}, tokens {tokens}", file=sys.stderr)
        return 1

    def total(side: str, key: str) -> float:
        return sum(x[key] for x in runs[side])

    # All rounds together. Both sides train on the same examples for the same steps, so the ratio is
    # that of the times; it is the ratio of tokens/s too unless dialsum added tokens (the tags then
    # read as one token each, fewer than the plain side's pieces). CPU time is printed too: on a busy
    # machine the wall time of one round can be off by half, whichever side it times.
    wall = {side: total(side, "tokens") / total(side, "seconds") for side in runs}
    cpu = {side: total(side, "tokens") / total(side, "cpu_seconds") for side in runs}
    evals = statistics.median(x["eval_seconds"] for x in runs["dialsum"])
    plain = "plain Seq2SeqTrainer (defaults):" if args.family == "bart" else \
        "plain Trainer + peft QLoRA:" if args.four_bit else "plain Trainer + peft LoRA:"
    print(f"dialsum training ({model_name(args)}, HFModel.fit): {wall['dialsum']:.1f} tokens/s, "
          f"{cpu['dialsum']:.1f} tokens per CPU second")
    print(f"{plain:41s}  {wall['plain']:.1f} tokens/s, {cpu['plain']:.1f} tokens per CPU second")
    if tokens["dialsum"] != tokens["plain"]:
        print(f"tokens per run: dialsum {min(tokens['dialsum'])}, plain {min(tokens['plain'])} (dialsum's tokenizer "
              "holds the tags it added, the plain one splits them otherwise); the ratios below are those of the "
              "times, on the same examples and steps")
    ratio = total("plain", "seconds") / total("dialsum", "seconds")
    cpu_ratio = total("plain", "cpu_seconds") / total("dialsum", "cpu_seconds")
    print(f"ratio dialsum/plain over {args.repeats} rounds: {ratio:.2f}x wall-clock, {cpu_ratio:.2f}x CPU time")
    loop = total("plain", "step_seconds") / total("dialsum", "step_seconds")
    print(f"step loop alone (first step to last): dialsum {total('dialsum', 'step_seconds'):.2f} s, plain "
          f"{total('plain', 'step_seconds'):.2f} s, ratio {loop:.2f}x")
    print(f"outside the step loop: dialsum {total('dialsum', 'seconds') - total('dialsum', 'step_seconds'):.2f} s "
          f"(checkpoints {total('dialsum', 'checkpoint_seconds'):.2f} s), plain "
          f"{total('plain', 'seconds') - total('plain', 'step_seconds'):.2f} s")
    print(f"padded / real tokens per batch: dialsum {total('dialsum', 'padded') / total('dialsum', 'real'):.2f}, "
          f"plain {total('plain', 'padded') / total('plain', 'real'):.2f}")
    if args.four_bit:
        print("peak CUDA memory (whole side; up to its last training step): " + ", ".join(
            f"{side} {max(x['peak'] for x in v) / GIB:.2f} GiB; {max(x['train_peak'] for x in v) / GIB:.2f} GiB"
            for side, v in runs.items()))
    print(f"dialsum per-epoch evaluation (generation + ROUGE on {args.valid} dialogues), not counted above: "
          f"{evals:.2f} s per run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
