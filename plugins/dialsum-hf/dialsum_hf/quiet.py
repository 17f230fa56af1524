"""Keeping transformers' own progress bars, and its alarms that say nothing of the run, out of dialsum's output.

transformers draws a tqdm bar whenever it writes a model (``Writing model shards``, on every
checkpoint) or reads one (``Loading weights``). dialsum's console logger already shows the run's
progress, and in a log file or any output that is not a terminal those bars are only noise (one
line per checkpoint in ``train.log``). The loaders, ``fit`` and ``save`` turn them off before they
touch a model, importing transformers only then so that importing the plugin stays cheap.

Downloads are the hub's bars, not transformers': a first run of a 10B-parameter preset spends
minutes fetching files, and that bar is the only sign of life, so it is left as the user set it
(``HF_HUB_DISABLE_PROGRESS_BARS``).
"""

from __future__ import annotations

import logging
import warnings


def quiet_progress_bars() -> None:
    """Turn off transformers' progress bars, leaving the hub's download bars as they were."""
    from huggingface_hub import utils as hub
    from transformers.utils import logging as hf_logging

    downloads_on = not hub.are_progress_bars_disabled()
    hf_logging.disable_progress_bar()  # also turns the hub's bars off, hence the line below
    if downloads_on:
        hub.enable_progress_bars()


def quiet_lora_warnings() -> None:
    """Hide two warnings peft prints on every LoRA run, which say nothing about it: transformers 5
    deprecating the ``is_gradient_checkpointing`` peft asks for when it wraps a model, and "Setting
    ``save_embedding_layers`` to True" when a model whose vocabulary dialsum grew (the dialogue tags) is
    saved, which is what dialsum asks for (``save_embedding_layers="auto"``), on every checkpoint.

    Process-wide filters, like :func:`quiet_progress_bars`, rather than ``warnings.catch_warnings``,
    which is not safe in the threads of parallel Optuna trials; adding one twice keeps one."""
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
    warnings.filterwarnings("ignore", message=".*save_embedding_layers.*", category=UserWarning)


class _NotTheFilesystem(logging.Filter):
    """Drops transformers' "mtime may not be reliable on this filesystem": said when the checkpoints it
    sorts by time were saved within one second, which is what a small model does on any disk; the
    numerical order it then takes is the right one."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("mtime may not be reliable")


def quiet_checkpoint_order() -> None:
    """Keep the filesystem alarm of :class:`_NotTheFilesystem` out of the console and ``train.log``;
    adding the filter twice keeps one."""
    logger = logging.getLogger("transformers.trainer_utils")
    if not any(isinstance(f, _NotTheFilesystem) for f in logger.filters):
        logger.addFilter(_NotTheFilesystem())
