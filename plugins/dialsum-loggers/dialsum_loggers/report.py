"""``dialsum report EXPERIMENT_DIR``: plots and a Markdown summary rebuilt from the run's records.

Only the ``jsonl`` logger's file (``metrics.jsonl`` unless ``[loggers.jsonl] filename`` in the
run's ``config.toml`` names another), ``results.json`` and the reference columns of the validation
predictions the run announced are read, so a report can be
made for a run that finished, failed or was killed, on a machine without the models, and again
after the plotting code improved. Tables show the scores the installed plugins declare percentages
(ROUGE) x100, the leaderboard's scale (the records keep 0-1). Output goes to
``EXPERIMENT_DIR/report/`` by default:
``report.md`` plus ``learning_curves.png``, ``steps.png``, ``folds.png`` and ``trials.png`` for
whatever the run recorded (a run without folds gets no fold plot, a run of one epoch no learning
curves: a single point per series is no curve).
"""

from __future__ import annotations

import json
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs

from dialsum_core.atomic import atomic_open, remove_stale_temporaries, signals_held, temporary_folder
from dialsum_core.errors import DialsumError, status_of
from dialsum_core.experiment import CONFIG, RESULTS, Experiment
from dialsum_core.recipe.schema import RunSection
from dialsum_core.registry import KIND
from dialsum_loggers.artifacts import PREDICTION
from dialsum_loggers.jsonl import FILENAME, last_segment, read_events
from dialsum_loggers.plugin import FILE_KEYS, JsonlOptions
from dialsum_loggers.position import numeric
from dialsum_loggers.scale import Scale

MAX_PANELS = 6
#: Which trials are best when no trial event says (a run without a study): the highest values.
DEFAULT_DIRECTION = "maximize"
#: The status of a run whose results.json says it is running: nothing tells a run still going from
#: one killed outright (the time of its last event does).
RUNNING = "running, or killed (no end recorded)"
#: Keys recorded beside the metrics that say where a record is, not what was measured.
POSITIONS = frozenset({"epoch", "step", "global_step"})


@attrs.frozen
class Written:
    markdown: Path
    plots: list[Path]


