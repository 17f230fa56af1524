"""Safety: what a run writes and loads, what it runs, and where it writes.

* Checkpoints: a scratch BART run writes safetensors weights and no pickle file (``*.bin``,
  ``*.pt``, ``*.pth``...) unless the recipe sets ``train.save_training_state``; a saved model
  whose weights are a pickle is refused when loaded.
* ``trust_remote_code`` is off by default for every model loader and preset: a local model folder
  that ships its own Python code (``auto_map``) is loaded with the library's classes and its code
  never runs, unless the recipe turns the option on.
* Secrets: ``WANDB_API_KEY``, ``HF_TOKEN`` and ``HUGGING_FACE_HUB_TOKEN`` set to random values in
  the environment of real runs (every logger on, W&B offline) appear in no file the run writes
  (experiment folder, working directory, home directory) and not in its output.
* Paths: experiment names, loggers' file names and Optuna storage paths that would leave the
  experiment folder are refused (exit code 2, one line naming the key, nothing created); a
  symbolic link inside the experiment folder that points outside is not followed.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from .runs import TINY_SCRATCH, dialsum_run, files_under, lead_recipe, small_data, write_recipe

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
SECRETS = {name: secrets.token_hex(20) for name in ("WANDB_API_KEY", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")}
LOGGERS = ["file", "console", "jsonl", "tensorboard", "wandb"]
SCRATCH_LOGGERS = {"run": {**TINY_SCRATCH["run"], "loggers": LOGGERS}, "loggers": {"wandb": {"mode": "offline"}}}


class Run:
    """A ``dialsum run`` in a fresh working and home directory, with secrets in its environment."""

    def __init__(self, folder: Path, recipe: dict[str, Any], name: str, *sets: str):
        self.folder = folder
        self.cwd, self.home = folder / "cwd", folder / "home"
        self.cwd.mkdir(parents=True)
        self.home.mkdir()
        path = write_recipe(folder / "r.toml", recipe)
        env = {**SECRETS, "HOME": str(self.home), "WANDB_MODE": "offline", "HF_HUB_OFFLINE": "1"}
        self.result = dialsum_run(path, f"run.name={name}", *sets, env=env, cwd=self.cwd)
        assert self.result.returncode == 0, self.result.stderr[-3000:]
        self.root = Path(recipe["run"]["output_dir"]) / name

    def written(self) -> list[Path]:
        return [*files_under(self.root), *files_under(self.cwd), *files_under(self.home)]


def scratch_run(folder: Path, *sets: str) -> Run:
    data = small_data(folder / "data", n_train=24, n_dev=6, n_test=6)
    recipe = lead_recipe(data, folder / "experiments", **{**TINY_SCRATCH, **SCRATCH_LOGGERS})
    return Run(folder, recipe, "scratch", *sets)


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """A tiny scratch BART trained, evaluated and saved with the default options (about 15 s)."""
    return scratch_run(tmp_path_factory.mktemp("safety-default"))


# ------------------------------------------------------------------------------------------------
# Checkpoints
# ------------------------------------------------------------------------------------------------
def pickles(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in files_under(root) if p.suffix in PICKLE_SUFFIXES)


def test_checkpoints_are_safetensors_without_pickle(default_run: Run, tally: Counter[str]) -> None:
    assert pickles(default_run.root) == []
    weights = sorted(p.name for p in (default_run.root / "checkpoints").rglob("*.safetensors"))
    assert weights == ["model.safetensors"], weights
    tally["scratch runs scanned for pickle files"] += 1


def test_a_saved_model_with_pickled_weights_is_refused(default_run: Run, tmp_path: Path) -> None:
    import torch

    from dialsum_core.errors import DialsumError
    from dialsum_hf.testing import run_context

    results = json.loads((default_run.root / "results.json").read_text(encoding="utf-8"))
    checkpoint = Path(results["models_results"]["scratch"]["checkpoint"])
    # the recipe the model was trained with: its lengths fit the model's position table (the default
    # max_new_tokens would decode past it, as no checked recipe can)
    ctx = run_context({**{k: TINY_SCRATCH[k] for k in ("models", "data", "generation")},
                       "run": {"output_dir": str(tmp_path / "exp")}})
    loader = ctx.build("model_loaders", "scratch")
    model = loader.load(ctx, checkpoint)  # the safetensors checkpoint loads
    assert model.generate(["#Person1#: 안녕하세요"], ctx)

    pickled = tmp_path / "pickled"
    shutil.copytree(checkpoint, pickled)
    (pickled / "model.safetensors").unlink()
    torch.save(model.model.state_dict(), pickled / "pytorch_model.bin")
    with pytest.raises(DialsumError, match="cannot load the saved model"):
        loader.load(ctx, pickled)


@pytest.mark.slow
def test_training_state_is_pickled_only_when_the_recipe_asks(tmp_path: Path) -> None:
    """The opt-in: ``train.save_training_state = true`` adds the Trainer's resume state (a second
    scratch run, about 15 s)."""
    run = scratch_run(tmp_path, "train.save_training_state=true")
    names = {Path(p).name for p in pickles(run.root)}
    assert {"optimizer.pt", "scheduler.pt", "rng_state.pth"} <= names, names
    assert not any(s.encode() in p.read_bytes() for p in run.written() for s in SECRETS.values())


# ------------------------------------------------------------------------------------------------
# trust_remote_code
# ------------------------------------------------------------------------------------------------
def test_trust_remote_code_defaults_to_false_for_every_model_loader() -> None:
    from dialsum_core.manager import build_plugins
    from dialsum_core.recipe.model import plugin_options

    plugins = build_plugins()
    checked = []
    for reg in plugins.registry.of_kind("model_loaders"):
        options, problems = plugin_options(reg, {})
        assert not problems, problems
        if hasattr(options, "trust_remote_code"):
            assert options.trust_remote_code is False, reg.name
            checked.append(reg.name)
    assert "hf-seq2seq" in checked and "hf-causal" in checked and len(checked) >= 4, checked


REMOTE_CODE = '''
from pathlib import Path
from transformers import BartConfig, BartForConditionalGeneration

Path({marker!r}).write_text("the model folder's code ran", encoding="utf-8")


class RemoteConfig(BartConfig):
    pass


class RemoteModel(BartForConditionalGeneration):
    config_class = RemoteConfig
'''

LOAD_WITH_AND_WITHOUT_TRUST = '''
import json, sys
from pathlib import Path
from dialsum_core.testing import TINY_DIALOGUES, write_csv
from dialsum_hf.testing import run_context, save_tiny_model

work, marker, code = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
folder = save_tiny_model("bart", work / "model", [t for row in TINY_DIALOGUES for t in row[1:3]], vocab_size=120,
                         d_model=16, layers=1)
(folder / "remote_bart.py").write_text(code, encoding="utf-8")
config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
config["auto_map"] = {"AutoConfig": "remote_bart.RemoteConfig", "AutoModelForSeq2SeqLM": "remote_bart.RemoteModel"}
(folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
train = write_csv(work / "train.csv", TINY_DIALOGUES)
for trust in (None, True):
    table = {"model_name_or_path": str(folder)} | ({} if trust is None else {"trust_remote_code": trust})
    ctx = run_context({"run": {"models": ["hf-seq2seq"], "output_dir": str(work / "exp")},
                       "data": {"train_path": str(train)}, "models": {"hf-seq2seq": table}}, name=f"t{trust}")
    model = ctx.build("model_loaders", "hf-seq2seq").build(ctx, ctx.data().train)
    print(json.dumps({"trust": trust, "ran": marker.exists(), "class": type(model.model).__name__}), flush=True)
'''


def test_model_folder_code_runs_only_with_trust_remote_code(tmp_path: Path, tally: Counter[str]) -> None:
    marker = tmp_path / "remote-code-ran"
    env = {**os.environ, "HF_MODULES_CACHE": str(tmp_path / "modules"), "HF_HUB_OFFLINE": "1"}
    res = subprocess.run([sys.executable, "-c", LOAD_WITH_AND_WITHOUT_TRUST, str(tmp_path), str(marker),
                          REMOTE_CODE.format(marker=str(marker))], capture_output=True, text=True, env=env,
                         timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    default, trusted = [json.loads(ln) for ln in res.stdout.splitlines() if ln.startswith("{")]
    assert default == {"trust": None, "ran": False, "class": "BartForConditionalGeneration"}
    assert trusted == {"trust": True, "ran": True, "class": "RemoteModel"}  # the option does reach transformers
    tally["model folders with their own code, loaded without running it"] += 1


# ------------------------------------------------------------------------------------------------
# Secrets
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lead_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    folder = tmp_path_factory.mktemp("safety-lead")
    recipe = lead_recipe(small_data(folder / "data"), folder / "experiments",
                         run={"loggers": LOGGERS, "save_visualizations": True},
                         loggers={"wandb": {"mode": "offline"}})
    return Run(folder, recipe, "lead")


@pytest.mark.parametrize("which", ["lead", "scratch"])
def test_secrets_from_the_environment_are_written_nowhere(which: str, lead_run: Run, default_run: Run,
                                                          tally: Counter[str]) -> None:
    run = lead_run if which == "lead" else default_run
    written = run.written()
    wandb_files = [p for p in written if "wandb" in p.parts]
    assert any(p.suffix == ".wandb" for p in wandb_files), "the W&B logger wrote no offline run"
    assert (run.root / "config.toml").exists() and (run.root / "train.log").exists()
    for path in written:
        data = path.read_bytes()
        for name, value in SECRETS.items():
            assert value.encode() not in data, f"{name} written to {path}"
    for name, value in SECRETS.items():
        assert value not in run.result.stdout and value not in run.result.stderr, name
    tally["files scanned for secrets"] += len(written)


# ------------------------------------------------------------------------------------------------
# Paths
# ------------------------------------------------------------------------------------------------
OUTSIDE = "OUTSIDE_PLACEHOLDER"
ESCAPES = [
    ("run.name", '"../escape"'),
    ("run.name", f'"{OUTSIDE}/abs"'),
    ("run.name", '".."'),
    ("run.name", '"a\\\\b"'),
    ("run.name", '"x\\u0000y"'),
    ("run.output_dir", '"out\\nput"'),
    ("loggers.file.filename", '"../escape.log"'),
    ("loggers.jsonl.filename", f'"{OUTSIDE}/metrics.jsonl"'),
    ("loggers.tensorboard.log_dir", '"tb/../../tb"'),
    ("modes.optuna.storage", '"../../escape.db"'),
    ("modes.optuna.storage", '"journal://../escape.log"'),
    ("modes.optuna.storage", '"sqlite:///escape.db"'),
]
OPTUNA: dict[str, Any] = {"optuna": {"trials": 1, "sampler": "random", "pruner": "none",
                                     "space": {"models.lead.turns": {"type": "int", "low": 1, "high": 3}}}}


@pytest.fixture(scope="module")
def optuna_recipe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("safety-paths")
    recipe = lead_recipe(small_data(folder / "data"), folder / "out" / "experiments",
                         run={"mode": "optuna", "loggers": ["file", "jsonl", "tensorboard"]},
                         models={"lead": {"tune": False}}, modes=OPTUNA)
    return write_recipe(folder / "r.toml", recipe)


def snapshot(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.parametrize(("key", "value"), ESCAPES, ids=[f"{k}={v}" for k, v in ESCAPES])
def test_paths_that_leave_the_experiment_folder_are_refused(optuna_recipe: Path, tmp_path: Path, key: str,
                                                             value: str, tally: Counter[str]) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    before = snapshot(optuna_recipe.parent), snapshot(tmp_path)
    res = dialsum_run(optuna_recipe, "run.name=paths", f"{key}={value.replace(OUTSIDE, str(outside))}")
    assert res.returncode == 2, res.stderr[-2000:]
    assert "Traceback" not in res.stderr
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith(f"error: --set: {key}: "), res.stderr
    assert (snapshot(optuna_recipe.parent), snapshot(tmp_path)) == before, "a refused recipe wrote something"
    tally["recipe paths leaving the experiment folder, refused"] += 1


def test_a_link_inside_the_experiment_folder_is_not_followed(optuna_recipe: Path, tmp_path: Path,
                                                              tally: Counter[str]) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = optuna_recipe.parent / "out" / "experiments" / "linked"
    root.mkdir(parents=True)
    (root / "tensorboard").symlink_to(outside, target_is_directory=True)
    res = dialsum_run(optuna_recipe, "run.name=linked", "modes.optuna.storage=\"sub/study.db\"")
    assert res.returncode == 0, res.stderr[-2000:]
    assert "logger:tensorboard could not start" in res.stderr and "outside the experiment folder" in res.stderr
    assert list(outside.iterdir()) == []
    assert (root / "sub" / "study.db").is_file()  # a relative storage path lands inside
    tally["links out of the experiment folder, not followed"] += 1
