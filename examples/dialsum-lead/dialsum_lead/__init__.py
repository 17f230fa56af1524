"""An extractive lead-N baseline: the first N turns of the dialogue are its summary.

It trains in milliseconds and needs no torch, which makes it the reference third-party plugin of
the tutorial and the quickest model for testing run modes, ensembles and loggers.
"""