def records_file(root: Path) -> str:
    """The name of the ``jsonl`` logger's file in the experiment at ``root``: its ``filename`` option
    as the run's resolved ``config.toml`` spells it out (it holds every used plugin's options), the
    default name when the run had no ``jsonl`` logger or the folder has no config. A config that
    cannot be read is refused unless the default file is there: the run may have renamed its file,
    and a report built without it would show no event at all. A name the option refuses (outside the
    experiment folder) is refused here too."""
    import tomllib

    try:
        config = tomllib.loads((root / CONFIG).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return FILENAME
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        if (root / FILENAME).is_file():
            return FILENAME
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise DialsumError(f"{root / CONFIG}: cannot read it ({why}), and the name of the jsonl logger's file is "
                           f"written there ({FILENAME} is not in the folder); fix or restore it") from None
    options = config.get(KIND["loggers"].table, {}).get("jsonl", {})
    name = options.get("filename") if isinstance(options, dict) else None
    if not isinstance(name, str) or not name:
        return FILENAME
    try:  # the option's own rule: a config.toml edited (or made elsewhere) to read any file is refused
        JsonlOptions(filename=name)
    except ValueError as exc:
        raise DialsumError(f"{root / CONFIG}: {FILE_KEYS['jsonl']}: {exc}; the report reads only the "
                           "experiment folder's files") from None
    return name


def runs_below(root: Path) -> list[Path]:
    """The folders one or two levels below ``root`` that hold a run's ``results.json``: the jobs of a
    fan-out (``jobs/fold_1``) whose final run has not been made, or the experiments of an output folder."""
    try:
        found = {p.parent for depth in ("*", "*/*") for p in root.glob(f"{depth}/{RESULTS}")}
    except OSError:
        return []
    return sorted(found)


@attrs.define
class RunRecord:
    """What a report needs, read from an experiment folder."""

    root: Path
    events: list[dict[str, Any]]
    unreadable: int
    results: dict[str, Any] | None
    #: The file the events were read from (``metrics.jsonl`` unless the run renamed it).
    records: str = FILENAME

    @classmethod
    def read(cls, root: Path) -> RunRecord:
        if not root.is_dir():
            # the run prints "results: experiments/NAME/results.json"; the name alone is an easy slip
            within = Path(attrs.fields(RunSection).output_dir.default) / root
            hint = f" (did you mean {within}?)" if not root.is_absolute() and within.is_dir() else ""
            raise DialsumError(f"{root}: no such experiment folder{hint}")
        name = records_file(root)
        jsonl = root / name
        results_path = root / RESULTS
        if not jsonl.exists() and not results_path.exists():
            below = runs_below(root)
            if below:  # a fan-out's experiment before its final run, or the folder of the experiments
                shown = ", ".join(str(p) for p in below[:4]) + (f" and {len(below) - 4} more" if len(below) > 4 else "")
                raise DialsumError(f"{root}: no {name} or {RESULTS} of its own; the runs recorded below it are "
                                   f"{shown}: give one of them")
            raise DialsumError(
                f"{root}: neither {name} nor {RESULTS} found (is this an experiment folder? "
                f"{name} is written by the `jsonl` logger)"
            )
        try:
            events, bad = read_events(jsonl) if jsonl.exists() else ([], 0)
        except OSError as exc:  # a folder of that name, a file it may not read
            raise DialsumError(f"{jsonl}: cannot read it ({exc.strerror or exc})") from None
        results = None
        if results_path.exists():
            try:
                loaded = json.loads(results_path.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise DialsumError(f"{results_path}: not valid JSON ({exc})") from exc
            except OSError as exc:
                raise DialsumError(f"{results_path}: cannot read it ({exc.strerror or exc})") from None
            if not isinstance(loaded, dict):  # another tool's file: its report would silently lack every result
                raise DialsumError(f"{results_path}: not the results of a dialsum run (a JSON {type(loaded).__name__}, "
                                   "not an object); give the folder of a dialsum experiment")
            results = loaded
        return cls(root, last_segment(events), bad, results, name)

    def of(self, event: str) -> list[dict[str, Any]]:
        return [r for r in self.events if r.get("event") == event]

    @property
    def objective(self) -> tuple[str, str]:
        """The study's metric and direction, as its trial events name them (the run mode that runs
        the study is the one that knows); no metric, maximised, when no trial event names them."""
        metric, direction = "", DEFAULT_DIRECTION
        for rec in (r for r in self.events if r.get("event") in ("before_trial", "after_trial")):
            metric = str(rec.get("metric") or metric)
            direction = str(rec.get("direction") or direction)
        return metric, direction

    @property
    def status(self) -> str:
        if self.results and isinstance(self.results.get("status"), str):
            # written when a run starts: a run killed outright (SIGKILL, power loss) leaves it so
            return RUNNING if self.results["status"] == "running" else self.results["status"]
        if self.of("after_run"):
            return "complete"
        errors = self.of("on_error")
        if errors:
            return str(errors[-1].get("status", "failed"))
        return "interrupted"


def series_label(rec: dict[str, Any]) -> str:
    """Which curve a record belongs to: trial, fold and model tags, or ``run``."""
    parts = []
    if rec.get("trial") is not None:
        parts.append(f"trial {rec['trial']}")
    if rec.get("fold") is not None:
        parts.append(f"fold {fold_label(rec['fold'])}")
    tags = rec.get("tags") or {}
    for key in ("model", "source"):
        if key in tags:
            parts.append(str(tags[key]))
    return " · ".join(parts) or "run"


def _finite(values: Iterable[float | None]) -> list[float]:
    return [v for v in values if isinstance(v, int | float) and math.isfinite(v)]


def _pick_metrics(rows: Sequence[dict[str, float]], limit: int | None = MAX_PANELS) -> list[str]:
    """Metrics present in most rows first (loss and ROUGE lead), at most ``limit`` (``None``: all)."""
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        for key in row:
            counts[key] += 1

    def rank(key: str) -> tuple[int, int, str]:
        lead = 0 if "loss" in key else 1 if "rouge" in key else 2
        return (-counts[key], lead, key)

    return sorted(counts, key=rank)[:limit]


# --------------------------------------------------------------------------------------------
# Plots
# --------------------------------------------------------------------------------------------


def _figure(n_panels: int) -> tuple[Any, list[Any]]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    cols = 2 if n_panels == 4 else min(3, n_panels)
    rows = math.ceil(n_panels / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.8 * rows), squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n_panels:]:
        ax.set_visible(False)
    return fig, flat[:n_panels]


def _integer_x(ax: Any) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=110)
    plt.close(fig)
    return path


