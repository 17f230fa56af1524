"""Recipe keys a run reads and then does nothing with (``dialsum_ignored_keys``): ``dialsum check`` and
the run's log warn about them, and about a search that tunes one (dialsum-modes asks this hook).

``lora_r`` and its kin change nothing while ``use_lora`` is off, nor does ``train.warmup_ratio`` with a
schedule without warm-up. They are not refused: a base recipe that sets the LoRA options and a recipe
extending it that turns ``use_lora`` off is a real use, and a recipe cannot remove a key it inherits.
But the user who set one believes it acted, so the warning names the key and the file that set it.

Only keys the user set count: a value from a default or from a preset's registered defaults never
warns (a recipe file or ``--set`` set what provenance names; a recipe built in Python, what differs from
the default). Cheap to import: no torch.
"""

from __future__ import annotations

from typing import Any

from dialsum_core.recipe.model import PYTHON_SOURCE, plugin_options

#: The options that only shape LoRA adapters.
LORA_KEYS = ("lora_r", "lora_alpha", "lora_dropout", "lora_target_modules")
#: ``train.scheduler`` values whose transformers schedule takes no warm-up (``get_scheduler`` drops it).
NO_WARMUP = ("constant", "reduce_lr_on_plateau")


def user_set(recipe: Any, key: str, value: Any, default: Any) -> bool:
    """Whether ``key`` holds a value the user gave (not one a default filled in).

    A recipe file or ``--set`` is named by the key's provenance; a key from Python may have none (a
    recipe built with ``Recipe.from_dict``) or share the mark of defaults the run spelt out, so there
    only a value other than the default tells."""
    source = recipe.provenance.get(key)
    return (source is not None and source != PYTHON_SOURCE) or value != default


def ignored_keys(recipe: Any, plugins: Any) -> list[tuple[str, str]]:
    """``(key, why)`` for each key the user set that this run ignores: in the recipe as written, and in the
    runs its mode makes with other values (``dialsum_varied_values``, a study tuning ``model.use_lora``
    uses ``lora_r`` in the trials that turn it on)."""
    found = _ignored(recipe, plugins)
    ask = getattr(plugins.hook, "dialsum_varied_values", None)  # a hook of the run modes, where installed
    for answer in (ask(recipe=recipe, plugins=plugins) if found and ask is not None else []):
        for key, values in answer.items():
            for value in values:
                try:
                    variant = recipe.override((key, value))
                except Exception:  # a value the recipe cannot take: the study's check says so
                    continue
                still = {k for k, _why in _ignored(variant, plugins)}
                found = [(k, why) for k, why in found if k in still]
    return found


def _ignored(recipe: Any, plugins: Any) -> list[tuple[str, str]]:
    """``(key, why)`` for each key the user set that ``recipe``, run as written, ignores."""
    from dialsum_hf.plugin import PretrainedOptions, hf_models
    from dialsum_hf.sections import TrainSection

    found: list[tuple[str, str]] = []  # (key, why)
    hf = hf_models(recipe, plugins)
    for name in hf:
        opts = recipe.options("model_loaders", name, plugins)
        if not isinstance(opts, PretrainedOptions) or opts.use_lora:
            continue
        defaults, _ = plugin_options(plugins.require("model_loaders", name), {})  # the registered defaults
        keys = [f"models.{name}.{k}" for k in LORA_KEYS
                if user_set(recipe, f"models.{name}.{k}", getattr(opts, k), getattr(defaults, k))]
        found += [(k, f"models.{name}.use_lora is false, so no LoRA adapters are trained (set it to true for "
                      "them)") for k in keys]
    train = recipe.section("train")
    if hf and train.scheduler in NO_WARMUP and train.warmup_ratio > 0 and \
            user_set(recipe, "train.warmup_ratio", train.warmup_ratio, TrainSection().warmup_ratio):
        found.append(("train.warmup_ratio", f"the {train.scheduler!r} schedule (train.scheduler) has no warm-up "
                                            "(constant_with_warmup has one)"))
    return found
