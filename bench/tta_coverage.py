"""How many dialogues each test-time augmenter gives a variant for, and how many variants.

An augmenter that finds nothing to change in a dialogue gives no variant, and the TTA ensemble of
that dialogue is the plain prediction alone: coverage is what TTA can act on at all. What runs:
every augmenter of ``dialsum-tta`` with its default options, as ``run.use_tta`` builds it, on

* the 400 real dialogues of ``../shared/data/dialogsum-ko/dev.csv`` (``paraphrase`` reads the
  independent second translation ``dev_alt_translation.csv`` as its table);
* the 60 dialogues of the shipped sample ``data/sample/dev.csv`` (``paraphrase``: the shipped
  ``data/sample/paraphrases.csv``).

For each: the share of dialogues with at least one variant, and the mean number of variants per
dialogue, asking for ``--n`` variants (``run.tta_num_aug``, 3 by default) with ``run.seed`` 42.

    python bench/tta_coverage.py                 # about 1 min on 2 busy cores
    python bench/tta_coverage.py --only sample   # no real data needed
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DIALSUM_SHARED_DATA", ROOT.parent / "shared" / "data")) / "dialogsum-ko"
SAMPLE = ROOT / "data" / "sample"
AUGMENTERS = ("reorder", "mask", "synonym", "paraphrase")


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=3, help="variants asked per dialogue (default %(default)s)")
    ap.add_argument("--seed", type=int, default=42, help="run.seed (default %(default)s)")
    ap.add_argument("--only", choices=("shared", "sample"), default=None, help="one data set only")
    return ap.parse_args()


def build(name: str, paraphrases: Path) -> Any:
    """The augmenter ``name`` with its default options, as the plugin's factory builds it."""
    from dialsum_tta import plugin
    from dialsum_tta.augment import make

    options = {
        "reorder": plugin.ReorderOptions(),
        "mask": plugin.MaskOptions(),
        "synonym": plugin.SynonymOptions(),
        "paraphrase": plugin.ParaphraseOptions(table=str(paraphrases)),
    }[name]
    return make(name, options, Path)


def coverage(path: Path, paraphrases: Path, n: int, seed: int) -> list[tuple[str, int, int, int, float]]:
    """``(augmenter, dialogues, dialogues with a variant, variants, seconds)`` for one CSV file."""
    from dialsum_data import load_csv

    examples = load_csv(path)
    rows = []
    for name in AUGMENTERS:
        aug = build(name, paraphrases)
        start = time.perf_counter()
        counts = [len(aug.augment(e.fname, e.dialogue, n=n, seed=seed)) for e in examples]
        rows.append((name, len(examples), sum(c > 0 for c in counts), sum(counts), time.perf_counter() - start))
    return rows


def main() -> int:
    args = parse_args()
    sets = [("DialogSum-ko dev", SHARED / "dev.csv", SHARED / "dev_alt_translation.csv"),
            ("sample dev", SAMPLE / "dev.csv", SAMPLE / "paraphrases.csv")]
    if args.only:
        sets = [sets[0] if args.only == "shared" else sets[1]]
    missing = [label for label, path, _ in sets if not path.is_file()]
    print(f"| data | augmenter | dialogues | with >= 1 variant | share | mean variants (of {args.n}) | seconds |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for label, path, paraphrases in sets:
        if label in missing:
            continue
        for name, total, covered, variants, seconds in coverage(path, paraphrases, args.n, args.seed):
            print(f"| {label} | `{name}` | {total} | {covered} | {covered / total:.1%} | {variants / total:.2f} "
                  f"| {seconds:.1f} |", flush=True)
    if missing:
        print(f"real data not found at {SHARED} (set DIALSUM_SHARED_DATA to its parent): "
              f"{', '.join(missing)} skipped", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
