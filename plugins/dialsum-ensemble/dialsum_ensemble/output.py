"""Output-level ensembles: choose, for each dialogue, one of its finished candidate summaries.

All four are minimum-Bayes-risk selections with the ROUGE engine of ``dialsum-metrics``: the
candidates stand in for the unknown reference, each drawn with a probability proportional to its
source's weight, and the candidate with the highest expected ROUGE against that draw is chosen
(:func:`support`). A candidate agrees fully with itself, so raising a source's weight raises its
own candidates' expected ROUGE by more than anyone else's: a higher weight never makes a source's
text less likely to be chosen, and a source with weight 0 only counts through the others. They
differ in who votes and how much:

* ``majority_vote``: every candidate votes equally (or with ``run.ensemble_weights``);
* ``rouge_weighted``: a candidate's vote counts as its source's validation ROUGE;
* ``stacking``: a ridge model learnt on validation/out-of-fold candidates scores each candidate
  from its consensus, length, source and model score;
* ``blending``: source weights searched on the held-out split to maximise its selected ROUGE.
"""

from __future__ import annotations

import copy
import functools
import logging
import math
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np

from dialsum_core.protocols import Candidate, Weights, weight_of
from dialsum_metrics import MEASURES, RougeEngine, consensus, support

log = logging.getLogger("dialsum")

_PAIRWISE: dict[tuple[str, str, tuple[str, ...]], np.ndarray] = {}
_PAIRWISE_LIMIT = 50_000
#: What strategies whose fit ignores the weights learnt, by input (:func:`fitted_once`).
_FITS: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_FITS_LIMIT = 4
T = TypeVar("T")


@functools.lru_cache(maxsize=4)
def engine(tokenizer: str) -> RougeEngine:
    """One engine per tokenizer for the whole process: its token cache serves every strategy."""
    return RougeEngine(tokenizer)


def pairwise(texts: Sequence[str], tokenizer: str) -> np.ndarray:
    """Pairwise ROUGE of a group, cached: weight searches combine the same candidates many times."""
    key = (tokenizer, "", tuple(texts))
    got = _PAIRWISE.get(key)
    if got is None:
        if len(_PAIRWISE) >= _PAIRWISE_LIMIT:
            _PAIRWISE.clear()
        got = _PAIRWISE[key] = engine(tokenizer).pairwise(list(texts))
    return got


def fitted_once(strategy: Any, candidates: Sequence[Sequence[Candidate]], references: Sequence[Sequence[str]],
                learn: Callable[[], T]) -> T:
    """What ``learn`` learns from ``candidates`` and ``references``, learnt once per distinct input.

    For a strategy whose fit does not read the weights: a weight search fits a fresh strategy on
    the same validation candidates for every trial (and the run mode fits it once more with the
    chosen weights), and each fit would learn the same scorer again. Kept for the last few inputs
    (the cross-fitting parts and the whole split); a copy is returned, so no caller changes it.
    """
    key = (type(strategy).__name__, repr(strategy.options), tuple(tuple(g) for g in candidates),
           tuple(tuple(r) for r in references))
    if key in _FITS:
        _FITS.move_to_end(key)
    else:
        _FITS[key] = learn()
        while len(_FITS) > _FITS_LIMIT:
            _FITS.popitem(last=False)
    return copy.deepcopy(_FITS[key])


def prepare(groups: Sequence[Sequence[Candidate]], tokenizer: str, ctx: Any) -> None:
    """Compute the pairwise ROUGE of the groups not cached yet, as the progress task ``candidate
    ROUGE``: with every fold, model and TTA variant a candidate, that is minutes of kiwipiepy and
    LCS at full scale before the first summary is chosen. Cached groups cost nothing and show
    nothing, so the many combines of a weight search stay quiet."""
    texts = [[c.text for c in g] for g in groups if len(g) > 1]
    todo = [t for t in texts if (tokenizer, "", tuple(t)) not in _PAIRWISE]
    if not todo or ctx is None:
        return
    task = "candidate ROUGE"
    ctx.emit("dialsum_on_progress", task=task, completed=0, total=len(todo))
    for i, t in enumerate(todo):
        pairwise(t, tokenizer)
        ctx.emit("dialsum_on_progress", task=task, completed=i + 1, total=len(todo))