Series = dict[str, list[tuple[float, dict[str, float]]]]


def curve_series(records: list[dict[str, Any]], x_key: str) -> Series:
    """The records' metrics by series (fold/trial/model), each point at its ``x_key``."""
    series: Series = defaultdict(list)
    for rec in records:
        x = rec.get(x_key)
        values = numeric(rec.get("metrics"))
        if isinstance(x, int | float) and values:
            series[series_label(rec)].append((float(x), values))
    return series


def _curve(points: list[tuple[float, dict[str, float]]], metric: str) -> list[tuple[float, float]]:
    """One series' line for ``metric``; a single point is no line."""
    xy = sorted((x, v[metric]) for x, v in points if metric in v and math.isfinite(v[metric]))
    return xy if len(xy) >= 2 else []


def curve_metrics(series: Series, x_key: str) -> list[str]:
    """The metrics that get a panel: those some series has at two points or more, positions excepted.

    A metric seen once per series (a one-epoch run, the Trainer's closing summary) would be a panel
    of lone dots; its value is in report.md's tables. The epoch the Trainer logs with every step is
    where training is, not a measurement.
    """
    ranked = _pick_metrics([v for points in series.values() for _, v in points], limit=None)
    return [m for m in ranked if m not in POSITIONS and m != x_key
            and any(_curve(points, m) for points in series.values())][:MAX_PANELS]


def plot_curves(
    records: list[dict[str, Any]], x_key: str, title: str, x_label: str, path: Path
) -> Path | None:
    """One panel per metric, one line per series (fold/trial/model), ``x_key`` on the x axis."""
    series = curve_series(records, x_key)
    metrics = curve_metrics(series, x_key)
    if not metrics:
        return None
    fig, axes = _figure(len(metrics))
    for ax, metric in zip(axes, metrics, strict=True):
        for label, points in series.items():
            xy = _curve(points, metric)
            if xy:
                xs, ys = zip(*xy, strict=True)
                ax.plot(xs, ys, marker="o" if len(xs) < 30 else None, markersize=4, label=label)
        ax.set_title(metric)
        ax.set_xlabel(x_label)
        _integer_x(ax)
        ax.grid(alpha=0.3)
        if len(series) > 1:
            ax.legend(fontsize=7, loc="best")
    fig.suptitle(title)
    return _save(fig, path)


