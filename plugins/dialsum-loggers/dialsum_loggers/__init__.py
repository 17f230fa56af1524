"""dialsum's standard loggers and the ``dialsum report`` command.

* ``file``: ``train.log`` in the experiment folder, with the console's lines and tracebacks.
* ``console``: a live progress display on a terminal and a final table of results.
* ``jsonl``: ``metrics.jsonl``, one JSON object per lifecycle event; reports are built from it.
* ``tensorboard``: TensorBoard event files under ``tensorboard/``.

The entry-point module :mod:`dialsum_loggers.plugin` is cheap to import; rich, matplotlib and
tensorboard load only when a logger is built or a report is made.
"""
