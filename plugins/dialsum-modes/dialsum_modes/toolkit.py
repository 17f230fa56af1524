"""The run-mode toolkit: what every run mode needs, public for third-party modes.

Stable API (versioned with dialsum-modes, documented in docs/writing-a-plugin.md): :class:`Mode`,
:func:`train_source`, :class:`Source`, :func:`generate`, :func:`references`, :func:`combine`,
:func:`weights_for`, :func:`search_weights`, :func:`write_predictions`, :func:`job_results`,
:func:`fit_result`, :func:`progress`, :func:`release`, :func:`round_scores`, :func:`mean_std`,
:func:`is_degenerate`, :func:`best_of`, :func:`train_models`, :func:`final_scores`,
:func:`best_checkpoint`, :func:`epoch_score`, :func:`is_token_level`, :func:`name_best`,
:func:`visualizations`, :class:`Combined`, :data:`RANKED_BY`, :data:`VALID_PREDICTIONS`, :data:`BEST_SCORE`.
Version 1.1:
:func:`combine` cross-fits what an ensemble learns from validation, reports the out-of-fold score
and falls back to the best source (:class:`Combined` says which). Version 1.2: :func:`is_degenerate`
is the metrics plugin's rule (``dialsum_metrics.is_degenerate(predictions, threshold=0.5)``), one
rule for checkpoints, sources and the ``rouge`` warning. Version 1.3: :func:`train_models` (the
model loop of ``single`` and ``multi_model``), :func:`final_scores` (the scores every mode
reports at the top of ``results.json``) and :data:`RANKED_BY` (the score sources are ranked by,
which the recipe check requires of ``run.metrics``). Version 1.4: :func:`best_checkpoint` (the one
trained model a run stands for, named in ``results.json`` for whatever keeps or uploads it).
Version 1.5: ``checkpoints/last`` links the folder the model names as
``FitResult.last_checkpoint`` (kept as :attr:`Source.last_checkpoint`; no link when it names none)
instead of the newest ``checkpoint-*`` folder found in the source's folder, a layout only the
model knows (``latest_checkpoint`` is gone); :func:`epoch_score` (a validation score of a
``FitResult.history`` entry, read by the ``eval_S`` rule) and :func:`is_token_level` (whether
``run.ensemble`` decodes jointly, so the models must stay in memory). Version 1.6:
:attr:`Combined.source_valid` (every validation score of each source, measured once by
:func:`combine`, for the modes' reports and plots). Version 1.7: :func:`write_predictions` refuses
a fan-out job (``run.only``, :func:`dialsum_modes.fanout.is_partial`): its predictions come from
the job's units alone and would replace the experiment's; a mode returns :func:`job_results` there;
:func:`visualizations` (the plots ``run.save_visualizations`` asks of every mode); :func:`name_best`
(``best_checkpoint`` and the ``checkpoints/best`` link, one answer) replaces ``mark_best``.
Version 1.8: :data:`VALID_PREDICTIONS` (the name of the validation predictions' file) and
:data:`BEST_SCORE` (the key of ``results.json`` :func:`final_scores` writes :data:`RANKED_BY` under).

Training one *source*, generating with progress and TTA, scoring, and resumable units of work:

A *source* is one trained model (a model of ``run.models``, or one fold of it). Training a source
ends with its predictions for every split the mode needs, stored as candidates
(:class:`dialsum_core.protocols.Candidate`), so ensembles never need the model in memory unless
they decode jointly (token-level). Each source is saved to ``stages/<key>.json`` when done; a
re-run of the same experiment with the same settings reuses it instead of training again, which
is what lets a crash in a late stage keep everything before it.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import logging
import math
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from dialsum_core.context import RunContext
from dialsum_core.data import DataSplits, Example
from dialsum_core.errors import DialsumError, PluginError
from dialsum_core.experiment import safe_name
from dialsum_core.protocols import TOKEN_LEVEL, Candidate, FitResult, weight_of
from dialsum_data import augmented
from dialsum_metrics import SCORE_TAG, is_degenerate, predictions_of, quiet_degenerate
from dialsum_modes import fanout
from dialsum_modes.options import DEBUG_WEIGHT_SEARCH_TRIALS
from dialsum_modes.sections import BEST_SCORE, RANKED_BY

__version__ = "1.8"

log = logging.getLogger("dialsum")
#: Dialogues handed to ``model.generate`` at a time: the model batches inside; progress is reported between.
GENERATE_CHUNK = 256
#: The file of the validation predictions and their references, in ``predictions/`` (after a mode's
#: prefix). Announced with kind ``prediction`` like every prediction file; ``dialsum report`` finds it
#: among the announced files by its reference columns, so a mode that names it otherwise is found too.
VALID_PREDICTIONS = "valid_predictions.csv"

#: Recipe keys that change nothing a source learns or predicts (left out of its fingerprint).
_NEUTRAL_RUN_KEYS = ("name", "output_dir", "loggers", "log_level", "save_visualizations",
                     "save_predictions", "mode", "ensemble", "ensemble_weights", "only", "resume_from", "use_cache")


class Mode:
    """Base of a run mode: built with its options (``[modes.NAME]``); a partial job (``run.only``)
    keeps its config, results and logs in its own folder, which the core asks for through
    :meth:`job_folder` before the run starts."""

    def __init__(self, options: Any):
        self.options = options

    def job_folder(self, ctx: RunContext) -> str:
        """The job's folder, held until the run ends: a second job with the same selection fails
        (:func:`dialsum_modes.fanout.hold_job`)."""
        return fanout.hold_job(ctx, self)


def fit_result(value: Any) -> FitResult:
    """What ``Model.fit`` returned, as a :class:`~dialsum_core.protocols.FitResult` (a mapping with
    the same keys is accepted from loaders written before the protocol had it)."""
    if isinstance(value, FitResult):
        return value
    data = dict(value or {})
    return FitResult(history=[dict(h) for h in data.get("history", [])],
                     best_checkpoint=str(data.get("best_checkpoint") or ""), pruned=bool(data.get("pruned")),
                     last_checkpoint=str(data.get("last_checkpoint") or ""))


def epoch_score(metrics: Mapping[str, Any], name: str) -> float | None:
    """The validation score ``name`` in one evaluation's ``metrics``, or None when it holds none.

    A ``FitResult.history`` entry (and ``dialsum_after_epoch``'s metrics) names it ``eval_<name>``,
    the protocol's rule; ``name`` itself is what ``ctx.trial.report`` is given (the scores as
    ``ctx.score`` returns them), and ``valid_<name>`` is accepted too. Pruning and the learning
    curves read one entry alike through this function.
    """
    for key in (f"eval_{name}", name, f"valid_{name}"):
        value = metrics.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


def references(examples: Sequence[Example]) -> list[list[str]]:
    return [list(e.summaries) for e in examples]


def ranked_score(ctx: RunContext, predictions: Sequence[str], references: Sequence[Sequence[str]]) -> float | None:
    """``rouge_mean`` of ``predictions``, as :meth:`RunContext.score` gives it, from the metrics of
    ``run.metrics`` that may give it only: those that declare it, and those that declare none of
    their scores. What only ranks (each source's quality, every weight-search trial) would
    otherwise compute the other metrics (corpus BLEU...) on every call, for nothing."""
    scores: dict[str, float] = {}
    for name in ctx.recipe.run.metrics:
        reg = ctx.plugins.get("metrics", name)
        declared = [] if reg is None else [t for t in reg.tags if t.startswith(SCORE_TAG)]
        if declared and SCORE_TAG + RANKED_BY not in declared:
            continue
        scores.update(ctx.build("metrics", name).compute(predictions, references))
    return scores.get(RANKED_BY)


def progress(ctx: RunContext, task: str, completed: int, total: int | None) -> None:
    ctx.emit("dialsum_on_progress", task=task, completed=completed, total=total)


def generate(ctx: RunContext, model: Any, dialogues: Sequence[str], task: str) -> list[str]:
    """``model.generate`` in chunks, reporting progress after each (any loader, any size)."""
    total = len(dialogues)
    chunk = GENERATE_CHUNK
    out: list[str] = []
    progress(ctx, task, 0, total)
    for start in range(0, total, chunk):
        part = list(dialogues[start:start + chunk])
        # Under a multi-process launch each process generates its share, gathered back in order.
        got = ctx.processes.map_in_order(lambda xs: list(model.generate(xs, ctx)), part)
        if len(got) != len(part):
            raise DialsumError(f"{task}: the model returned {len(got)} summaries for {len(part)} dialogues")
        out.extend(got)
        progress(ctx, task, len(out), total)
    return out


def release(model: Any) -> None:
    """Drop a model and give its accelerator memory back before the next one is built."""
    del model
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


# ----------------------------------------------------------------------------------------------
# Sources
# ----------------------------------------------------------------------------------------------
@attrs.define
class Source:
    """One trained model and its candidates for each split (``valid``, ``test``, ``oof``...)."""

    name: str
    model_name: str
    checkpoint: str
    history: list[dict[str, Any]]
    #: Scores on the split it was validated on while training (the fold for k-fold).
    scores: dict[str, float]
    #: split -> one list per dialogue: the plain prediction first, then TTA candidates.
    outputs: dict[str, list[list[Candidate]]]
    reused: bool = False
    model: Any = None
    #: The checkpoint its training ended with (``FitResult.last_checkpoint``; "" when the model saves none).
    last_checkpoint: str = ""

    def predictions(self, split: str) -> list[str]:
        return [cands[0].text for cands in self.outputs[split]]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model_name": self.model_name,
            "checkpoint": self.checkpoint,
            "history": self.history,
            "scores": self.scores,
            "last_checkpoint": self.last_checkpoint,
            "outputs": {
                split: [[[c.text, c.source, c.score] for c in cands] for cands in per_dialogue]
                for split, per_dialogue in self.outputs.items()
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Source:
        outputs = {
            split: [[Candidate(t, s, sc) for t, s, sc in cands] for cands in per_dialogue]
            for split, per_dialogue in data["outputs"].items()
        }
        return cls(data["name"], data["model_name"], data["checkpoint"], data["history"], data["scores"],
                   outputs, reused=True, last_checkpoint=data.get("last_checkpoint", ""))


def fingerprint(ctx: RunContext, model_name: str, splits: dict[str, Sequence[Example]], *,
                content: bool = False) -> str:
    """What decides a source's result: the recipe (less neutral keys), the model and the data.

    The data is always taken by content (every ``fname``, dialogue, summary and topic): a file
    edited in place keeps its path and its ``fname`` column, and a re-run must not reuse a model
    and scores of the dialogues it held before. So are the files and folders the plugins' options
    name (a lexicon, a paraphrase table, a local model: :func:`option_files`). ``content``: leave
    the data files' paths out too, for the cache shared by runs (``run.use_cache``), where the same
    dialogues may come from other files.
    """
    data = ctx.recipe.to_dict()
    data.pop("versions", None)
    for key in ("modes", "ensembles", "loggers"):
        data.pop(key, None)
    for key in _NEUTRAL_RUN_KEYS:
        data["run"].pop(key, None)
    if content:  # the same dialogues read from another file are the same data
        for key in ctx.recipe.path_keys():
            table, _, field = key.partition(".")
            data.get(table, {}).pop(field, None)
    data["_model"] = model_name
    data["_files"] = option_files(ctx, data)
    data["_splits"] = {k: [[e.fname, e.dialogue, e.topic, *e.summaries] for e in v] for k, v in splits.items()}
    blob = json.dumps(data, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


#: A file named in a plugin's options up to this size is taken by a digest of its bytes; a larger
#: one (model weights) by its size and modification time, which reading it for each unit would cost.
DIGEST_LIMIT = 64 * 2**20
_digests: dict[tuple[str, int, int], str] = {}


def file_stamp(path: Path) -> Any:
    """What a file or folder named in a recipe holds, for a fingerprint.

    A file: the SHA-256 of its bytes (a lexicon or a paraphrase table edited in place keeps its path
    and may keep its size; a copy or a checkout that only touches it is still the same file), or
    its size and modification time beyond :data:`DIGEST_LIMIT`. A folder (a local model): each
    file's size and modification time (:func:`checkpoint_stamp`), as gigabytes of weights are
    never read for it. Digests are kept per path, size and time, so each file is read once a run.
    """
    try:
        st = path.stat()
    except OSError:
        return "missing"
    if path.is_dir():
        return checkpoint_stamp(path)
    if st.st_size > DIGEST_LIMIT:
        return [st.st_size, st.st_mtime_ns]
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _digests:
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(2**20), b""):
                digest.update(block)
        _digests[key] = digest.hexdigest()
    return _digests[key]


def option_files(ctx: RunContext, tables: Mapping[str, Any]) -> dict[str, Any]:
    """``{"models.NAME.key": stamp}`` of every file or folder named in the options of a plugin in
    ``tables`` (a field marked ``PATH``, or ``PATH_OR_NAME`` holding a path, not a hub id), by
    :func:`file_stamp`: the recipe holds only the path, which stays the same when the file is
    edited in place, and a re-run or ``run.use_cache`` would reuse a model made with the old one.
    The paths are those the resolved ``config.toml`` spells out (``absolute_paths``): one rule."""
    from dialsum_core.recipe import io
    from dialsum_core.recipe.model import absolute_paths

    found: dict[str, Any] = {}
    for quoted, value in absolute_paths(ctx.recipe, ctx.plugins):
        parts = io.split_dotted(quoted)
        if parts[0] not in tables or parts[0] in ctx.recipe.sections:
            continue
        key = ".".join(parts)
        for i, item in enumerate(value if isinstance(value, list) else [value]):
            if isinstance(item, str) and Path(item).is_absolute():  # a hub id stays a name
                found[f"{key}[{i}]" if isinstance(value, list) else key] = file_stamp(Path(item))
    return found


def cache_folder(ctx: RunContext) -> Path:
    """Trained sources shared by the runs of one output folder (``run.use_cache``), by content."""
    return Path(ctx.recipe.run.output_dir).expanduser() / ".cache" / "sources"


def checkpoint_stamp(checkpoint: str | Path) -> list[list[Any]]:
    """Each file of a checkpoint (a folder or one file) with its size and modification time.

    A cache entry keeps it: the run that trained the checkpoint may train again into the same folder
    with other settings (a re-run with a changed key), and an entry whose checkpoint now holds
    another model must not be reused. Sizes and times, not a hash: a checkpoint may be gigabytes.
    """
    root = Path(checkpoint)
    files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
    out: list[list[Any]] = []
    for p in files:
        with contextlib.suppress(OSError):
            st = p.stat()
            out.append([p.relative_to(root).as_posix() if root.is_dir() else p.name, st.st_size, st.st_mtime_ns])
    return out


def from_cache(ctx: RunContext, key: str) -> dict[str, Any] | None:
    """A source another run trained on the same recipe, model and dialogues, if its checkpoint is
    still there and unchanged since (:func:`checkpoint_stamp`)."""
    path = cache_folder(ctx) / f"{key}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    checkpoint = Path(data.get("checkpoint", ""))
    if not checkpoint.exists():
        return None
    if "checkpoint_stamp" in data and data["checkpoint_stamp"] != checkpoint_stamp(checkpoint):
        log.info("run.use_cache: %s was trained again since it was cached (another model is there now): not reused",
                 checkpoint)
        return None
    return data


def load_unit(ctx: RunContext, key: str, fp: str) -> dict[str, Any] | None:
    data = ctx.experiment.read_json(f"stages/{key}.json")
    if isinstance(data, dict) and data.get("fingerprint") == fp and data.get("status") == "complete":
        return data
    return None


def save_unit(ctx: RunContext, key: str, fp: str, payload: dict[str, Any]) -> None:
    ctx.experiment.write_json(f"stages/{key}.json", {"status": "complete", "fingerprint": fp, **payload})


def train_source(
    ctx: RunContext,
    *,
    model_name: str,
    name: str,
    train: Sequence[Example],
    valid: Sequence[Example],
    predict: dict[str, Sequence[Example]],
    keep_model: bool = False,
) -> Source:
    """Train ``model_name`` on ``train`` (validating on ``valid``), then predict every split of ``predict``.

    The result is stored under ``stages/sources/<name>.json``; a later run of the same experiment
    with the same recipe and data reuses it (reloading the model only when ``keep_model``).

    The unit is trained under ``stages/sources/<name>.lock``: a fan-out job and a final run started
    before that job finished (or two jobs selecting the same unit) would otherwise both train it
    into the one ``checkpoints/<name>/`` folder at once. The second waits for the first, then finds
    the unit complete and reuses it. Under a launch only rank 0 takes the lock; the others wait for
    it at a broadcast before they look for the unit, so every process decides alike.
    """
    key = f"sources/{safe_name(name.replace('/', '__'))}"
    lock: Any = contextlib.nullcontext()
    if ctx.processes.is_main:
        from dialsum_modes.study import MachineLock

        path = ctx.experiment.path(f"stages/{key}.lock")
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = MachineLock(path, on_wait=lambda: log.info(
            "%s: another job of this experiment is training it; waiting for it to finish to reuse it", name))
    with lock:
        ctx.processes.broadcast(True)  # the other processes look for the unit once rank 0 holds the lock
        return _train_source(ctx, key, model_name=model_name, name=name, train=train, valid=valid,
                             predict=predict, keep_model=keep_model)


def _train_source(ctx: RunContext, key: str, *, model_name: str, name: str, train: Sequence[Example],
                  valid: Sequence[Example], predict: dict[str, Sequence[Example]], keep_model: bool) -> Source:
    """:func:`train_source` once the unit's lock is held."""
    if ctx.recipe.run.save_train_predictions:
        predict = {**predict, "train": train}
    fp = fingerprint(ctx, model_name, {"train": train, "valid": valid, **predict})
    loader = ctx.build("model_loaders", model_name)
    cached = load_unit(ctx, key, fp)
    shared = fingerprint(ctx, model_name, {"train": train, "valid": valid, **predict}, content=True) \
        if ctx.recipe.run.use_cache else None
    if cached is not None:
        log.info("%s: already trained in this experiment, reusing its predictions", name)
    elif shared is not None and (hit := from_cache(ctx, shared)) is not None:
        log.info("%s: trained by an earlier run on the same dialogues (run.use_cache), reusing it", name)
        cached = {"source": hit}
        save_unit(ctx, key, fp, cached)
    if cached is not None:
        src = Source.from_json(cached["source"])
        point_last(ctx, src)
        if keep_model:
            src.model = loader.load(ctx, Path(src.checkpoint))
        return src
    workdir = ctx.experiment.checkpoints / Path(*[safe_name(p) for p in name.split("/")])
    workdir.mkdir(parents=True, exist_ok=True)
    sctx = ctx.evolve(workdir=workdir, tags={**ctx.tags, "source": name})
    sctx.emit("dialsum_before_stage", stage=f"train:{name}")
    train = augmented(sctx, train)  # after any fold split: a copy never validates its original
    log.info("%s: training %s on %d dialogues (validating on %d)", name, model_name, len(train), len(valid))
    model = loader.build(sctx, train)
    fit = fit_result(model.fit(train, valid, sctx, workdir))
    history = fit.history
    checkpoint = fit.best_checkpoint or str(workdir)
    outputs: dict[str, list[list[Candidate]]] = {}
    for split, examples in predict.items():
        outputs[split] = predict_candidates(sctx, model, name, examples, split)
    scores: dict[str, float] = {}
    if "fold" in outputs or "valid" in outputs:
        split = "fold" if "fold" in outputs else "valid"
        with predictions_of(name if split == "valid" else f"{name} on its held-out fold"):
            scores = sctx.score([c[0].text for c in outputs[split]], references(predict[split]))
    attach_scores(sctx, outputs, predict.get("valid") or predict.get("fold") or [])
    src = Source(name, model_name, checkpoint, history, scores, outputs, last_checkpoint=fit.last_checkpoint)
    save_unit(ctx, key, fp, {"source": src.to_json()})
    if shared is not None and ctx.processes.is_main:
        from dialsum_core.atomic import atomic_write_json

        atomic_write_json(cache_folder(ctx) / f"{shared}.json",
                          {**src.to_json(), "checkpoint": str(Path(src.checkpoint).resolve()),
                           "checkpoint_stamp": checkpoint_stamp(src.checkpoint),
                           "last_checkpoint": src.last_checkpoint and str(Path(src.last_checkpoint).resolve())})
    point_last(ctx, src)
    sctx.emit("dialsum_after_stage", stage=f"train:{name}", metrics=scores)
    if keep_model:
        src.model = model
    else:
        release(model)
    return src


def train_models(ctx: RunContext, data: DataSplits, *, keep_model: bool = False) -> Iterator[Source]:
    """Train each model of ``run.models`` that this job selects (:func:`dialsum_modes.fanout.selected`)
    on ``data.train``, validating on ``data.valid`` and predicting it and ``data.test``
    (:func:`train_source`), with ``models`` progress around each.

    A generator: each source is yielded as soon as it is trained, so that a mode scores or combines
    it (``single``'s per-model report) before the next model is built.
    """
    models = list(ctx.recipe.run.models)
    for i, name in enumerate(models):
        if not fanout.selected(ctx.recipe, model=name):  # another fan-out job's model
            continue
        progress(ctx, "models", i, len(models))
        log.info("model %d/%d: %s", i + 1, len(models), name)
        yield train_source(ctx, model_name=name, name=name, train=data.train, valid=data.valid,
                           predict={"valid": data.valid, "test": data.test}, keep_model=keep_model)
        progress(ctx, "models", i + 1, len(models))


def point_last(ctx: RunContext, source: Source) -> None:
    """``checkpoints/last``: the checkpoint ``source``'s training ended with, as its model named it
    (``FitResult.last_checkpoint``: only the model knows how it lays out its checkpoints); none when
    it named none. Also for a reused source, so that a run killed between saving a source and
    linking it still leaves the link."""
    if source.last_checkpoint:
        point(ctx, "last", Path(source.last_checkpoint))


def point(ctx: RunContext, name: str, target: Path) -> None:
    """``checkpoints/<name>`` (``best``, ``last``): a link to a checkpoint folder, as the seed's
    ``best_model.pt`` / ``last.pt``, usable by ``run.resume_from``; replaced atomically."""
    import os

    link = ctx.experiment.checkpoints / name
    if not ctx.processes.is_main or not Path(target).exists():
        return
    tmp = link.with_name(f".{name}.{os.getpid()}.link")
    tmp.unlink(missing_ok=True)
    os.symlink(os.path.relpath(Path(target).resolve(), link.parent.resolve()), tmp, target_is_directory=True)
    os.replace(tmp, link)


def predict_candidates(
    ctx: RunContext, model: Any, name: str, examples: Sequence[Example], split: str
) -> list[list[Candidate]]:
    """The plain prediction of each dialogue, plus one candidate per TTA variant when ``use_tta``."""
    plain = generate(ctx, model, [e.dialogue for e in examples], f"predict {split} ({name})")
    cands = [[Candidate(p, name)] for p in plain]
    run = ctx.recipe.run
    if not run.use_tta or split == "fold":  # out-of-fold predictions measure the model, not the ensemble
        return cands
    made = {}
    for strategy in run.tta_strategies:
        aug = ctx.build("augmenters", strategy)
        flat: list[tuple[int, int, Any]] = []
        # its own progress task: a paraphrase model's beams or kiwipiepy's analysis of every
        # dialogue come before the first variant is summarized
        task = f"augment {split} ({name}, tta:{strategy})"
        progress(ctx, task, 0, len(examples))
        for i, e in enumerate(examples):
            for j, variant in enumerate(aug.augment(e.fname, e.dialogue, n=run.tta_num_aug, seed=run.seed)):
                flat.append((i, j, variant))
            progress(ctx, task, i + 1, len(examples))
        made[strategy] = len(flat)
        texts = generate(ctx, model, [v.dialogue for _, _, v in flat], f"predict {split} ({name}, tta:{strategy})")
        for (i, j, variant), text in zip(flat, texts, strict=True):
            cands[i].append(Candidate(variant.restore(text), f"{name}/tta:{strategy}:{j + 1}"))
    # What run.tta_num_aug gave: an augmenter makes fewer where fewer distinct variants exist (two
    # speakers have one exchange); once per model on validation, the other splits at DEBUG.
    (log.info if split == "valid" else log.debug)(
        "%s: TTA variants of %d %s dialogues (run.tta_num_aug = %d at most each): %s", name, len(examples),
        split, run.tta_num_aug, ", ".join(f"{k} {v}" for k, v in made.items()))
    # An augmenter with nothing to vary in the test dialogues (one speaker each for reorder, no
    # word of its lexicon for synonym): validation was ensembled with its variants, the test split
    # without them.
    for strategy in (k for k, v in made.items() if not v and examples and split != "valid"):
        log.warning("%s: TTA %s made no variant of any of the %d %s dialogues: their predictions have none of "
                    "its candidates, unlike the validation predictions the ensemble was scored on", name,
                    strategy, len(examples), split)
    return cands


def attach_scores(ctx: RunContext, outputs: dict[str, list[list[Candidate]]], valid: Sequence[Example]) -> None:
    """Give each candidate its source's validation ``rouge_mean`` (what score-aware ensembles use)."""
    split = "valid" if "valid" in outputs else "fold"
    if split not in outputs or not valid:
        return
    by_source: dict[str, tuple[list[str], list[list[str]]]] = {}
    for cands, ex in zip(outputs[split], valid, strict=True):
        for c in cands:
            preds, refs = by_source.setdefault(c.source, ([], []))
            preds.append(c.text)
            refs.append(list(ex.summaries))
    with quiet_degenerate():  # the source's own predictions were scored (and warned about) already
        score = {s: ranked_score(ctx, p, r) for s, (p, r) in by_source.items()}
    for per_dialogue in outputs.values():
        for cands in per_dialogue:
            cands[:] = [attrs.evolve(c, score=score.get(c.source)) for c in cands]


def job_results(ctx: RunContext, sources: Sequence[Source], **extra: Any) -> dict[str, Any]:
    """What a fan-out job (``run.only``) reports: the units it trained, and nothing of the final stages.

    Each unit is already saved in ``stages/sources/``, where the final run (the same recipe
    without ``run.only``) finds and reuses it before ensembling.
    """
    only = list(ctx.recipe.run.only)
    if not sources:
        raise DialsumError(f"run.only {only}: selects nothing in this run (models {', '.join(ctx.recipe.run.models)})")
    log.info("job %s: %d unit(s) trained; run the recipe without run.only to ensemble them", ", ".join(only),
             len(sources))
    return {"partial": True, "only": only,
            "trained": {s.name: {"valid": round_scores(s.scores), "checkpoint": s.checkpoint, "reused": s.reused}
                        for s in sources}, **extra}


# ----------------------------------------------------------------------------------------------
# Ensembles
# ----------------------------------------------------------------------------------------------
#: The validation split is cut into this many parts for cross-fitting (interleaved: dialogue ``i``
#: is in part ``i % CROSSFIT_PARTS``). Whatever an ensemble learns from validation (searched
#: weights, a scorer, source weights, the candidates' model scores) is learnt on the other parts
#: and applied to each part, so its validation score is measured on dialogues it did not learn from.
CROSSFIT_PARTS = 2
#: ``Combined.weights_from`` (``results.json``'s ``weights_from``) when the recipe gave the weights, when
#: they were searched, and when the strategy weighed the sources by its own default; a strategy that
#: learns its own source weights says ``learnt by NAME``.
GIVEN, SEARCHED, ENSEMBLE_DEFAULT = "given", "searched on validation", "ensemble default"


@attrs.define
class Combined:
    """An ensemble's output for the validation and test splits, and how it was obtained.

    ``valid`` and ``scores`` are what the run reports: out of fold when cross-fitted, and a single
    source's own predictions when the ensemble's honest score fell below that source's
    (``fallback``). ``test`` comes from the same choice, fitted on the whole validation split.
    """

    valid: list[str]
    test: list[str]
    #: What the strategy learnt on the whole validation split (the fit used for ``test``).
    info: dict[str, Any]
    #: Validation scores of ``valid``.
    scores: dict[str, float] = attrs.field(factory=dict)
    #: The ``{source prefix: weight}`` used for ``test`` (empty: the strategy's own weighting).
    weights: dict[str, float] = attrs.field(factory=dict)
    #: :data:`GIVEN`, :data:`SEARCHED`, :data:`ENSEMBLE_DEFAULT` or ``learnt by NAME``.
    weights_from: str = ""
    #: One entry per cross-fitting part: its dialogues (indices into the validation split), the
    #: weights and what the strategy learnt on the other parts, used for that part's predictions.
    parts: list[dict[str, Any]] = attrs.field(factory=list)
    #: The source whose predictions replaced the ensemble's; "" when the ensemble's are used.
    fallback: str = ""
    #: The ensemble's own (honest) validation predictions and scores, whether or not they were used.
    ensemble_valid: list[str] = attrs.field(factory=list)
    ensemble_scores: dict[str, float] = attrs.field(factory=dict)
    #: Validation ``rouge_mean`` of each source's plain prediction (what the fallback compares with).
    source_scores: dict[str, float] = attrs.field(factory=dict)
    #: Every validation score of each source's plain prediction, as ``ctx.score`` gave them: what
    #: the modes report and plot, so that no source's predictions are scored (and warned about) again.
    source_valid: dict[str, dict[str, float]] = attrs.field(factory=dict)
    #: The sources (and "ensemble") whose validation predictions are degenerate, never chosen
    #: while something else is not.
    degenerate: list[str] = attrs.field(factory=list)

    def weighted_by(self) -> dict[str, float]:
        """The ``{source prefix: weight}`` the sources were weighed by (given, searched or learnt), as
        ``results.json`` reports them; none when the strategy used its own default weighting."""
        return {} if self.weights_from == ENSEMBLE_DEFAULT else dict(self.weights)

    def report(self) -> dict[str, Any]:
        """The ``results.json`` entry of the ensemble (``strategy`` is the mode's to add)."""
        out: dict[str, Any] = {
            "weights": self.weights, "weights_from": self.weights_from, "info": self.info,
            "valid": round_scores(self.ensemble_scores),
            "crossfit": {"parts": len(self.parts), "per_part": self.parts},
            "used": self.fallback or "ensemble",
        }
        if self.degenerate:
            out["degenerate"] = self.degenerate
        if self.fallback:
            why = _why_not(self.ensemble_scores.get(RANKED_BY, 0.0), "ensemble" in self.degenerate,
                           self.fallback, self.source_scores.get(self.fallback, 0.0),
                           self.fallback in self.degenerate)
            out["note"] = f"{why}: the predictions are {self.fallback}'s"
        return out


def _why_not(ours: float, degenerate: bool, source: str, theirs: float, source_degenerate: bool = False) -> str:
    """Why a run uses ``source`` instead of its ensemble, in words. When everything is degenerate
    (a short run of a small model) the choice was by score alone, and the words must not claim
    that ``source``'s predictions are sound."""
    if degenerate and source_degenerate:
        return (f"every candidate's validation predictions are degenerate (most of them identical), and "
                f"{source}'s score highest ({theirs:.4f}, the ensemble's {ours:.4f} out of fold)")
    if degenerate:
        return (f"the ensemble's validation predictions are degenerate (most of them identical; rouge_mean "
                f"{ours:.4f} out of fold) and {source}'s are not ({theirs:.4f})")
    return f"the ensemble's validation rouge_mean {ours:.4f} (out of fold) is below {source}'s {theirs:.4f}"


def is_token_level(ctx: RunContext, strategy: Any = None) -> bool:
    """Whether ``run.ensemble`` (``strategy``: that ensemble, already built) decodes jointly with the
    models (``level`` and registration tag ``TOKEN_LEVEL``, :class:`dialsum_core.protocols.Ensemble`):
    the modes must then keep every model in memory and the strategy learns nothing from validation
    candidates. The checks read the tag and the run the level: a strategy whose two disagree is refused,
    since its recipes were checked as those of another kind of strategy."""
    name = ctx.recipe.run.ensemble
    reg = ctx.plugins.require("ensembles", name)
    level = getattr(ctx.build("ensembles", name) if strategy is None else strategy, "level", "output")
    if (level == TOKEN_LEVEL) is not (TOKEN_LEVEL in reg.tags):
        has = "carries" if TOKEN_LEVEL in reg.tags else "lacks"
        raise PluginError(f"ensemble {name!r} ({reg.distribution} {reg.version}) has level {level!r} but its "
                          f"registration {has} the tag {TOKEN_LEVEL!r}; a strategy that decodes jointly says so in "
                          "both (docs/writing-a-plugin.md)")
    return level == TOKEN_LEVEL


def merge_candidates(sources: Sequence[Source], split: str) -> list[list[Candidate]]:
    """Every source's candidates for each dialogue of ``split``, in source order."""
    n = len(sources[0].outputs[split])
    return [[c for s in sources for c in s.outputs[split][i]] for i in range(n)]


def weights_for(ctx: RunContext, sources: Sequence[Source], weights: Sequence[float] | None = None) -> dict[str, float]:
    """``run.ensemble_weights`` (or ``weights``) as the ensembles' ``{source prefix: weight}``.

    One weight per model of ``run.models`` covers the model's folds and TTA variants; with one model,
    one weight per source (fold) is accepted too. Empty: the ensemble's own weighting.
    """
    given = list(ctx.recipe.run.ensemble_weights) if weights is None else [float(x) for x in weights]
    if not given:
        return {}
    models = list(ctx.recipe.run.models)
    names = [s.name for s in sources] if len(given) == len(sources) and len(given) != len(models) else models
    if len(names) != len(given):
        raise DialsumError(f"{ctx.recipe.where('run.ensemble_weights')}: run.ensemble_weights: {len(given)} weights "
                           f"for {len(names)} models {names}")
    return dict(zip(names, given, strict=True))


def crossfit_parts(n: int, k: int = CROSSFIT_PARTS) -> list[list[int]]:
    """Indices of each cross-fitting part of ``n`` dialogues; none when a part would be empty."""
    if n < k or k < 2:
        return []
    return [list(range(p, n, k)) for p in range(k)]


def _rescored(groups: Sequence[Sequence[Candidate]], quality: dict[str, float | None]) -> list[list[Candidate]]:
    return [[attrs.evolve(c, score=quality.get(c.source)) for c in g] for g in groups]


def _source_quality(ctx: RunContext, groups: Sequence[Sequence[Candidate]],
                    refs: Sequence[Sequence[str]]) -> dict[str, float | None]:
    """Each candidate source's ``rouge_mean`` on these dialogues: the model score that score-aware
    strategies read from ``Candidate.score``, measured only where the ensemble learns."""
    by_source: dict[str, tuple[list[str], list[list[str]]]] = {}
    for g, r in zip(groups, refs, strict=True):
        for c in g:
            preds, rr = by_source.setdefault(c.source, ([], []))
            preds.append(c.text)
            rr.append(list(r))
    # a progress task: with every fold, model and TTA variant a source, this is tens of thousands
    # of candidates to split into morphemes before the ensemble learns anything
    task = "source ROUGE"
    quality: dict[str, float | None] = {}
    progress(ctx, task, 0, len(by_source))
    with quiet_degenerate():
        for s, (p, r) in by_source.items():
            quality[s] = ranked_score(ctx, p, r)
            progress(ctx, task, len(quality), len(by_source))
    return quality


def combine(
    ctx: RunContext,
    sources: Sequence[Source],
    valid: Sequence[Example],
    test: Sequence[Example],
    weights: Sequence[float] | None = None,
    *,
    search_trials: int = 0,
) -> Combined:
    """Combine ``sources`` with ``run.ensemble``, scored honestly on validation.

    ``weights`` (one per model of ``run.models``) replace ``run.ensemble_weights`` when given; with
    neither and ``search_trials > 0`` they are searched (:func:`search_weights`). Output-level
    strategies are cross-fitted (:data:`CROSSFIT_PARTS`): for each part of the validation split the
    weights are searched and the strategy fitted on the other parts, then it combines that part;
    the reported validation score is the score of those out-of-fold predictions. The test
    predictions use weights searched and a strategy fitted on the whole validation split.
    Token-level strategies learn nothing from validation and decode jointly with the kept models.

    When the ensemble's validation ``rouge_mean`` is below the best source's own, the run uses that
    source's predictions (``Combined.fallback``) and says so: an ensemble never loses on validation.
    """
    name = ctx.recipe.run.ensemble
    refs = references(valid)
    ens = ctx.build("ensembles", name)
    ctx.emit("dialsum_before_stage", stage="ensemble")
    log.info("ensemble %s over %d sources", name, len(sources))
    given = weights is not None or bool(ctx.recipe.run.ensemble_weights)
    parts: list[dict[str, Any]] = []
    if is_token_level(ctx, ens) and len(sources) > 1:
        models = [s.model for s in sources]
        if any(m is None for m in models):
            raise DialsumError(f"ensemble {name!r} decodes with the models, but some were not kept in memory")
        mapping = weights_for(ctx, sources, weights)
        w = [weight_of(s.name, mapping) for s in sources]
        valid_preds = list(ens.generate(models, w, [e.dialogue for e in valid], ctx))
        test_preds = list(ens.generate(models, w, [e.dialogue for e in test], ctx)) if test else []
        info: dict[str, Any] = {}
        mapping = dict(zip([s.name for s in sources], w, strict=True))
        how = GIVEN if given else ENSEMBLE_DEFAULT
    else:  # output level, or one source's TTA candidates (their inputs differ: the strategy's vote)
        cands = merge_candidates(sources, "valid")

        def learn(rows: Sequence[int]) -> tuple[Any, dict[str, float], str, dict[str, Any], dict[str, Any]]:
            """Weights and a fitted strategy from the validation dialogues ``rows`` only."""
            fit_cands = [cands[i] for i in rows]
            fit_refs = [refs[i] for i in rows]
            quality = _source_quality(ctx, fit_cands, fit_refs)
            fit_cands = _rescored(fit_cands, quality)
            if given or search_trials <= 0:
                mapping = weights_for(ctx, sources, weights)
                how = GIVEN if mapping else ENSEMBLE_DEFAULT
            else:
                searched, _ = search_weights(ctx, sources, valid, search_trials, rows=rows, quality=quality)
                mapping = weights_for(ctx, sources, searched) if searched else {}
                how = SEARCHED if searched else ENSEMBLE_DEFAULT
            strategy = ctx.build("ensembles", name)
            learnt = dict(strategy.fit(fit_cands, fit_refs, mapping, ctx) or {})
            own = learnt.get("weights")
            if isinstance(own, dict) and own:
                # Ensemble.fit's contract: a strategy that learns its own source weights returns them,
                # and votes with those: they are the weights the results and plots report
                how = f"learnt by {name}" + (" from the given ones" if how == GIVEN else "")
                mapping = {str(k): float(v) for k, v in own.items()}
            return strategy, mapping, how, learnt, quality

        split = crossfit_parts(len(valid))
        valid_preds = [""] * len(valid)
        for p, rows_in in enumerate(split):
            held = set(rows_in)
            rows_out = [i for i in range(len(valid)) if i not in held]
            strategy, mapping, _, learnt, quality = learn(rows_out)
            picked = strategy.combine(_rescored([cands[i] for i in rows_in], quality), mapping, ctx)
            for i, text in zip(rows_in, picked, strict=True):
                valid_preds[i] = text
            parts.append({"part": p + 1, "dialogues": len(rows_in), "fitted_on": len(rows_out),
                          "weights": mapping, "info": learnt})
        strategy, mapping, how, info, quality = learn(range(len(valid)))
        if not split and valid:
            log.warning("ensemble %s: %d validation dialogue(s) are too few to cross-fit; its validation "
                        "score is measured on the dialogues it learnt from", name, len(valid))
            valid_preds = list(strategy.combine(_rescored(cands, quality), mapping, ctx))
        test_preds = (list(strategy.combine(_rescored(merge_candidates(sources, "test"), quality), mapping, ctx))
                      if test else [])
    with predictions_of(f"the ensemble {name}"):
        scores = ctx.score(valid_preds, refs)
    comb = Combined(valid_preds, test_preds, _jsonable(info), scores=scores, weights=_jsonable(mapping),
                    weights_from=how, parts=_jsonable(parts), ensemble_valid=list(valid_preds),
                    ensemble_scores=scores)
    _fall_back_to_the_best_source(ctx, comb, sources, refs)
    ctx.emit("dialsum_after_stage", stage="ensemble", metrics={"sources": len(sources),
                                                               RANKED_BY: comb.scores.get(RANKED_BY, 0.0)})
    return comb


def _fall_back_to_the_best_source(ctx: RunContext, comb: Combined, sources: Sequence[Source],
                                  refs: Sequence[Sequence[str]]) -> None:
    """Replace ``comb``'s predictions by the best source's when the ensemble scores below it.

    The comparison is on the same validation dialogues, the ensemble's score out of fold; sources
    are compared by their plain prediction (no TTA), which is what each alone would submit. What
    gives degenerate predictions (:func:`is_degenerate`) is only chosen when everything does: a
    constant summary outscores real ones on Korean morphemes, and would be submitted for every
    test dialogue.
    """
    source_scores = {}
    for s in sources:
        # warned about once: a source validated on this split was scored (and warned about) in training
        with quiet_degenerate() if "fold" not in s.outputs else contextlib.nullcontext():
            with predictions_of(s.name):
                source_scores[s.name] = ctx.score(s.predictions("valid"), refs)
    comb.source_valid = source_scores
    comb.source_scores = {k: float(v.get(RANKED_BY, 0.0)) for k, v in source_scores.items()}
    options = [("", float(comb.ensemble_scores.get(RANKED_BY, 0.0)),
                is_degenerate(comb.ensemble_valid))]
    options += [(s.name, comb.source_scores[s.name], is_degenerate(s.predictions("valid")))
                for s in sources]
    best = best_of(options)
    best_score = next(value for name, value, _ in options if name == best)
    skipped = [name for name, value, degenerate in options if degenerate and value > best_score]
    if skipped:
        log.warning("ensemble %s: %s score higher on validation but give degenerate predictions (most of them "
                    "identical): not used", ctx.recipe.run.ensemble,
                    ", ".join(name or "the ensemble" for name in skipped))
    comb.degenerate = sorted(name or "ensemble" for name, _, degenerate in options if degenerate)
    if not best:
        return
    src = next(s for s in sources if s.name == best)
    log.warning("ensemble %s: %s; the run uses %s's predictions", ctx.recipe.run.ensemble,
                _why_not(options[0][1], options[0][2], best, best_score,
                         next(d for name, _, d in options if name == best)), best)
    comb.fallback = best
    comb.valid = src.predictions("valid")
    comb.test = src.predictions("test") if "test" in src.outputs and comb.test else []
    comb.scores = source_scores[best]


def best_of(options: Sequence[tuple[str, float, bool]]) -> str:
    """The name of the best ``(name, score, degenerate)``: the highest score among those that are not
    degenerate, or among all when every one is; the first on ties."""
    pool = [o for o in options if not o[2]] or list(options)
    return max(pool, key=lambda o: o[1])[0]


def search_weights(
    ctx: RunContext, sources: Sequence[Source], valid: Sequence[Example], trials: int,
    *, rows: Sequence[int] | None = None, quality: dict[str, float | None] | None = None,
) -> tuple[list[float] | None, float | None]:
    """Per-model weights that maximise the ensemble's ``rouge_mean`` on validation (Optuna TPE).

    Only the validation dialogues ``rows`` (default: all) are used, so that :func:`combine` can
    search on some and score on others. Equal weights and each model alone are tried first; when
    they all score the same the strategy does not use weights and the search stops. The returned
    weights (normalised to sum 1, rounded to 4 decimals) are exactly the ones the returned score was
    measured with. Returns ``(None, None)`` when there is nothing to search (one model, a
    token-level strategy, ``trials == 0``, a strategy that learns its own weights). ``quality``: each
    candidate source's ``rouge_mean`` on these rows (:func:`_source_quality`) when the caller has it
    already, so that it is not measured twice.
    """
    models = list(ctx.recipe.run.models)
    if len(models) < 2 or trials <= 0:
        return None, None
    if is_token_level(ctx):
        return None, None
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rows = list(range(len(valid))) if rows is None else list(rows)
    all_refs = references(valid)
    all_cands = merge_candidates(sources, "valid")
    refs = [all_refs[i] for i in rows]
    cands = [all_cands[i] for i in rows]
    # the stage starts here: the sources' quality and the strategy's first fit take as long as trials
    ctx.emit("dialsum_before_stage", stage="weight_search")
    cands = _rescored(cands, _source_quality(ctx, cands, refs) if quality is None else quality)

    def normalised(weights: Sequence[float]) -> list[float]:
        total = sum(weights)
        return [round(w / total, 4) for w in weights]

    def score(weights: list[float], fitted: Any = None) -> float:
        """The ranked score of the strategy fitted with ``weights`` (``fitted``: already fitted so)."""
        mapping = weights_for(ctx, sources, weights)
        ens = fitted
        if ens is None:
            ens = ctx.build("ensembles", ctx.recipe.run.ensemble)
            ens.fit(cands, refs, mapping, ctx)
        with quiet_degenerate():
            return float(ranked_score(ctx, ens.combine(cands, mapping, ctx), refs) or 0.0)

    # said once per run: on the whole split, not again for each cross-fitting part
    say = log.info if len(rows) == len(valid) else log.debug
    probes = [normalised([1.0] * len(models))] + [[1.0 if j == i else 0.0 for j in range(len(models))]
                                                  for i in range(len(models))]
    # The first probe's fit (equal weights) also tells whether the strategy learns its own source
    # weights (Ensemble.fit's contract: it returns them as "weights"); the probe reuses it.
    first = ctx.build("ensembles", ctx.recipe.run.ensemble)
    learnt = (first.fit(cands, refs, weights_for(ctx, sources, probes[0]), ctx) or {}).get("weights")
    if learnt:
        say("ensemble %s learns its own source weights: no weight search", ctx.recipe.run.ensemble)
        ctx.emit("dialsum_after_stage", stage="weight_search", metrics={})
        return None, None
    n = max(min(trials, DEBUG_WEIGHT_SEARCH_TRIALS) if ctx.recipe.run.debug else trials, len(probes))
    progress(ctx, "weight search", 0, n)
    values = []
    for i, p in enumerate(probes):
        values.append(score(p, first if i == 0 else None))
        progress(ctx, "weight search", i + 1, n)
    if max(values) - min(values) < 1e-12:
        say("ensemble %s gives the same result whatever the weights: no weight search", ctx.recipe.run.ensemble)
        ctx.emit("dialsum_after_stage", stage="weight_search", metrics={RANKED_BY: values[0]})
        return None, None
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=ctx.recipe.run.seed))
    for p, value in zip(probes, values, strict=True):
        study.add_trial(optuna.trial.create_trial(
            params={f"w{i}": x for i, x in enumerate(p)},
            distributions={f"w{i}": optuna.distributions.FloatDistribution(0.0, 1.0) for i in range(len(p))},
            value=value, user_attrs={"weights": p}))

    def objective(trial: Any) -> float:
        raw = [trial.suggest_float(f"w{i}", 0.0, 1.0) for i in range(len(models))]
        value = 0.0
        if sum(raw) > 0:
            weights = normalised(raw)
            trial.set_user_attr("weights", weights)
            value = score(weights) if sum(weights) > 0 else 0.0
        progress(ctx, "weight search", len(study.trials), n)
        return value

    from dialsum_modes.study import quiet_trial_failures

    quiet_trial_failures()
    study.optimize(objective, n_trials=n - len(probes))
    best = list(study.best_trial.user_attrs.get("weights") or probes[0])
    ctx.emit("dialsum_after_stage", stage="weight_search", metrics={RANKED_BY: study.best_value})
    log.info("ensemble weights searched on %d validation dialogues (%d trials): %s", len(rows), n,
             dict(zip(models, best, strict=True)))
    return best, float(study.best_value)