def _number(value: Any) -> int | None:
    """A fold's or trial's number as the modes write it (an int), or None for anything else: a file
    edited by hand or written by another program is plotted from the records that make sense."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return int(value) if value == int(value) else None


def fold_label(value: Any) -> Any:
    """A fold as people count it: the events number folds from 0, while ``results.json``, checkpoints,
    ``oof_predictions.csv`` and the console count from 1; anything but a number is shown as it is."""
    number = _number(value)
    return value if number is None else number + 1


def _mapping(value: Any) -> dict[str, Any]:
    """A record's table (a trial's ``params``), empty when the record holds something else."""
    return value if isinstance(value, dict) else {}


def plot_folds(records: list[dict[str, Any]], path: Path) -> Path | None:
    """One bar per fold for each metric, with the mean as a dashed line."""
    rows = [(str(_mapping(r.get("tags")).get("model", "")), _number(r.get("fold")), numeric(r.get("metrics")))
            for r in records]
    rows = [(model, f, m) for model, f, m in rows if f is not None and m]
    if not rows:
        return None
    first = {model: i for i, (model, _, _) in reversed(list(enumerate(rows)))}
    rows.sort(key=lambda row: (first[row[0]], row[1]))
    metrics = _pick_metrics([m for _, _, m in rows], limit=4)
    fig, axes = _figure(len(metrics))
    for ax, metric in zip(axes, metrics, strict=True):
        # the folds of several models are told apart by the model's name (each has a fold 1)
        kept = [(model, f"{model} fold {f + 1}".strip(), m[metric]) for model, f, m in rows
                if metric in m and math.isfinite(m[metric])]
        if not kept:
            continue
        models, folds, values = zip(*kept, strict=True)
        bars = ax.bar(list(folds), values, color="#4C72B0", width=0.6)
        ax.set_ylim(min(0.0, min(values)), max(values) * 1.18 if max(values) > 0 else 1.0)
        ax.bar_label(bars, fmt="%.4g", fontsize=8)
        for model in dict.fromkeys(models):  # one mean per model, over its own bars
            at = [i for i, name in enumerate(models) if name == model]
            mean = statistics.fmean(values[i] for i in at)
            ax.hlines(mean, at[0] - 0.4, at[-1] + 0.4, color="#DD8452", linestyle="--",
                      label=f"{model} mean {mean:.4g}".strip())
        ax.set_title(metric)
        ax.legend(fontsize=8, loc="lower right")
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("per-fold validation metrics")
    return _save(fig, path)


def plot_trials(records: list[dict[str, Any]], direction: str, path: Path) -> Path | None:
    """Each trial's value coloured by its state, with the best value so far as a step line."""
    numbered = [(_number(r.get("trial")), r) for r in records]
    points = [(t, r.get("value"), str(r.get("state", ""))) for t, r in numbered if t is not None]
    if not points:
        return None
    fig, (ax,) = _figure(1)
    colours = {"complete": "#4C72B0", "pruned": "#999999", "fail": "#C44E52"}
    for state in sorted({s for _, _, s in points}):
        xs = [t for t, v, s in points if s == state and isinstance(v, int | float)]
        ys = [v for t, v, s in points if s == state and isinstance(v, int | float)]
        if xs:
            ax.scatter(xs, ys, label=state or "?", color=colours.get(state, "#55A868"), zorder=3)
    best: list[tuple[int, float]] = []
    better = max if direction != "minimize" else min
    for trial, value, state in sorted(points):
        if state == "complete" and isinstance(value, int | float) and math.isfinite(value):
            best.append((trial, value if not best else better(best[-1][1], value)))
    if best:
        xs, ys = zip(*best, strict=True)
        ax.step(xs, ys, where="post", color="#DD8452", label=f"best so far ({direction})")
    ax.set_xlabel("trial")
    ax.set_ylabel("objective")
    _integer_x(ax)
    states = ", ".join(f"{n} {s}" for s, n in sorted(_count(s for _, _, s in points).items()))
    ax.set_title(f"trial history ({len(points)} trials: {states})", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def _count(items: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for item in items:
        counts[item or "?"] += 1
    return counts


# --------------------------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------------------------


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}" if math.isfinite(value) else str(value)
    text = str(value).replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= 80 else text[:77] + "..."


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in rows]
    return lines


def _scaled(rows: Sequence[Sequence[Any]], header: Sequence[str], scale: Scale) -> list[list[Any]]:
    """The percentage columns of a table on the leaderboard's scale (see :mod:`dialsum_loggers.scale`)."""
    return [[scale.shown(h, v) for h, v in zip(header, row, strict=True)] for row in rows]


#: Rows of the report's Results table; the keys of the others are listed under it.
MAX_RESULTS = 30


def _flat_scalars(results: dict[str, Any]) -> list[tuple[str, Any]]:
    """Every scalar of ``results`` two levels deep, as ``dotted.key``: the caller decides how many to show."""
    out: list[tuple[str, Any]] = []

    def add(prefix: str, value: Any, depth: int) -> None:
        if isinstance(value, dict) and depth < 2:
            for k, v in value.items():
                add(f"{prefix}.{k}" if prefix else str(k), v, depth + 1)
        elif isinstance(value, bool | int | float | str) and prefix not in ("status", "error"):
            out.append((prefix, value))

    add("", results, 0)
    return out


def _when(ts: Any) -> str:
    """The local date and time of a record's ``time``; ``?`` for anything that is not one."""
    try:
        return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError, OverflowError, OSError):  # not a number, NaN, out of any date's range
        return "?"


