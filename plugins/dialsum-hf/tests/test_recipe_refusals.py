"""Recipe values that ``dialsum run`` cannot use are refused as one line naming the key, by ``dialsum
check`` where that needs no model, else when the model is built, before any training: never a
traceback from transformers, peft or the Trainer halfway through a run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import _deep_merge, base_recipe, make_context, rows
from dialsum_core.errors import DialsumError


def problems(data_dir: Path, patch: dict[str, Any]) -> list[str]:
    """What ``dialsum check`` reports for the tests' base recipe with ``patch``."""
    from dialsum_core.manager import build_plugins
    from dialsum_core.recipe import Recipe

    plugins = build_plugins()
    recipe = Recipe.from_dict(_deep_merge(base_recipe(data_dir), {"run": {"mode": "single"}, **patch}),
                              schema=plugins.schema, strict=False)
    return recipe.problems(plugins)


def test_attention_heads_must_divide_d_model(data_dir: Path) -> None:
    found = problems(data_dir, {"models": {"scratch": {"d_model": 32, "attention_heads": 3}}})
    assert any("models.scratch.attention_heads: must divide d_model (32), got 3" in p for p in found), found
    assert not problems(data_dir, {"models": {"scratch": {"d_model": 32, "attention_heads": 4}}})
    # a value an optuna search space may sample is refused by its check too, naming the space entry
    space = {"modes": {"optuna": {"space": {"model.attention_heads": {"type": "categorical", "choices": [2, 3]}}}}}
    found = problems(data_dir, {"run": {"mode": "optuna"}, **space,
                                "models": {"scratch": {"d_model": 32, "attention_heads": 2}}})
    assert any("modes.optuna.space.model.attention_heads: value 3" in p and "must divide d_model" in p
               for p in found), found


@pytest.mark.parametrize("seed", [-1, 2**32])
def test_seed_out_of_range_is_refused(data_dir: Path, seed: int) -> None:
    found = problems(data_dir, {"run": {"seed": seed}})
    assert any(f"run.seed: must be in [0, 4294967295], got {seed}" in p for p in found), found
    assert not problems(data_dir, {"run": {"seed": 2**32 - 1}})


@pytest.mark.parametrize("scheduler", ["cosine_with_min_lr", "warmup_stable_decay"])
def test_schedulers_that_need_extra_arguments_train(context, tmp_path: Path, scheduler: str) -> None:
    ctx = context({"train": {"scheduler": scheduler, "warmup_ratio": 0.1, "epochs": 2}})
    data = ctx.data()
    model = ctx.build("model_loaders", "scratch").build(ctx, data.train)
    result = model.fit(data.train, data.valid, ctx, tmp_path / "ckpt")
    assert [h["epoch"] for h in result.history] == [1, 2]
    assert result.details["global_step"] > 0


def test_lora_targets_that_match_nothing_are_named(data_dir: Path, tiny_models: dict[str, Path]) -> None:
    table = {"model_name_or_path": str(tiny_models["bart"]), "use_lora": True,
             "lora_target_modules": ["qproj", "v_proj"]}
    # dialsum check reads the module names from the saved weights: the run no longer loads the model first
    found = problems(data_dir, {"run": {"models": ["hf-seq2seq"]}, "models": {"hf-seq2seq": table}})
    assert any("models.hf-seq2seq.lora_target_modules: ['qproj'] match no module of the model (its saved weights "
               "name modules such as " in p and "fc1" in p for p in found), found
    ctx = make_context(data_dir, {"run": {"models": ["hf-seq2seq"]}, "models": {"hf-seq2seq": table}})
    loader = ctx.build("model_loaders", "hf-seq2seq")
    with pytest.raises(DialsumError) as err:
        loader.build(ctx, ctx.data().train)
    message = str(err.value)
    assert message.startswith("models.hf-seq2seq.lora_target_modules: ['qproj'] match no module")
    assert "\n" not in message
    assert "'q_proj'" in message and "'fc1'" in message


def test_lora_targets_are_checked_against_the_weight_files_names(data_dir: Path, tiny_models: dict[str, Path],
                                                                 tmp_path: Path) -> None:
    """The names come from the safetensors header, or from the weight map of a sharded checkpoint; the
    modules a checkpoint may leave out because they are tied (BART's lm_head and embed_tokens) are
    accepted, as the loaded model has them."""
    import json

    def lora_problems(folder: Path, targets: list[str]) -> list[str]:
        table = {"model_name_or_path": str(folder), "use_lora": True, "lora_target_modules": targets}
        found = problems(data_dir, {"run": {"models": ["hf-causal"]}, "models": {"hf-causal": table}})
        return [p for p in found if ".lora_target_modules:" in p]

    llama = tiny_models["llama"]
    assert lora_problems(llama, ["q_proj", "lm_head", "layers.0.mlp.up_proj"]) == []
    assert lora_problems(tiny_models["bart"], ["lm_head", "fc1"]) == []  # tied: not saved
    (problem,) = lora_problems(llama, ["query_key_value", "q_proj"])  # GPT-NeoX's name given to a Llama model
    assert "models.hf-causal.lora_target_modules: ['query_key_value'] match no module" in problem
    assert "q_proj" in problem and ", layers," not in problem  # the leaves, not the containers
    sharded = tmp_path / "sharded"
    sharded.mkdir()
    for f in llama.iterdir():
        if f.name != "model.safetensors":
            (sharded / f.name).write_bytes(f.read_bytes())
    weight_map = {"model.layers.0.self_attn.q_proj.weight": "model-00001-of-00001.safetensors"}
    (sharded / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    assert lora_problems(sharded, ["q_proj"]) == []
    assert "['v_proj'] match no module" in lora_problems(sharded, ["v_proj"])[0]


def lora_outcomes(data_dir: Path, folder: Path, targets: list[str], loader: str = "hf-causal") -> tuple[list[str], str]:
    """What ``dialsum check`` says of ``lora_target_modules = targets`` for the model in ``folder``, and what
    building the model (loading it and wrapping it in LoRA, before any training) says: ``"ok"`` or the error."""
    patch = {"run": {"models": [loader]},
             "models": {loader: {"model_name_or_path": str(folder), "use_lora": True, "lora_target_modules": targets}}}
    found = [p for p in problems(data_dir, patch) if ".lora_target_modules:" in p]
    ctx = make_context(data_dir, patch)
    try:
        ctx.build("model_loaders", loader).build(ctx, ctx.data().train)
    except DialsumError as err:
        return found, str(err)
    return found, "ok"


@pytest.mark.parametrize(("family", "target"), [("llama", "self_attn"), ("llama", "mlp"), ("llama", "input_layernorm"),
                                                ("gpt_neox", "attention"), ("bart", "layernorm_embedding")])
def test_lora_targets_naming_modules_lora_cannot_adapt_are_refused(data_dir: Path, tiny_models: dict[str, Path],
                                                                   family: str, target: str) -> None:
    """peft adapts linear and embedding layers: a target naming a block of them or a norm made it raise a
    traceback while the run built the model, and the check said nothing."""
    loader = "hf-seq2seq" if family == "bart" else "hf-causal"
    found, run = lora_outcomes(data_dir, tiny_models[family], [target], loader)
    says = f"models.{loader}.lora_target_modules: ['{target}'] name modules LoRA cannot adapt"
    assert len(found) == 1 and says in found[0], found
    assert run.startswith(says) and "\n" not in run, run


def test_the_entries_of_a_quantized_weight_do_not_make_its_layer_a_block(data_dir: Path, tiny_models: dict[str, Path],
                                                                        tmp_path: Path) -> None:
    """A checkpoint saved 4-bit names a weight's own entries below it (``q_proj.weight.absmax``), a GPTQ
    one its packed tensors beside a one-dimensional ``g_idx``: their layers are still linear layers LoRA
    adapts, never blocks. The header is written as safetensors writes it (an 8-byte size, then JSON)."""
    import json
    import struct

    folder = tmp_path / "quantized"
    folder.mkdir()
    for f in tiny_models["llama"].iterdir():
        if f.name != "model.safetensors":
            (folder / f.name).write_bytes(f.read_bytes())
    shapes = {"model.layers.0.self_attn.q_proj.weight": [512, 1], "model.layers.0.self_attn.q_proj.weight.absmax": [8],
              "model.layers.0.self_attn.q_proj.weight.quant_state.bitsandbytes__nf4": [90],
              "model.layers.0.mlp.up_proj.qweight": [2, 32], "model.layers.0.mlp.up_proj.g_idx": [16],
              "model.layers.0.input_layernorm.weight": [16]}
    header = json.dumps({k: {"dtype": "U8", "shape": v, "data_offsets": [0, 0]} for k, v in shapes.items()}).encode()
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header)

    def lora_problems(targets: list[str]) -> list[str]:
        table = {"model_name_or_path": str(folder), "use_lora": True, "lora_target_modules": targets}
        return [p for p in problems(data_dir, {"run": {"models": ["hf-causal"]}, "models": {"hf-causal": table}})
                if ".lora_target_modules:" in p]

    assert lora_problems(["q_proj", "up_proj"]) == []
    assert "['input_layernorm'] name modules LoRA cannot adapt" in lora_problems(["q_proj", "input_layernorm"])[0]