def similarity(pw: np.ndarray, measure: str) -> np.ndarray:
    """``(n, n)`` similarity from ``(n, n, 3)`` pairwise F1: one measure, or their mean."""
    if measure == "mean":
        return pw.mean(axis=2)
    return pw[:, :, MEASURES.index(measure)]


def reference_scores(groups: Sequence[Sequence[Candidate]], references: Sequence[Sequence[str]],
                     tokenizer: str, measure: str) -> list[np.ndarray]:
    """Each candidate's ROUGE against its dialogue's references (each F1 averaged over them)."""
    if len(groups) != len(references):
        raise ValueError(f"{len(groups)} candidate groups for {len(references)} reference sets")
    flat = [c.text for g in groups for c in g]
    refs = [list(r) for g, r in zip(groups, references, strict=True) for _ in g]
    scores = engine(tokenizer).score(flat, refs) if flat else np.zeros((0, len(MEASURES)))
    sims = scores.mean(axis=1) if measure == "mean" else scores[:, MEASURES.index(measure)]
    out, pos = [], 0
    for g in groups:
        out.append(sims[pos : pos + len(g)])
        pos += len(g)
    return out


def source_rouge(groups: Sequence[Sequence[Candidate]], references: Sequence[Sequence[str]],
                 tokenizer: str, measure: str) -> dict[str, float]:
    """Mean validation ROUGE of each source."""
    per = reference_scores(groups, references, tokenizer, measure)
    acc: dict[str, list[float]] = {}
    for g, s in zip(groups, per, strict=True):
        for c, v in zip(g, s, strict=True):
            acc.setdefault(c.source, []).append(float(v))
    return {k: float(np.mean(v)) for k, v in acc.items()}


class MbrEnsemble:
    """Weighted minimum-Bayes-risk selection; subclasses decide the weights or the scorer."""

    level = "output"
    name = "majority_vote"

    def __init__(self, options: Any):
        self.options = options
        self.tokenizer: str = options.tokenizer
        self.measure: str = options.measure

    def fit(self, candidates: Sequence[Sequence[Candidate]], references: Sequence[Sequence[str]],
            weights: Weights, ctx: Any) -> dict[str, Any]:
        return {}

    def vote_weights(self, group: Sequence[Candidate], weights: Weights) -> np.ndarray:
        return np.array([weight_of(c.source, weights) for c in group], dtype=np.float64)

    def candidate_scores(self, group: Sequence[Candidate], weights: Weights) -> np.ndarray:
        sim = similarity(pairwise([c.text for c in group], self.tokenizer), self.measure)
        return support(sim, self.vote_weights(group, weights))

    def combine(self, candidates: Sequence[Sequence[Candidate]], weights: Weights, ctx: Any) -> list[str]:
        for i, group in enumerate(candidates):
            if not group:
                raise ValueError(f"dialogue {i} has no candidate summary to choose from")
        prepare(candidates, self.tokenizer, ctx)
        return [c.text for c in self.select(candidates, weights)]

    def select(self, candidates: Sequence[Sequence[Candidate]], weights: Weights) -> list[Candidate]:
        """Like :meth:`combine`, but returns the chosen candidates (with their sources)."""
        return [g[0] if len(g) == 1 else g[int(np.argmax(self.candidate_scores(g, weights)))] for g in candidates]


