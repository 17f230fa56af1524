"""``run.models = ["top3"]``: the three best models of the latest screening run in the same output folder.

The seed's process screens every model quickly (``single`` with ``models = ["all"]``), then
ensembles the best three. A screening run records its ranking in ``results.json``; ``topN`` is
resolved from the latest such run when the recipe is checked, so the resolved ``config.toml``
names the models, and a recipe that has nothing to rank is refused before anything runs.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import attrs

from dialsum_core.errors import RecipeError

log = logging.getLogger("dialsum")
TOP = re.compile(r"^top(\d+)$")


def latest_ranking(output_dir: Path) -> tuple[Path, list[str]] | None:
    """The ranked model names of the most recent completed screening run under ``output_dir``."""
    found = []
    for path in Path(output_dir).expanduser().glob("*/results.json"):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("status") == "complete" and data.get("ranking"):
            found.append((path.stat().st_mtime, path, [str(r["model"]) for r in data["ranking"]]))
    if not found:
        return None
    _, path, ranked = max(found, key=lambda item: item[0])
    return path.parent, ranked


def expand_top(recipe: Any, plugins: Any) -> Any:
    """``recipe`` with each ``topN`` of ``run.models`` replaced by the names it stands for."""
    models = list(recipe.run.models)
    wanted = [(i, int(m.group(1))) for i, name in enumerate(models)
              if (m := TOP.match(name)) and plugins.get("model_loaders", name) is None]
    if not wanted:
        return None
    where = recipe.where("run.models")
    ranking = latest_ranking(Path(recipe.run.output_dir))
    if ranking is None:
        raise RecipeError([f"{where}: run.models: {models[wanted[0][0]]} needs an earlier screening run in "
                           f"{recipe.run.output_dir} to rank the models; run the first step first, e.g. dialsum run "
                           "recipes/single.toml --set 'run.models=[\"all\"]' --set run.debug=true"])
    folder, ranked = ranking
    out: list[str] = []
    for i, name in enumerate(models):
        n = dict(wanted).get(i)
        if n is None:
            out.append(name)
            continue
        if n < 1 or n > len(ranked):
            raise RecipeError([f"{where}: run.models: {name}: the screening run {folder.name} ranked "
                               f"{len(ranked)} models ({', '.join(ranked)})"])
        out.extend(ranked[:n])
        log.info("%s: %s from the screening run %s", name, ", ".join(ranked[:n]), folder.name)
    unique = list(dict.fromkeys(out))
    return recipe.evolve(run=attrs.evolve(recipe.run, models=unique))
