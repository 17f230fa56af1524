"""Train the tiny scratch model in its own process (the kill-and-resume test kills it for real).

Usage: ``python resume_driver.py DATA_DIR OUTPUT_DIR RESULT_JSON [RESUME_FROM]``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import make_context
from dialsum_core import hookimpl


class EpochsBegun:
    """The epochs this process trained: a resumed run must not start again from epoch 1."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    @hookimpl
    def dialsum_before_epoch(self, epoch: int, n_epochs: int) -> None:
        self.seen.append(epoch)


def main() -> None:
    data_dir, out, result = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    resume = sys.argv[4] if len(sys.argv) > 4 else ""
    import torch

    torch.set_num_threads(1)
    ctx = make_context(data_dir, {"train": {"epochs": 4, "batch_size": 4, "save_training_state": True},
                                  "run": {"resume_from": resume, "output_dir": str(out)}})
    epochs = EpochsBegun()
    ctx.plugins.add(epochs, "epochs-begun")
    data = ctx.data()
    model = ctx.build("model_loaders", "scratch").build(ctx, data.train)
    fit = model.fit(data.train, data.valid, ctx, out / "checkpoints")
    preds = model.generate([e.dialogue for e in data.valid], ctx)
    result.write_text(json.dumps({"history": fit.history, "best_metric": fit.details["best_metric"],
                                  "predictions": preds, "epochs_begun": epochs.seen}, ensure_ascii=False),
                      encoding="utf-8")


if __name__ == "__main__":
    main()
