"""Validation ROUGE of the best single model, of every ensemble strategy, and with TTA, in tables.

What runs: ``dialsum run`` (the public pipeline) of a k-fold recipe on
``../shared/data/dialogsum-ko/dev.csv``: 25% of it held out for validation and never seen by any
fold, scored against **two references per dialogue** (its summary in ``dev.csv`` and in
``dev_alt_translation.csv``, an independent second translation, through ``data.dev_references``),
each ROUGE F1 averaged over the two as the leaderboard does. Two models are trained once per fold:
``scratch`` (a small BART trained from nothing, sized for a CPU) and ``lead`` (the extractive
example plugin: the first N turns, N chosen on the fold's held-out dialogues), and TTA is on with
all four augmenters (``paraphrase`` reads the second translation's dialogues). The fold models'
candidates are read back from ``stages/sources/*.json`` and combined here by every strategy, for
each pool of sources: the ``scratch`` folds, the ``lead`` folds, and both. The data files the run
reads (the two splits and the second references of the held-out dialogues) are written to the
experiment's temporary folder, never into the repository.

How the numbers stay honest:

* every strategy runs through ``dialsum_modes.toolkit.combine``, as a run does: whatever it learns
  from validation (``rouge_weighted``, ``stacking``, ``blending``, the candidates' model scores) is
  cross-fitted, learnt on the even validation dialogues and applied to the odd ones, then the
  other way round; the ROUGE shown is that out-of-fold score. "run uses" says what a run would
  submit: the ensemble, or its best source when the ensemble scores below it;
* "best single" is the source with the best score on the very dialogues it is scored on, picked
  in hindsight: an optimistic baseline;
* the floor rows need no training: lead-N (the first N turns) and one constant sentence for every
  dialogue (what a collapsed model writes); a model has learnt something only above them;
* "oracle" picks, per dialogue, the candidate closest to the references: an upper bound of any
  selection, not a method;
* "95% interval" is a paired bootstrap interval of the difference to the best single model over
  the validation dialogues: a difference inside it that straddles zero is noise;
* ``distinct`` counts the different predictions over the validation dialogues. A pool with a source
  that gives one summary for every dialogue is not tabulated: its strategies would only choose
  among identical texts.

ROUGE is shown x100 (the leaderboard's scale). The scratch defaults are what 2 busy CPU cores
afford in a few minutes per fold; with 300 training dialogues such a model gives one summary for
every dialogue (docs/ensembles.md, "Evidence"). The flags size a bigger run for a machine that can
afford it.

    python bench/ensemble_quality.py                      # 8 to 15 min on 2 busy cores
    python bench/ensemble_quality.py --models lead        # about 3 min: the lead pool only
    python bench/ensemble_quality.py --folds 5 --epochs 100 --d-model 256 --vocab-size 8000 --max-length 512
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DIALSUM_SHARED_DATA", ROOT.parent / "shared" / "data")) / "dialogsum-ko"
STRATEGIES = ("majority_vote", "rouge_weighted", "stacking", "blending")
#: The sentence the collapsed scratch model wrote for every dialogue (as bench/metric_conventions.py).
CONSTANT = "#Person1#은 #Person2#에게 그것에 대해 이야기합니다."
FLOOR_TURNS = (1, 2, 3)


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="scratch,lead", help="comma-separated model loaders (default %(default)s)")
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--tta-num-aug", type=int, default=2)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--valid-fraction", type=float, default=0.25, help="dev dialogues held out for validation")
    g = ap.add_argument_group("scratch model")
    g.add_argument("--epochs", type=int, default=28)
    g.add_argument("--max-steps", type=int, default=-1, help="optimiser steps per fold; -1: --epochs")
    g.add_argument("--batch-size", type=int, default=8)
    g.add_argument("--lr", type=float, default=1e-3)
    g.add_argument("--warmup", type=float, default=0.05, help="train.warmup_ratio")
    g.add_argument("--vocab-size", type=int, default=2000)
    g.add_argument("--d-model", type=int, default=64)
    g.add_argument("--layers", type=int, default=2, help="encoder and decoder layers")
    g.add_argument("--dropout", type=float, default=0.1)
    g.add_argument("--max-length", type=int, default=128, help="dialogue tokens the model reads")
    g.add_argument("--num-beams", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (1: on a shared 2-core machine more threads are much slower)")
    ap.add_argument("--data", default=str(SHARED), help="folder with dev.csv and dev_alt_translation.csv")
    ap.add_argument("--output", default="", help="experiments folder (default: a new temporary one)")
    return ap.parse_args()


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _write(path: Path, rows: Sequence[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def split_files(args: argparse.Namespace, data: Path, out: Path) -> dict[str, Path]:
    """``train.csv``, ``dev.csv`` and ``dev_alt.csv`` (the second references of the held-out
    dialogues) under ``out``: the held-out dialogues are the ones the core's ``valid_fraction``
    split of ``dev.csv`` holds out, so the table stays comparable across runs of the bench."""
    from dialsum_core.context import RunContext
    from dialsum_core.events import Events
    from dialsum_core.experiment import Experiment
    from dialsum_core.manager import build_plugins
    from dialsum_core.recipe import Recipe

    plugins = build_plugins()
    probe = Recipe.from_dict({"run": {"models": ["lead"], "seed": args.seed},
                              "data": {"train_path": str(data / "dev.csv"), "valid_fraction": args.valid_fraction}})
    ctx = RunContext(recipe=probe, plugins=plugins, experiment=Experiment(out / "split"), events=Events(plugins.pm))
    held = {e.fname for e in ctx.data().valid}
    rows, alt = _read(data / "dev.csv"), _read(data / "dev_alt_translation.csv")
    out.mkdir(parents=True, exist_ok=True)
    return {
        "train": _write(out / "train.csv", [r for r in rows if r["fname"] not in held]),
        "dev": _write(out / "dev.csv", [r for r in rows if r["fname"] in held]),
        "dev_alt": _write(out / "dev_alt.csv", [r for r in alt if r["fname"] in held]),
    }


def recipe_dict(args: argparse.Namespace, data: Path, files: dict[str, Path], out: Path) -> dict[str, Any]:
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    return {
        "run": {"mode": "kfold", "models": models, "output_dir": str(out), "name": "ensq", "seed": args.seed,
                "ensemble": "majority_vote", "use_tta": True, "tta_num_aug": args.tta_num_aug,
                "tta_strategies": ["reorder", "mask", "synonym", "paraphrase"], "loggers": ["file"],
                "metrics": ["rouge"]},
        "data": {"train_path": str(files["train"]), "dev_path": str(files["dev"]),
                 "dev_references": [str(files["dev_alt"])], "max_length": args.max_length,
                 "max_target_length": 64},
        "train": {"epochs": args.epochs, "max_steps": args.max_steps, "batch_size": args.batch_size,
                  "learning_rate": args.lr, "warmup_ratio": args.warmup, "logging_steps": 50},
        "generation": {"num_beams": args.num_beams, "max_new_tokens": 48, "min_new_tokens": 5, "batch_size": 32},
        "models": {"scratch": {"vocab_size": args.vocab_size, "d_model": args.d_model, "ffn_dim": 4 * args.d_model,
                               "encoder_layers": args.layers, "decoder_layers": args.layers,
                               "dropout": args.dropout}},
        "modes": {"kfold": {"k_folds": args.folds}},
        "augmenters": {"paraphrase": {"table": str(data / "dev_alt_translation.csv")}},
    }


class Bench:
    """Scores selections from the fold models' validation candidates (x100, mean over references)."""

    def __init__(self, ctx: Any, valid: Sequence[Any]):
        from dialsum_metrics.engine import RougeEngine

        self.ctx = ctx
        self.valid = list(valid)
        self.refs = [list(e.summaries) for e in valid]
        self.engine = RougeEngine()

    def per_dialogue(self, preds: Sequence[str]) -> Any:
        return 100 * self.engine.score(list(preds), self.refs).mean(axis=1)

    def rouge(self, preds: Sequence[str]) -> float:
        return float(self.per_dialogue(preds).mean())

    def interval(self, preds: Sequence[str], baseline: Sequence[str], resamples: int = 2000) -> tuple[float, float]:
        """95% paired bootstrap interval (over dialogues) of the difference ``preds - baseline``."""
        import numpy as np

        diff = self.per_dialogue(preds) - self.per_dialogue(baseline)
        idx = np.random.default_rng(0).integers(0, len(diff), (resamples, len(diff)))
        lo, hi = np.percentile(diff[idx].mean(axis=1), [2.5, 97.5])
        return float(lo), float(hi)

    def oracle(self, groups: Sequence[Sequence[Any]]) -> list[str]:
        from dialsum_ensemble.output import reference_scores

        gains = reference_scores(groups, self.refs, "auto", "mean")
        return [g[int(gain.argmax())].text for g, gain in zip(groups, gains, strict=True)]

    def floors(self) -> list[tuple[str, list[str]]]:
        from dialsum_lead.model import lead

        rows = [(f"floor: lead-{n}", [lead(e.dialogue, n, False) for e in self.valid]) for n in FLOOR_TURNS]
        return [*rows, (f"floor: constant '{CONSTANT}'", [CONSTANT] * len(self.valid))]

    def strategy(self, name: str, sources: Sequence[Any]) -> Any:
        """``name`` over ``sources`` exactly as a run combines them (``toolkit.combine``): cross-fitted
        on the validation dialogues, with the fallback to the best source."""
        from dialsum_modes import toolkit

        ctx = self.ctx.evolve(recipe=self.ctx.recipe.override(("run.ensemble", name)))
        return toolkit.combine(ctx, sources, self.valid, [])


