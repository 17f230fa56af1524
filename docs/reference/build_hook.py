"""mkdocs hook: adds the generated reference pages at build time, so they always match the code.

The pages come from :func:`dialsum_tools.recipe_doc.reference_pages`: the recipe keys of the core
and of every installed plugin, the hook specifications and the ``dialsum`` command line.
"""

from __future__ import annotations

from typing import Any

from mkdocs.structure.files import File, Files


def on_files(files: Files, config: Any) -> Files:
    from dialsum_tools.recipe_doc import reference_pages

    for path, text in reference_pages().items():
        existing = files.get_file_from_path(path)
        if existing is not None:  # a copy written by `dialsum recipe-doc -o docs/...` is replaced
            files.remove(existing)
        files.append(File.generated(config, path, content=text))
    return files
