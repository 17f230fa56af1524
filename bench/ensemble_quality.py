"""Validation ROUGE of the best single model, of every ensemble strategy, and with TTA, in one table.

Uses the public pipeline: ``dialsum run`` of a k-fold recipe with the ``scratch`` model (tiny BART
trained on ``../shared/data/dialogsum-ko/dev.csv``, 25% held out for validation), with TTA on
(``reorder``, ``mask``, and ``paraphrase`` from ``dev_alt_translation.csv``). The fold models'
candidates (plain and TTA) are read back from the experiment's ``stages/sources/*.json`` and
combined here by each strategy. Strategies that learn (``stacking``, ``blending``,
``rouge_weighted``) are cross-fitted on the validation split (fit on one half, scored on the
other, and back), so their numbers are not fitted on what they are scored on. Token-level
averaging reloads the fold models.

    python bench/ensemble_quality.py                  # ~10 min on 2 cores
    python bench/ensemble_quality.py --folds 2 --epochs 2 --max-steps 60
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DIALSUM_SHARED_DATA", ROOT.parent / "shared" / "data")) / "dialogsum-ko"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--max-steps", type=int, default=-1)
    ap.add_argument("--tta-num-aug", type=int, default=2)
    ap.add_argument("--output", default="")
    args = ap.parse_args()
    if not (SHARED / "dev.csv").exists():
        print(f"real data not found at {SHARED} (set DIALSUM_SHARED_DATA)", file=sys.stderr)
        return 2
    from dialsum_core.protocols import Candidate
    from dialsum_core.recipe import Recipe
    from dialsum_core.runner import run_recipe

    out = Path(args.output or tempfile.mkdtemp(prefix="dialsum-ensq-"))
    recipe = Recipe.from_dict({
        "run": {"mode": "kfold", "models": ["scratch"], "output_dir": str(out), "name": "ensq",
                "ensemble": "majority_vote", "use_tta": True, "tta_num_aug": args.tta_num_aug,
                "tta_strategies": ["reorder", "mask", "paraphrase"], "loggers": ["file"],
                "metrics": ["rouge"]},
        "data": {"train_path": str(SHARED / "dev.csv"), "valid_fraction": 0.25, "max_length": 384,
                 "max_target_length": 64},
        "train": {"epochs": args.epochs, "batch_size": 16, "learning_rate": 1e-3, "max_steps": args.max_steps},
        "generation": {"num_beams": 2, "max_new_tokens": 48, "min_new_tokens": 5},
        "modes": {"kfold": {"k_folds": args.folds}},
        "augmenters": {"paraphrase": {"table": str(SHARED / "dev_alt_translation.csv")}},
    })
    result = run_recipe(recipe)
    exp = result.experiment
    from dialsum_core.context import load_splits

    valid = load_splits(recipe).valid
    refs = [list(e.summaries) for e in valid]
    sources = []
    for path in sorted(glob.glob(str(exp / "stages" / "sources" / "*.json"))):
        data = json.loads(Path(path).read_text(encoding="utf-8"))["source"]
        cands = [[Candidate(t, s, sc) for t, s, sc in per] for per in data["outputs"]["valid"]]
        sources.append((data["name"], cands, data["checkpoint"]))
    if not sources:
        print(f"no source found under {exp}/stages/sources", file=sys.stderr)
        return 1

    from dialsum_core.context import RunContext
    from dialsum_core.events import Events
    from dialsum_core.experiment import Experiment
    from dialsum_core.manager import build_plugins
    from dialsum_metrics.engine import RougeEngine

    engine = RougeEngine()

    def rouge(preds: list[str]) -> float:
        return float(engine.score(preds, refs).mean())

    plugins = build_plugins()
    ctx = RunContext(recipe=recipe, plugins=plugins, experiment=Experiment(exp), events=Events(plugins.pm))
    rows: list[tuple[str, float]] = []
    plain = {name: [c[0] for c in cands] for name, cands, _ in sources}
    for name, picks in plain.items():
        rows.append((f"single: {name}", rouge([c.text for c in picks])))
    best_single = max(r for _, r in rows)
    n = len(valid)
    half = [list(range(0, n, 2)), list(range(1, n, 2))]

    def strategy(name: str, with_tta: bool) -> float:
        groups = [[c for _, cands, _ in sources for c in (cands[i] if with_tta else cands[i][:1])] for i in range(n)]
        preds = [""] * n
        for fit_idx, eval_idx in ((half[0], half[1]), (half[1], half[0])):
            ens = ctx.build("ensembles", name)
            ens.fit([groups[i] for i in fit_idx], [refs[i] for i in fit_idx], ctx)
            for i, p in zip(eval_idx, ens.combine([groups[i] for i in eval_idx], ctx), strict=True):
                preds[i] = p
        return rouge(preds)

    for name in ("majority_vote", "rouge_weighted", "stacking", "blending"):
        rows.append((f"{name} (fold models)", strategy(name, False)))
        rows.append((f"{name} (fold models + TTA)", strategy(name, True)))
    for name, cands, _ in sources[:1]:
        groups = [[c for c in cands[i]] for i in range(n)]
        ens = ctx.build("ensembles", "majority_vote")
        rows.append((f"TTA only, {name} (majority_vote)", rouge(ens.combine(groups, ctx))))
    try:
        loader = ctx.build("model_loaders", "scratch")
        models = [loader.load(ctx, Path(ckpt)) for _, _, ckpt in sources]
        ens = ctx.build("ensembles", "averaging")
        rows.append(("averaging (token level, fold models)",
                     rouge(ens.generate(models, [1.0] * len(models), [e.dialogue for e in valid], ctx))))
    except Exception as exc:  # reported next to the table
        print(f"token-level averaging not measured: {type(exc).__name__}: {exc}", file=sys.stderr)

    print(f"\nValidation ROUGE (mean of R-1/2/L F1, kiwi morphemes) on {n} held-out dev dialogues; "
          f"{len(sources)} fold models of `scratch`; experiment {exp}")
    print(f"{'method':<44}{'rouge_mean':>12}{'vs best single':>16}")
    for label, value in rows:
        print(f"{label:<44}{value:>12.4f}{value - best_single:>+16.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
