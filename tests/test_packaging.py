"""Every distribution of the repository (and every one ``dialsum new-plugin`` writes) builds without
setuptools deprecation warnings: ``make install`` builds each of them, and a warning repeated for
every distribution buries the messages that matter."""

from __future__ import annotations

import tomllib
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECTS = [ROOT / "pyproject.toml", *sorted(ROOT.glob("plugins/*/pyproject.toml")),
              ROOT / "examples" / "dialsum-lead" / "pyproject.toml"]


def _scaffolded(tmp_path: Path) -> Path:
    from dialsum_tools.scaffold import new_plugin

    return new_plugin("sk-packaging", "metric", tmp_path) / "pyproject.toml"


@pytest.mark.parametrize("where", [*(str(p.relative_to(ROOT)) for p in PYPROJECTS), "new-plugin"])
def test_pyproject_builds_without_setuptools_deprecations(where: str, tmp_path: Path) -> None:
    pytest.importorskip("setuptools")
    from packaging.requirements import Requirement
    from setuptools.config.pyprojecttoml import apply_configuration
    from setuptools.dist import Distribution

    path = _scaffolded(tmp_path) if where == "new-plugin" else ROOT / where
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dist = apply_configuration(Distribution(), str(path))
    deprecations = [str(w.message).splitlines()[0] for w in caught if "Deprecat" in w.category.__name__]
    assert deprecations == [], f"{where}: {deprecations}"

    project = tomllib.loads(path.read_text(encoding="utf-8"))
    license_ = project["project"].get("license")
    assert license_ is None or isinstance(license_, str), f"{where}: license must be an SPDX string"
    if license_ is not None:  # an SPDX string is understood from setuptools 77 on
        [setuptools] = [Requirement(r) for r in project["build-system"]["requires"]
                        if Requirement(r).name == "setuptools"]
        assert not setuptools.specifier.contains("76.9"), f"{where}: needs setuptools>=77"
    if where != "new-plugin":  # the bundled distributions share the repository's license
        assert dist.metadata.license_expression == "Apache-2.0"