def test_no_lora_targets_for_a_model_peft_has_no_default_for_is_refused(data_dir: Path, tiny_models: dict[str, Path],
                                                                         tmp_path: Path) -> None:
    """An empty ``lora_target_modules`` asks peft for its default of the architecture; it has none for an
    mBART (nor Pegasus, Marian...) and raised a traceback once the run had loaded the model. Both the check
    and the loader (before the weights load) now refuse it in one line; naming the modules runs."""
    from transformers import AutoModelForSeq2SeqLM, MBartConfig

    folder = tmp_path / "mbart"
    bart = AutoModelForSeq2SeqLM.from_pretrained(str(tiny_models["bart"])).config
    config = MBartConfig(**{k: v for k, v in bart.to_dict().items() if k not in ("model_type", "architectures")})
    AutoModelForSeq2SeqLM.from_config(config).save_pretrained(str(folder))
    for f in tiny_models["bart"].iterdir():
        if f.name.startswith("tokenizer") or f.name.startswith("special"):
            (folder / f.name).write_bytes(f.read_bytes())
    found, run = lora_outcomes(data_dir, folder, [], "hf-seq2seq")
    says = "models.hf-seq2seq.lora_target_modules: empty, and peft has no default modules to adapt in a mbart model"
    assert len(found) == 1 and says in found[0], found
    assert run.startswith(says) and "\n" not in run, run
    assert lora_outcomes(data_dir, folder, ["q_proj", "v_proj"], "hf-seq2seq") == ([], "ok")
    assert lora_outcomes(data_dir, tiny_models["bart"], [], "hf-seq2seq") == ([], "ok")  # peft knows BART's


@pytest.mark.parametrize("config", ["{not json", "[]", "no model_type"])
def test_a_model_folder_whose_config_names_no_model_is_refused(data_dir: Path, tiny_models: dict[str, Path],
                                                               tmp_path: Path, config: str) -> None:
    """A ``config.json`` that is no JSON object, or names no ``model_type``, passed the check; the run
    then stopped when it built the model, unable to tell which one it is."""
    import json

    folder = tmp_path / "model"
    folder.mkdir()
    for f in tiny_models["bart"].iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    if config == "no model_type":
        data = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        del data["model_type"]
        config = json.dumps(data)
    (folder / "config.json").write_text(config, encoding="utf-8")
    patch = {"run": {"models": ["hf-seq2seq"]}, "models": {"hf-seq2seq": {"model_name_or_path": str(folder)}}}
    found = problems(data_dir, patch)
    says = f"<python>: models.hf-seq2seq.model_name_or_path: {folder}: config.json "
    assert any(p.startswith(says) for p in found), found
    ctx = make_context(data_dir, patch)
    with pytest.raises(DialsumError, match=r"^models\.hf-seq2seq\.model_name_or_path: cannot load the folder"):
        ctx.build("model_loaders", "hf-seq2seq").build(ctx, ctx.data().train)


def test_torch_multihead_attention_is_a_lora_target_to_the_check_as_to_peft(tmp_path: Path) -> None:
    """peft adapts ``nn.MultiheadAttention`` though it holds ``out_proj``: the check reads it as peft does,
    from the names and shapes a real safetensors file of such a module gives."""
    import torch
    from safetensors.torch import save_file

    from dialsum_hf.loaders import lora_can_adapt
    from dialsum_hf.weights import lora_target_problem, saved_weights

    block = torch.nn.ModuleDict({"attn": torch.nn.MultiheadAttention(16, 2), "norm": torch.nn.LayerNorm(16)})
    tensors = {f"layers.0.{k}": v.contiguous() for k, v in block.state_dict().items()}
    save_file(tensors, str(tmp_path / "model.safetensors"))
    weights = saved_weights(tmp_path, "", "")
    assert weights is not None and lora_can_adapt(block["attn"]) and not lora_can_adapt(block["norm"])
    assert lora_target_problem(weights, ["attn", "out_proj"]) == ""
    assert "['norm'] name modules LoRA cannot adapt" in lora_target_problem(weights, ["attn", "norm"])


@pytest.mark.parametrize("target", ["embed_tokens", "lm_head"])
def test_lora_on_an_embedding_matrix_trains_alongside_the_new_tag_rows(data_dir: Path, tiny_models: dict[str, Path],
                                                                       tmp_path: Path, target: str) -> None:
    """The tag tokens added to the model's vocabulary have their rows trained through peft's
    ``trainable_token_indices``; a LoRA target on that same matrix made peft raise a TypeError while the
    run built the model. The adapter trains every row of it, the new ones too, so the matrix is left to it."""
    found, run = lora_outcomes(data_dir, tiny_models["llama"], [target])
    assert (found, run) == ([], "ok")
    patch = {"run": {"models": ["hf-causal"]}, "models": {"hf-causal": {
        "model_name_or_path": str(tiny_models["llama"]), "use_lora": True, "lora_target_modules": [target]}}}
    ctx = make_context(data_dir, patch)
    data = ctx.data()
    model = ctx.build("model_loaders", "hf-causal").build(ctx, data.train)
    assert model.fit(data.train, data.valid, ctx, tmp_path / "ckpt").details["global_step"] > 0


def test_a_lora_target_the_model_runs_under_another_name_is_refused(data_dir: Path,
                                                                    tiny_models: dict[str, Path]) -> None:
    """BART's ``shared`` embedding is its encoder's and decoder's ``embed_tokens`` too once the tag tokens
    grew the vocabulary; peft replaced it under ``shared`` alone, the model kept calling the original, and
    the Trainer failed at its first step (no gradient). Refused when the model is built."""
    _found, run = lora_outcomes(data_dir, tiny_models["bart"], ["q_proj", "shared"], "hf-seq2seq")
    assert run.startswith("models.hf-seq2seq.lora_target_modules: ['shared'] name a module the model also runs "
                          "under another name"), run