def _fold_table(folds: list[dict[str, Any]], scale: Scale) -> list[str]:
    """Each fold's metrics, then their mean and std; per model when the folds name theirs (a k-fold
    run of several models trains a fold 1 per model, and one mean over all of them would mix the
    models into a figure none of them scored)."""
    metrics = _pick_metrics([numeric(r["metrics"]) for r in folds], limit=5)
    by_model: dict[str, list[dict[str, Any]]] = {}
    for r in folds:
        by_model.setdefault(str(_mapping(r.get("tags")).get("model", "")), []).append(r)
    rows: list[list[Any]] = []
    for model, records in by_model.items():
        rows += [[model, fold_label(r.get("fold")), *[numeric(r["metrics"]).get(m, "") for m in metrics]]
                 for r in records]
        cols = [_finite(numeric(r["metrics"]).get(m) for r in records) for m in metrics]
        rows.append([model, "mean", *[statistics.fmean(c) if c else "" for c in cols]])
        rows.append([model, "std", *[statistics.pstdev(c) if len(c) > 1 else "" for c in cols]])
    header: tuple[str, ...] = ("model", "fold", *metrics)
    if set(by_model) == {""}:  # the folds of one model, unnamed: no model column
        header, rows = header[1:], [row[1:] for row in rows]
    return _table(header, _scaled(rows, header, scale))


def announced_predictions(run: RunRecord) -> list[Path]:
    """The prediction files the run announced (``dialsum_on_artifact``, kind ``prediction``), in order.
    A run recorded without them (no ``jsonl`` logger) announced nothing the report can read: then the
    CSV files of the experiment's predictions folder, by name."""
    announced = [run.root / str(a["path"]) for a in run.of("on_artifact")
                 if a.get("kind") == PREDICTION and isinstance(a.get("path"), str)]
    if announced or run.events:
        return list(dict.fromkeys(announced))
    try:
        return sorted(Experiment(run.root).predictions.glob("*.csv"))
    except OSError:
        return []


def _reference_columns(header: Sequence[str]) -> list[int]:
    """Where a predictions file holds the references its ``summary`` was scored against (``reference``,
    ``reference2``...); none in a file without a ``summary`` (a training file's references alone)."""
    import re

    return [i for i, h in enumerate(header) if re.fullmatch(r"reference\d*", h)] if "summary" in header else []


def validation_predictions(run: RunRecord) -> tuple[Path, list[int]] | None:
    """The validation predictions among :func:`announced_predictions`, with their reference columns: the
    file with the most references per dialogue (validation is the split scored against several; the
    training split's files carry its first reference only), the first announced of equals. ``None``
    when no announced file holds references (no predictions saved, or a test file alone)."""
    import csv

    best: tuple[Path, list[int]] | None = None
    for path in announced_predictions(run):
        try:
            with path.open(encoding="utf-8", newline="") as fh:
                columns = _reference_columns(next(csv.reader(fh)))
        except (OSError, ValueError, StopIteration, csv.Error):  # ValueError: undecodable, or a NUL in the path
            continue
        if columns and (best is None or len(columns) > len(best[1])):
            best = (path, columns)
    return best


def references_fact(run: RunRecord) -> str:
    """How many references the validation scores were averaged over, when dialogues had several: such
    ROUGE is not comparable with single-reference ROUGE (the leaderboard's hidden test set has three).
    Read from the reference columns of :func:`validation_predictions`; ``""`` with one reference each."""
    import csv
    from collections import Counter

    found = validation_predictions(run)
    if found is None:
        return ""
    path, columns = found
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            rows = csv.reader(fh)
            next(rows)
            counts = Counter(sum(1 for i in columns if i < len(row) and row[i].strip()) for row in rows)
    except (OSError, UnicodeDecodeError, StopIteration, csv.Error):
        return ""
    if max(counts, default=1) < 2:
        return ""
    given = ", ".join(f"{n} for {k}" for n, k in sorted(counts.items(), reverse=True))
    return (f"{given} of the {sum(counts.values())} validation dialogues; each ROUGE F1 is their mean, not "
            "comparable with single-reference scores")


#: The files the report lists at most; the others are counted.
MAX_FILES = 50


def files_section(run: RunRecord) -> list[str]:
    """The announced files still in the experiment folder, each once, in the order announced. A training
    announces every checkpoint it saves and its save limit removes most of them: listed as announced,
    sixty epochs of checkpoints that are gone filled the list, and the predictions announced after them
    were left out."""
    announced = dict.fromkeys((str(a.get("kind", "?")), a["path"]) for a in run.of("on_artifact")
                              if isinstance(a.get("path"), str))
    present = [(kind, path) for kind, path in announced if (run.root / path).exists()]
    lines = [f"- {kind}: `{path}`" for kind, path in present[:MAX_FILES]]
    if len(present) > MAX_FILES:
        lines.append(f"- and {len(present) - MAX_FILES} more")
    if gone := len(announced) - len(present):
        said = f"{gone} announced files are" if gone > 1 else "1 announced file is"
        lines += [*([""] if lines else []), f"{said} no longer in the folder (such as checkpoints a save limit "
                                                 "removed)."]
    return lines


