"""The five run modes of dialsum (``single``, ``kfold``, ``multi_model``, ``optuna``, ``full``).

Each mode composes model loaders, ensembles, augmenters and metrics only through the core's
``RunContext.build``, so any installed plugin of those kinds works in every mode.
"""