def test_lora_targets_are_read_from_the_file_the_model_loads_from(data_dir: Path, tiny_models: dict[str, Path],
                                                                  tmp_path: Path) -> None:
    """A folder saved without the model's head (``LlamaModel``) names its weights ``layers.0...``; loading it
    puts them under ``model.``, so a full name ``model.layers.0...`` targets a module of the run. And a stale
    weight map left beside a ``model.safetensors`` is not the file ``from_pretrained`` reads."""
    import json

    from transformers import AutoModelForCausalLM

    headless = tmp_path / "headless"
    AutoModelForCausalLM.from_pretrained(str(tiny_models["llama"])).model.save_pretrained(str(headless))
    for f in tiny_models["llama"].iterdir():
        if f.name not in ("model.safetensors", "config.json"):
            (headless / f.name).write_bytes(f.read_bytes())
    assert lora_outcomes(data_dir, headless, ["model.layers.0.self_attn.q_proj"]) == ([], "ok")
    found, run = lora_outcomes(data_dir, headless, ["model.layers.0.self_attn.qproj"])
    assert "['model.layers.0.self_attn.qproj'] match no module" in found[0] and "match no module" in run
    stale = tmp_path / "stale"
    stale.mkdir()
    for f in tiny_models["llama"].iterdir():
        (stale / f.name).write_bytes(f.read_bytes())
    weight_map = {"gpt_neox.layers.0.attention.query_key_value.weight": "pytorch_model-00001-of-00001.bin"}
    (stale / "pytorch_model.bin.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    assert lora_outcomes(data_dir, stale, ["q_proj"]) == ([], "ok")


@pytest.mark.parametrize("layout", ["zip", "legacy", "sharded"])
def test_lora_targets_of_a_pickled_checkpoint_are_checked(data_dir: Path, tiny_models: dict[str, Path],
                                                           tmp_path: Path, layout: str) -> None:
    """A model saved as ``pytorch_model.bin`` only (``torch.save``'s zip or legacy format, or shards named by
    ``pytorch_model.bin.index.json``): the check read no names and passed any target, which the run refused
    once it had loaded the model. The names and shapes are read from the pickle's opcodes, never by running
    it: a pickle that would write a file writes nothing, and is no state dict to read."""
    import json
    import pickle

    import torch
    from safetensors.torch import load_file

    from dialsum_hf.weights import LEGACY_MAGIC, saved_weights

    folder = tmp_path / layout
    folder.mkdir()
    for f in tiny_models["llama"].iterdir():
        if f.name != "model.safetensors":
            (folder / f.name).write_bytes(f.read_bytes())
    state = load_file(str(tiny_models["llama"] / "model.safetensors"))
    if layout == "sharded":
        names = sorted(state)
        shards = {"pytorch_model-00001-of-00002.bin": names[::2], "pytorch_model-00002-of-00002.bin": names[1::2]}
        for shard, keys in shards.items():
            torch.save({k: state[k] for k in keys}, folder / shard)
        weight_map = {k: shard for shard, keys in shards.items() for k in keys}
        (folder / "pytorch_model.bin.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    else:
        torch.save(state, folder / "pytorch_model.bin", _use_new_zipfile_serialization=layout == "zip")
    assert lora_outcomes(data_dir, folder, ["q_proj", "lm_head"]) == ([], "ok")
    found, run = lora_outcomes(data_dir, folder, ["qproj", "v_proj"])
    assert len(found) == 1 and "['qproj'] match no module of the model" in found[0] and "q_proj" in found[0], found
    assert run.startswith("models.hf-causal.lora_target_modules: ['qproj'] match no module"), run
    found, run = lora_outcomes(data_dir, folder, ["input_layernorm"])  # a norm: known from the saved shapes
    assert len(found) == 1 and "['input_layernorm'] name modules LoRA cannot adapt" in found[0], found
    assert "['input_layernorm'] name modules LoRA cannot adapt" in run

    class Writes:
        def __reduce__(self) -> tuple[object, tuple[str, str]]:
            return (Path.write_text, (tmp_path / "written", "ran"))  # type: ignore[return-value]

    hostile = tmp_path / "hostile"
    hostile.mkdir()
    (hostile / "pytorch_model.bin").write_bytes(pickle.dumps(LEGACY_MAGIC, protocol=2) * 3
                                                + pickle.dumps({"model.q_proj.weight": Writes()}, protocol=2))
    assert saved_weights(hostile, "", "") == {"model.q_proj.weight": None}
    assert not (tmp_path / "written").exists()


def test_a_lora_target_transformers_loads_under_another_name_is_refused(data_dir: Path,
                                                                       tiny_models: dict[str, Path]) -> None:
    """transformers 5 loads GPT-NeoX's output head, saved as ``embed_out``, as ``lm_head``: the check passed
    ``embed_out`` (a head a checkpoint may leave out) and the run refused it once the model was loaded. The
    rename is read from transformers' source, which the check does not import."""
    found, run = lora_outcomes(data_dir, tiny_models["gpt_neox"], ["embed_out"])
    assert len(found) == 1 and "['embed_out'] match no module of the model" in found[0], found
    assert "transformers loads embed_out as lm_head" in found[0]
    assert run.startswith("models.hf-causal.lora_target_modules: ['embed_out'] match no module"), run
    assert lora_outcomes(data_dir, tiny_models["gpt_neox"], ["lm_head", "query_key_value"]) == ([], "ok")


def test_renames_the_check_cannot_follow_leave_the_targets_to_the_loader() -> None:
    """Renames are taken from transformers' table only where they are written out as plain renames; a list
    holding a converter, or changed by code after the table, gives ``None`` (no names known), never a guess."""
    from dialsum_hf.conversions import conversion_table, loading_renames, renamed

    source = """
_MODEL_TO_CONVERSION_PATTERN = {"alias": "plain"}
def _build_checkpoint_conversion_mapping():
    mapping = {
        "plain": [WeightRenaming(r"\\.wq\\.", target_patterns=".q_proj."), WeightRenaming("^head", "^lm_head")],
        "merged": [WeightConverter(source_patterns=["a", "b"], target_patterns="ab", operations=[])],
        "later": [WeightRenaming("x", "y")],
    }
    mapping["later"] += [PrefixChange(prefix_to_remove="model")]
    return mapping
"""
    table = conversion_table(source)
    assert table["merged"] is None and table["later"] is None and table["alias"] == table["plain"]
    assert renamed("head.layers.0.wq.weight", table["plain"]) == "lm_head.layers.0.q_proj.weight"
    assert renamed("model.head.weight", table["plain"]) == "model.head.weight"  # anchored at the start
    assert loading_renames({"model_type": "bart", "architectures": ["GPTNeoXForCausalLM"]}) == [
        (("^embed_out\\.",), "lm_head.")]  # the class first, as transformers looks them up
    assert loading_renames({"model_type": "llama"}) == []


def test_an_encoder_decoder_embedding_that_becomes_the_shared_one_is_refused(data_dir: Path,
                                                                            tiny_models: dict[str, Path],
                                                                            tmp_path: Path) -> None:
    """The loader adds the dialogue tags its tokenizer lacks; growing the vocabulary makes BART's encoder and
    decoder ``embed_tokens`` its ``shared`` embedding, so ``embed_tokens`` names no module of the run and
    ``shared`` one peft would adapt under that name alone: the check passed both, the run refused them once the
    model was loaded. The tags the tokenizer lacks are read from its ``tokenizer.json``; with every tag in it,
    nothing grows and both accept ``embed_tokens``."""
    from dialsum_core.data import KNOWN_TAGS
    from dialsum_core.testing import TINY_DIALOGUES
    from dialsum_hf.testing import save_tiny_model

    for targets in (["q_proj", "embed_tokens"], ["shared"]):
        found, run = lora_outcomes(data_dir, tiny_models["bart"], targets, "hf-seq2seq")
        assert len(found) == 1 and f"{targets[-1:]} name the encoder's and decoder's embed_tokens" in found[0], found
        assert "#Person1#" in found[0] and f"lora_target_modules: {targets[-1:]}" in run, run
    texts = [t for _f, d, s, _t in TINY_DIALOGUES for t in (d, s)]
    tagged = save_tiny_model("bart", tmp_path / "tagged", texts, vocab_size=300, d_model=16, layers=1,
                             tags=KNOWN_TAGS)
    assert lora_outcomes(data_dir, tagged, ["q_proj", "embed_tokens"], "hf-seq2seq") == ([], "ok")


def test_a_lora_target_on_the_shared_embedding_the_forward_pass_never_runs_is_refused(
        data_dir: Path, tmp_path: Path) -> None:
    """With every tag in its tokenizer nothing grows the vocabulary, and BART's ``shared`` embedding stays a module
    of its own whose weight alone is tied to the ``embed_tokens`` its encoder and decoder run: peft's adapter on
    it got no gradient (the Trainer failed at its first step, or trained the other targets alone, silently)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForSeq2SeqLM

    from dialsum_core.data import KNOWN_TAGS
    from dialsum_core.testing import TINY_DIALOGUES
    from dialsum_hf.testing import save_tiny_model

    texts = [t for _f, d, s, _t in TINY_DIALOGUES for t in (d, s)]
    tagged = save_tiny_model("bart", tmp_path / "tagged-shared", texts, vocab_size=300, d_model=16, layers=1,
                             tags=KNOWN_TAGS)
    model = get_peft_model(AutoModelForSeq2SeqLM.from_pretrained(str(tagged)), LoraConfig(target_modules=["shared"]))
    ids = torch.tensor([[5, 6, 7, 2]])
    loss = model(input_ids=ids, labels=ids).loss
    assert not loss.requires_grad  # the adapter is not in the forward pass: nothing trains
    for targets in (["shared"], ["q_proj", "shared"]):
        found, run = lora_outcomes(data_dir, tagged, targets, "hf-seq2seq")
        says = "['shared'] name the shared embedding of the encoder-decoder, which its forward pass never runs"
        assert len(found) == 1 and says in found[0] and "target embed_tokens instead" in found[0], found
        assert run.startswith(f"models.hf-seq2seq.lora_target_modules: {says}") and "\n" not in run, run
    assert lora_outcomes(data_dir, tagged, ["q_proj", "embed_tokens"], "hf-seq2seq") == ([], "ok")


def test_resume_from_a_checkpoint_of_other_model_options_is_refused(context, data_dir: Path, tmp_path: Path) -> None:
    ctx = context({"train": {"max_steps": 1}})  # d_model 16 (the base recipe)
    data = ctx.data()
    ctx.build("model_loaders", "scratch").build(ctx, data.train).fit(data.train, data.valid, ctx, tmp_path / "ckpt")
    resume = {"run": {"resume_from": str(tmp_path / "ckpt")}}
    assert not problems(data_dir, resume)  # the same options: resumable
    found = problems(data_dir, {**resume, "models": {"scratch": {"d_model": 32}}})
    assert any("run.resume_from:" in p and "d_model = 16; the recipe's models.scratch.d_model make it 32" in p
               for p in found), found
    found = problems(data_dir, {**resume, "data": {"max_length": 100}})
    assert any("run.resume_from:" in p and "max_position_embeddings = 66" in p and "data.max_length" in p
               for p in found), found
    found = problems(data_dir, {**resume, "run": {**resume["run"], "models": ["hf-seq2seq"]},
                                "models": {"hf-seq2seq": {"model_name_or_path": "org/model"}}})
    assert any("a checkpoint of model 'scratch', which run.models ['hf-seq2seq'] does not train" in p
               for p in found), found


@pytest.mark.parametrize("path", ["/tmp/x/nonexistent_model", "./models/kobart", "../kobart", "~/no-such-model-here"])
def test_a_local_model_path_that_does_not_exist_is_refused(data_dir: Path, path: str) -> None:
    found = problems(data_dir, {"run": {"models": ["hf-seq2seq"]},
                                "models": {"hf-seq2seq": {"model_name_or_path": path}}})
    assert any("models.hf-seq2seq.model_name_or_path:" in p and "no such folder" in p for p in found), found


def test_hub_ids_and_existing_folders_are_not_refused(data_dir: Path, tiny_models: dict[str, Path]) -> None:
    for path in ("digit82/kobart-summarization", str(tiny_models["bart"])):
        found = problems(data_dir, {"run": {"models": ["hf-seq2seq"]},
                                    "models": {"hf-seq2seq": {"model_name_or_path": path}}})
        assert not any("model_name_or_path" in p for p in found), found


def test_a_relative_model_path_is_relative_to_the_recipe_file(data_dir: Path, tiny_models: dict[str, Path],
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    """``dialsum check`` and the loader resolve it alike, whatever the working directory (``run.gpu_check``
    too: it read ``./models/tiny`` from the working directory and said it could not read its config)."""
    import shutil

    from dialsum_core.manager import build_plugins
    from dialsum_core.recipe import load_recipe

    folder = data_dir / "recipes"
    shutil.copytree(tiny_models["bart"], folder / "models" / "tiny")
    recipe_file = folder / "r.toml"
    recipe_file.write_text('[run]\nmode = "single"\nmodels = ["hf-seq2seq"]\n'
                           '[models.hf-seq2seq]\nmodel_name_or_path = "./models/tiny"\n', encoding="utf-8")
    monkeypatch.chdir(data_dir)
    plugins = build_plugins()
    recipe = load_recipe(recipe_file, schema=plugins.schema)
    assert not any("model_name_or_path" in p for p in recipe.problems(plugins))
    base = {k: v for k, v in base_recipe(data_dir).items() if k != "models"}
    base["run"] = {**{k: v for k, v in base["run"].items() if k != "models"}, "gpu_check": True}
    ctx = make_context(data_dir).evolve(recipe=recipe.merge(base))
    with caplog.at_level("INFO", logger="dialsum"):
        model = ctx.build("model_loaders", "hf-seq2seq").build(ctx, ctx.data().train)
    assert model.base_model == str(folder / "models" / "tiny")
    assert "cannot read the config" not in caplog.text
    assert "gpu_check: model" in caplog.text


def test_the_resolved_recipe_names_a_local_model_folder_absolutely(data_dir: Path, tiny_models: dict[str, Path],
                                                                  tmp_path: Path) -> None:
    """The ``config.toml`` of an experiment sits in another folder than the recipe: it must still load
    the folder the recipe meant (``PATH_OR_NAME``: a path is made absolute, a hub id is left alone)."""
    import shutil

    from dialsum_core.manager import build_plugins
    from dialsum_core.recipe import load_recipe, write_recipe

    folder = data_dir / "recipes"
    shutil.copytree(tiny_models["bart"], folder / "models" / "tiny")
    recipe_file = folder / "r.toml"
    recipe_file.write_text('[run]\nmode = "single"\nmodels = ["hf-seq2seq"]\n'
                           '[models.hf-seq2seq]\nmodel_name_or_path = "./models/tiny"\n', encoding="utf-8")
    from dialsum_core.runner import resolve

    plugins = build_plugins()
    resolved = resolve(load_recipe(recipe_file, schema=plugins.schema), plugins, "r")
    key = "models.hf-seq2seq.model_name_or_path"
    assert resolved.get(key) == str((folder / "models" / "tiny").resolve())
    config = write_recipe(resolved, tmp_path / "experiment" / "config.toml")
    again = resolve(load_recipe(config, schema=plugins.schema), plugins, "r")
    assert again.get(key) == resolved.get(key)
    assert not any("model_name_or_path" in p for p in again.problems(plugins))
    # a hub id stays a name
    hub = resolve(load_recipe(recipe_file, [f"{key}=digit82/kobart-summarization"], schema=plugins.schema),
                  plugins, "r")
    assert hub.get(key) == "digit82/kobart-summarization"


def test_an_existing_folder_without_a_model_config_is_refused(data_dir: Path, tmp_path: Path) -> None:
    """The loader fails on it with a tokenizer error; ``check`` says what the folder lacks."""
    (tmp_path / "not-a-model").mkdir()
    found = problems(data_dir, {"run": {"models": ["hf-seq2seq"]},
                                "models": {"hf-seq2seq": {"model_name_or_path": str(tmp_path / "not-a-model")}}})
    assert any("models.hf-seq2seq.model_name_or_path:" in p and "no config.json" in p for p in found), found


def test_an_empty_lora_target_module_is_refused(data_dir: Path, tiny_models: dict[str, Path]) -> None:
    """peft would refuse ``""`` with a traceback once the model is loaded."""
    table = {"model_name_or_path": str(tiny_models["bart"]), "use_lora": True, "lora_target_modules": ["", "q_proj"]}
    found = problems(data_dir, {"run": {"models": ["hf-seq2seq"]}, "models": {"hf-seq2seq": table}})
    assert any("models.hf-seq2seq.lora_target_modules: holds an empty module name" in p for p in found), found
    # the loader names it too, as one line, rather than taking "" for the whole model
    ctx = make_context(data_dir, {"run": {"models": ["hf-seq2seq"]}, "models": {"hf-seq2seq": table}})
    with pytest.raises(DialsumError, match=r"^models\.hf-seq2seq\.lora_target_modules: \[''\] match no module"):
        ctx.build("model_loaders", "hf-seq2seq").build(ctx, ctx.data().train)
    # without LoRA the list is not read: the run trains, so the check only warns that it changes nothing
    off = {**table, "use_lora": False}
    assert problems(data_dir, {"run": {"models": ["hf-seq2seq"]}, "models": {"hf-seq2seq": off}}) == []
    ctx = make_context(data_dir, {"run": {"models": ["hf-seq2seq"]}, "models": {"hf-seq2seq": off}})
    assert any(k == "models.hf-seq2seq.lora_target_modules" for k, _why in ctx.recipe.ignored_keys(ctx.plugins))
    ctx.build("model_loaders", "hf-seq2seq").build(ctx, ctx.data().train)


def test_lengths_past_the_position_table_of_a_seq2seq_model_are_refused(data_dir: Path,
                                                                       tiny_models: dict[str, Path]) -> None:
    """The tiny BART has 512 learned positions: generating a 513th token fails after an epoch of training
    (``IndexError: index out of range in self``), so the check refuses it; 512 fits."""
    model = {"run": {"models": ["hf-seq2seq"]},
             "models": {"hf-seq2seq": {"model_name_or_path": str(tiny_models["bart"])}}}
    found = problems(data_dir, {**model, "generation": {"max_new_tokens": 513}})
    assert any("generation.max_new_tokens: 513 tokens is more than the 512 positions" in p for p in found), found
    found = problems(data_dir, {**model, "data": {"max_length": 600, "max_target_length": 513}})
    assert any("data.max_length: 600 tokens" in p for p in found), found
    assert any("data.max_target_length: 513 tokens" in p for p in found), found
    assert not problems(data_dir, {**model, "data": {"max_length": 512, "max_target_length": 512},
                                   "generation": {"max_new_tokens": 512}})


def test_lengths_past_the_position_table_of_a_causal_model_are_refused(data_dir: Path, tiny_models: dict[str, Path],
                                                                      tmp_path: Path) -> None:
    """A causal model reads prompt and summary as one sequence: GPT-2's table of ``n_positions`` bounds
    their sum. Rotary positions (Llama) have no table and are never refused."""
    import json

    gpt2 = tmp_path / "gpt2"
    gpt2.mkdir()
    (gpt2 / "config.json").write_text(json.dumps({"model_type": "gpt2", "n_positions": 64}), encoding="utf-8")
    (gpt2 / "tokenizer.json").write_text("{}", encoding="utf-8")  # a model folder has its tokenizer
    (gpt2 / "model.safetensors").write_bytes(b"")  # and its weights
    model = {"run": {"models": ["hf-causal"]}, "models": {"hf-causal": {"model_name_or_path": str(gpt2)}}}
    fits = {"data": {"max_length": 40, "max_target_length": 24}, "generation": {"max_new_tokens": 25}}
    assert not problems(data_dir, {**model, **fits})
    found = problems(data_dir, {**model, **fits, "generation": {"max_new_tokens": 26}})
    assert any("generation.max_new_tokens: data.max_length + generation.max_new_tokens - 1 = 65" in p
               for p in found), found
    found = problems(data_dir, {**model, **fits, "data": {"max_length": 40, "max_target_length": 25}})
    assert any("data.max_target_length: data.max_length + data.max_target_length = 65" in p for p in found), found
    llama = {"run": {"models": ["hf-causal"]},
             "models": {"hf-causal": {"model_name_or_path": str(tiny_models["llama"])}}}
    assert not problems(data_dir, {**llama, "data": {"max_length": 4000}, "generation": {"max_new_tokens": 4000}})


def test_a_hub_model_in_the_cache_is_checked_against_its_positions(data_dir: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A preset whose config the Hugging Face cache holds is checked without a download."""
    import json

    from huggingface_hub import constants

    repo = tmp_path / "hub" / "models--digit82--kobart-summarization"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40, encoding="utf-8")
    (repo / "snapshots" / ("0" * 40)).mkdir(parents=True)
    (repo / "snapshots" / ("0" * 40) / "config.json").write_text(
        json.dumps({"model_type": "bart", "is_encoder_decoder": True, "max_position_embeddings": 1026}),
        encoding="utf-8")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    found = problems(data_dir, {"run": {"models": ["kobart"]}, "generation": {"max_new_tokens": 2000}})
    assert any("generation.max_new_tokens: 2000 tokens is more than the 1026 positions of the model "
                            "of models.kobart" in p for p in found), found
    assert not problems(data_dir, {"run": {"models": ["kobart"]}, "generation": {"max_new_tokens": 1026}})


def test_lora_targets_of_a_sharded_hub_model_in_the_cache_are_checked(data_dir: Path, tiny_models: dict[str, Path],
                                                                      tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A sharded hub model the cache holds: the names come from its weight map, the shapes (a norm is no
    LoRA target) from its shards' headers, read where the cache keeps them."""
    from huggingface_hub import constants
    from transformers import AutoModelForCausalLM

    snapshot = tmp_path / "hub" / "models--org--tiny-llama" / "snapshots" / ("0" * 40)
    AutoModelForCausalLM.from_pretrained(str(tiny_models["llama"])).save_pretrained(str(snapshot),
                                                                                    max_shard_size="20KB")
    assert (snapshot / "model.safetensors.index.json").is_file()
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("0" * 40, encoding="utf-8")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))

    def lora_problems(targets: list[str]) -> list[str]:
        table = {"model_name_or_path": "org/tiny-llama", "use_lora": True, "lora_target_modules": targets}
        return [p for p in problems(data_dir, {"run": {"models": ["hf-causal"]}, "models": {"hf-causal": table}})
                if ".lora_target_modules:" in p]

    assert lora_problems(["q_proj", "down_proj"]) == []
    assert "['qproj'] match no module" in lora_problems(["qproj"])[0]
    (problem,) = lora_problems(["post_attention_layernorm"])
    assert "['post_attention_layernorm'] name modules LoRA cannot adapt" in problem


