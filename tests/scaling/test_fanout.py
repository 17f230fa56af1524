"""Fan-out jobs (``run.only = ["fold=N"]``, ``["model=NAME"]``): independent runs train their part of one
experiment, and a final run of the same recipe reuses it all and only ensembles."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dialsum_core.errors import RecipeError
from dialsum_core.manager import Plugins
from dialsum_core.recipe import load_recipe
from dialsum_core.runner import run_recipe

from .conftest import LEAD_KFOLD, dialsum, dialsum_env, read_json, read_rows, write_recipe

REUSED = "already trained in this experiment"
SLURM_EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "slurm_kfold.sh"


def _comparable(results: dict[str, Any]) -> dict[str, Any]:
    """Everything a run scored, less what names its own experiment folder."""
    drop = ("experiment", "elapsed_seconds", "folds", "models_results")
    out = {k: v for k, v in results.items() if k not in drop}
    out["folds"] = [{k: v for k, v in f.items() if k != "checkpoint"} for f in results.get("folds", [])]
    out["models_results"] = {m: {k: v for k, v in r.items() if k != "checkpoint"}
                             for m, r in results.get("models_results", {}).items()}
    if "best_checkpoint" in out:  # the same model, inside each run's own folder
        out["best_checkpoint"] = out["best_checkpoint"].split("/checkpoints/", 1)[-1]
    return out


def _same_predictions(a: Path, b: Path) -> None:
    names = sorted(p.name for p in (a / "predictions").iterdir())
    assert names == sorted(p.name for p in (b / "predictions").iterdir()) and "submission.csv" in names
    for name in names:
        assert read_rows(a / "predictions" / name) == read_rows(b / "predictions" / name), name


FAKE_SBATCH = """#!{python}
# Records each submission and answers a job id, as ``sbatch --parsable`` does.
import json, os, sys
with open(os.environ["SBATCH_RECORD"], "a", encoding="utf-8") as fh:
    fh.write(json.dumps(sys.argv[1:]) + "\\n")
with open(os.environ["SBATCH_RECORD"], encoding="utf-8") as fh:
    print(1000 + sum(1 for _ in fh))
