"""``dialsum launch``: start one run as several processes, under ``torchrun`` or ``accelerate launch``.

The processes then cooperate through :mod:`dialsum_core.distributed` (rank 0 writes the experiment
folder, generation is sharded, training is data-parallel through the loaders' trainers).
"""