def render_markdown(run: RunRecord, plots: list[Path], plugins: Any = None) -> str:
    """``report.md``; ``plugins`` say which scores are shown x100 (:meth:`dialsum_loggers.scale.Scale.asking`)."""
    start = (run.of("before_run") or [{}])[0]
    results = run.results or {}
    name = results.get("experiment") or start.get("experiment") or run.root.name
    lines = [f"# Run report: {name}", ""]
    status = run.status
    facts = [("status", status), ("mode", results.get("mode") or start.get("mode", "?"))]
    models = results.get("models") or start.get("models")
    if models:
        facts.append(("models", ", ".join(map(str, models))))
    only = results.get("only")
    if results.get("partial") and isinstance(only, list):  # a fan-out job's results.json
        facts.append(("job", f"{', '.join(map(str, only))}: this job's units only; the experiment's final "
                              "run ensembles them"))
    if start:
        facts.append(("started", _when(start.get("time"))))
    if run.events:
        last = run.events[-1]
        elapsed = results.get("elapsed_seconds", last.get("elapsed"))
        facts.append(("duration", f"{elapsed:.1f} s" if isinstance(elapsed, int | float) else "?"))
        if status != "complete":
            seconds = last.get("elapsed")
            at = f"{f'{seconds:.1f} s' if isinstance(seconds, int | float) else '?'} ({_when(last.get('time'))})"
            facts.append(("last event", f"{last.get('event')} at {at}"))
    if references := references_fact(run):
        facts.append(("validation references", references))
    facts.append(("records", f"{len(run.events)} events in {run.records}"
                  + (f" ({run.unreadable} unreadable lines skipped)" if run.unreadable else "")))
    lines += [f"- **{k}**: {_fmt(v)}" for k, v in facts]
    error = results.get("error") or next((r.get("error") for r in reversed(run.of("on_error"))), None)
    if error:
        lines.append(f"- **error**: `{_fmt(error)}`")

    objective, direction = run.objective
    scale = Scale.asking(plugins, objective)
    scalars = _flat_scalars(results) if results else []
    scalars = [(k, v) for k, v in scalars if k not in ("experiment", "mode")]
    if scalars:
        listed = scalars[:MAX_RESULTS]
        note = scale.note(k for k, _ in listed)
        lines += ["", "## Results", "", *([note, ""] if note else []),
                  *_table(("key", "value"), [(k, scale.shown(k, v)) for k, v in listed])]
        if rest := [k for k, _ in scalars[MAX_RESULTS:]]:  # a full run's best_params came last and were dropped
            lines += ["", f"{len(rest)} more in results.json: {', '.join(rest)}"]

    folds = [r for r in run.of("after_fold") if numeric(r.get("metrics"))]
    if folds:
        lines += ["", "## Folds", "", *_fold_table(folds, scale)]

    trials = run.of("after_trial")
    if trials:
        done = [t for t in trials if isinstance(t.get("value"), int | float)]
        done.sort(key=lambda t: t["value"], reverse=direction != "minimize")
        listed = done[:10] + [t for t in trials if t not in done][: max(0, 10 - len(done))]
        rows = [
            [t.get("trial"), t.get("state", ""), t.get("value", ""),
             ", ".join(f"{k}={_fmt(v)}" for k, v in _mapping(t.get("params")).items())]
            for t in listed
        ]
        header = ("trial", "state", "value", "params")
        rows = [[t, state, scale.shown(objective, v), p] for t, state, v, p in rows]  # values of the metric
        lines += ["", f"## Trials ({len(trials)}, best first)", "", *_table(header, rows)]

    epochs = run.of("after_epoch")
    if epochs:
        last_by_series: dict[str, dict[str, Any]] = {}
        for rec in epochs:
            last_by_series[series_label(rec)] = rec
        metrics = _pick_metrics([numeric(r.get("metrics")) for r in last_by_series.values()], limit=4)
        rows = []
        for label, rec in last_by_series.items():
            values = numeric(rec.get("metrics"))
            rows.append([label, f"{rec.get('epoch')}/{rec.get('n_epochs')}", *[values.get(m, "") for m in metrics]])
        header = ("series", "epoch", *metrics)
        lines += ["", "## Last epoch", "", *_table(header, _scaled(rows, header, scale))]

    if plots:
        lines += ["", "## Plots", ""]
        lines += [f"![{p.stem.replace('_', ' ')}]({p.name})" for p in plots]

    if files := files_section(run):
        lines += ["", "## Files", "", *files]

    # a failure's traceback; Ctrl-C is none to debug, and the status and error lines say where it stopped
    tb = next((r.get("traceback") for r in reversed(run.of("on_error")) if r.get("traceback")), None)
    if tb and status != status_of(KeyboardInterrupt()):
        tail = "\n".join(str(tb).rstrip().splitlines()[-25:])
        lines += ["", "## Traceback", "", "```text", tail, "```"]
    return "\n".join(lines) + "\n"


