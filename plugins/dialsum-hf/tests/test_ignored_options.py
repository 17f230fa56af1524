"""Keys a recipe sets that the run ignores (LoRA options without ``use_lora``, a warm-up without a schedule
that has one) are warned about once by the run's log and by ``dialsum check``, naming the key and the file
that set it; values that only come from defaults or a preset's registered defaults say nothing."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from conftest import _deep_merge, base_recipe
from dialsum_core.manager import build_plugins
from dialsum_core.recipe import Recipe, load_recipe
from dialsum_core.runner import resolve, run_recipe


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)


def write_toml(path: Path, data: dict[str, Any], extends: str = "") -> Path:
    lines = [f'extends = "{extends}"'] if extends else []
    for table, keys in data.items():
        for sub, values in keys.items():
            if isinstance(values, dict):
                lines += [f'[{table}."{sub}"]', *(f"{k} = {_toml_value(v)}" for k, v in values.items())]
            else:
                lines += [f"[{table}]"] if f"[{table}]" not in lines else []
                lines.append(f"{sub} = {_toml_value(values)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_run_says_once_which_inherited_keys_it_ignores(data_dir: Path, tiny_models: dict[str, Path],
                                                         caplog: pytest.LogCaptureFixture) -> None:
    """A base recipe training LoRA adapters after a warm-up, and a recipe extending it that turns LoRA
    off and picks a constant schedule: a real use, so the run goes on, and says what no longer acts."""
    recipe = _deep_merge(base_recipe(data_dir), {
        "run": {"models": ["hf-seq2seq"], "mode": "single"},
        "train": {"scheduler": "cosine", "warmup_ratio": 0.2},
        "models": {"hf-seq2seq": {"model_name_or_path": str(tiny_models["bart"]), "use_lora": True,
                                  "lora_r": 4, "lora_dropout": 0.2}},
    })
    del recipe["models"]["scratch"]
    base = write_toml(data_dir / "base.toml", recipe)
    child = write_toml(data_dir / "child.toml", {"models": {"hf-seq2seq": {"use_lora": False}},
                                                 "train": {"scheduler": "constant"}}, extends="base.toml")
    with caplog.at_level(logging.INFO, logger="dialsum"):
        result = run_recipe(load_recipe(child))
    assert result.results["status"] == "complete"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    lora = [w for w in warnings if "lora_" in w]
    assert lora == [f"{base}: models.hf-seq2seq.{key}: changes nothing: models.hf-seq2seq.use_lora is false, so no "
                    "LoRA adapters are trained (set it to true for them)" for key in ("lora_r", "lora_dropout")]
    warmup = [w for w in warnings if "warmup_ratio" in w]
    assert len(warmup) == 1 and warmup[0].startswith(f"{base}: train.warmup_ratio: changes nothing: "), warnings
    assert "'constant' schedule" in warmup[0]
    # dialsum check says the same, as warnings, and passes the recipe
    from click.testing import CliRunner

    from dialsum_core.cli import cli

    checked = CliRunner().invoke(cli, ["check", str(child)])
    assert checked.exit_code == 0, checked.output
    assert [line.removeprefix("warning: ") for line in checked.output.splitlines()
            if line.startswith("warning: ")] == lora + warmup


def lines_for(tables: dict[str, Any], train: dict[str, Any] | None = None, models: list[str] | None = None,
              overrides: tuple[str, ...] = ()) -> list[str]:
    """What a run of this recipe (built in Python, resolved as the runner resolves it) would say."""
    plugins = build_plugins()
    recipe = Recipe.from_dict({"run": {"models": models or list(tables)}, "train": train or {},
                               "models": tables}, schema=plugins.schema)
    if overrides:
        recipe = recipe.override(*overrides)
    return resolve(recipe, plugins, "x").ignored(plugins)


def test_defaults_and_preset_defaults_say_nothing() -> None:
    # kobart registers lora_target_modules and trains no LoRA: not the user's doing
    assert lines_for({"kobart": {}}) == []
    assert lines_for({"hf-causal": {"model_name_or_path": "org/model"}}) == []
    # the default warm-up share with a constant schedule: nobody asked for a warm-up
    assert lines_for({"kobart": {}}, train={"scheduler": "constant"}) == []
    # a warm-up with a schedule that has one acts
    assert lines_for({"kobart": {}}, train={"scheduler": "linear", "warmup_ratio": 0.3}) == []
    # LoRA on: its options act
    assert lines_for({"kobart": {"use_lora": True, "lora_r": 4}}) == []


def test_keys_set_in_python_or_with_set_are_said() -> None:
    found = lines_for({"kobart": {"lora_alpha": 8}}, train={"scheduler": "reduce_lr_on_plateau", "warmup_ratio": 0.3})
    assert found == [
        "<python>: models.kobart.lora_alpha: changes nothing: models.kobart.use_lora is false, so no LoRA adapters "
        "are trained (set it to true for them)",
        "<python>: train.warmup_ratio: changes nothing: the 'reduce_lr_on_plateau' schedule (train.scheduler) has "
        "no warm-up (constant_with_warmup has one)"], found
    # --set a preset's own default value: the user set it, so it is said
    found = lines_for({"kobart": {}}, overrides=('models.kobart.lora_target_modules=["q_proj", "v_proj"]',))
    assert len(found) == 1 and found[0].startswith("--set: models.kobart.lora_target_modules: changes nothing"), found


def test_models_of_other_loaders_are_not_read() -> None:
    assert lines_for({"scratch": {}}, train={"scheduler": "constant", "warmup_ratio": 0.3}, models=["lead"]) == []
