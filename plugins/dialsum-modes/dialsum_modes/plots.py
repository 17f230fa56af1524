"""PNG plots for ``save_visualizations`` (``visualizations/`` in the experiment folder).

matplotlib is imported inside the functions and used through ``Figure`` objects (no pyplot global
state, no display needed, safe from worker threads). Each file is written atomically. A plot that
cannot be drawn (too few trials for importances...) is skipped with a log line, never an error.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Sequence
from typing import Any

from dialsum_core.atomic import atomic_write_bytes
from dialsum_core.context import RunContext
from dialsum_core.data import Example
from dialsum_metrics import MEASURES
from dialsum_modes import toolkit
from dialsum_modes.sections import RANKED_BY, STUDY_FOLDER

log = logging.getLogger("dialsum")
LINESTYLES = ("-", "--", ":", "-.")
COLORS = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C")


def _save(ctx: RunContext, name: str, draw: Callable[[Any], None], size: tuple[float, float] = (8, 4.5)) -> str | None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=110, layout="constrained")
    try:
        draw(fig)
    except _Skip as why:
        log.info("plot %s skipped: %s", name, why)
        return None
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    rel = f"visualizations/{name}.png"
    atomic_write_bytes(ctx.experiment.path(rel), buf.getvalue())
    ctx.emit("dialsum_on_artifact", path=rel, kind="plot")
    return rel


class _Skip(Exception):
    pass


def whole_numbers(ax: Any, values: Sequence[float], axis: str = "x") -> None:
    """Ticks at whole numbers only (epochs, trials, word counts, dialogue counts).

    Matplotlib's integer locator falls back to fractions when the range holds fewer than two whole
    numbers (a single epoch got ticks 0.95, 0.975...), so a few distinct whole x values get
    exactly their own ticks, half a unit of margin on each side.
    """
    from matplotlib.ticker import MaxNLocator

    distinct = sorted({float(v) for v in values})
    if axis == "x" and distinct and len(distinct) <= 12 and all(v.is_integer() for v in distinct):
        ax.set_xticks(distinct, [f"{v:g}" for v in distinct])
        ax.set_xlim(distinct[0] - 0.5, distinct[-1] + 0.5)
        return
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_locator(MaxNLocator(integer=True))


def existing(ctx: RunContext) -> list[str]:
    return sorted(f"visualizations/{p.name}" for p in ctx.experiment.visualizations.glob("*.png"))


# ----------------------------------------------------------------------------------------------
def fold_rouge(ctx: RunContext, runs: Sequence[Any]) -> str | None:
    """Grouped bars: each ROUGE measure (dialsum-metrics' ``MEASURES``) of every fold, with the mean ±
    std of their mean (``rouge_mean``, the score the modes rank by) per model."""

    def draw(fig: Any) -> None:
        axes = fig.subplots(len(runs), 1, squeeze=False)[:, 0]
        for ax, fr in zip(axes, runs, strict=True):
            k = len(fr.sources)
            width = 0.8 / len(MEASURES)
            for j, metric in enumerate(MEASURES):
                values = [s.scores.get(metric, 0.0) for s in fr.sources]
                label = f"ROUGE-{metric.removeprefix('rouge')}"
                offset = (j - (len(MEASURES) - 1) / 2) * width
                bars = ax.bar([i + offset for i in range(k)], values, width, label=label, color=COLORS[j])
                ax.bar_label(bars, fmt="%.3f", fontsize=7, padding=1)
            means = [s.scores.get(RANKED_BY, 0.0) for s in fr.sources]
            mean = sum(means) / k
            std = (sum((m - mean) ** 2 for m in means) / k) ** 0.5
            ax.axhline(mean, color="black", linestyle="--", linewidth=1,
                       label=f"mean of ROUGE-1/2/L over folds: {mean:.3f} ± {std:.3f}")
            ax.set_xticks(range(k), [f"fold {i + 1}" for i in range(k)])
            ax.set_ylabel("F1 (held-out fold)")
            ax.set_ylim(0, max(1e-3, *(s.scores.get(m, 0.0) for s in fr.sources for m in MEASURES)) * 1.3)
            ax.set_title(f"{fr.model}: per-fold ROUGE ({k} folds)")
            ax.legend(fontsize=8, loc="upper right", ncols=2)

    return _save(ctx, "fold_rouge", draw, (8, 3.8 * len(runs) + 0.5))


def learning_curves(ctx: RunContext, sources: Sequence[Any]) -> str | None:
    """Training loss and validation rouge_mean per epoch, one line per source trained two epochs or more."""
    series = []
    for s in sources:
        xs, loss, rouge = [], [], []
        for i, h in enumerate(s.history):
            x = h.get("epoch", i + 1)
            l_val = next((h[k] for k in ("loss", "train_loss") if isinstance(h.get(k), int | float)), None)
            r_val = toolkit.epoch_score(h, RANKED_BY)
            xs.append(x)
            loss.append(l_val)
            rouge.append(r_val)
        series.append((s.name, xs, loss, rouge))

    def points(ser: tuple[Any, ...], idx: int) -> list[tuple[Any, float]]:
        """The source's curve in one panel; a single point is no curve (a one-epoch training)."""
        pts = [(x, y) for x, y in zip(ser[1], ser[idx], strict=True) if y is not None]
        return pts if len(pts) >= 2 else []

    def draw(fig: Any) -> None:
        panels = [(2, "training loss"), (3, "validation ROUGE (mean F1)")]
        panels = [(i, title) for i, title in panels if any(points(ser, i) for ser in series)]
        if not panels:
            # A panel of lone dots reads as a plot yet shows nothing results.json does not say.
            raise _Skip("no training history with two epochs or more: no curve to draw")
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        for ax, (idx, title) in zip(axes, panels, strict=True):
            for n, ser in enumerate(series):
                pts = points(ser, idx)
                if pts:  # past eight sources the colours repeat with another dash pattern
                    ax.plot(*zip(*pts, strict=True), marker="o", label=ser[0], color=COLORS[n % len(COLORS)],
                            linestyle=LINESTYLES[(n // len(COLORS)) % len(LINESTYLES)])
            ax.set_xlabel("epoch")
            whole_numbers(ax, [x for ser in series for x, _ in points(ser, idx)])
            ax.set_title(title)
            ax.grid(alpha=0.3)
        if len(series) <= 8:
            axes[-1].legend(fontsize=8)
        else:  # beside the panels, in columns of 16, so that it never hides the curves
            fig.legend(*axes[-1].get_legend_handles_labels(), loc="outside right upper", fontsize=7,
                       ncols=-(-len(series) // 16))

    wide = 10 + 2.2 * -(-len(series) // 16) if len(series) > 8 else 10
    return _save(ctx, "learning_curves", draw, (wide, 4.5 if len(series) <= 16 else 5.5))


def summary_lengths(texts: Sequence[str]) -> list[int]:
    """Lengths in characters of the stripped texts: the unit of the ``mean_length`` score
    (``dialsum_metrics.output_stats``), so that the plot's means are the ones results.json and the
    log give (the plot counted whitespace words: a mean of 24.7 beside a mean_length of 122.6)."""
    return [len(t.strip()) for t in texts]


def length_distribution(ctx: RunContext, valid: Sequence[Example], predictions: dict[str, Sequence[str]]) -> str | None:
    """Histograms of summary lengths (characters) on the validation split: references vs predictions."""

    def draw(fig: Any) -> None:
        if not valid:
            raise _Skip("no validation split")
        ax = fig.subplots()
        refs = summary_lengths([e.summary for e in valid])
        groups = {"reference": refs, **{k: summary_lengths(v) for k, v in predictions.items()}}
        hi = max(max(v) for v in groups.values() if v) + 1
        bins = list(range(0, hi + 2, max(1, hi // 25)))
        for n, (label, lengths) in enumerate(groups.items()):
            mean = sum(lengths) / max(len(lengths), 1)
            # predictions are outlines with their own dash pattern, so identical ones stay visible
            ax.hist(lengths, bins=bins, histtype="step" if n else "stepfilled", alpha=0.35 if not n else 1.0,
                    linewidth=2.4 if n == 1 else 1.6, linestyle=LINESTYLES[(n - 1) % len(LINESTYLES)] if n else "-",
                    color=COLORS[n % len(COLORS)], label=f"{label} (mean {mean:.1f})")
        ax.set_xlabel("summary length (characters)")
        ax.set_ylabel("validation dialogues")
        whole_numbers(ax, [], "x")
        whole_numbers(ax, [], "y")
        ax.set_title(f"Validation summary lengths ({len(valid)} dialogues)")
        ax.legend(fontsize=8)

    return _save(ctx, "length_distribution", draw)


def ensemble_weights(ctx: RunContext, weights: dict[str, float], title: str) -> str | None:
    def draw(fig: Any) -> None:
        if not weights:
            raise _Skip("no weights")
        ax = fig.subplots()
        names = list(weights)
        # horizontal bars: source names such as "polyglot-ko-12.8b/fold3" stay readable however many
        bars = ax.barh(names, [weights[n] for n in names], color=[COLORS[i % len(COLORS)] for i in range(len(names))])
        ax.bar_label(bars, fmt="%.3f", fontsize=8, padding=2)
        ax.invert_yaxis()
        ax.set_xlabel("weight")
        ax.set_xlim(0, max([*weights.values(), 1e-3]) * 1.18)
        ax.set_title(title)

    return _save(ctx, "ensemble_weights", draw, (8, max(2.8, 1.3 + 0.42 * len(weights))))


def source_rouge(ctx: RunContext, scores: dict[str, dict[str, float]]) -> str | None:
    """rouge_mean of each model and of the ensemble on the validation split."""

    def draw(fig: Any) -> None:
        ax = fig.subplots()
        names = list(scores)
        values = [scores[n].get(RANKED_BY, 0.0) for n in names]
        colors = [COLORS[3] if n == "ensemble" else COLORS[0] for n in names]
        bars = ax.barh(names, values, color=colors)
        ax.bar_label(bars, fmt="%.4f", fontsize=8, padding=2)
        ax.invert_yaxis()
        ax.set_xlabel("validation ROUGE (mean F1)")
        ax.set_xlim(0, max([*values, 1e-3]) * 1.2)
        ax.set_title("Models and ensemble on the validation split")

    return _save(ctx, "validation_rouge", draw, (8, 1.2 + 0.45 * len(scores)))


def _done(paths: Sequence[str | None]) -> list[str]:
    return [p for p in paths if p]


# ----------------------------------------------------------------------------------------------
def for_sources(ctx: RunContext, sources: Sequence[Any], valid: Sequence[Example], final: Sequence[str]) -> list[str]:
    preds = {s.name: s.predictions("valid") for s in sources[:6]}
    if len(sources) > 1:
        preds["submitted"] = final
    return _done([learning_curves(ctx, sources), length_distribution(ctx, valid, preds)])


def _scores(comb: Any, sources: Sequence[Any]) -> dict[str, dict[str, float]]:
    """Each source's validation scores and the submitted predictions' (``ensemble``), as the
    ensemble stage measured them (:class:`dialsum_modes.toolkit.Combined`): not scored again."""
    return {**{s.name: comb.source_valid[s.name] for s in sources}, "ensemble": comb.scores}


def for_kfold(ctx: RunContext, runs: Sequence[Any], sources: Sequence[Any], valid: Sequence[Example],
              comb: Any) -> list[str]:
    """The k-fold plots; the ensemble's weights as it used them (``comb.weighted_by()``: per model, or
    per fold when given so)."""
    scores = _scores(comb, sources)
    w = comb.weighted_by()
    return _done([
        fold_rouge(ctx, runs),
        learning_curves(ctx, sources),
        source_rouge(ctx, scores),
        ensemble_weights(ctx, w, f"Ensemble weights ({ctx.recipe.run.ensemble})") if w else None,
        length_distribution(ctx, valid, {"ensemble": comb.valid}),
    ])


def for_ensemble(ctx: RunContext, sources: Sequence[Any], valid: Sequence[Example], comb: Any) -> list[str]:
    scores = _scores(comb, sources)
    w = comb.weighted_by()
    preds = {s.name: s.predictions("valid") for s in sources[:5]}
    preds["ensemble"] = comb.valid
    return _done([
        learning_curves(ctx, sources),
        source_rouge(ctx, scores),
        ensemble_weights(ctx, w, f"Ensemble weights ({ctx.recipe.run.ensemble})") if w else None,
        length_distribution(ctx, valid, preds),
    ])


def for_study(ctx: RunContext, study: Any, metric: str, prefix: str = STUDY_FOLDER) -> list[str]:
    import optuna

    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    pruned = [t for t in trials if t.state == optuna.trial.TrialState.PRUNED]
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE

    def history(fig: Any) -> None:
        if not complete:
            raise _Skip("no complete trial")
        ax = fig.subplots()
        ax.scatter([t.number for t in complete], [t.value for t in complete], color=COLORS[0], label="complete",
                   zorder=3)
        if pruned:
            last = [max(t.intermediate_values.values()) if t.intermediate_values else None for t in pruned]
            pts = [(t.number, v) for t, v in zip(pruned, last, strict=True) if v is not None]
            if pts:
                ax.scatter(*zip(*pts, strict=True), marker="x", color=COLORS[3],
                           label="pruned (last reported)", zorder=3)
        best, xs, ys = None, [], []
        for t in sorted(complete, key=lambda t: t.number):
            if best is None or (t.value > best if maximize else t.value < best):
                best = t.value
            xs.append(t.number)
            ys.append(best)
        ax.step(xs, ys, where="post", color="black", linewidth=1.2, label=f"best so far ({best:.4f})")
        ax.set_xlabel("trial")
        whole_numbers(ax, [t.number for t in trials])
        ax.set_ylabel(f"validation {metric}")
        ax.set_title(f"Optuna history: {study.study_name} ({len(trials)} trials)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)

    def importances(fig: Any) -> None:
        if len(complete) < 2:
            raise _Skip("fewer than two complete trials")
        import warnings

        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                imp = optuna.importance.get_param_importances(study)
        except (RuntimeError, ValueError, ZeroDivisionError) as exc:
            raise _Skip(str(exc)) from None
        if not imp:
            raise _Skip("no parameter varied")
        # With few trials the evaluator may say it cannot tell the parameters apart: equal bars
        # would read as a finding, so no plot until the study separates them.
        if any("importances will be equal" in str(w.message) for w in caught):
            raise _Skip(f"{len(complete)} complete trials do not separate the parameters yet")
        ax = fig.subplots()
        names = list(imp)[::-1]
        bars = ax.barh(names, [imp[n] for n in names], color=COLORS[2])
        ax.bar_label(bars, fmt="%.3f", fontsize=8, padding=2)
        ax.set_xlabel(f"importance for {metric} (normalised)")
        ax.set_xlim(0, 1.15)
        ax.set_title(f"Optuna parameter importances ({len(complete)} complete trials)")

    return _done([
        _save(ctx, f"{prefix}_history", history),
        _save(ctx, f"{prefix}_importances", importances, (8, 1.5 + 0.5 * len(study.best_params or {"x": 0}))),
    ])