def test_resume_from_a_scratch_checkpoint_of_other_training_data_is_refused(context, data_dir: Path,
                                                                           tmp_path: Path) -> None:
    """``scratch`` learns its tokenizer from the training data: a checkpoint trained on other data has
    another vocabulary (the Trainer's resume failed with a size-mismatch traceback) or, at an equal
    size, ids that mean other words."""
    from dialsum_core.testing import write_csv

    ctx = context({"train": {"max_steps": 1}})
    data = ctx.data()
    ctx.build("model_loaders", "scratch").build(ctx, data.train).fit(data.train, data.valid, ctx, tmp_path / "ckpt")
    resume = {"run": {"resume_from": str(tmp_path / "ckpt")}}
    assert not problems(data_dir, resume)  # the same data: the same tokenizer
    write_csv(tmp_path / "other.csv", rows(10))
    found = problems(data_dir, {**resume, "data": {"train_path": str(tmp_path / "other.csv")}})
    assert any("run.resume_from:" in p and "tokenizer learned from other data" in p for p in found), found
    found = problems(data_dir, {**resume, "data": {"special_tokens": ["#Extra#"]}})
    assert any("tokenizer learned from other data" in p for p in found), found
    # the tokenizer keeps a token for every character of the dialogues the run reads: a test file adding
    # one gives another vocabulary, a test file of known characters the same one
    fname, dialogue, summary, topic = rows(1)[0]
    write_csv(tmp_path / "new-char.csv", [(fname, dialogue + " 뷁", summary, topic)])
    found = problems(data_dir, {**resume, "data": {"test_path": str(tmp_path / "new-char.csv")}})
    assert any("tokenizer learned from other data" in p for p in found), found
    write_csv(tmp_path / "known.csv", rows(3))
    assert not problems(data_dir, {**resume, "data": {"test_path": str(tmp_path / "known.csv")}})