class RougeWeighted(MbrEnsemble):
    """Votes weighted by each source's validation ROUGE (learnt by :meth:`fit`, else ``Candidate.score``)."""

    name = "rouge_weighted"

    def __init__(self, options: Any):
        super().__init__(options)
        self.learnt: dict[str, float] = {}

    def fit(self, candidates: Sequence[Sequence[Candidate]], references: Sequence[Sequence[str]],
            weights: Weights, ctx: Any) -> dict[str, Any]:
        self.learnt = fitted_once(self, candidates, references,
                                  lambda: source_rouge(candidates, references, self.tokenizer, self.measure))
        return {"source_rouge": {k: round(v, 6) for k, v in sorted(self.learnt.items())}}

    def vote_weights(self, group: Sequence[Candidate], weights: Weights) -> np.ndarray:
        base = super().vote_weights(group, weights)
        quality = []
        for c in group:
            q = weight_of(c.source, self.learnt, default=math.nan)
            if math.isnan(q):
                q = c.score if c.score is not None else 1.0
            quality.append(max(q, 0.0))
        q = np.array(quality, dtype=np.float64)
        best = q.max() if len(q) else 0.0
        if best <= 0:
            return base
        # relative to the group's best source: a ROUGE below 1 raised to a large power would underflow
        # to 0 for every source, and all-zero votes count equally (the opposite of favouring the best);
        # the choice only depends on the ratios of the votes, which this keeps
        return base * (q / best) ** self.options.power


class Blending(MbrEnsemble):
    """Source weights fitted on the held-out split (coordinate ascent over a grid), then MBR."""

    name = "blending"

    def __init__(self, options: Any):
        super().__init__(options)
        self.learnt: dict[str, float] = {}

    def fit(self, candidates: Sequence[Sequence[Candidate]], references: Sequence[Sequence[str]],
            weights: Weights, ctx: Any) -> dict[str, Any]:
        groups = [g for g in candidates if len(g) > 1]
        refs = [r for g, r in zip(candidates, references, strict=True) if len(g) > 1]
        if not groups:
            return {"weights": {}}
        sources = sorted({c.source for g in groups for c in g})
        col = {s: k for k, s in enumerate(sources)}
        prepare(groups, self.tokenizer, ctx)
        sims = [similarity(pairwise([c.text for c in g], self.tokenizer), self.measure) for g in groups]
        gains = reference_scores(groups, refs, self.tokenizer, self.measure)
        idx = [np.array([col[c.source] for c in g]) for g in groups]
        def value(w: np.ndarray) -> float:
            total = 0.0
            for sim, gain, ix in zip(sims, gains, idx, strict=True):
                total += gain[int(np.argmax(support(sim, w[ix])))]
            return total / len(groups)

        w = np.array([weight_of(s, weights) for s in sources], dtype=np.float64)
        best = value(w)
        start = best
        grid = [float(x) for x in self.options.grid]
        for _ in range(self.options.rounds):
            improved = False
            for k in range(len(sources)):
                for x in grid:
                    if x == w[k]:
                        continue
                    trial = w.copy()
                    trial[k] = x
                    if trial.sum() <= 0:
                        continue
                    v = value(trial)
                    if v > best + 1e-12:
                        best, w, improved = v, trial, True
            if not improved:
                break
        self.learnt = dict(zip(sources, map(float, w), strict=True))
        return {"weights": self.learnt, "valid_selected_rouge": round(best, 6), "valid_start_rouge": round(start, 6)}

    def vote_weights(self, group: Sequence[Candidate], weights: Weights) -> np.ndarray:
        if not self.learnt:
            return super().vote_weights(group, weights)
        return np.array([weight_of(c.source, self.learnt, default=0.0) for c in group], dtype=np.float64)


