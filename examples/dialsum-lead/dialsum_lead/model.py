"""The lead-N model: ``fit`` picks N on validation ROUGE, ``generate`` copies the first N turns."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from dialsum_core.protocols import FitResult
from dialsum_lead.plugin import LeadOptions


def lead(dialogue: str, turns: int, strip_speaker: bool) -> str:
    """The first ``turns`` non-empty lines of ``dialogue``, joined by spaces."""
    lines = [ln.strip() for ln in dialogue.splitlines() if ln.strip()][:turns]
    if strip_speaker:
        lines = [ln.split(":", 1)[1].strip() if ":" in ln else ln for ln in lines]
    return " ".join(lines)


class LeadModel:
    def __init__(self, options: LeadOptions):
        self.options = options

    def fit(self, train: Sequence[Any], valid: Sequence[Any], ctx: Any, output_dir: Path) -> FitResult:
        ctx.emit("dialsum_before_epoch", epoch=1, n_epochs=1)
        best: tuple[float, int] = (-1.0, self.options.turns)
        if self.options.tune and valid:
            refs = [list(e.summaries) for e in valid]
            for n in range(1, self.options.max_turns + 1):
                preds = [lead(e.dialogue, n, self.options.strip_speaker) for e in valid]
                scores = ctx.score(preds, refs)
                if self.options.metric not in scores:
                    from dialsum_core.errors import DialsumError

                    known = ", ".join(sorted(scores)) or "none: run.metrics is empty"
                    raise DialsumError(f"models.lead.metric: no score named {self.options.metric!r} "
                                       f"(the metrics give: {known})")
                score = scores[self.options.metric]
                if score > best[0]:
                    best = (score, n)
            self.options = attrs.evolve(self.options, turns=best[1])
        metrics = {"turns": self.options.turns}
        if best[0] >= 0:
            metrics[f"eval_{self.options.metric}"] = best[0]
        ctx.emit("dialsum_after_epoch", epoch=1, n_epochs=1, metrics=metrics)
        self.save(output_dir)
        # one folder holds the model: the best checkpoint and the last one (`checkpoints/last` links it)
        return FitResult(history=[metrics], best_checkpoint=str(output_dir), last_checkpoint=str(output_dir))

    def generate(self, dialogues: Sequence[str], ctx: Any) -> list[str]:
        return [lead(d, self.options.turns, self.options.strip_speaker) for d in dialogues]

    def save(self, path: Path) -> None:
        from dialsum_core.atomic import atomic_write_json

        atomic_write_json(Path(path) / "lead.json", attrs.asdict(self.options))


class LeadLoader:
    def __init__(self, options: LeadOptions):
        self.options = options

    def build(self, ctx: Any, train: Sequence[Any]) -> LeadModel:
        return LeadModel(self.options)

    def load(self, ctx: Any, path: Path) -> LeadModel:
        data = json.loads((Path(path) / "lead.json").read_text(encoding="utf-8"))
        return LeadModel(LeadOptions(**data))
