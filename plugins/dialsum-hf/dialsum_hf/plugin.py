"""Entry-point module of the Hugging Face model loaders (cheap: attrs only, no torch).

Options live in the recipe table ``[models.<name>]``; every preset is one of the two pretrained
loaders with its own defaults, so ``[models."solar-10.7b"] use_lora = false`` works as expected.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from dialsum_core import hookimpl
from dialsum_core.protocols import TOKEN_LEVEL
from dialsum_core.recipe import PATH_OR_NAME, is_path
from dialsum_core.validators import fraction, one_of, positive
from dialsum_hf.conversions import loading_renames
from dialsum_hf.folders import config_problem, seq2seq_model, seq2seq_problem, tokenizer_problem, weights_problem
from dialsum_hf.positions import model_config, position_problems
from dialsum_hf.presets import DEFAULT_INSTRUCTION, PRESETS, TEMPLATES, expand_all
from dialsum_hf.sections import BEST_METRIC, cuda_available, register_sections
from dialsum_hf.tokenizer import special_tokens
from dialsum_hf.weights import (
    added_tokens,
    lora_target_problem,
    no_default_targets,
    peft_has_default_targets,
    saved_weights,
)
from dialsum_metrics import selection_problem

if TYPE_CHECKING:
    from dialsum_core.manager import Plugins
    from dialsum_core.recipe import Recipe

DTYPES = ("auto", "float32", "bfloat16", "float16")
#: The batch size ``run.auto_batch`` tries first unless a model's table says (``auto_batch_max``).
AUTO_BATCH_MAX = 64
TAGS = ("token-ensemble",)
#: What to do with an encoder-decoder that reads speech or images (Whisper): neither loader is the answer.
NOT_TEXT = ("it reads speech or images, not text: neither loader trains it; give a model of text, an encoder-decoder "
            "such as BART or T5 (hf-seq2seq) or a decoder-only one (hf-causal)")


def local_model_path(recipe: Recipe, name: str, value: str) -> Path | None:
    """The folder ``models.<name>.model_name_or_path`` names when ``value`` is clearly a local path
    (absolute, or starting with ``./``, ``../`` or ``~``), resolved by the recipe's one path rule
    (relative to the recipe file that set it); ``None`` for a hub id such as ``org/model``.

    The check and the loader both resolve it here, so the folder ``dialsum check`` finds is the one
    ``dialsum run`` loads, whatever the working directory.
    """
    if not value or not is_path(value):
        return None
    return recipe.path_of(f"models.{name}.model_name_or_path", value)


def hub_id_problem(value: str) -> str:
    """Why ``value`` cannot be a hub repository id (the hub's own rule), or ``""``; the loader would fail
    on it only once the run reaches the model."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(value)
    except HFValidationError as exc:
        return str(exc).strip().splitlines()[0].rstrip(".")
    return ""


def added_token_rows(folder: Path) -> bool:
    """Whether ``folder`` holds a LoRA adapter without a model (no ``config.json``) that trained the rows
    of tokens added to its base model's vocabulary (dialsum adds the dialogue tags so): transformers
    loads the base model afresh, without those rows, and the adapter's indices fall past its table."""
    import json

    if (folder / "config.json").is_file() or not (folder / "adapter_config.json").is_file():
        return False
    try:
        config = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and bool(config.get("trainable_token_indices"))


def folder_named_like_a_hub_id(recipe: Recipe, name: str, value: str) -> Path | None:
    """A folder that ``value``, written as a hub id (``models/kobart``, no ``./``), also names: in the
    working directory, where ``from_pretrained`` would take it instead of the hub id, or beside the recipe
    file, which the recipe's path rule would mean; ``None`` when there is none (or ``value`` is a path)."""
    if not value or is_path(value):
        return None
    for folder in (Path(value), recipe.path_of(f"models.{name}.model_name_or_path", "./" + value)):
        if folder.is_dir():
            return folder
    return None


def ambiguous_model_path(name: str, value: str, folder: Path) -> str:
    return (f"{value!r} is written as a hub id, and names the folder {folder} too (which one a run loads would "
            f"depend on its working directory); write ./{value} (relative to the recipe file) or an absolute path "
            "for the folder, or move the folder away if the hub model is meant")


def heads_divide_d_model(inst: Any, _attr: Any, value: int) -> None:
    """BART splits ``d_model`` evenly between the attention heads; any other count fails when the
    model is built. ``inst`` is ``None`` when the table failed to build (the rule needs both keys)."""
    if inst is not None and isinstance(inst.d_model, int) and inst.d_model % value:
        raise ValueError(f"must divide d_model ({inst.d_model}), got {value!r}")


@attrs.define
class PretrainedOptions:
    """``[models.hf-seq2seq]`` and the encoder-decoder presets."""

    #: Hub id or local folder (absolute, or starting with `./`, `../` or `~`: relative to the recipe file).
    model_name_or_path: str = attrs.field(default="", metadata=PATH_OR_NAME)
    #: Branch, tag or commit of the hub repository; empty: the default branch.
    revision: str = ""
    #: Run code shipped with the checkpoint; off unless the recipe turns it on.
    trust_remote_code: bool = False
    #: ``auto``: bfloat16 on a GPU that supports it, float16 on other GPUs, float32 on CPU.
    torch_dtype: str = attrs.field(default="auto", validator=one_of(DTYPES))
    #: Train LoRA adapters (peft) instead of every weight: far less GPU memory.
    use_lora: bool = False
    #: LoRA rank (the seed's `--lora_r`).
    lora_r: int = attrs.field(default=16, validator=positive)
    #: LoRA scaling numerator (the update is scaled by `lora_alpha / lora_r`).
    lora_alpha: int = attrs.field(default=32, validator=positive)
    #: Dropout on the LoRA branch.
    lora_dropout: float = attrs.field(default=0.1, validator=fraction)
    #: Module names to adapt; empty: peft's default for the architecture.
    lora_target_modules: list[str] = attrs.field(factory=list)
    #: Quantized loading through bitsandbytes (QLoRA with ``use_lora``); needs CUDA.
    load_in_8bit: bool = False
    #: 4-bit NF4 loading through bitsandbytes (QLoRA with `use_lora`); needs CUDA.
    load_in_4bit: bool = False
    #: Merge LoRA adapters into the weights when saving (a plain model for export).
    merge_lora: bool = False
    #: Recompute activations in the backward pass: less memory, about 30% slower.
    gradient_checkpointing: bool = False
    #: Largest batch size ``run.auto_batch`` tries first (it halves on out-of-memory).
    auto_batch_max: int = attrs.field(default=AUTO_BATCH_MAX, validator=positive)


@attrs.define
class CausalOptions(PretrainedOptions):
    """``[models.hf-causal]`` and the decoder-only presets."""

    #: A name from the template table (solar, polyglot, kullm, koalpaca, plain) or a literal
    #: template containing ``{dialogue}`` (and optionally ``{instruction}``).
    prompt_template: str = "plain"
    #: The task sentence put into the prompt template's `{instruction}`.
    instruction: str = DEFAULT_INSTRUCTION


@attrs.define
class ScratchOptions:
    """``[models.scratch]``: a small BART built from a config, with a tokenizer trained on the data."""

    #: Size of the BPE vocabulary, its merges trained on the dialogues and summaries of the run's whole
    #: training split (never validation or test) once per run: every fold and repeated run with the same data
    #: and options reuses it from `checkpoints/scratch/tokenizer/`, so their models can be averaged
    #: token by token (`run.ensemble = "averaging"`). Every character of the dialogues of the training,
    #: validation and test splits has a token (none is lost as `<unk>`): a size below those (and the
    #: special tokens) gives that many tokens, with a warning.
    vocab_size: int = attrs.field(default=4000, validator=positive)
    #: Pairs seen fewer times are not merged by the BPE trainer.
    min_frequency: int = attrs.field(default=2, validator=positive)
    #: Hidden size of the BART encoder and decoder.
    d_model: int = attrs.field(default=128, validator=positive)
    #: Encoder layers.
    encoder_layers: int = attrs.field(default=2, validator=positive)
    #: Decoder layers.
    decoder_layers: int = attrs.field(default=2, validator=positive)
    #: Attention heads per layer (encoder and decoder); must divide `d_model`.
    attention_heads: int = attrs.field(default=4, validator=[positive, heads_divide_d_model])
    #: Inner size of the feed-forward blocks.
    ffn_dim: int = attrs.field(default=256, validator=positive)
    #: Dropout on every layer.
    dropout: float = attrs.field(default=0.1, validator=fraction)
    #: Recompute activations in the backward pass: less memory, slower.
    gradient_checkpointing: bool = False
    #: Largest batch size `run.auto_batch` tries first (it halves on out-of-memory).
    auto_batch_max: int = attrs.field(default=AUTO_BATCH_MAX, validator=positive)


def hf_models(recipe: Recipe, plugins: Plugins) -> list[str]:
    """The models of ``run.models`` that this plugin's loaders build: those that read ``[train]``,
    ``[generation]`` and ``run.resume_from``. Told by their options class, whichever package registered
    them (a preset of another package on these classes is built here), never by its distribution."""
    regs = ((m, plugins.get("model_loaders", m)) for m in dict.fromkeys(recipe.run.models))
    return [m for m, r in regs if r is not None and issubclass(r.options, PretrainedOptions | ScratchOptions)]


def scratch_architecture(o: ScratchOptions, recipe: Recipe) -> dict[str, int]:
    """The ``BartConfig`` values the ``scratch`` options and the recipe's lengths give (its weights' shapes
    but the vocabulary's, which the trained tokenizer sets): one source for building the model and for
    the check that a ``run.resume_from`` checkpoint has the same shapes."""
    d, g = recipe.section("data"), recipe.section("generation")
    return {
        "d_model": o.d_model, "encoder_layers": o.encoder_layers, "decoder_layers": o.decoder_layers,
        "encoder_attention_heads": o.attention_heads, "decoder_attention_heads": o.attention_heads,
        "encoder_ffn_dim": o.ffn_dim, "decoder_ffn_dim": o.ffn_dim,
        "max_position_embeddings": max(d.max_length, d.max_target_length, g.max_new_tokens) + 2,
    }


# ------------------------------------------------------------------------------------------------
# Factories: heavy imports happen inside.
# ------------------------------------------------------------------------------------------------
def make_scratch(options: ScratchOptions, ctx: Any) -> Any:
    from dialsum_hf.loaders import ScratchLoader

    return ScratchLoader(options, name="scratch")


def make_pretrained(options: PretrainedOptions, ctx: Any, *, name: str, family: str) -> Any:
    from dialsum_hf.loaders import PretrainedLoader

    recipe = getattr(ctx, "recipe", None)
    local = local_model_path(recipe, name, options.model_name_or_path) if recipe is not None else None
    return PretrainedLoader(options, name=name, family=family, local=local)


# ------------------------------------------------------------------------------------------------
# Checks run by `dialsum check` (cheap: torch only imported when quantization or fp16 is asked for).
# ------------------------------------------------------------------------------------------------
def check_model(recipe: Recipe, plugins: Plugins, *, name: str) -> list[tuple[str, str]]:
    """Problems in ``[models.<name>]`` that would only show after loading a model."""
    opts = recipe.options("model_loaders", name, plugins)
    key = f"models.{name}"
    found: list[tuple[str, str]] = []
    if isinstance(opts, PretrainedOptions):
        if not opts.model_name_or_path:
            found.append((f"{key}.model_name_or_path", "not set: give a hub id or a local model folder"))
        local = local_model_path(recipe, name, opts.model_name_or_path)
        shadow = folder_named_like_a_hub_id(recipe, name, opts.model_name_or_path)
        if shadow is not None:
            found.append((f"{key}.model_name_or_path", ambiguous_model_path(name, opts.model_name_or_path, shadow)))
        elif local is None and opts.model_name_or_path and (bad := hub_id_problem(opts.model_name_or_path)):
            found.append((f"{key}.model_name_or_path", f"{opts.model_name_or_path!r} is neither a local path "
                          f"(absolute, or starting with ./, ../ or ~) nor a hub id written org/model ({bad})"))
        elif local is not None and local.is_file():
            found.append((f"{key}.model_name_or_path", f"{local}: a file; name the model's folder (the one "
                          "holding config.json)"))
        elif local is not None and not local.is_dir():
            found.append((f"{key}.model_name_or_path", f"{local}: no such folder (a local path; a hub id is "
                          "written org/model)"))
        elif local is not None and not any((local / f).is_file() for f in ("config.json", "adapter_config.json")):
            found.append((f"{key}.model_name_or_path", f"{local}: no config.json, so not a saved model folder; "
                          "point it at the folder save_pretrained or huggingface-cli download wrote"))
        elif local is not None and added_token_rows(local):
            found.append((f"{key}.model_name_or_path", f"{local}: a LoRA adapter that trained rows of tokens its "
                          "base model lacks, which loading it as a model cannot restore; continue its training with "
                          "run.resume_from, or save a plain model to start from (merge_lora = true)"))
        elif opts.model_name_or_path:
            remote = opts.trust_remote_code
            if local is not None:
                # without them transformers fails to load the folder, or builds an empty tokenizer of a handful
                # of tokens (the run would train on <unk>); an adapter folder holds the adapter's weights alone
                weights = "" if (local / "adapter_config.json").is_file() else weights_problem(local)
                found += [(f"{key}.model_name_or_path", f"{local}: {problem}")
                          for problem in (weights, tokenizer_problem(local, trust_remote_code=remote)) if problem]
            config = model_config(local, opts.model_name_or_path, opts.revision)
            if local is not None and (local / "config.json").is_file() and \
                    (problem := config_problem(config, trust_remote_code=remote)):
                found.append((f"{key}.model_name_or_path", f"{local}: {problem}"))
            if config is not None:
                found += position_problems(recipe, name, config, causal=isinstance(opts, CausalOptions))
                # an encoder-decoder AutoModelForSeq2SeqLM does not load reads speech or images (Whisper): neither
                # loader is the one to point to
                not_text = config.get("is_encoder_decoder") is True and \
                    not seq2seq_model(config, trust_remote_code=remote)
                # a decoder-only one (Llama, GPT-NeoX...) fails to load, after the models before it trained
                if not isinstance(opts, CausalOptions) and config.get("model_type") and \
                        (problem := seq2seq_problem(config, trust_remote_code=remote)):
                    instead = (NOT_TEXT if not_text else
                               "use hf-causal (or a decoder-only preset) for a decoder-only model")
                    found.append((f"{key}.model_name_or_path", f"{opts.model_name_or_path} is {problem}, so this "
                                  f"encoder-decoder loader cannot load it; {instead}"))
                # AutoModelForCausalLM loads an encoder-decoder (BART, Whisper...) as its decoder alone, dropping
                # the encoder: the run would train a model that never reads the dialogue's encoding
                if isinstance(opts, CausalOptions) and (config.get("is_encoder_decoder") is True
                                                        or seq2seq_model(config)):
                    instead = NOT_TEXT if not_text else "use hf-seq2seq (or an encoder-decoder preset) for it"
                    found.append((f"{key}.model_name_or_path", f"{opts.model_name_or_path} is an encoder-decoder "
                                  f"{config.get('model_type', '')} model, which this decoder-only loader would load "
                                  f"without its encoder; {instead}"))
                if opts.use_lora and not opts.lora_target_modules and config.get("model_type") and \
                        peft_has_default_targets(str(config["model_type"])) is False:
                    found.append((f"{key}.lora_target_modules", no_default_targets(str(config["model_type"]))))
            targets = [t for t in opts.lora_target_modules if t.strip()]  # an empty one is reported below
            if opts.use_lora and targets and (
                (saved := saved_weights(local, opts.model_name_or_path, opts.revision)) is not None
            ) and (renames := loading_renames(config or {})) is not None:
                new = added_tokens(local, opts.model_name_or_path, opts.revision,
                                   special_tokens((), recipe.data.special_tokens))
                if problem := lora_target_problem(saved, targets, renames=renames, new_tokens=new):
                    found.append((f"{key}.lora_target_modules", problem))
        if local is not None and opts.revision:
            # from_pretrained ignores a revision for a folder: the recipe would pin nothing
            found.append((f"{key}.revision", f"{opts.revision!r} picks a branch or commit of a hub repository, and "
                          "model_name_or_path is a local folder, which has none; remove it, or name the hub id"))
        if opts.use_lora and any(not t.strip() for t in opts.lora_target_modules):  # else ignored (a warning)
            found.append((f"{key}.lora_target_modules", "holds an empty module name; name modules such as "
                          "\"q_proj\", or give an empty list for peft's default of the architecture"))
        if isinstance(opts, CausalOptions) and opts.prompt_template not in TEMPLATES and (
            "{dialogue}" not in opts.prompt_template
        ):
            found.append((f"{key}.prompt_template", f"{opts.prompt_template!r} is neither a template name "
                           f"({', '.join(TEMPLATES)}) nor a template containing {{dialogue}}"))
        if opts.torch_dtype == "float16" and not opts.use_lora:
            found.append((f"{key}.torch_dtype", "float16 weights cannot be fully fine-tuned (no float32 copy: "
                          "small updates round away and Adam's epsilon underflows, so the loss rises); use "
                          "bfloat16, float32 or auto, or train LoRA adapters (use_lora = true)"))
        if isinstance(opts, CausalOptions) and any(f in opts.instruction for f in ("{dialogue}", "{instruction}")):
            # the instruction is put into the template before the dialogue: its {dialogue} would be filled too
            found.append((f"{key}.instruction", "holds a {dialogue} or {instruction} field, which belongs in "
                          "prompt_template (the instruction is the sentence put into the template's {instruction})"))
        quant = [k for k in ("load_in_4bit", "load_in_8bit") if getattr(opts, k)]
        if len(quant) == 2:
            found.append((f"{key}.load_in_4bit", "load_in_4bit and load_in_8bit are both on; choose one"))
        if quant:
            if importlib.util.find_spec("bitsandbytes") is None:
                found.append((f"{key}.{quant[0]}", "needs bitsandbytes (pip install 'dialsum-hf[quantization]')"))
            if not cuda_available():
                found.append((f"{key}.{quant[0]}", "4-bit/8-bit loading needs a CUDA GPU and none is visible; "
                              f"set {quant[0]} = false or run on a GPU machine"))
            if not opts.use_lora:
                found.append((f"{key}.use_lora", f"a quantized model cannot be fully fine-tuned; set use_lora = true "
                              f"with {quant[0]} (QLoRA)"))
            if opts.merge_lora:
                found.append((f"{key}.merge_lora", "adapters cannot be merged into quantized weights"))
        if opts.merge_lora and not opts.use_lora:
            found.append((f"{key}.merge_lora", "merge_lora needs use_lora = true"))
    # A strategy tagged TOKEN_LEVEL (dialsum-ensemble's averaging) decodes the models jointly, which needs one
    # tokenizer: for the loaders of this options class (whichever plugin registered them), the one of
    # model_name_or_path (scratch trains its own). Loaders of other classes are the ensemble's check's.
    joint = [k for k, kind, names in recipe.uses(plugins) if kind == "ensembles"
             and any(r is not None and TOKEN_LEVEL in r.tags for r in (plugins.get(kind, n) for n in names))]
    if joint:
        mine = plugins.require("model_loaders", name).options
        own = [n for n in dict.fromkeys(recipe.run.models)
               if getattr(plugins.get("model_loaders", n), "options", None) is mine]
        paths = {getattr(recipe.options("model_loaders", n, plugins), "model_name_or_path", "") for n in own}
        if len(own) > 1 and (len(paths) > 1 or paths == {""}):
            # the installed strategies that do not decode jointly, so that the line says what to choose
            others = sorted(r.name for r in plugins.registry.of_kind("ensembles") if TOKEN_LEVEL not in r.tags)
            found.append((joint[0], f"models {own} do not share a tokenizer (different model_name_or_path: "
                          f"{sorted(paths)}), which decoding them jointly needs; choose a strategy for {joint[0]} "
                          f"that combines finished summaries instead ({', '.join(others) or 'none installed'})"))
    problem = selection_problem(recipe.run.metrics, plugins, BEST_METRIC,
                                f"the Hugging Face models keep the checkpoint with the best {BEST_METRIC}")
    if problem:  # one line for every model: problems dedup it
        found.append(("run.metrics", problem))
    return found


@hookimpl
def dialsum_register_sections(register: Any) -> None:
    register_sections(register)


@hookimpl
def dialsum_resolve_recipe(recipe: Any, plugins: Any) -> Any:
    """``run.models = ["all"]`` stands for every model preset."""
    return expand_all(recipe, plugins)


@hookimpl
def dialsum_ignored_keys(recipe: Any, plugins: Any) -> list[tuple[str, str]]:
    from dialsum_hf.ignored import ignored_keys

    return ignored_keys(recipe, plugins)


@hookimpl
def dialsum_before_run(ctx: Any) -> None:
    """Lines said once per run (:func:`dialsum_hf.model.say_once`) start unsaid in each run."""
    from dialsum_hf.model import forget_said

    forget_said(ctx.experiment.root)


@hookimpl
def dialsum_register_commands(cli: Any) -> None:
    from dialsum_hf.commands import models

    cli.add_command(models)


@hookimpl
def dialsum_register_model_loaders(register: Any) -> None:
    register("scratch", make_scratch, options=ScratchOptions, tags=TAGS,
             check=functools.partial(check_model, name="scratch"),
             description="A small BART built from a config, tokenizer trained on the training data")
    register("hf-seq2seq", functools.partial(make_pretrained, name="hf-seq2seq", family="seq2seq"),
             options=PretrainedOptions, tags=TAGS, check=functools.partial(check_model, name="hf-seq2seq"),
             description="Any AutoModelForSeq2SeqLM (KoBART, KoT5, mT5...) by hub id or local path")
    register("hf-causal", functools.partial(make_pretrained, name="hf-causal", family="causal"),
             options=CausalOptions, tags=TAGS, check=functools.partial(check_model, name="hf-causal"),
             description="Any AutoModelForCausalLM fine-tuned as an instruction model (prompt -> summary)")
    for name, (family, description, defaults) in PRESETS.items():
        register(
            name,
            functools.partial(make_pretrained, name=name, family=family),
            options=CausalOptions if family == "causal" else PretrainedOptions,
            tags=("preset", *TAGS),
            defaults=dict(defaults),
            check=functools.partial(check_model, name=name),
            description=f"{description}; {defaults['model_name_or_path']}",
        )
