"""The interfaces plugins implement, as typing protocols (no runtime cost, no heavy imports).

The core never calls a model directly; run modes do, through these methods. Keeping them small is
what lets a third-party model loader, ensemble or augmenter drop into every run mode.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

import attrs

if TYPE_CHECKING:
    from dialsum_core.context import RunContext
    from dialsum_core.data import Example

T = TypeVar("T")
R = TypeVar("R")


@runtime_checkable
class Trial(Protocol):
    """The hyperparameter trial a run belongs to (``ctx.trial``), as a search mode hands it to training."""

    number: int

    def report(self, step: int, scores: Mapping[str, float]) -> bool:
        """Record the validation scores after ``step`` (an epoch); ``True``: stop training now, the
        trial is pruned (an answer after the last epoch changes nothing). Training then returns a
        :class:`FitResult` with ``pruned=True``."""
        ...


@runtime_checkable
class Processes(Protocol):
    """The processes this run is one of (``ctx.processes``): one, or several started by a launcher.

    Every process runs the same run-mode code; these are the only points where they must agree or
    split work, so that a run mode or a model works under any launcher without knowing it.
    """

    #: This process's place among ``world_size`` processes; rank 0 is the main one.
    rank: int
    world_size: int
    #: The one process that writes files, logs and results (the others only read).
    is_main: bool

    def broadcast(self, value: T) -> T:
        """Rank 0's ``value`` on every process: what is decided once (a timestamped name, a pruning)."""
        ...

    def barrier(self) -> None:
        """Wait until every process gets here (e.g. until the main one has created a folder)."""
        ...

    def map_in_order(self, fn: Callable[[list[T]], Sequence[R]], items: Sequence[T]) -> list[R]:
        """``fn(items)`` computed by all processes together: each runs ``fn`` on its contiguous share
        and every process gets all results in input order, as one process would compute them. Every
        process calls it with the same ``items``; a nested call runs unsharded (never split twice).
        A failure in one share is raised on every process, marked ``raised_by_every_process = True``."""
        ...

    def finish(self, *, wait: bool = True) -> None:
        """Leave the processes at the end of a run: wait for the others (``wait``; not after a
        failure, they may never come), then close the group, so no process exits mid-communication."""
        ...


@attrs.frozen
class FitResult:
    """What :meth:`Model.fit` returns."""

    #: One mapping per evaluation, oldest first: ``epoch``, ``loss``, and each validation score
    #: ``S`` of ``ctx.score`` as ``eval_S`` (``eval_rouge_mean``), the key run modes read it by.
    history: list[dict[str, Any]] = attrs.field(factory=list)
    #: The checkpoint folder that :meth:`ModelLoader.load` reloads as the trained model.
    best_checkpoint: str = ""
    #: Training stopped because ``ctx.trial`` said so.
    pruned: bool = False
    #: Anything else worth keeping (batch size chosen, seconds, tokens...), JSON-friendly.
    details: dict[str, Any] = attrs.field(factory=dict)
    #: The newest checkpoint folder training saved, the one a later training resumes from (run
    #: modes link it, so only the model knows its folder layout); empty when the model saves none.
    last_checkpoint: str = ""


@runtime_checkable
class Model(Protocol):
    """A summarizer that can be trained, asked for summaries and saved."""

    def fit(
        self, train: Sequence[Example], valid: Sequence[Example], ctx: RunContext, output_dir: Path
    ) -> FitResult:
        """Train; ``output_dir`` receives checkpoints. With ``ctx.trial`` set, report each
        validation score to it and stop when it says so."""
        ...

    def generate(self, dialogues: Sequence[str], ctx: RunContext) -> list[str]:
        """One summary per dialogue, in order, decoded as the model's own options say."""
        ...

    def save(self, path: Path) -> None: ...


@runtime_checkable
class TokenModel(Protocol):
    """What a token-level ensemble needs of a model to decode with it, step by step, beside others."""

    #: The underlying network (a network of the loader's library, possibly with adapters).
    model: Any
    tokenizer: Any
    is_encoder_decoder: bool
    #: Equal for models whose tokenizers map the same text to the same ids.
    tokenizer_signature: str

    def generate(self, dialogues: Sequence[str], ctx: RunContext) -> list[str]: ...


@runtime_checkable
class ModelLoader(Protocol):
    """Creates models: fresh ones to train, or trained ones from a folder."""

    def build(self, ctx: RunContext, train: Sequence[Example]) -> Model: ...

    def load(self, ctx: RunContext, path: Path) -> Model: ...


