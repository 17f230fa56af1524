"""Test-time augmentation for dialsum.

Each augmenter turns one dialogue into variants that mean the same thing; the model summarizes
every variant and the run's ensemble strategy picks among the summaries. A variant carries a
``restore`` function for summaries that must be mapped back (swapped speaker tags).
"""
