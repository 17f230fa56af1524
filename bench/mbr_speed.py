"""MBR selection speed: dialsum's RougeEngine against rouge-score on the same candidates and tokens.

Candidates are made from the real dev summaries (``../shared/data/dialogsum-ko/dev.csv``) by
random edits (deletions, insertions of morphemes from other summaries, appended fragments), so
their lengths and overlaps look like beam/TTA outputs. Both sides get the same morpheme tokens
(tokenising is timed once, apart); rouge-score computes each unordered pair once (F1 is symmetric).
rouge-score is timed on ``--peer-dialogues`` dialogues and extrapolated, since the full run takes
about an hour; the selections of both are compared on those dialogues.

    python bench/mbr_speed.py                 # 100 candidates x 400 dialogues
    python bench/mbr_speed.py --candidates 30 --dialogues 50 --peer-dialogues 5
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DIALSUM_SHARED_DATA", ROOT.parent / "shared" / "data")) / "dialogsum-ko"


def candidates(summaries: list[list[str]], n: int, seed: int) -> list[list[list[str]]]:
    rng = random.Random(seed)
    groups = []
    for base in summaries:
        group = []
        for _ in range(n):
            toks = list(base)
            for _ in range(rng.randint(0, 8)):
                op, pos = rng.random(), rng.randrange(len(toks) + 1)
                if op < 0.4 and toks:
                    del toks[min(pos, len(toks) - 1)]
                elif op < 0.8:
                    toks.insert(pos, rng.choice(rng.choice(summaries)))
                else:
                    toks.extend(rng.choice(summaries)[:5])
            group.append(toks)
        groups.append(group)
    return groups


def peer_mbr(scorer, group: list[list[str]]) -> int:
    n = len(group)
    joined = ["\x1f".join(t) for t in group]
    sim = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            s = scorer.score(joined[i], joined[j])
            sim[i, j] = sim[j, i] = (s["rouge1"].fmeasure + s["rouge2"].fmeasure + s["rougeL"].fmeasure) / 3
    return int(np.argmax(sim.sum(axis=1) / max(n - 1, 1)))


class _Given:
    def tokenize(self, text: str) -> list[str]:
        return text.split("\x1f") if text else []


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--candidates", type=int, default=100)
    ap.add_argument("--dialogues", type=int, default=400)
    ap.add_argument("--peer-dialogues", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if not (SHARED / "dev.csv").exists():
        print(f"real data not found at {SHARED} (set DIALSUM_SHARED_DATA)", file=sys.stderr)
        return 2
    from rouge_score import rouge_scorer

    from dialsum_data import load_csv
    from dialsum_metrics.engine import RougeEngine, mbr_select

    dev = load_csv(SHARED / "dev.csv")[: args.dialogues]
    engine = RougeEngine()
    t0 = time.perf_counter()
    toks = engine.tokens([e.summary for e in dev])
    t_tok = time.perf_counter() - t0
    groups = candidates(toks, args.candidates, args.seed)
    pairs = len(groups) * args.candidates * (args.candidates - 1) // 2

    t0 = time.perf_counter()
    ours = [mbr_select(engine.pairwise_tokens(g)) for g in groups]
    t_ours = time.perf_counter() - t0

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], tokenizer=_Given())
    k = min(args.peer_dialogues, len(groups))
    t0 = time.perf_counter()
    peer = [peer_mbr(scorer, g) for g in groups[:k]]
    t_peer_k = time.perf_counter() - t0
    t_peer = t_peer_k / k * len(groups)
    agree = sum(a == b for a, b in zip(ours[:k], peer, strict=True))

    print(f"MBR over {args.candidates} candidates x {len(groups)} dialogues = {pairs:,} ROUGE pairs "
          f"(threads: {os.environ.get('OMP_NUM_THREADS', 'default')}, cores: {os.cpu_count()})")
    print(f"  tokenising {len(toks)} summaries with kiwipiepy (both sides share it): {t_tok:.2f} s")
    print(f"  {'engine':<24}{'seconds':>10}{'pairs/s':>14}")
    print(f"  {'dialsum RougeEngine':<24}{t_ours:>10.2f}{pairs / t_ours:>14,.0f}")
    print(f"  {'rouge-score':<24}{t_peer:>10.2f}{pairs / t_peer:>14,.0f}   (timed on {k} dialogues: "
          f"{t_peer_k:.2f} s, extrapolated)")
    print(f"  speed-up: {t_peer / t_ours:.1f}x; same MBR choice on {agree}/{k} dialogues")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
