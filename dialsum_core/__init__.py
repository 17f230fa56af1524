"""dialsum: train, tune, ensemble and submit dialogue-summarization models.

The core is small on purpose: hook specifications, a plugin manager, typed TOML recipes, the CLI and
the experiment folder. Everything concrete (model loaders, run modes, ensembles, test-time
augmenters, loggers, metrics, reading the data, the processes of a launch) is a plugin, and built-in
plugins are installed and discovered exactly as a third party's are.

Writing a plugin
----------------
A plugin is a module listed under the ``dialsum`` entry-point group of its distribution::

    # pyproject.toml
    [project.entry-points.dialsum]
    lead = "my_lead.plugin"

The module implements registry hooks with :data:`hookimpl` and registers named things; heavy
libraries are imported inside the factory, never at module top level, so ``dialsum --help`` stays
fast::

    import attrs
    from dialsum_core import hookimpl

    @attrs.define
    class LeadOptions:
        sentences: int = 1

    def make_lead(options, ctx):
        from my_lead.model import LeadLoader   # heavy imports here
        return LeadLoader(options)

    @hookimpl
    def dialsum_register_model_loaders(register):
        register("lead", make_lead, options=LeadOptions, description="First N turns as the summary")

A recipe then chooses it: ``run.models = ["lead"]`` and its options go in ``[models.lead]``.
See :mod:`dialsum_core.hookspecs` for every hook and :mod:`dialsum_core.protocols` for the objects
factories return. ``dialsum_core.testing`` is a pytest plugin with fixtures for plugin tests.
"""

from __future__ import annotations

import pluggy

__all__ = ["__version__", "hookimpl"]
__version__ = "0.1.0"

#: Marker for hook implementations.
hookimpl = pluggy.HookimplMarker("dialsum")
