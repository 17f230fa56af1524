"""The ROUGE floor on DialogSum-ko, and what each scoring convention does to the numbers.

What runs: the ``rouge`` metric of ``dialsum-metrics`` (the code every run scores with) on the 400
dialogues of ``../shared/data/dialogsum-ko/dev.csv``, with ``dev_alt_translation.csv`` (an
independent second translation) as a second reference, as ``data.dev_references`` gives it to a
run. The systems need no training, so the tables are exact and cheap to reproduce:

* ``lead-N``: the first N turns of the dialogue (the ``lead`` example plugin, speaker tags kept);
* ``constant``: one fixed sentence for every dialogue, the string a collapsed seq2seq model wrote;
* ``second translation``: the other translation's summary scored against the first one alone
  (two translators agreeing: a human reference point, not a ceiling of the metric).

Table 1 (the floor) gives ROUGE-1/2/L F1 x100 averaged over the two references (the competition's
aggregation), the best-reference number for comparison, and the output statistics every rouge
report carries. Table 2 gives ``rouge_mean`` x100 of the same systems under each named convention
of ``[metrics.rouge]``, with its difference to the default.

    python bench/metric_conventions.py            # about 1 min on 2 busy cores
    python bench/metric_conventions.py --limit 100
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
CONSTANT = "#Person1#은 #Person2#에게 그것에 대해 이야기합니다."

#: (label, options of RougeMetric) in the order of table 2; the first is the default.
CONVENTIONS: list[tuple[str, dict[str, Any]]] = [
    ("default: standard, mean over references, kiwi per pair, tags whole", {}),
    ('`references = "max"` (best reference)', {"references": "max"}),
    ('`rouge_l = "summary"` (union LCS over sentences)', {"rouge_l": "summary"}),
    ('`counts = "unique"` (n-gram sets)', {"counts": "unique"}),
    ("`keep_tags = false` (tags left to kiwi)", {"keep_tags": False}),
    ('`tokenizer = "whitespace"` (eojeol)', {"tokenizer": "whitespace"}),
    ('`profile = "baseline"` (the rouge package, on kiwi morphemes)', {"profile": "baseline"}),
    ('`profile = "baseline"`, `tokenizer = "whitespace"` (the baseline code on raw text)',
     {"profile": "baseline", "tokenizer": "whitespace"}),
]


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=0, help="score only the first N dialogues (default: all 400)")
    ap.add_argument("--max-turns", type=int, default=3, help="lead-1 .. lead-N (default %(default)s)")
    return ap.parse_args()


def systems(rows: list[tuple[str, str, str]], max_turns: int) -> dict[str, tuple[list[str], list[list[str]]]]:
    """Each system's predictions and reference sets."""
    from dialsum_lead.model import lead

    both = [[s, a] for _, s, a in rows]
    out = {f"lead-{n}": ([lead(d, n, strip_speaker=False) for d, _, _ in rows], both) for n in range(1, max_turns + 1)}
    out["constant"] = ([CONSTANT] * len(rows), both)
    out["second translation (vs the first only)"] = ([a for _, _, a in rows], [[s] for _, s, _ in rows])
    return out


def main() -> int:
    args = parse_args()
    dev, alt = SHARED / "dev.csv", SHARED / "dev_alt_translation.csv"
    if not (dev.is_file() and alt.is_file()):
        print(f"real data not found at {SHARED} (set DIALSUM_SHARED_DATA to the folder above it)", file=sys.stderr)
        return 2
    from dialsum_data import load_csv
    from dialsum_metrics.rouge import RougeMetric

    other = {e.fname: e.summary for e in load_csv(alt)}
    rows = [(e.dialogue, e.summary, other[e.fname]) for e in load_csv(dev)]
    rows = rows[: args.limit] if args.limit else rows
    systems_ = systems(rows, args.max_turns)
    t0 = time.perf_counter()

    print(f"Table 1: {len(rows)} dialogues of dev.csv, references: dev.csv and dev_alt_translation.csv\n")
    print("| system | ROUGE-1 | ROUGE-2 | ROUGE-L | **mean** | mean, best reference | distinct | mean length (chars) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, (preds, refs) in systems_.items():
        m = RougeMetric(degenerate_threshold=0.0).compute(preds, refs)
        best = RougeMetric(references="max", degenerate_threshold=0.0).compute(preds, refs)["rouge_mean"]
        print(f"| {name} | {100 * m['rouge1']:.2f} | {100 * m['rouge2']:.2f} | {100 * m['rougeL']:.2f} | "
              f"**{100 * m['rouge_mean']:.2f}** | {100 * best:.2f} | {m['distinct_ratio']:.3f} | "
              f"{m['mean_length']:.1f} |")

    print("\nTable 2: rouge_mean x100 under each convention (difference to the default in brackets)\n")
    print("| convention | " + " | ".join(systems_) + " |")
    print("| --- |" + " ---: |" * len(systems_))
    default: dict[str, float] = {}
    for label, options in CONVENTIONS:
        cells = []
        for name, (preds, refs) in systems_.items():
            v = 100 * RougeMetric(**options, degenerate_threshold=0.0).compute(preds, refs)["rouge_mean"]
            default.setdefault(name, v)
            cells.append(f"{v:.2f}" if not options else f"{v:.2f} ({v - default[name]:+.2f})")
        print(f"| {label} | " + " | ".join(cells) + " |")
    print(f"\n({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