#: The files :func:`build_report` writes in its folder.
REPORT_FILES = ("report.md", "learning_curves.png", "steps.png", "folds.png", "trials.png")


def build_report(root: Path, out: Path | None = None, plugins: Any = None) -> Written:
    """Write ``report.md`` and the plots for the experiment at ``root``; returns what was written.

    ``plugins`` (the installed ones when ``None``) say which scores are percentages: a report is made
    after the run, with the metrics installed then."""
    run = RunRecord.read(Path(root))
    if plugins is None:  # asked before the folder is made: a plugin that clashes leaves nothing behind
        from dialsum_core.manager import build_plugins

        plugins = build_plugins()
    out = Path(out) if out is not None else run.root / "report"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file where the folder (or one above it) goes, a folder it may not write
        blocking = next((p for p in (out, *out.parents) if p.exists()), None)  # said "File exists"
        why = f"{blocking} is a file" if blocking is not None and not blocking.is_dir() else exc.strerror or exc
        raise DialsumError(f"{out}: cannot make the report folder ({why}); give another with --out") from None
    # a folder in the place of a file the report writes: refused before anything is written
    taken = [name for name in REPORT_FILES if (out / name).is_dir()]
    if taken:
        raise DialsumError(f"{out / taken[0]}: a folder where the report writes its file; remove it or give "
                           "another folder with --out")
    _, direction = run.objective
    try:
        # Everything is made in a hidden folder beside the report first and moved in at the end: a
        # report stopped half way (Ctrl-C, a full disk) leaves the previous report whole, not new
        # plots beside an old report.md. A report killed outright leaves its folder to the next one.
        remove_stale_temporaries(out, recursive=False)
        with temporary_folder(out, "report") as staging:
            candidates = [
                plot_curves(run.of("after_epoch"), "epoch", "learning curves (per epoch)", "epoch",
                            staging / "learning_curves.png"),
                plot_curves([r for r in run.of("on_metrics") if r.get("step") is not None], "step",
                            "training metrics (per step)", "step", staging / "steps.png"),
                plot_folds(run.of("after_fold"), staging / "folds.png"),
                plot_trials(run.of("after_trial"), direction, staging / "trials.png"),
            ]
            made = [p for p in candidates if p is not None]
            (staging / "report.md").write_text(render_markdown(run, made, plugins), encoding="utf-8")
            with signals_held():  # the report's files are all moved in, or none
                earlier = _shown_plots(out / "report.md")
                for name in REPORT_FILES:
                    if (staging / name).exists():  # atomic_open's rules: a link is written through
                        with atomic_open(out / name, "wb") as fh:
                            fh.write((staging / name).read_bytes())
                    elif name in earlier:  # the earlier report's plot, which this report does not have
                        (out / name).unlink(missing_ok=True)
    except OSError as exc:  # a full disk, a folder it may not write
        raise DialsumError(f"{out}: cannot write the report ({exc.strerror or exc}); give another folder "
                           "with --out") from None
    return Written(out / "report.md", [out / p.name for p in made])


def _shown_plots(markdown: Path) -> set[str]:
    """The plots the report at ``markdown`` shows: a file of that name it does not show is another
    program's (a run mode's own plots, when --out names their folder), never removed."""
    try:
        text = markdown.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return set()
    return {name for name in REPORT_FILES if f"]({name})" in text}
