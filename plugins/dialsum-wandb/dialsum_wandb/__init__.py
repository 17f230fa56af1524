"""The ``wandb`` logger: a dialsum run as a Weights & Biases run.

A separate distribution so that users who do not want wandb never install it. The entry-point
module :mod:`dialsum_wandb.plugin` does not import wandb; the logger imports it when it is built.
"""
