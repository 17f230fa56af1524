"""Authoring tools for dialsum, added to the ``dialsum`` command by a plugin like any third party's:
``dialsum new-plugin`` writes a plugin package to start from; ``dialsum recipe-doc`` generates the
recipe, hook and CLI references from the code (and ``--check`` fails on undocumented keys)."""