def _jsonable(value: Any) -> Any:
    try:
        return json.loads(json.dumps(value, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))
    except (TypeError, ValueError):
        return str(value)


# ----------------------------------------------------------------------------------------------
# Outputs
# ----------------------------------------------------------------------------------------------
def visualizations(ctx: RunContext, sources: Sequence[Source], valid: Sequence[Example], *,
                   final: Sequence[str] = (), combined: Combined | None = None) -> list[str]:
    """The plots of ``run.save_visualizations`` (none when it is off), drawn as the bundled modes draw
    them, so that the key means the same in every mode: the sources' learning curves and the lengths of
    the validation predictions, with ``combined`` (what :func:`combine` returned) each source's and the
    ensemble's scores and the weights the ensemble used, without
    it the lengths of ``final`` (the predictions submitted). Returns the files written, relative to
    the experiment folder, for ``results.json``."""
    if not ctx.recipe.run.save_visualizations:
        return []
    from dialsum_modes import plots

    if combined is not None:
        return plots.for_ensemble(ctx, sources, valid, combined)
    return plots.for_sources(ctx, sources, valid, final)


def write_predictions(
    ctx: RunContext,
    *,
    valid: Sequence[Example],
    valid_preds: Sequence[str],
    test: Sequence[Example],
    test_preds: Sequence[str],
    sources: Sequence[Source] = (),
    prefix: str = "",
) -> dict[str, str]:
    """``predictions/{valid,test}_predictions.csv`` (with every source's own prediction), the
    submission ``predictions/submission.csv`` (``fname,summary``), each written atomically
    (``train_predictions.csv`` too with ``run.save_train_predictions``).

    A debug run predicts a few test dialogues only: its file is ``submission_debug.csv``, so that
    nobody uploads it by mistake.

    Refused in a fan-out job (``run.only``): what it writes belongs to the final run, which
    combines every job's units, and a job's own would replace the experiment's submission with
    that of the units one job trained. A mode returns :func:`job_results` there instead."""
    if fanout.is_partial(ctx.recipe):
        raise DialsumError(f"run.only {list(ctx.recipe.run.only)}: the {ctx.recipe.run.mode} mode writes the "
                           "experiment's predictions in a fan-out job, which would replace them with those of this "
                           "job's units alone; the mode must return toolkit.job_results(ctx, sources) when "
                           "dialsum_modes.fanout.is_partial(ctx.recipe) (its units are saved: the final run, "
                           "without run.only, reuses them)")
    exp = ctx.experiment
    written: dict[str, str] = {}
    names = [s.name for s in sources if "valid" in s.outputs]
    if ctx.recipe.run.save_predictions and valid:
        # every reference the scores used (reference2... with several), so that the file re-scores alike
        n_refs = max(1, *(len(e.summaries) for e in valid))
        rows = []
        for i, e in enumerate(valid):
            refs = [*e.summaries, *[""] * n_refs][:n_refs]
            rows.append([e.fname, valid_preds[i], *refs, *(s.outputs["valid"][i][0].text for s in sources
                                                           if s.name in names)])
        rel = f"predictions/{prefix}{VALID_PREDICTIONS}"
        exp.write_csv(rel, ["fname", "summary", "reference", *(f"reference{k}" for k in range(2, n_refs + 1)),
                            *names], rows)
        written["valid"] = rel
    examples = ctx.data().train  # folds train on parts of it: their out-of-fold predictions say more
    trained = [s for s in sources if len(s.outputs.get("train", ())) == len(examples)]
    if ctx.recipe.run.save_predictions and trained:
        rows = [[e.fname, e.summary, *(s.outputs["train"][i][0].text for s in trained)] for i, e in enumerate(examples)]
        rel = f"predictions/{prefix}train_predictions.csv"
        exp.write_csv(rel, ["fname", "reference", *(s.name for s in trained)], rows)
        written["train"] = rel
    if test:
        tnames = [s.name for s in sources if "test" in s.outputs]
        if ctx.recipe.run.save_predictions:
            rows = [[e.fname, test_preds[i], *(s.outputs["test"][i][0].text for s in sources if s.name in tnames)]
                    for i, e in enumerate(test)]
            rel = f"predictions/{prefix}test_predictions.csv"
            exp.write_csv(rel, ["fname", "summary", *tnames], rows)
            written["test"] = rel
        rel = f"predictions/{prefix}submission{'_debug' if ctx.recipe.run.debug else ''}.csv"
        exp.write_csv(rel, ["fname", "summary"], [[e.fname, p] for e, p in zip(test, test_preds, strict=True)])
        if ctx.recipe.run.debug:
            log.warning("debug run: %s holds %d test dialogues, a subset: it is not a submission (run without "
                        "run.debug for one)", rel, len(test))
        empty = [e.fname for e, p in zip(test, test_preds, strict=True) if not p.strip()]
        if empty:  # the model wrote nothing there (only an end-of-text token): scored 0 once uploaded
            log.warning("%s: %d of the %d summaries are empty (%s); each scores 0 once uploaded", rel, len(empty),
                        len(test), ", ".join(empty[:5]) + (", ..." if len(empty) > 5 else ""))
        written["submission"] = rel
    for rel in written.values():
        ctx.emit("dialsum_on_artifact", path=rel, kind="prediction")
    return written