def test_resume_from_a_pretrained_checkpoint_without_the_recipes_extra_tokens_is_refused(
        data_dir: Path, tiny_models: dict[str, Path], tmp_path: Path) -> None:
    """A token of ``data.special_tokens`` the checkpoint's tokenizer lacks grows the embeddings past the
    checkpoint's (the Trainer's resume failed with a size-mismatch traceback)."""
    model = {"run": {"models": ["hf-seq2seq"]}, "train": {"max_steps": 1},
             "models": {"hf-seq2seq": {"model_name_or_path": str(tiny_models["bart"]), "torch_dtype": "float32"}}}
    ctx = make_context(data_dir, model)
    data = ctx.data()
    ctx.build("model_loaders", "hf-seq2seq").build(ctx, data.train).fit(data.train, data.valid, ctx, tmp_path / "ckpt")
    resume = {**model, "run": {"models": ["hf-seq2seq"], "resume_from": str(tmp_path / "ckpt")}}
    assert not problems(data_dir, resume)
    found = problems(data_dir, {**resume, "data": {"special_tokens": ["#New#"]}})
    assert any("run.resume_from:" in p and "has no token #New#" in p for p in found), found


def test_a_decoder_only_model_given_to_the_seq2seq_loader_is_refused(data_dir: Path,
                                                                     tiny_models: dict[str, Path]) -> None:
    """``AutoModelForSeq2SeqLM`` cannot load a Llama or GPT-NeoX folder; its ``config.json`` says so."""
    for family in ("llama", "gpt_neox"):
        found = problems(data_dir, {"run": {"models": ["hf-seq2seq"]},
                                    "models": {"hf-seq2seq": {"model_name_or_path": str(tiny_models[family])}}})
        assert any("models.hf-seq2seq.model_name_or_path:" in p and f"decoder-only {family} model" in p
                   and "use hf-causal" in p for p in found), found
    found = problems(data_dir, {"run": {"models": ["hf-causal"]},
                                "models": {"hf-causal": {"model_name_or_path": str(tiny_models["llama"])}}})
    assert not found, found


