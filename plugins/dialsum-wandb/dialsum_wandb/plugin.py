"""Entry-point module of the ``wandb`` logger: cheap to import (wandb loads when a run starts)."""

from __future__ import annotations

from typing import Any

import attrs

from dialsum_core import hookimpl
from dialsum_core.validators import one_of, positive

MODES = ("", "online", "offline", "disabled")


def _not_empty(_inst: Any, attr: attrs.Attribute, value: str) -> None:
    if not value.strip():
        raise ValueError("must not be empty")


#: What W&B refuses in a project name (its settings say so when a run starts, and the logger is then
#: off for the whole run): checked here so that ``dialsum check`` says it first.
PROJECT_FORBIDDEN = "/\\#?%:"
PROJECT_MAX, TAG_MAX = 128, 64


def _project(inst: Any, attr: attrs.Attribute, value: str) -> None:
    _not_empty(inst, attr, value)
    found = [c for c in PROJECT_FORBIDDEN if c in value]
    if found:
        raise ValueError(f"W&B refuses {' '.join(found)} in a project name, got {value!r}")
    if len(value) > PROJECT_MAX:
        raise ValueError(f"W&B takes at most {PROJECT_MAX} characters, got {len(value)}")


def _tags(_inst: Any, _attr: attrs.Attribute, value: list[str]) -> None:
    for i, tag in enumerate(value):
        if not 1 <= len(str(tag)) <= TAG_MAX:
            raise ValueError(f"tag {i} has {len(str(tag))} characters; W&B takes 1 to {TAG_MAX}")


@attrs.define
class WandbOptions:
    #: W&B project (the seed's ``wandb_project``).
    project: str = attrs.field(default="dialogue-summarization", validator=_project)
    #: Team or user; empty: your default entity.
    entity: str = ""
    #: Runs with the same group are shown together; empty: the experiment name.
    group: str = ""
    #: Run name; empty: the experiment name.
    name: str = ""
    #: Tags of the W&B run, for filtering runs in the W&B interface.
    tags: list[str] = attrs.field(factory=list, validator=_tags)
    #: ``online``, ``offline`` or ``disabled``; empty: ``WANDB_MODE`` from the environment, else online.
    mode: str = attrs.field(default="", validator=one_of(MODES))
    #: Upload the best checkpoint as a ``model`` artifact at the end of the run.
    log_checkpoint: bool = False
    #: Log prediction CSVs written during the run as tables.
    log_predictions: bool = True
    #: Rows per prediction table at most.
    max_prediction_rows: int = attrs.field(default=500, validator=positive)
    #: Log PNG plots written during the run as images.
    log_plots: bool = True
    #: Attach the log files the loggers announce (``train.log``, ``metrics.jsonl``, as named in the
    #: recipe) to the run's files when it ends.
    save_log: bool = True
    #: Seconds to wait for the W&B service to start a run before giving up (the run goes on).
    init_timeout: float = attrs.field(default=90.0, validator=positive)


#: The folder W&B writes its run files in, inside the experiment folder (``wandb.init(dir=...)``).
FOLDER = "wandb"


def check_folder(recipe: Any, plugins: Any) -> list[tuple[str, str]]:
    """Another logger's file named ``wandb`` takes the place of the folder W&B writes its run in: W&B
    could not start and the run would go on without it. Any logger whose options name a ``filename``
    counts, whichever plugin registers it."""
    from pathlib import Path

    found = []
    for name in dict.fromkeys(recipe.run.loggers):
        if name == "wandb" or plugins.get("loggers", name) is None:
            continue
        filename = getattr(recipe.options("loggers", name, plugins), "filename", None)
        if isinstance(filename, str) and Path(filename).as_posix().casefold() == FOLDER:
            found.append((f"loggers.{name}.filename", f"{filename!r} is the folder {FOLDER}/ the wandb logger "
                          "writes its run in; name the log file otherwise"))
    return found


def make_wandb(options: WandbOptions, ctx: Any) -> Any:
    from dialsum_wandb.logger import WandbLogger

    return WandbLogger(options, ctx)


@hookimpl
def dialsum_register_loggers(register: Any) -> None:
    register("wandb", make_wandb, options=WandbOptions, check=check_folder,
             description="Weights & Biases: recipe as config, metrics, tables, plots, checkpoint artifact")