class Stacking(MbrEnsemble):
    """A ridge scorer of candidates learnt on validation or out-of-fold candidates.

    Target: each candidate's ROUGE against the reference minus its dialogue's mean (only the order
    inside a dialogue matters). Features: consensus ROUGE-1/2/L and mean, length relative to the
    dialogue's median, model score, and one indicator per source seen while fitting.
    """

    name = "stacking"

    def __init__(self, options: Any):
        super().__init__(options)
        self.coef: np.ndarray | None = None
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None
        self.sources: list[str] = []

    def features(self, group: Sequence[Candidate]) -> np.ndarray:
        pw = pairwise([c.text for c in group], self.tokenizer)
        cons = [consensus(pw[:, :, m]) for m in range(len(MEASURES))]
        toks = engine(self.tokenizer).tokens([c.text for c in group])
        lengths = np.array([len(t) for t in toks], dtype=np.float64)
        rel = np.log((lengths + 1) / (np.median(lengths) + 1))
        score = np.array([c.score if c.score is not None else 0.0 for c in group])
        has_score = np.array([c.score is not None for c in group], dtype=np.float64)
        onehot = np.array([[1.0 if s in _prefixes_of(c.source) else 0.0 for s in self.sources] for c in group])
        cols = [*cons, np.mean(cons, axis=0), rel, np.abs(rel), score, has_score]
        base = np.stack(cols, axis=1)
        return np.concatenate([base, onehot.reshape(len(group), len(self.sources))], axis=1)

    def feature_names(self) -> list[str]:
        return [*(f"cons_{m}" for m in MEASURES), "cons_mean", "log_len_ratio", "abs_log_len_ratio",
                "model_score", "has_model_score", *(f"source={s}" for s in self.sources)]

    def fit(self, candidates: Sequence[Sequence[Candidate]], references: Sequence[Sequence[str]],
            weights: Weights, ctx: Any) -> dict[str, Any]:
        """Learn the scorer; the weights do not enter it, so it is learnt once per input (:func:`fitted_once`)."""
        pairs = [(g, r) for g, r in zip(candidates, references, strict=True) if len(g) > 1]
        if not pairs:
            return {}
        self.sources, self.mean, self.std, self.coef, info = fitted_once(
            self, candidates, references, lambda: self._learn(pairs, ctx))
        return info

    def _learn(self, pairs: Sequence[tuple[Sequence[Candidate], Sequence[str]]],
               ctx: Any) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """The ridge scorer of :meth:`fit`: sources, feature means and deviations, coefficients, report."""
        self.sources = sorted({c.source for g, _ in pairs for c in g})
        prepare([g for g, _ in pairs], self.tokenizer, ctx)
        gains = reference_scores([g for g, _ in pairs], [r for _, r in pairs], self.tokenizer, self.measure)
        x = np.concatenate([self.features(g) for g, _ in pairs])
        y = np.concatenate([s - s.mean() for s in gains])
        self.mean, self.std = x.mean(axis=0), x.std(axis=0)
        self.std[self.std == 0] = 1.0
        z = (x - self.mean) / self.std
        lam = self.options.l2 * len(z)
        if lam > 0:
            self.coef = np.linalg.solve(z.T @ z + lam * np.eye(z.shape[1]), z.T @ y)
        else:
            # plain least squares: tied features (the source indicators sum to one) make the normal
            # equations singular, so take the minimum-norm solution, the limit of ridge as l2 -> 0
            self.coef = np.linalg.lstsq(z, y, rcond=None)[0]
        chosen = [gain[int(np.argmax(self._predict(g)))] for (g, _), gain in zip(pairs, gains, strict=True)]
        return self.sources, self.mean, self.std, self.coef, {
            "coefficients": {n: round(float(c), 6) for n, c in zip(self.feature_names(), self.coef, strict=True)},
            "groups": len(pairs),
            "valid_selected_rouge": round(float(np.mean(chosen)), 6),
        }

    def _predict(self, group: Sequence[Candidate]) -> np.ndarray:
        assert self.coef is not None and self.mean is not None and self.std is not None
        return ((self.features(group) - self.mean) / self.std) @ self.coef

    def candidate_scores(self, group: Sequence[Candidate], weights: Weights) -> np.ndarray:
        if self.coef is None:
            log.warning("stacking: no validation candidates were given to fit on; using the consensus vote")
            return super().candidate_scores(group, weights)
        return self._predict(group)


def _prefixes_of(source: str) -> set[str]:
    parts = source.split("/")
    return {"/".join(parts[:k]) for k in range(1, len(parts) + 1)}