def load_sources(exp: Path) -> list[dict[str, Any]]:
    paths = sorted((exp / "stages" / "sources").glob("*.json"))
    return [json.loads(p.read_text(encoding="utf-8"))["source"] for p in paths]


def label(src: dict[str, Any]) -> str:
    turns = {h.get("turns") for h in src["history"]} - {None}
    return f"{src['name']} (N={turns.pop()})" if len(turns) == 1 else src["name"]


def signed(x: float) -> str:
    return f"{round(x, 2) + 0.0:+.2f}"  # + 0.0: no "-0.00"


def augmenter(source: str) -> str:
    """``mask`` for ``lead/fold2/tta:mask:1``; empty for a plain prediction."""
    last = source.rsplit("/", 1)[-1]
    return last.split(":")[1] if last.startswith("tta:") else ""


def pool_table(bench: Bench, title: str, pool: list[dict[str, Any]],
               averaging: Callable[[], list[str]] | None) -> list[str]:
    """The Markdown table of one pool of sources, or the reason it is refused."""
    import attrs

    from dialsum_core.protocols import Candidate
    from dialsum_modes.toolkit import Source

    n = len(bench.refs)
    cands = {s["name"]: [[Candidate(t, src, None) for t, src, _ in per] for per in s["outputs"]["valid"]] for s in pool}
    plain = {name: [c[0].text for c in per] for name, per in cands.items()}
    scores = {name: bench.rouge(preds) for name, preds in plain.items()}
    constant = [name for name, preds in plain.items() if len(set(preds)) == 1]
    if constant:
        verb = "gives" if len(constant) == 1 else "give"
        lines = [f"### {title}", "",
                 f"Not tabulated: {', '.join(constant)} {verb} one summary for all {n} dialogues; a pool with a "
                 "constant source says nothing about choosing among summaries.", ""]
        lines += [f"- {name}: ROUGE {scores[name]:.2f}, {len(set(plain[name]))}/{n} distinct: {plain[name][0]!r}"
                  for name in constant]
        if averaging is not None:
            tick = time.perf_counter()
            joint = averaging()
            lines.append(f"- averaging (token level) of the {len(pool)} fold models (one shared tokenizer) ran in "
                         f"{time.perf_counter() - tick:.0f} s: ROUGE {bench.rouge(joint):.2f}, "
                         f"{len(set(joint))}/{n} distinct")
        return [*lines, ""]
    with_tta = [Source.from_json(s) for s in pool]
    no_tta = [attrs.evolve(s, outputs={k: [[per[0]] for per in v] for k, v in s.outputs.items()}) for s in with_tta]
    groups_tta = [[c for per in cands.values() for c in per[i]] for i in range(n)]
    groups_plain = [[per[i][0] for per in cands.values()] for i in range(n)]
    best = max(scores, key=lambda k: scores[k])
    rows: list[tuple[str, list[str], str]] = [(text, preds, "-") for text, preds in bench.floors()]
    rows += [(f"single: {label(s)}", plain[s["name"]], "-") for s in pool]
    vote = bench.ctx.build("ensembles", "majority_vote")
    augs = list(dict.fromkeys(a for per in cands[best] for c in per if (a := augmenter(c.source))))
    for aug in augs:
        only = [[c for c in per if augmenter(c.source) in ("", aug)] for per in cands[best]]
        rows.append((f"TTA {aug} only, {best} (majority_vote)", vote.combine(only, {}, bench.ctx), "-"))
    rows.append((f"TTA all, {best} (majority_vote)", vote.combine(cands[best], {}, bench.ctx), "-"))
    for name in STRATEGIES:
        for which, sources in (("fold models", no_tta), ("fold models + TTA", with_tta)):
            if which == "fold models" and len(pool) == 1:
                continue
            comb = bench.strategy(name, sources)
            used = "ensemble" if not comb.fallback else f"{comb.fallback} ({bench.rouge(comb.valid):.2f})"
            rows.append((f"{name}, {which}", comb.ensemble_valid, used))
    if averaging is not None:
        rows.append(("averaging (token level), fold models", averaging(), "-"))
    if len(pool) > 1:
        rows.append(("oracle (upper bound), fold models", bench.oracle(groups_plain), "-"))
    rows.append(("oracle (upper bound), fold models + TTA", bench.oracle(groups_tta), "-"))

    def per_dialogue(groups: list[list[Any]]) -> str:
        return (f"{sum(len(g) for g in groups) / n:.2f} ({sum(len({c.text for c in g}) for g in groups) / n:.2f} "
                "distinct)")

    lines = [f"### {title}", "",
             f"Candidates per dialogue, on average: {per_dialogue(groups_plain)} from the fold models, "
             f"{per_dialogue(groups_tta)} with TTA.", "",
             "| method | ROUGE | vs best single | 95% interval | distinct | run uses |",
             "| --- | ---: | ---: | :---: | ---: | --- |"]
    for text, preds, used in rows:
        value = bench.rouge(preds)
        lo, hi = bench.interval(preds, plain[best])
        lines.append(f"| {text} | {value:.2f} | {signed(value - scores[best])} | {signed(lo)} .. {signed(hi)} "
                     f"| {len(set(preds))}/{n} | {used} |")
    return [*lines, ""]