def test_the_seq2seq_loaders_check_applies_transformers_table_not_the_configs_flag(
        data_dir: Path, tiny_models: dict[str, Path], tmp_path: Path) -> None:
    """A BART ``config.json`` written without ``is_encoder_decoder`` (by hand: BART's config class supplies it) was
    refused for ``hf-seq2seq``, which loads it, and passed for ``hf-causal``, which loads its decoder alone; a
    decoder-only model of text and images (``LlavaForConditionalGeneration``) stays refused for hf-seq2seq."""
    import json
    import shutil

    from transformers import AutoModelForSeq2SeqLM

    bart = Path(shutil.copytree(tiny_models["bart"], tmp_path / "bart"))
    config = json.loads((bart / "config.json").read_text(encoding="utf-8"))
    del config["is_encoder_decoder"]
    (bart / "config.json").write_text(json.dumps(config), encoding="utf-8")
    assert AutoModelForSeq2SeqLM.from_pretrained(bart).config.is_encoder_decoder  # transformers loads it

    def refused(loader: str, path: Path) -> list[str]:
        found = problems(data_dir, {"run": {"models": [loader]}, "models": {loader: {"model_name_or_path": str(path)}}})
        return [p for p in found if f"models.{loader}.model_name_or_path:" in p]

    assert refused("hf-seq2seq", bart) == []
    (problem,) = refused("hf-causal", bart)
    assert "is an encoder-decoder bart model, which this decoder-only loader would load without its encoder" in problem
    llava = Path(shutil.copytree(tiny_models["llama"], tmp_path / "llava"))
    config = json.loads((llava / "config.json").read_text(encoding="utf-8"))
    config.update(model_type="llava", architectures=["LlavaForConditionalGeneration"])
    (llava / "config.json").write_text(json.dumps(config), encoding="utf-8")
    (problem,) = refused("hf-seq2seq", llava)
    assert "is a decoder-only llava model, which AutoModelForSeq2SeqLM does not load" in problem, problem


def test_a_minimum_summary_length_above_the_maximum_is_refused(data_dir: Path) -> None:
    """``generate`` kept the maximum and dropped the minimum silently (summaries of 9 tokens for a minimum of 40)."""
    found = problems(data_dir, {"generation": {"min_new_tokens": 40, "max_new_tokens": 10}})
    assert any("generation.min_new_tokens: 40 is more than generation.max_new_tokens (10)" in p for p in found), found
    assert not problems(data_dir, {"generation": {"min_new_tokens": 10, "max_new_tokens": 10}})


def test_a_nucleus_above_one_is_refused(data_dir: Path) -> None:
    """``top_p = 1.5`` sampled from every token, as 1 does: a value above 1 is a mistake, said so."""
    found = problems(data_dir, {"generation": {"do_sample": True, "top_p": 1.5}})
    assert any("generation.top_p: must be in [0, 1], got 1.5" in p for p in found), found
    assert any("generation.top_p: must be > 0" in p for p in problems(data_dir, {"generation": {"top_p": 0.0}}))
    assert not problems(data_dir, {"generation": {"do_sample": True, "top_p": 1.0}})


def test_a_sampling_value_without_sampling_is_refused(data_dir: Path) -> None:
    """The seed's ``--temperature 0.7``: beam search never reads it, so the summaries were those of 0.5."""
    found = problems(data_dir, {"generation": {"temperature": 0.7, "top_p": 0.95}})
    assert any("generation.temperature: 0.7 would be ignored: it applies when sampling" in p for p in found), found
    assert any("generation.top_p: 0.95 would be ignored" in p and "leave top_p at 0.9" in p for p in found), found
    assert not problems(data_dir, {"generation": {"temperature": 0.7, "top_p": 0.95, "do_sample": True}})
    assert not problems(data_dir, {"generation": {"temperature": 0.5, "top_p": 0.9}})  # base.toml's, the defaults
    # a loader of another plugin reads [generation] its own way
    assert not problems(data_dir, {"run": {"models": ["lead"]}, "generation": {"temperature": 0.7}})


@pytest.mark.parametrize("steps", [0, -2])
def test_max_steps_other_than_minus_one_or_positive_is_refused(data_dir: Path, steps: int) -> None:
    """The Trainer reads 0 and every negative value as -1: ``max_steps = 0`` trained every epoch silently."""
    found = problems(data_dir, {"train": {"max_steps": steps}})
    assert any(f"train.max_steps: must be -1 (train for train.epochs) or > 0, got {steps}" in p for p in found), found
    for fine in (-1, 3):
        assert not problems(data_dir, {"train": {"max_steps": fine}})


@pytest.mark.parametrize(("token", "says"), [("", "empty or blank"), (" ", "empty or blank"),
                                             (" #A#", "starts or ends with a blank")])
def test_a_blank_special_token_is_refused(data_dir: Path, token: str, says: str) -> None:
    """``" "`` added whole would swallow every space of every text; ``""`` is no token at all."""
    found = problems(data_dir, {"data": {"special_tokens": ["#A#", token]}})
    assert any("data.special_tokens:" in p and says in p for p in found), found
    assert not problems(data_dir, {"data": {"special_tokens": ["#A#", "hello world"]}})


def test_an_encoder_decoder_model_given_to_the_causal_loader_is_refused(data_dir: Path,
                                                                        tiny_models: dict[str, Path]) -> None:
    """``AutoModelForCausalLM`` loads a BART folder as ``BartForCausalLM``, its decoder alone, and the run
    trained it without a word."""
    table = {"run": {"models": ["hf-causal"]},
             "models": {"hf-causal": {"model_name_or_path": str(tiny_models["bart"])}}}
    found = problems(data_dir, table)
    assert any("models.hf-causal.model_name_or_path:" in p and "encoder-decoder bart model" in p
               and "use hf-seq2seq" in p for p in found), found
    ctx = make_context(data_dir, table)  # a hub id check could not read is refused when it is built
    with pytest.raises(DialsumError, match=r"^models\.hf-causal\.model_name_or_path: .* encoder-decoder bart"):
        ctx.build("model_loaders", "hf-causal").build(ctx, ctx.data().train)


def test_a_model_folder_without_a_tokenizer_is_refused(data_dir: Path, tiny_models: dict[str, Path],
                                                       tmp_path: Path) -> None:
    """transformers builds an empty tokenizer (5 tokens) for a folder with weights and config only, and the
    run trained on ``<unk>`` without a word."""
    import shutil

    folder = tmp_path / "weights-only"
    folder.mkdir()
    for f in ("config.json", "model.safetensors"):
        shutil.copy(tiny_models["bart"] / f, folder / f)
    table = {"run": {"models": ["hf-seq2seq"]}, "models": {"hf-seq2seq": {"model_name_or_path": str(folder)}}}
    found = problems(data_dir, table)
    assert any("models.hf-seq2seq.model_name_or_path:" in p and "no tokenizer files" in p for p in found), found
    ctx = make_context(data_dir, table)
    with pytest.raises(DialsumError,
                       match=r"^models\.hf-seq2seq\.model_name_or_path: the tokenizer of .* has 5 tokens"):
        ctx.build("model_loaders", "hf-seq2seq").build(ctx, ctx.data().train)