"""


def _submit_with_the_slurm_example(tmp_path: Path, recipe: Path, name: str, k: int) -> list[dict[str, str]]:
    """Run docs/examples/slurm_kfold.sh against a recording ``sbatch``; its submissions, as options."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text(FAKE_SBATCH.format(python=sys.executable), encoding="utf-8")
    (bin_dir / "sbatch").chmod(0o755)
    record = tmp_path / "sbatch.jsonl"
    env = {**dialsum_env(), "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "SBATCH_RECORD": str(record),
           "DIALSUM": f"{sys.executable} -m dialsum_core"}
    out = subprocess.run(["bash", str(SLURM_EXAMPLE), str(recipe), name, str(k)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, check=False, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"submitted folds 1001 (array 1-{k}) and final job 1002"
    submissions = [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines()]
    return [dict(a[2:].split("=", 1) for a in argv if a.startswith("--") and "=" in a) for argv in submissions]


@pytest.mark.slow  # five dialsum processes, three of them side by side: about 25 s on two cores
def test_fold_jobs_and_a_final_run_give_the_results_of_one_plain_run(small_data: Path, tmp_path: Path) -> None:
    recipe = write_recipe(tmp_path / "kfold.toml", small_data,
                          LEAD_KFOLD.replace("[run]\n", f'[run]\noutput_dir = "{tmp_path / "exp"}"\n'))
    folds, final_job = _submit_with_the_slurm_example(tmp_path, recipe, "fan", 3)
    assert folds["array"] == "1-3" and final_job["dependency"] == "afterok:1001"
    # what Slurm would do: the array's tasks side by side, then the final job
    jobs = [subprocess.Popen(["bash", "-c", folds["wrap"]], cwd=tmp_path, env={**dialsum_env(),
                             "SLURM_ARRAY_TASK_ID": str(n)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for n in (1, 2, 3)]
    outputs = [job.communicate(timeout=240) for job in jobs]
    exp = tmp_path / "exp" / "fan"
    for n, (job, (out, err)) in enumerate(zip(jobs, outputs, strict=True), start=1):
        assert job.returncode == 0, err[-3000:]
        assert f"results: {exp / 'jobs' / f'fold_{n}' / 'results.json'}" in out
        report = read_json(exp / "jobs" / f"fold_{n}" / "results.json")
        assert report["partial"] is True and report["only"] == [f"fold={n}"]
        assert list(report["trained"]) == [f"lead/fold{n}"] and [f["fold"] for f in report["folds"]] == [n]
        assert (exp / "jobs" / f"fold_{n}" / "config.toml").is_file()
        assert (exp / "jobs" / f"fold_{n}" / "train.log").is_file()
    # the jobs wrote their folds and their own folders, nothing of the final stages
    assert sorted(p.name for p in (exp / "stages" / "sources").iterdir()) == [
        "lead__fold1.json", "lead__fold2.json", "lead__fold3.json"]
    assert not (exp / "results.json").exists() and not (exp / "train.log").exists()
    assert not any((exp / "predictions").iterdir())

    final = subprocess.run(["bash", "-c", final_job["wrap"]], cwd=tmp_path, env=dialsum_env(), capture_output=True,
                           text=True, check=False, timeout=240)
    assert final.returncode == 0, final.stderr[-3000:]
    log = (exp / "train.log").read_text(encoding="utf-8")
    assert log.count(REUSED) == 3 and "training lead on" not in log  # it only ensembled

    plain = dialsum("run", str(recipe), "--set", "run.name=plain", "--set", "modes.kfold.k_folds=3", cwd=tmp_path)
    assert plain.returncode == 0, plain.stderr[-3000:]
    assert _comparable(read_json(exp / "results.json")) == _comparable(read_json(tmp_path / "exp" / "plain" /
                                                                                 "results.json"))
    _same_predictions(exp, tmp_path / "exp" / "plain")


def _slow_lead(site: Path) -> object:
    spec = importlib.util.spec_from_file_location("dialsum_slow_lead", site / "dialsum_slow_lead.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_model_jobs_and_a_final_multi_model_run_give_the_plain_results(
        small_data: Path, slow_lead_site: Path, tmp_path: Path,
        register_plugin: Callable[[object, str], Plugins]) -> None:
    plugins = register_plugin(_slow_lead(slow_lead_site), "slow-lead-test")
    recipe = write_recipe(tmp_path / "multi.toml", small_data, LEAD_KFOLD.replace('"kfold"', '"multi_model"').replace(
        '["lead"]', '["lead", "slow-lead"]') + "[models.slow-lead]\nstrip_speaker = true\n")

    def run(name: str, *only: str) -> dict[str, Any]:
        overrides = [f"run.output_dir={tmp_path / 'exp'}", f"run.name={name}", f"run.only={list(only)!r}"]
        return run_recipe(load_recipe(recipe, [o.replace("'", '"') for o in overrides]), plugins).results

    for model in ("lead", "slow-lead"):
        job = run("fan", f"model={model}")
        assert job["partial"] is True and list(job["trained"]) == [model]
    final, plain = run("fan"), run("plain")
    assert final["ensemble"]["weights_from"] == plain["ensemble"]["weights_from"]
    assert _comparable(final) == _comparable(plain) and final["models_results"].keys() == {"lead", "slow-lead"}
    _same_predictions(tmp_path / "exp" / "fan", tmp_path / "exp" / "plain")
    log = (tmp_path / "exp" / "fan" / "train.log").read_text(encoding="utf-8")
    assert log.count(REUSED) == 2


def test_jobs_need_a_shared_name_and_something_to_do(small_data: Path, tmp_path: Path,
                                                     dialsum_plugins: Plugins) -> None:
    recipe = write_recipe(tmp_path / "kfold.toml", small_data, LEAD_KFOLD)
    base = [f"run.output_dir={tmp_path / 'exp'}"]
    with pytest.raises(RecipeError, match=r"run\.only: needs run\.name"):
        run_recipe(load_recipe(recipe, [*base, 'run.only=["fold=1"]']), dialsum_plugins)
    assert not (tmp_path / "exp").exists()  # refused before anything was written
    with pytest.raises(RecipeError, match=r"run\.only: selects fold 4, but the kfold mode has 3 folds"):
        run_recipe(load_recipe(recipe, [*base, "run.name=x", 'run.only=["fold=4"]']), dialsum_plugins)
    assert not (tmp_path / "exp").exists()  # a fold the run does not have: refused before any job folder
    bad = dialsum("run", str(recipe), "--set", base[0], "--set", "run.name=x", "--set", 'run.only=["epoch=2"]',
                  cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "run.only" in bad.stderr