def main() -> int:
    args = parse_args()
    data = Path(args.data)
    if not (data / "dev.csv").is_file() or not (data / "dev_alt_translation.csv").is_file():
        print(f"real data not found at {data} (dev.csv and dev_alt_translation.csv; set DIALSUM_SHARED_DATA "
              "or --data)", file=sys.stderr)
        return 2
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch

    torch.set_num_threads(args.threads)
    from dialsum_core.context import RunContext
    from dialsum_core.events import Events
    from dialsum_core.experiment import Experiment
    from dialsum_core.manager import build_plugins
    from dialsum_core.recipe import Recipe
    from dialsum_core.runner import run_recipe

    out = Path(args.output or tempfile.mkdtemp(prefix="dialsum-ensq-"))
    start = time.perf_counter()
    files = split_files(args, data, out / "data")
    recipe = Recipe.from_dict(recipe_dict(args, data, files, out))
    exp = run_recipe(recipe).experiment
    trained = time.perf_counter() - start
    sources = load_sources(exp)
    if not sources:
        print(f"no source found under {exp}/stages/sources", file=sys.stderr)
        return 1
    logging.getLogger("dialsum").setLevel(logging.ERROR)  # the tables say what the warnings would
    plugins = build_plugins()
    ctx = RunContext(recipe=recipe, plugins=plugins, experiment=Experiment(exp), events=Events(plugins.pm))
    valid = ctx.data().valid
    assert all(len(e.summaries) == 2 for e in valid), "every held-out dialogue has its two references"
    bench = Bench(ctx, valid)

    def averaging(pool: list[dict[str, Any]]) -> Callable[[], list[str]]:
        def run() -> list[str]:
            loader = ctx.build("model_loaders", pool[0]["model_name"])
            models = [loader.load(ctx, Path(s["checkpoint"])) for s in pool]
            return ctx.build("ensembles", "averaging").generate(models, [1.0] * len(models),
                                                                [e.dialogue for e in valid], ctx)
        return run

    models = list(recipe.run.models)
    pools = [(m, [s for s in sources if s["model_name"] == m]) for m in models]
    if len(models) > 1:
        pools.append((" + ".join(models), sources))
    lines = [f"Validation ROUGE x100 (mean of ROUGE-1/2/L F1 on kiwipiepy morphemes, each averaged over the 2 "
             f"references) on {len(valid)} held-out dev dialogues, {args.folds} folds; {date.today().isoformat()}, "
             f"{os.cpu_count()} CPU cores, {args.threads} torch thread(s); training and prediction "
             f"{trained / 60:.1f} min; experiment {exp}",
             "command: " + shlex.join(["python", "bench/ensemble_quality.py", *sys.argv[1:]]), ""]
    refused = 0
    for title, pool in pools:
        token = len({s["model_name"] for s in pool}) == 1 and "token-ensemble" in plugins.require(
            "model_loaders", pool[0]["model_name"]).tags and len(pool) > 1
        table = pool_table(bench, f"Pool: {title}", pool, averaging(pool) if token else None)
        refused += table[2].startswith("Not tabulated")
        lines += table
    lines.append(f"bench total {(time.perf_counter() - start) / 60:.1f} min")
    print("\n".join(lines))
    return 1 if refused == len(pools) else 0  # nothing informative at all


if __name__ == "__main__":
    raise SystemExit(main())
