"""dialsum: train, tune, ensemble and submit dialogue-summarization models.

The core is small on purpose: hook specifications, a plugin manager, typed TOML recipes, the CLI and
the experiment folder. Everything concrete (model loaders, run modes, ensembles, test-time
augmenters, loggers, metrics, reading the data, the processes of a launch) is a plugin, and built-in
plugins are installed and discovered exactly as a third party's are.

Writing a plugin: ``docs/writing-a-plugin.md`` builds a real one step by
step. A plugin is a module named under the ``dialsum`` entry-point group of its distribution; it
implements the hooks of :mod:`dialsum_core.hookspecs` with :data:`hookimpl`, returns the objects of
:mod:`dialsum_core.protocols`, and imports heavy libraries inside its factories, never at module top
level, so that ``dialsum --help`` stays fast. ``dialsum_core.testing`` is a pytest plugin with
fixtures for plugin tests.
"""

from __future__ import annotations

import pluggy

__all__ = ["__version__", "hookimpl"]
__version__ = "0.1.0"

#: Marker for hook implementations.
hookimpl = pluggy.HookimplMarker("dialsum")