def test_a_tokenizer_config_alone_is_refused(data_dir: Path, tiny_models: dict[str, Path], tmp_path: Path) -> None:
    """A folder whose tokenizer is only its ``tokenizer_config.json`` (settings, no vocabulary) passed the
    check: transformers builds no tokenizer from it (the class save_pretrained names refuses to build one
    without a vocabulary), and the run stopped when it loaded the model. A slow tokenizer's own files, or a
    tokenizer of remote code the recipe trusts, are not refused."""
    import json
    import shutil

    from transformers import AutoTokenizer

    from dialsum_hf.tokenizer import train_tokenizer

    folder = tmp_path / "settings-only"
    folder.mkdir()
    for f in ("config.json", "model.safetensors", "tokenizer_config.json"):
        shutil.copy(tiny_models["bart"] / f, folder / f)
    table = {"run": {"models": ["hf-seq2seq"]}, "models": {"hf-seq2seq": {"model_name_or_path": str(folder)}}}
    found = [p for p in problems(data_dir, table) if "models.hf-seq2seq.model_name_or_path:" in p]
    assert len(found) == 1 and f": {folder}: no tokenizer files (tokenizer.json, vocab.json, vocab.txt...), only " \
        "tokenizer_config.json, which holds no vocabulary" in found[0], found
    ctx = make_context(data_dir, table)
    with pytest.raises(DialsumError, match=r"^models\.hf-seq2seq\.model_name_or_path: cannot load the folder"):
        ctx.build("model_loaders", "hf-seq2seq").build(ctx, ctx.data().train)
    # a tokenizer of remote code reads files of its own, which the check does not judge
    settings = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    (folder / "tokenizer_config.json").write_text(json.dumps(
        {**settings, "auto_map": {"AutoTokenizer": ["tokenization_mine.MineTokenizer", None]}}), encoding="utf-8")
    trusted = {**table["models"]["hf-seq2seq"], "trust_remote_code": True}
    assert not [p for p in problems(data_dir, {**table, "models": {"hf-seq2seq": trusted}}) if "tokenizer" in p]
    assert any("no tokenizer files" in p for p in problems(data_dir, table))
    # a slow BPE tokenizer: its vocabulary and merges (one per line: texts of one line) beside the settings
    texts = [t.replace("\n", " ") for _f, dialogue, summary, _t in rows(6) for t in (dialogue, summary)]
    tok = train_tokenizer(texts, 200, min_frequency=1, template="eos")
    tok.backend_tokenizer.model.save(str(folder))
    (folder / "tokenizer_config.json").write_text(json.dumps({**settings, "tokenizer_class": "BartTokenizer"}),
                                                  encoding="utf-8")
    assert len(AutoTokenizer.from_pretrained(str(folder))) >= len(tok)
    assert not [p for p in problems(data_dir, table) if "models.hf-seq2seq.model_name_or_path:" in p]


def test_a_model_folder_without_its_weights_is_refused(data_dir: Path, tiny_models: dict[str, Path],
                                                       tmp_path: Path) -> None:
    """A folder with its config and tokenizer but no weights, or a sharded one missing a shard (a copy or a
    download cut short), passed the check; the run stopped when it loaded the model. The rule is the
    paraphrase model's (dialsum_hf.folders)."""
    import shutil

    from transformers import AutoModelForSeq2SeqLM

    folder = tmp_path / "no-weights"
    folder.mkdir()
    for f in tiny_models["bart"].iterdir():
        if f.name != "model.safetensors":
            shutil.copy(f, folder / f.name)
    table = {"run": {"models": ["hf-seq2seq"]}, "models": {"hf-seq2seq": {"model_name_or_path": str(folder)}}}
    found = [p for p in problems(data_dir, table) if "models.hf-seq2seq.model_name_or_path:" in p]
    assert len(found) == 1 and f": {folder}: no weights in it (one of model.safetensors, " in found[0], found
    ctx = make_context(data_dir, table)
    with pytest.raises(DialsumError, match=r"^models\.hf-seq2seq\.model_name_or_path: cannot load the folder"):
        ctx.build("model_loaders", "hf-seq2seq").build(ctx, ctx.data().train)
    AutoModelForSeq2SeqLM.from_pretrained(str(tiny_models["bart"])).save_pretrained(str(folder), max_shard_size="20KB")
    assert not [p for p in problems(data_dir, table) if "models.hf-seq2seq.model_name_or_path:" in p]
    shards = sorted(folder.glob("model-*.safetensors"))
    assert len(shards) > 1
    shards[-1].unlink()
    found = [p for p in problems(data_dir, table) if "models.hf-seq2seq.model_name_or_path:" in p]
    assert len(found) == 1 and f": {folder}: its weight map names shard files the folder lacks ({shards[-1].name})" \
        in found[0], found


def test_a_model_path_naming_a_file_is_refused(data_dir: Path, tiny_models: dict[str, Path]) -> None:
    path = str(tiny_models["bart"] / "config.json")
    found = problems(data_dir, {"run": {"models": ["hf-seq2seq"]},
                                "models": {"hf-seq2seq": {"model_name_or_path": path}}})
    assert any("models.hf-seq2seq.model_name_or_path:" in p and "a file; name the model's folder" in p
               for p in found), found


def test_float16_full_fine_tuning_is_refused(data_dir: Path, tiny_models: dict[str, Path]) -> None:
    """Pure float16 weights trained by AdamW without a float32 copy: the tiny Llama's loss rose (6.1 in
    float32, 9.3 in float16) and nothing said why."""
    table = {"model_name_or_path": str(tiny_models["llama"]), "torch_dtype": "float16"}
    found = problems(data_dir, {"run": {"models": ["hf-causal"]}, "models": {"hf-causal": table}})
    assert any("models.hf-causal.torch_dtype: float16 weights cannot be fully fine-tuned" in p for p in found), found
    assert not problems(data_dir, {"run": {"models": ["hf-causal"]},
                                   "models": {"hf-causal": {**table, "use_lora": True}}})
    assert not problems(data_dir, {"run": {"models": ["hf-causal"]},
                                   "models": {"hf-causal": {**table, "torch_dtype": "bfloat16"}}})


def test_training_state_without_checkpoints_is_refused(data_dir: Path) -> None:
    """Nothing would keep the state the recipe asked for: no checkpoint is written to hold it."""
    found = problems(data_dir, {"train": {"save_training_state": True, "save_checkpoints": False}})
    assert any("train.save_training_state: keeps the optimizer state" in p for p in found), found
    assert not problems(data_dir, {"train": {"save_training_state": True}})


