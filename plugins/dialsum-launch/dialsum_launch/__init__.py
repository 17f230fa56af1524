"""``dialsum launch``: start one run as several processes, under ``torchrun`` or ``accelerate launch``.

The processes then cooperate through ``ctx.processes``, the :class:`dialsum_launch.processes.TorchProcesses`
this plugin offers in each of them (rank 0 writes the experiment folder, generation is sharded,
training is data-parallel through the loaders' trainers).
"""
