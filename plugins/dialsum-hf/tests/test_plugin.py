"""Registrations, presets and `dialsum check` problems (no model is loaded here)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dialsum_core.manager import build_plugins
from dialsum_core.recipe import Recipe
from dialsum_hf.plugin import check_model
from dialsum_hf.presets import PRESETS, TEMPLATES, render_template
from dialsum_hf.sections import check_train

PRESET_NAMES = {"kobart", "solar-10.7b", "polyglot-ko-12.8b", "kullm-v2", "koalpaca", "ldcc-solar"}


def test_entry_point_does_not_import_torch() -> None:
    code = ("import sys, dialsum_hf.plugin; "
            "sys.exit(1 if 'torch' in sys.modules or 'transformers' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_every_loader_and_preset_is_registered_with_tags_and_hub_ids() -> None:
    plugins = build_plugins()
    for name in ("scratch", "hf-seq2seq", "hf-causal", *PRESET_NAMES):
        reg = plugins.require("model_loaders", name)
        assert "token-ensemble" in reg.tags
    presets = {r.name: r for r in plugins.registry.tagged("model_loaders", "preset")}
    assert PRESET_NAMES <= set(presets)
    assert presets["kobart"].defaults["model_name_or_path"] == "digit82/kobart-summarization"
    assert presets["solar-10.7b"].defaults["model_name_or_path"].startswith("upstage/SOLAR-10.7B")
    assert presets["kullm-v2"].defaults["lora_target_modules"] == ["query_key_value"]


def test_all_stands_for_every_preset_once_in_the_recipe_that_runs() -> None:
    plugins = build_plugins()
    resolved = plugins.resolve(Recipe.from_dict({"run": {"models": ["kobart", "all", "scratch"]}}))
    presets = [r.name for r in plugins.registry.tagged("model_loaders", "preset")]
    assert resolved.run.models == list(dict.fromkeys(["kobart", *presets, "scratch"]))
    assert PRESET_NAMES <= set(presets)
    # without dialsum-hf nobody stands behind "all": it is an unknown model loader, as any other name
    bare = build_plugins(["hf"])
    recipe = Recipe.from_dict({"run": {"mode": "single", "models": ["all"]}}, schema=bare.schema)
    problems = bare.resolve(recipe).problems(bare)
    assert any("run.models" in p and "unknown model loader 'all'" in p for p in problems), problems


def test_preset_defaults_are_overridable_from_the_recipe_table() -> None:
    plugins = build_plugins()
    recipe = Recipe.from_dict({"models": {"solar-10.7b": {"use_lora": False, "lora_r": 4}}})
    opts = recipe.options("model_loaders", "solar-10.7b", plugins)
    assert (opts.use_lora, opts.lora_r, opts.prompt_template) == (False, 4, "solar")
    assert opts.model_name_or_path == PRESETS["solar-10.7b"][2]["model_name_or_path"]


def test_templates_place_the_dialogue_and_end_with_the_answer_marker() -> None:
    for name in TEMPLATES:
        text = render_template(name, "요약하세요.", "#Person1#: 안녕")
        assert "#Person1#: 안녕" in text and "요약하세요." in text
    assert render_template("대화: {dialogue}\n요약:", "x", "D") == "대화: D\n요약:"


def _problems(models: dict, name: str, **train: object) -> list[tuple[str, str]]:
    recipe = Recipe.from_dict({"run": {"models": [name]}, "models": models, "train": dict(train)})
    plugins = build_plugins()
    return check_model(recipe, plugins, name=name) + check_train(recipe, plugins)


def test_a_train_mistake_is_reported_once_whatever_the_number_of_models() -> None:
    """[train] is checked once per recipe by its owner, not once per model that reads it."""
    recipe = Recipe.from_dict({"run": {"mode": "multi_model", "models": ["scratch", "hf-seq2seq", "hf-causal"],
                                       "ensemble": "majority_vote"}, "train": {"scheduler": "cosinus"}})
    found = [p for p in recipe.problems(build_plugins()) if "train.scheduler" in p]
    assert len(found) == 1 and "unknown scheduler 'cosinus'" in found[0]


def test_check_reports_quantization_without_cuda() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available: 4-bit loading is allowed here")
    found = _problems({"solar-10.7b": {"load_in_4bit": True}}, "solar-10.7b")
    keys = [k for k, _ in found]
    assert "models.solar-10.7b.load_in_4bit" in keys
    assert any("CUDA" in msg for _, msg in found)


def test_check_reports_recipe_mistakes() -> None:
    found = dict(_problems({"hf-causal": {"prompt_template": "nonsense", "merge_lora": True}}, "hf-causal",
                           scheduler="cosinus"))
    assert "not set" in found["models.hf-causal.model_name_or_path"]
    assert "template" in found["models.hf-causal.prompt_template"]
    assert "use_lora" in found["models.hf-causal.merge_lora"]
    assert "cosine" in found["train.scheduler"]
    assert _problems({}, "scratch") == []


@pytest.mark.parametrize("bits", [4, 8])
def test_dialsum_check_refuses_quantization_without_cuda(tmp_path, bits: int) -> None:
    import torch
    from click.testing import CliRunner

    from dialsum_core.cli import cli

    if torch.cuda.is_available():
        pytest.skip("CUDA is available: quantized loading is allowed here")
    recipe = tmp_path / "q.toml"
    recipe.write_text(f'[run]\nmodels = ["kullm-v2"]\n[data]\ntrain_path = "train.csv"\n'
                      f'[models."kullm-v2"]\nload_in_{bits}bit = true\n', encoding="utf-8")
    res = CliRunner().invoke(cli, ["check", str(recipe)])
    assert res.exit_code == 2
    assert f"models.kullm-v2.load_in_{bits}bit: 4-bit/8-bit loading needs a CUDA GPU" in res.output


def test_special_tokens_keep_known_then_found_order() -> None:
    from dialsum_core.data import KNOWN_TAGS, Example
    from dialsum_hf.tokenizer import special_tokens

    toks = special_tokens([Example("a", "#Person1#: #Nickname# 이에요", ("#Other#",))], extra=["<sep>"])
    assert toks[: len(KNOWN_TAGS)] == list(KNOWN_TAGS)
    assert toks[len(KNOWN_TAGS) :] == ["<sep>", "#Nickname#", "#Other#"]


def test_all_is_expanded_in_a_recipe_read_with_problems_which_are_kept() -> None:
    """``dialsum check`` lists every problem at once: ``all`` is not reported as unknown beside them."""
    plugins = build_plugins()
    recipe = Recipe.from_dict({"run": {"mode": "single", "models": ["all"]}, "train": {"epochs": "x"}},
                              schema=plugins.schema, strict=False)
    problems = plugins.resolve(recipe).problems(plugins)
    assert any("train.epochs" in p for p in problems), problems
    assert not any("'all'" in p for p in problems), problems


def test_check_refuses_metrics_that_cannot_give_the_checkpoint_score() -> None:
    """The best checkpoint is kept by rouge_mean: with BLEU alone every checkpoint would score 0."""
    plugins = build_plugins()
    recipe = Recipe.from_dict({"run": {"mode": "single", "models": ["scratch"], "metrics": ["bleu"]}},
                              schema=plugins.schema)
    problems = recipe.problems(plugins)
    assert [p for p in problems if "run.metrics:" in p] == [
        "<python>: run.metrics: the Hugging Face models keep the checkpoint with the best rouge_mean, which none "
        "of ['bleu'] gives; add a metric that does (\"rouge\")"], problems
    fine = recipe.override(("run.metrics", ["rouge", "bleu"])).problems(plugins)
    assert not any("run.metrics" in p for p in fine), fine