@runtime_checkable
class RunMode(Protocol):
    """A way to run the recipe's models. A mode that can run one part of its work as a job of its
    own (a fold, a model) may also define ``job_folder(ctx) -> str``: the folder inside the
    experiment that receives that job's ``config.toml``, ``results.json`` and logs (``""``: the
    whole run), so that jobs running side by side never write the same file. It is asked once, before
    anything is written there; from then on the run ends with ``dialsum_after_run`` or
    ``dialsum_on_error`` whatever happens (a mode may hold the folder until then)."""

    def run(self, ctx: RunContext) -> dict[str, Any]:
        """Do the work; the returned mapping becomes ``results.json``. A run that trains names the model
        it stands for as ``best_checkpoint`` (and why, ``best_checkpoint_chosen_by``): what loggers keep."""
        ...


@attrs.frozen
class Candidate:
    """One candidate summary for one dialogue, with where it came from."""

    text: str
    source: str
    score: float | None = None


#: Source weights: ``{source prefix: weight}``. A candidate's ``source`` is a ``/``-path that starts
#: with its model's name (``m``, ``m/PART``, ``m/PART/VARIANT``); the weight of its
#: most specific prefix applies. Empty: the strategy's own weighting.
Weights = Mapping[str, float]


def weight_of(source: str, weights: Weights, default: float = 1.0) -> float:
    """The weight of ``source`` under ``weights`` (its most specific prefix that has one)."""
    parts = source.split("/")
    for k in range(len(parts), 0, -1):
        key = "/".join(parts[:k])
        if key in weights:
            return float(weights[key])
    return default


#: The ``level`` of an ensemble that decodes jointly with the models, and the tag of its registration.
TOKEN_LEVEL = "token"


@runtime_checkable
class Ensemble(Protocol):
    """Combines several sources (models, folds, augmented inputs) into one summary per dialogue.

    ``level`` is ``"output"`` for strategies that choose among finished candidate summaries, or
    :data:`TOKEN_LEVEL` for strategies that decode jointly (then :meth:`TokenEnsemble.generate` is used
    instead of :meth:`combine`; their registration carries the tag :data:`TOKEN_LEVEL` too, which the
    checks read, since they build nothing). Run modes call :meth:`fit` first, with validation
    candidates and references, for strategies that learn weights or a scorer; it may do nothing. The
    weights are arguments, chosen by the run mode (given in the recipe or searched): a higher weight
    never makes a source's text less likely to be chosen.
    """

    level: str

    def fit(
        self,
        candidates: Sequence[Sequence[Candidate]],
        references: Sequence[Sequence[str]],
        weights: Weights,
        ctx: RunContext,
    ) -> dict[str, Any]:
        """Learn from validation data; returns what was learnt for results.json. A strategy that learns
        its own source weights returns them, non-empty, as ``"weights"``: run modes then search none."""
        ...

    def combine(self, candidates: Sequence[Sequence[Candidate]], weights: Weights, ctx: RunContext) -> list[str]:
        """Pick or build one summary per dialogue from its candidates."""
        ...


@runtime_checkable
class TokenEnsemble(Ensemble, Protocol):
    def generate(
        self, models: Sequence[TokenModel], weights: Sequence[float], dialogues: Sequence[str], ctx: RunContext
    ) -> list[str]:
        """Decode jointly with every model (they must share a tokenizer)."""
        ...


@attrs.frozen
class Variant:
    """An augmented dialogue, the function that maps its summary back to the original's terms
    (test-time augmentation), and the one that maps the original's summary to the variant's terms
    (training on augmented copies)."""

    dialogue: str
    restore: Callable[[str], str] = attrs.field(default=lambda s: s)
    name: str = ""
    forward: Callable[[str], str] = attrs.field(default=lambda s: s)


@runtime_checkable
class Augmenter(Protocol):
    def augment(self, fname: str, dialogue: str, n: int, seed: int) -> list[Variant]:
        """Up to ``n`` variants of ``dialogue`` (deterministic for a given ``seed``)."""
        ...


@runtime_checkable
class Logger(Protocol):
    """Lifecycle hook implementations (methods decorated with ``dialsum_core.hookimpl``), and
    optionally ``close()``, called when the run ends whatever happened. A logger that draws the
    ``dialsum_on_progress`` events on the terminal sets ``displays_progress = True``: plugins then
    leave their own progress bars off, so two bars never fight over one terminal."""


@runtime_checkable
class Metric(Protocol):
    def compute(self, predictions: Sequence[str], references: Sequence[Sequence[str]]) -> dict[str, float]:
        """Corpus-level scores; ``references[i]`` holds every reference of dialogue ``i``."""
        ...
