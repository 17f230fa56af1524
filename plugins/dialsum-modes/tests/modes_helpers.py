"""Helpers and small real plugins of the run-mode tests: data, recipes, a multi-epoch model, ensembles.

The plugins here are real (they train, generate and score with the real metrics), just small:
``lead1`` is the lead model with one fixed turn, ``growing`` is a lead model trained for several
epochs (epoch *e* copies *e* turns) that emits real per-epoch validation ROUGE, which is what
pruning needs, ``constant`` is a collapsed model (one summary for every dialogue),
``best_score`` is an output-level ensemble that keeps, for each dialogue, the candidate whose
source scored best on validation (times its weight), and ``memorise`` one that remembers the
validation references it was fitted on (what cross-fitting must not reward).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from dialsum_core import hookimpl
from dialsum_core.protocols import FitResult, weight_of
from dialsum_core.recipe import PATH
from dialsum_core.runner import RunResult

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "data" / "sample"


def _rows(path: Path, n: int) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))[:n]


def _write(path: Path, rows: Sequence[dict[str, str]], columns: Sequence[str]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return path


def recipe_dict(data: dict[str, Path], out: Path, **run: Any) -> dict[str, Any]:
    return {
        "run": {"mode": "single", "models": ["lead"], "loggers": [], "metrics": ["rouge"], "output_dir": str(out),
                "name": "exp", **run},
        "data": {"train_path": str(data["train"]), "dev_path": str(data["dev"]), "test_path": str(data["test"])},
        "train": {"epochs": 1},
    }


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def results(res: RunResult) -> dict[str, Any]:
    return json.loads((res.experiment / "results.json").read_text(encoding="utf-8"))


# ----------------------------------------------------------------------------------------------
# Small real plugins
# ----------------------------------------------------------------------------------------------
@attrs.define
class GrowingOptions:
    max_turns: int = 4
    strip_speaker: bool = False


class GrowingModel:
    """Epoch *e* copies the first *e* turns; reports each epoch to ``ctx.trial`` and stops when it says so."""

    def __init__(self, options: GrowingOptions):
        self.options = options
        self.turns = 1
        self.epochs_run = 0

    def fit(self, train: Any, valid: Any, ctx: Any, output_dir: Path) -> FitResult:
        from dialsum_lead.model import lead

        history = []
        n = ctx.recipe.train.epochs
        for epoch in range(1, n + 1):
            ctx.emit("dialsum_before_epoch", epoch=epoch, n_epochs=n)
            self.turns = min(epoch, self.options.max_turns)
            self.epochs_run = epoch
            preds = [lead(e.dialogue, self.turns, self.options.strip_speaker) for e in valid]
            score = ctx.score(preds, [list(e.summaries) for e in valid])["rouge_mean"]
            metrics = {"epoch": epoch, "loss": 1.0 / epoch, "eval_rouge_mean": score}
            history.append(metrics)
            ctx.emit("dialsum_after_epoch", epoch=epoch, n_epochs=n, metrics=metrics)
            if ctx.trial is not None and ctx.trial.report(epoch, metrics) and epoch < n:
                self.save(output_dir)
                return FitResult(history=history, best_checkpoint=str(output_dir), pruned=True)
        self.save(output_dir)
        return FitResult(history=history, best_checkpoint=str(output_dir))

    def generate(self, dialogues: Sequence[str], ctx: Any) -> list[str]:
        from dialsum_lead.model import lead

        return [lead(d, self.turns, self.options.strip_speaker) for d in dialogues]

    def save(self, path: Path) -> None:
        Path(path).mkdir(parents=True, exist_ok=True)
        (Path(path) / "growing.json").write_text(json.dumps({"turns": self.turns}), encoding="utf-8")


#: What a collapsed model writes for every dialogue; on Korean morphemes it outscores lead-N.
CONSTANT = "#Person1#은 #Person2#에게 그것에 대해 이야기합니다."


class ConstantModel:
    """A collapsed model: one summary for every dialogue."""

    def fit(self, train: Any, valid: Any, ctx: Any, output_dir: Path) -> FitResult:
        self.save(output_dir)
        return FitResult(best_checkpoint=str(output_dir))

    def generate(self, dialogues: Sequence[str], ctx: Any) -> list[str]:
        return [CONSTANT for _ in dialogues]

    def save(self, path: Path) -> None:
        Path(path).mkdir(parents=True, exist_ok=True)
        (Path(path) / "constant.txt").write_text(CONSTANT, encoding="utf-8")


class ConstantLoader:
    def build(self, ctx: Any, train: Any) -> ConstantModel:
        return ConstantModel()

    def load(self, ctx: Any, path: Path) -> ConstantModel:
        return ConstantModel()


class GrowingLoader:
    def __init__(self, options: GrowingOptions):
        self.options = options

    def build(self, ctx: Any, train: Any) -> GrowingModel:
        return GrowingModel(self.options)

    def load(self, ctx: Any, path: Path) -> GrowingModel:
        m = GrowingModel(self.options)
        m.turns = json.loads((Path(path) / "growing.json").read_text(encoding="utf-8"))["turns"]
        return m


@attrs.define
class WaitingOptions:
    #: A file the model creates once it trains, for another process to see that the run is under way.
    started: str = ""
    #: The model trains on once this file exists.
    go: str = ""


class WaitingModel(ConstantModel):
    """A collapsed model whose training waits, once started, until the ``go`` file exists: a run
    that is still running for as long as a test needs (a second job started beside it)."""

    def __init__(self, options: WaitingOptions):
        self.options = options

    def fit(self, train: Any, valid: Any, ctx: Any, output_dir: Path) -> FitResult:
        import time

        Path(self.options.started).touch()
        deadline = time.monotonic() + 300
        while not Path(self.options.go).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return super().fit(train, valid, ctx, output_dir)


class WaitingLoader(ConstantLoader):
    def __init__(self, options: WaitingOptions):
        self.options = options

    def build(self, ctx: Any, train: Any) -> ConstantModel:
        return WaitingModel(self.options)


@attrs.define
class ReadingOptions:
    #: A file whose first line the model writes as every summary (a lexicon, a table: a file the
    #: model reads, named by its path).
    summary_file: str = attrs.field(default="", metadata=PATH)


class ReadingLoader(ConstantLoader):
    """A collapsed model whose one summary is read from the file its options name, when it is built."""

    def __init__(self, options: ReadingOptions):
        self.options = options

    def build(self, ctx: Any, train: Any) -> ConstantModel:
        model = ConstantModel()
        text = Path(self.options.summary_file).read_text(encoding="utf-8").splitlines()[0]
        model.generate = lambda dialogues, ctx: [text for _ in dialogues]  # type: ignore[method-assign]
        return model


class BestScore:
    """Output level: the candidate of the best validation source (``Candidate.score`` x weight)."""

    level = "output"

    def fit(self, candidates: Any, references: Any, weights: Any, ctx: Any) -> dict[str, Any]:
        return {"sources": sorted({c.source for g in candidates for c in g}), "weights_seen": dict(weights)}

    def combine(self, candidates: Any, weights: Any, ctx: Any) -> list[str]:
        return [max(g, key=lambda c: (c.score or 0.0) * weight_of(c.source, weights)).text for g in candidates]


class Memorise:
    """Output level, a cheat: ``fit`` memorises each validation candidate's ROUGE against its reference,
    ``combine`` picks the candidate it remembers best (the first when it remembers none). Scored on
    the dialogues it was fitted on it is the oracle; on others it knows nothing."""

    level = "output"

    def __init__(self) -> None:
        self.seen: dict[str, float] = {}

    def fit(self, candidates: Any, references: Any, weights: Any, ctx: Any) -> dict[str, Any]:
        from dialsum_metrics.engine import RougeEngine

        flat = [(c.text, list(r)) for g, r in zip(candidates, references, strict=True) for c in g]
        scores = RougeEngine().score([t for t, _ in flat], [r for _, r in flat]).mean(axis=1)
        self.seen = {t: float(v) for (t, _), v in zip(flat, scores, strict=True)}
        return {"remembered": len(self.seen)}

    def combine(self, candidates: Any, weights: Any, ctx: Any) -> list[str]:
        return [max(g, key=lambda c: self.seen.get(c.text, 0.0)).text for g in candidates]


class Explode(BestScore):
    def combine(self, candidates: Any, weights: Any, ctx: Any) -> list[str]:
        raise RuntimeError("ensemble exploded")


class TestPlugins:
    @hookimpl
    def dialsum_register_model_loaders(self, register: Any) -> None:
        from dialsum_lead.plugin import LeadOptions, make_lead

        register("lead1", make_lead, options=LeadOptions, defaults={"tune": False, "turns": 1},
                 description="lead with one turn")
        register("growing", lambda o, c: GrowingLoader(o), options=GrowingOptions, description="multi-epoch lead")
        register("constant", lambda o, c: ConstantLoader(), description="a collapsed model: one summary for all")
        register("reading", lambda o, c: ReadingLoader(o), options=ReadingOptions,
                 description="a collapsed model whose summary is read from a file")
        register("waiting", lambda o, c: WaitingLoader(o), options=WaitingOptions,
                 description="a collapsed model whose training waits for a file")

    @hookimpl
    def dialsum_register_ensembles(self, register: Any) -> None:
        register("best_score", lambda o, c: BestScore(), description="best validation source")
        register("explode", lambda o, c: Explode(), description="fails when combining (a late-stage crash)")
        register("memorise", lambda o, c: Memorise(), description="remembers the validation references")