def test_a_hub_id_that_also_names_a_folder_is_refused(data_dir: Path, tiny_models: dict[str, Path],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """``models/bart`` is a hub id to ``dialsum check`` and, when such a folder is in the working directory,
    a folder to ``from_pretrained``: the run loaded whatever the directory it started in held."""
    monkeypatch.chdir(tiny_models["bart"].parent)
    table = {"run": {"models": ["hf-seq2seq"]}, "models": {"hf-seq2seq": {"model_name_or_path": "bart"}}}
    found = problems(data_dir, table)
    assert any("models.hf-seq2seq.model_name_or_path: 'bart' is written as a hub id, and names the folder" in p
               and "write ./bart" in p for p in found), found
    ctx = make_context(data_dir, table)
    with pytest.raises(DialsumError, match=r"^models\.hf-seq2seq\.model_name_or_path: 'bart' is written as a hub id"):
        ctx.build("model_loaders", "hf-seq2seq").build(ctx, ctx.data().train)
    ok = {"run": {"models": ["hf-seq2seq"]}, "models": {"hf-seq2seq": {"model_name_or_path": "./bart"}}}
    assert not problems(data_dir, ok)


def test_a_prompt_template_longer_than_the_input_limit_is_refused(data_dir: Path,
                                                                  tiny_models: dict[str, Path]) -> None:
    """A prompt is shortened from its dialogue, then cut from its start: a template of ``data.max_length``
    tokens or more left the model the template's tail and not one word of the dialogue."""
    table = {"model_name_or_path": str(tiny_models["llama"]), "prompt_template": "kullm"}
    ctx = make_context(data_dir, {"run": {"models": ["hf-causal"]}, "data": {"max_length": 20},
                                  "models": {"hf-causal": table}})
    with pytest.raises(DialsumError, match=r"^data\.max_length: 20 tokens cannot hold a dialogue in the prompt of "
                                           r"models\.hf-causal: its template and instruction alone are \d+ tokens"):
        ctx.build("model_loaders", "hf-causal").build(ctx, ctx.data().train)
    # said before the weights load (minutes for a 10B model): a folder without them gives the same refusal
    import shutil

    no_weights = shutil.copytree(tiny_models["llama"], data_dir / "llama-no-weights")
    for weights in no_weights.glob("*.safetensors"):
        weights.unlink()
    ctx = make_context(data_dir, {"run": {"models": ["hf-causal"]}, "data": {"max_length": 20},
                                  "models": {"hf-causal": {**table, "model_name_or_path": str(no_weights)}}})
    with pytest.raises(DialsumError, match=r"^data\.max_length: 20 tokens cannot hold a dialogue"):
        ctx.build("model_loaders", "hf-causal").build(ctx, ctx.data().train)
    ctx = make_context(data_dir, {"run": {"models": ["hf-causal"]}, "data": {"max_length": 512},
                                  "models": {"hf-causal": table}})
    hf = ctx.build("model_loaders", "hf-causal").build(ctx, ctx.data().train)
    dialogue = ctx.data().train[0].dialogue
    assert hf.tokenizer.decode(hf.encode_inputs([dialogue], 512)[0]).count("#Person1#") >= 1


def test_template_fields_in_the_instruction_are_refused(data_dir: Path, tiny_models: dict[str, Path]) -> None:
    """The instruction is put into the template first, so its ``{dialogue}`` got the dialogue a second time."""
    table = {"model_name_or_path": str(tiny_models["llama"]), "instruction": "Summarize {dialogue}"}
    found = problems(data_dir, {"run": {"models": ["hf-causal"]}, "models": {"hf-causal": table}})
    assert any("models.hf-causal.instruction: holds a {dialogue} or {instruction} field" in p for p in found), found


def test_a_lora_adapter_with_new_token_rows_as_the_model_is_refused(data_dir: Path, tiny_models: dict[str, Path],
                                                                   tmp_path: Path) -> None:
    """A saved adapter folder is loaded by transformers onto its base model afresh, without the tag tokens
    dialsum added: the run failed with ``index 440 is out of bounds`` and a hint to download the model. A
    plain peft adapter (no new tokens) stays allowed."""
    table = {"model_name_or_path": str(tiny_models["bart"]), "use_lora": True}
    ctx = make_context(data_dir, {"run": {"models": ["hf-seq2seq"]}, "models": {"hf-seq2seq": table}})
    hf = ctx.build("model_loaders", "hf-seq2seq").build(ctx, ctx.data().train)
    hf.save(tmp_path / "adapter")
    assert not (tmp_path / "adapter" / "config.json").exists()
    found = problems(data_dir, {"run": {"models": ["hf-seq2seq"]},
                                "models": {"hf-seq2seq": {**table, "model_name_or_path": str(tmp_path / "adapter")}}})
    assert any("models.hf-seq2seq.model_name_or_path:" in p and "a LoRA adapter that trained rows of tokens" in p
               and "run.resume_from" in p for p in found), found


def test_building_and_saving_a_lora_model_prints_no_library_warning(data_dir: Path, tiny_models: dict[str, Path],
                                                                    tmp_path: Path) -> None:
    """peft's deprecation and "Setting save_embedding_layers" warnings reached stderr on every LoRA run."""
    import warnings

    ctx = make_context(data_dir, {"run": {"models": ["hf-causal"]}, "models": {"hf-causal": {
        "model_name_or_path": str(tiny_models["llama"]), "use_lora": True}}})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        hf = ctx.build("model_loaders", "hf-causal").build(ctx, ctx.data().train)
        hf.save(tmp_path / "adapter")
    noisy = [str(w.message) for w in caught
             if "is_gradient_checkpointing" in str(w.message) or "save_embedding_layers" in str(w.message)]
    assert not noisy, noisy


def test_a_revision_of_a_local_folder_is_refused(data_dir: Path, tiny_models: dict[str, Path]) -> None:
    """``from_pretrained`` ignores ``revision`` for a folder: the recipe seemed to pin a commit and pinned nothing."""
    table = {"model_name_or_path": str(tiny_models["bart"]), "revision": "v1.0"}
    found = problems(data_dir, {"run": {"models": ["hf-seq2seq"]}, "models": {"hf-seq2seq": table}})
    assert any("models.hf-seq2seq.revision: 'v1.0' picks a branch or commit" in p for p in found), found
    assert not problems(data_dir, {"run": {"models": ["kobart"]}, "models": {"kobart": {"revision": "v1.0"}}})


@pytest.mark.parametrize("value", ["my models/bart", "models\\bart", "org/model/extra"])
def test_a_model_path_that_is_neither_a_path_nor_a_hub_id_is_refused(data_dir: Path, value: str) -> None:
    """The loader failed on it only once the run reached the model (after loading and splitting the data)."""
    found = problems(data_dir, {"run": {"models": ["hf-seq2seq"]},
                                "models": {"hf-seq2seq": {"model_name_or_path": value}}})
    assert any(f"models.hf-seq2seq.model_name_or_path: {value!r} is neither a local path" in p for p in found), found


@pytest.mark.parametrize(("section", "key"), [("train", "learning_rate"), ("train", "weight_decay"),
                                              ("generation", "temperature"), ("generation", "repetition_penalty"),
                                              ("generation", "length_penalty")])
def test_an_infinite_rate_or_penalty_is_refused(data_dir: Path, section: str, key: str) -> None:
    """``train.learning_rate = inf`` trained to NaN and predicted empty summaries, rc 0: "> 0" lets
    infinity through; NaN is refused the same way."""
    for value in (float("inf"), float("nan")):
        found = problems(data_dir, {section: {key: value}})
        assert any(f"{section}.{key}: must be" in p for p in found), (value, found)
    assert any(f"{section}.{key}: must be a finite number, got inf" in p
               for p in problems(data_dir, {section: {key: float("inf")}}))


def test_one_checkpoint_to_resume_several_models_from_is_refused(data_dir: Path, tmp_path: Path) -> None:
    """``run.resume_from`` with two models of this plugin: each resumed from the one checkpoint (another
    model's weights, or a clash of shapes after the first trained); a model of another plugin does not count."""
    found = problems(data_dir, {"run": {"models": ["scratch", "hf-seq2seq"], "resume_from": str(tmp_path)}})
    assert any("run.resume_from: names one checkpoint, and run.models trains 2 models that would each resume "
               "from it (scratch, hf-seq2seq)" in p for p in found), found
    alone = problems(data_dir, {"run": {"models": ["scratch", "lead"], "resume_from": str(tmp_path)}})
    assert not any("names one checkpoint" in p for p in alone), alone


def test_a_speech_encoder_decoder_is_refused_without_sending_the_user_to_the_other_loader(
        data_dir: Path, tiny_models: dict[str, Path], tmp_path: Path) -> None:
    """A Whisper model (an encoder-decoder of speech, which AutoModelForSeq2SeqLM does not load) was refused by
    each loader with the advice to use the other: hf-seq2seq sent it to hf-causal, which sent it back."""
    import json
    import shutil

    whisper = Path(shutil.copytree(tiny_models["bart"], tmp_path / "whisper"))
    config = json.loads((whisper / "config.json").read_text(encoding="utf-8"))
    config.update(model_type="whisper", architectures=["WhisperForConditionalGeneration"], is_encoder_decoder=True)
    (whisper / "config.json").write_text(json.dumps(config), encoding="utf-8")
    for loader in ("hf-seq2seq", "hf-causal"):
        found = problems(data_dir, {"run": {"models": [loader]},
                                    "models": {loader: {"model_name_or_path": str(whisper)}}})
        (problem,) = [p for p in found if f"models.{loader}.model_name_or_path: {whisper} is" in p]
        assert "it reads speech or images, not text: neither loader trains it" in problem, problem
        assert "use hf-" not in problem, problem