def final_scores(scores: dict[str, float], *, default: float = 0.0) -> dict[str, Any]:
    """The top of ``results.json`` for the validation scores a run reports as its own: ``best_rouge``
    (``rouge_mean``, or ``default`` when no metric gives it), ``valid``, and every metric rounded.

    Every mode writes them alike, so that whatever reads results (``topN`` in ``run.models``, the
    loggers, the screening table) finds one layout whichever mode ran.
    """
    return {
        BEST_SCORE: round(scores.get(RANKED_BY, default), 4),
        "valid": round_scores(scores),
        **{k: round(v, 4) for k, v in scores.items()},
    }


def best_checkpoint(named: Iterable[tuple[str, Mapping[str, float], str]], what: str) -> dict[str, str]:
    """``best_checkpoint`` and ``best_checkpoint_chosen_by`` for ``results.json``: of the trained models
    ``(name, scores, checkpoint folder)``, the one scoring highest by :data:`RANKED_BY` (one alone
    whatever it scores), and why it is that one. Every mode names it at the top of its results, so a
    logger that keeps "the best model" reads one key instead of each mode's own layout."""
    found = [(float(scores.get(RANKED_BY, -math.inf)), name, ckpt) for name, scores, ckpt in named if ckpt]
    if not found:
        return {}
    score, name, ckpt = max(found, key=lambda it: it[0])
    because = f" ({RANKED_BY} {score:.4f})" if math.isfinite(score) else ""
    return {"best_checkpoint": ckpt, "best_checkpoint_chosen_by": f"{name}: the best {what}{because}"}


def name_best(ctx: RunContext, named: Iterable[tuple[str, Mapping[str, float], str]], what: str) -> dict[str, str]:
    """:func:`best_checkpoint`, with ``checkpoints/best`` pointed at it: one answer to "which model
    is the run's best" for ``results.json``, the loggers that keep it and the link a user resumes
    from (a degenerate model that scores higher but is not submitted is none of them)."""
    found = best_checkpoint(named, what)
    if found:
        point(ctx, "best", Path(found["best_checkpoint"]))
    return found


def round_scores(scores: dict[str, Any], digits: int = 4) -> dict[str, Any]:
    return {k: round(v, digits) if isinstance(v, float) else v for k, v in scores.items()}


def mean_std(rows: Sequence[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Per metric: mean and (population) standard deviation over ``rows``."""
    import statistics

    keys = [k for k in rows[0] if all(isinstance(r.get(k), int | float) for r in rows)] if rows else []
    return {k: {"mean": round(statistics.fmean(r[k] for r in rows), 4),
                "std": round(statistics.pstdev([r[k] for r in rows]), 4)} for k in keys}
