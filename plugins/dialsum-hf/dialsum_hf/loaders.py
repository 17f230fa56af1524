"""Model loaders: ``scratch`` (a small BART and a tokenizer trained on the data) and the pretrained
seq2seq / causal loaders behind ``hf-seq2seq``, ``hf-causal`` and every preset."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dialsum_core.errors import DialsumError
from dialsum_core.experiment import safe_name
from dialsum_hf.model import HFModel
from dialsum_hf.plugin import (
    CausalOptions,
    PretrainedOptions,
    ScratchOptions,
    ambiguous_model_path,
    folder_named_like_a_hub_id,
    local_model_path,
    scratch_architecture,
)
from dialsum_hf.presets import render_template
from dialsum_hf.quiet import quiet_lora_warnings, quiet_progress_bars
from dialsum_hf.tokenizer import add_tags, cached_tokenizer, scratch_corpus, special_tokens, tokenizer_key
from dialsum_hf.weights import no_default_targets, peft_has_default_targets, unmatched_targets, unrun_embedding

#: The ``transformers`` names that building, training and generating with any loader's model use.
LIBRARY_NAMES = (
    "set_seed", "PreTrainedTokenizerFast", "AutoConfig", "AutoTokenizer", "AutoModelForSeq2SeqLM",
    "AutoModelForCausalLM", "Seq2SeqTrainer", "Seq2SeqTrainingArguments", "TrainerCallback",
    "EarlyStoppingCallback", "PrinterCallback", "LogitsProcessorList",
)


def import_libraries(*names: str) -> None:
    """Import what this plugin's models use from ``transformers`` (and ``names``), now, in this thread.

    Why: ``transformers`` resolves its names lazily on first use, and two threads resolving one
    for the first time at once can see a half-imported module (``ImportError: cannot import name
    'BartConfig'``). That is what parallel Optuna trials (``modes.optuna.n_jobs > 1``) do, each
    building its model in its own thread. Every loader calls this when it is constructed, so a run
    mode that builds the loader once in its main thread before starting threads makes the threads
    find everything imported already; afterwards the names are plain module attributes.
    """
    import torch  # noqa: F401 - imported for its side effect: a complete import in this thread
    import transformers

    for name in (*LIBRARY_NAMES, *names):
        getattr(transformers, name)


def resolve_dtype(name: str, *, full_finetune: bool) -> Any:
    """``auto``: bfloat16 (or float16) on CUDA for LoRA/inference, float32 for full fine-tuning and CPU."""
    import torch

    if name != "auto":
        return getattr(torch, name)
    if not torch.cuda.is_available() or full_finetune:
        return torch.float32
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


class ScratchLoader:
    def __init__(self, options: ScratchOptions, *, name: str):
        self.options = options
        self.name = name
        import_libraries("BartConfig", "BartForConditionalGeneration")

    def build(self, ctx: Any, train: Sequence[Any]) -> HFModel:
        from transformers import BartConfig, BartForConditionalGeneration, set_seed

        o, d = self.options, ctx.recipe.data
        set_seed(ctx.recipe.run.seed)
        corpus = tokenizer_corpus(ctx, train)
        texts, tags, chars = scratch_corpus(corpus, d.special_tokens, read_splits(ctx, corpus))
        tok = cached_tokenizer(ctx.experiment.checkpoints / safe_name(self.name) / "tokenizer", texts, tags,
                               o.vocab_size, o.min_frequency, alphabet=chars)
        if (alphabet := tok.backend_tokenizer.get_vocab_size(with_added_tokens=False)) > o.vocab_size:
            # BPE keeps every character it is given: a smaller size cannot be had, and the model is larger than asked
            ctx.log.warning("models.%s.vocab_size = %d is below the %d characters and special tokens of the "
                            "data, so the vocabulary has %d tokens", self.name, o.vocab_size, alphabet,
                            len(tok))
        config = BartConfig(
            vocab_size=len(tok), **scratch_architecture(o, ctx.recipe),
            dropout=o.dropout, pad_token_id=tok.pad_token_id,
            bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
            decoder_start_token_id=tok.bos_token_id, forced_bos_token_id=None,
            forced_eos_token_id=tok.eos_token_id,
        )
        model = BartForConditionalGeneration(config)
        hf = HFModel(model, tok, loader=self.name, is_encoder_decoder=True, options=o,
                     tokenizer_key=tokenizer_key(texts, tags, o.vocab_size, o.min_frequency, alphabet=chars))
        ctx.log.info("scratch: BART with %.2fM parameters, vocabulary %d", model.num_parameters() / 1e6, len(tok))
        if ctx.recipe.run.gpu_check:
            from dialsum_hf.gpu import gpu_check

            gpu_check(ctx, config, lora=False, bytes_per_param=4, options=o)
        return hf

    def load(self, ctx: Any, path: Path) -> HFModel:
        return load_saved(ctx, Path(path), self.options, self.name)


def tokenizer_corpus(ctx: Any, train: Sequence[Any]) -> list[Any]:
    """What the ``scratch`` tokenizer learns from: the run's whole training split when ``train`` comes
    from it (a fold, a trial, either with augmented copies of its dialogues), else ``train`` itself
    (examples a caller brought from elsewhere).

    One tokenizer for every fold gives the fold models the same ids, which token-level ensembles
    need: augmented copies differ from fold to fold, so they never enter it, nor do the validation
    and test splits (only the characters of their dialogues, :func:`read_splits`).
    """
    try:
        whole = ctx.data().train
    except DialsumError:  # a context without data files: only what is being trained on is known
        return list(train)
    known = {(e.fname, e.dialogue) for e in whole}
    return list(whole) if any((e.fname, e.dialogue) in known for e in train) else list(train)


def read_splits(ctx: Any, corpus: Sequence[Any]) -> list[Any]:
    """The validation and test examples of the run whose training split ``corpus`` is (the dialogues the
    model will read besides it); none when ``corpus`` came from elsewhere or the context has no data."""
    try:
        data = ctx.data()
    except DialsumError:
        return []
    return [*data.valid, *data.test] if corpus and list(corpus) == list(data.train) else []


class PretrainedLoader:
    def __init__(self, options: PretrainedOptions, *, name: str, family: str, local: Path | None = None):
        self.options = options
        self.name = name
        self.family = family
        #: The local folder ``model_name_or_path`` names, resolved by the recipe's path rule (relative to
        #: the recipe file); ``None`` for a hub id or when no recipe was at hand.
        self.local = local
        import_libraries()
        if self.options.use_lora or self.options.load_in_4bit or self.options.load_in_8bit:
            import peft  # noqa: F401 - a first import in this thread, as above

        self._import_architecture()

    def _import_architecture(self) -> None:
        """Import the model class of ``model_name_or_path`` (``modeling_bart``...), as
        :func:`import_libraries` does for the library: ``from_pretrained`` imports it lazily too.

        Best effort and offline: a local folder or a model already downloaded. A config that cannot be
        read here is read (or downloaded) again by :meth:`build`, which reports problems in context.
        """
        from transformers import AutoConfig
        from transformers.models.auto import modeling_auto

        o = self.options
        if not o.model_name_or_path or o.trust_remote_code:
            return
        mapping = (modeling_auto.MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING if self.family == "seq2seq"
                   else modeling_auto.MODEL_FOR_CAUSAL_LM_MAPPING)
        # build() reports an unreadable config or an unknown architecture, with its context
        with contextlib.suppress(Exception):
            config = AutoConfig.from_pretrained(str(self.local or o.model_name_or_path), revision=o.revision or None,
                                                local_files_only=True)
            mapping[type(config)]  # the lookup is what imports the class

    def build(self, ctx: Any, train: Sequence[Any]) -> HFModel:
        from transformers import set_seed

        o = self.options
        set_seed(ctx.recipe.run.seed)
        quiet_progress_bars()
        local = local_model_path(ctx.recipe, self.name, o.model_name_or_path)
        shadow = folder_named_like_a_hub_id(ctx.recipe, self.name, o.model_name_or_path)
        if shadow is not None:
            raise DialsumError(f"models.{self.name}.model_name_or_path: "
                               + ambiguous_model_path(self.name, o.model_name_or_path, shadow))
        path = str(local) if local is not None else o.model_name_or_path
        if ctx.recipe.run.gpu_check:
            self._gpu_check(ctx, path)
        tok = _load_tokenizer(path, o, self.name)
        _check_config(path, o, self.name, self.family, tok)
        new_ids = add_tags(tok, special_tokens(train, ctx.recipe.data.special_tokens))
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        if tok.eos_token_id is None:
            raise DialsumError(f"models.{self.name}: the tokenizer of {path} has no end-of-text token")
        if self.family != "seq2seq":  # seconds after the tokenizer, not minutes after a 10B model loads
            prompt = render_template(getattr(o, "prompt_template", ""), getattr(o, "instruction", ""), "")
            _check_prompt_room(ctx, tok, prompt, self.name)
        model = _load_model(path, o, self.name, self.family)
        if new_ids:
            model.resize_token_embeddings(len(tok))
        model = prepare_for_training(model, o, self.family, new_ids, self.name)
        hf = HFModel(model, tok, loader=self.name, is_encoder_decoder=self.family == "seq2seq", options=o,
                     prompt_template=getattr(o, "prompt_template", ""), instruction=getattr(o, "instruction", ""),
                     base_model=path)
        _log_trainable(ctx, hf, self.name)
        return hf

    def load(self, ctx: Any, path: Path) -> HFModel:
        return load_saved(ctx, Path(path), self.options, self.name)

    def _gpu_check(self, ctx: Any, path: str) -> None:
        """``path``: the model folder as resolved for loading (a relative ``./model`` is relative to the
        recipe file, not to the working directory), or the hub id."""
        from dialsum_hf.gpu import gpu_check

        o = self.options
        try:
            from transformers import AutoConfig

            config = AutoConfig.from_pretrained(path, revision=o.revision or None,
                                                trust_remote_code=o.trust_remote_code)
        except Exception as exc:
            ctx.log.warning("gpu_check: cannot read the config of %s (%s)", path, exc)
            config = None
        bytes_per = 0.5 if o.load_in_4bit else 1 if o.load_in_8bit else \
            resolve_dtype(o.torch_dtype, full_finetune=not o.use_lora).itemsize
        gpu_check(ctx, config, lora=o.use_lora, bytes_per_param=bytes_per, family=self.family, options=o)


def _check_prompt_room(ctx: Any, tokenizer: Any, prompt: str, name: str) -> None:
    """The prompt template must leave ``data.max_length`` room for the dialogue: a prompt is shortened
    from the dialogue and then cut from its start, so a template as long as the limit left the model a
    tail of the template and no dialogue at all, without a word."""
    from dialsum_hf.features import prompt_ids

    limit = ctx.recipe.data.max_length
    template = len(prompt_ids(tokenizer, prompt))
    if template >= limit:
        raise DialsumError(f"data.max_length: {limit} tokens cannot hold a dialogue in the prompt of models.{name}: "
                           f"its template and instruction alone are {template} tokens; raise data.max_length or "
                           f"shorten models.{name}.prompt_template / instruction")
    if template > limit // 2:
        ctx.log.warning("%s: the prompt template and instruction take %d of the %d tokens of data.max_length, "
                        "leaving %d for the dialogue", name, template, limit, limit - template)


def _log_trainable(ctx: Any, hf: HFModel, name: str) -> None:
    total = sum(p.numel() for p in hf.model.parameters())
    trainable = sum(p.numel() for p in hf.model.parameters() if p.requires_grad)
    ctx.log.info("%s: %s, %.2fM parameters (%.2fM trainable)", name, hf.base_model, total / 1e6, trainable / 1e6)


def _load_tokenizer(path: str, o: PretrainedOptions, name: str) -> Any:
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(path, revision=o.revision or None, trust_remote_code=o.trust_remote_code)
    except Exception as exc:
        raise DialsumError(_cannot_load(name, path, exc)) from None


def _check_config(path: str, o: PretrainedOptions, name: str, family: str, tok: Any) -> None:
    """What ``dialsum check`` refuses for a folder, for a model it could not read beforehand (a hub id
    not yet downloaded), before the weights are loaded:

    * an encoder-decoder given to the causal loader: ``AutoModelForCausalLM`` loads its decoder alone;
    * a tokenizer far smaller than the model's vocabulary: transformers builds an empty one (a handful
      of tokens) for a folder that holds no tokenizer files, and every text becomes ``<unk>``.
    """
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(path, revision=o.revision or None, trust_remote_code=o.trust_remote_code)
    except Exception:  # an adapter folder, or a config only the model class reads: loading it says why
        return
    if family == "causal" and getattr(config, "is_encoder_decoder", False):
        raise DialsumError(f"models.{name}.model_name_or_path: {path} is an encoder-decoder "
                           f"{getattr(config, 'model_type', '')} model, which this decoder-only loader would load "
                           "without its encoder; use hf-seq2seq (or an encoder-decoder preset) for it")
    model_type = str(getattr(config, "model_type", ""))
    if o.use_lora and not o.lora_target_modules and model_type and peft_has_default_targets(model_type) is False:
        raise DialsumError(f"models.{name}.lora_target_modules: {no_default_targets(model_type)}")
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    vocab = getattr(text, "vocab_size", None)
    if isinstance(vocab, int) and vocab > 0 and len(tok) < vocab // 2:
        raise DialsumError(f"models.{name}.model_name_or_path: the tokenizer of {path} has {len(tok)} tokens for a "
                           f"model of {vocab}; the folder holds no tokenizer of the model's own, so every text "
                           "would become unknown tokens (save the tokenizer into it too)")


def _cannot_load(name: str, path: str, exc: BaseException) -> str:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if Path(path).is_dir():  # a local folder: nothing to download, the folder itself is incomplete or other
        return (f"models.{name}.model_name_or_path: cannot load the folder {path!r} ({first}); point "
                "model_name_or_path at a folder save_pretrained wrote (config.json, weights and tokenizer)")
    return (f"models.{name}.model_name_or_path: cannot load {path!r} ({first}); download the model first "
            "(huggingface-cli download) or point model_name_or_path at a local folder")


def quantization_config(o: PretrainedOptions) -> Any:
    if not (o.load_in_4bit or o.load_in_8bit):
        return None
    import torch
    from transformers import BitsAndBytesConfig

    if o.load_in_8bit:
        return BitsAndBytesConfig(load_in_8bit=True)
    compute = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=compute)


def _load_model(path: str, o: PretrainedOptions, name: str, family: str) -> Any:
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

    auto = AutoModelForSeq2SeqLM if family == "seq2seq" else AutoModelForCausalLM
    quant = quantization_config(o)
    kwargs: dict[str, Any] = {
        "dtype": resolve_dtype(o.torch_dtype, full_finetune=not o.use_lora),
        "trust_remote_code": o.trust_remote_code,
        "revision": o.revision or None,
    }
    if quant is not None:
        kwargs.update(quantization_config=quant, device_map={"": torch.cuda.current_device()})
    try:
        return auto.from_pretrained(path, **kwargs)
    except Exception as exc:
        raise DialsumError(_cannot_load(name, path, exc)) from None


def prepare_for_training(model: Any, o: PretrainedOptions, family: str, new_token_ids: Sequence[int],
                         name: str) -> Any:
    """k-bit preparation and LoRA wrapping, as the options say."""
    if o.load_in_4bit or o.load_in_8bit:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=o.gradient_checkpointing)
    if not o.use_lora:
        return model
    from peft import LoraConfig, TaskType, get_peft_model

    unmatched = unmatched_targets([n for n, _m in model.named_modules()], o.lora_target_modules)
    if unmatched:
        raise DialsumError(f"models.{name}.lora_target_modules: {unmatched} match no module of the model; "
                           f"its linear layers are named {adaptable_names(model)}")
    fixed = [n for n, m in model.named_modules() if not lora_can_adapt(m)]
    if bad := [t for t in o.lora_target_modules if not unmatched_targets(fixed, [t])]:
        raise DialsumError(f"models.{name}.lora_target_modules: {bad} name modules LoRA cannot adapt (layers that "
                           f"hold other layers, or norms); name the linear layers in them, such as "
                           f"{adaptable_names(model)}")
    if hidden := unreached_targets(model, o.lora_target_modules):
        raise DialsumError(f"models.{name}.lora_target_modules: {hidden} name a module the model also runs under "
                           "another name that no target names (a tied embedding, such as BART's shared one, also run "
                           "as embed_tokens), where peft's replacement does not reach: its adapter would never "
                           "train; leave it out")
    if family == "seq2seq" and (unrun := unrun_targets(model, o.lora_target_modules)):
        raise DialsumError(f"models.{name}.lora_target_modules: {unrun_embedding(unrun)}")
    if o.gradient_checkpointing:
        model.enable_input_require_grads()
    extra: dict[str, Any] = {}
    rows = trainable_token_rows(model, new_token_ids, o.lora_target_modules) if new_token_ids else {}
    if rows:
        extra["trainable_token_indices"] = rows
    config = LoraConfig(
        task_type=TaskType.SEQ_2_SEQ_LM if family == "seq2seq" else TaskType.CAUSAL_LM,
        r=o.lora_r, lora_alpha=o.lora_alpha, lora_dropout=o.lora_dropout,
        target_modules=list(o.lora_target_modules) or None, **extra,
    )
    quiet_lora_warnings()
    return get_peft_model(model, config)


def unreached_targets(model: Any, targets: Sequence[str]) -> list[str]:
    """The ``targets`` matching a module the model also holds under a name no target matches.

    peft replaces a module under the one name ``named_modules`` gives it; where the same module object is held
    under another name (BART's ``shared`` embedding is its encoder's and decoder's ``embed_tokens`` too once
    the vocabulary grew), the model keeps calling the original there, so the adapter gets no gradient and
    the Trainer fails at its first step."""
    names: dict[int, list[str]] = {}
    for n, m in model.named_modules(remove_duplicate=False):
        names.setdefault(id(m), []).append(n)

    def matched(n: str, among: Sequence[str]) -> bool:
        return len(unmatched_targets([n], among)) < len(among)

    return [t for t in targets if any(matched(n, [t]) and not all(matched(a, targets) for a in names[id(m)])
                                      for n, m in model.named_modules() if n)]


def unrun_targets(model: Any, targets: Sequence[str]) -> list[str]:
    """The ``targets`` matching an encoder-decoder's input embedding (BART's and T5's ``shared``) while its encoder
    and decoder run other modules (their own ``embed_tokens``, tied to its weight only): the forward pass never
    calls it, so its adapter would get no gradient (:func:`~dialsum_hf.weights.unrun_embedding`). Once the
    vocabulary grew it is theirs too, which :func:`unreached_targets` judges."""
    shared = model.get_input_embeddings()
    if any(side.get_input_embeddings() is shared for side in (model.get_encoder(), model.get_decoder())):
        return []
    unrun = [n for n, m in model.named_modules() if m is shared]
    return [t for t in targets if not unmatched_targets(unrun, [t])]


def lora_can_adapt(module: Any) -> bool:
    """Whether peft could wrap ``module`` in LoRA: not a module holding others (an attention block, an MLP;
    ``nn.MultiheadAttention`` aside), nor one without a tensor of two dimensions or more (a norm, an
    activation). peft refuses a target matching any other module with a traceback; the rule names no class,
    so the quantized linear layers of other libraries pass."""
    import torch

    if any(True for _ in module.children()) and not isinstance(module, torch.nn.MultiheadAttention):
        return False
    tensors = [*module.parameters(recurse=False), *module.buffers(recurse=False)]
    return any(t.dim() >= 2 for t in tensors)


def adaptable_names(model: Any, limit: int = 12) -> list[str]:
    """The distinct last parts of the names of ``model``'s linear layers (what LoRA usually adapts)."""
    import torch

    leaves = {n.rsplit(".", 1)[-1] for n, m in model.named_modules()
              if isinstance(m, torch.nn.Linear) or type(m).__name__ == "Conv1D"}
    return sorted(leaves)[:limit]


def trainable_token_rows(model: Any, new_token_ids: Sequence[int], lora_targets: Sequence[str] = ()
                         ) -> dict[str, list[int]]:
    """Which rows of which embedding matrices LoRA trains for newly added tag tokens.

    A new token starts from an untrained row. Training only its input row lets the model read
    ``#Person1#`` but never write it: in an untied model (SOLAR, Polyglot: ``tie_word_embeddings =
    false``) the output row lives in ``lm_head`` (GPT-NeoX's too: saved as ``embed_out``, transformers 5 loads
    it as ``lm_head``, :mod:`dialsum_hf.conversions`), and a summary could not name the speakers. So the output
    rows are trained too when they are a matrix of their own; a tied model shares one matrix, which peft keeps
    tied. The rest of both matrices stays frozen.

    A matrix ``lora_targets`` adapts is left out: its LoRA update trains every row, the new ones too, and
    peft refuses both on one module.
    """
    rows = list(new_token_ids)
    names = {id(m): n for n, m in model.named_modules()}

    def adapted(module: Any) -> bool:
        n = names.get(id(module), "")
        return bool(n) and len(unmatched_targets([n], lora_targets)) < len(lora_targets)

    emb, out = model.get_input_embeddings(), model.get_output_embeddings()
    targets = {} if adapted(emb) else {_module_name(model, emb, "embed_tokens"): rows}
    if out is not None and out is not emb and out.weight is not emb.weight and not adapted(out):
        targets[_module_name(model, out, "lm_head")] = rows
    return targets


def _module_name(model: Any, module: Any, default: str) -> str:
    for name, m in model.named_modules():
        if m is module:
            return name.rsplit(".", 1)[-1]
    return default


def load_saved(ctx: Any, path: Path, options: Any, name: str) -> HFModel:
    """A model saved by :meth:`HFModel.save` (or a checkpoint written during ``fit``)."""
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

    from dialsum_hf.saving import read_metadata

    quiet_progress_bars()
    meta = read_metadata(path)
    seq2seq = bool(meta["is_encoder_decoder"])
    auto = AutoModelForSeq2SeqLM if seq2seq else AutoModelForCausalLM
    trust = bool(getattr(options, "trust_remote_code", False))
    tok = AutoTokenizer.from_pretrained(str(path), trust_remote_code=trust)
    quant = quantization_config(options) if isinstance(options, PretrainedOptions) else None
    dtype = resolve_dtype(options.torch_dtype, full_finetune=False) if isinstance(options, PretrainedOptions) \
        else None
    kwargs: dict[str, Any] = {"trust_remote_code": trust}
    if dtype is not None:
        kwargs["dtype"] = dtype
    if quant is not None:
        import torch

        kwargs.update(quantization_config=quant, device_map={"": torch.cuda.current_device()})
    # dialsum saves safetensors only: a folder that holds pickled weights instead is refused.
    if meta.get("adapter") and not (path / "adapter_model.safetensors").is_file():
        raise DialsumError(f"{path}: no adapter_model.safetensors (dialsum loads saved weights from safetensors only)")
    try:
        if meta.get("adapter"):
            from peft import PeftModel

            base = auto.from_pretrained(meta["base_model"], **kwargs)
            if base.get_input_embeddings().num_embeddings != len(tok):
                base.resize_token_embeddings(len(tok))
            model = PeftModel.from_pretrained(base, str(path))
        else:
            model = auto.from_pretrained(str(path), use_safetensors=True, **kwargs)
    except Exception as exc:
        raise DialsumError(f"{path}: cannot load the saved model ({str(exc).splitlines()[0] if str(exc) else exc})") \
            from None
    if quant is None:
        import torch

        if torch.cuda.is_available():
            model = model.to("cuda")
    causal = isinstance(options, CausalOptions)
    return HFModel(
        model, tok, loader=meta.get("loader", name), is_encoder_decoder=seq2seq, options=options,
        prompt_template=meta.get("prompt_template") or (options.prompt_template if causal else ""),
        instruction=meta.get("instruction") or (options.instruction if causal else ""),
        base_model=meta.get("base_model", ""), tokenizer_key=meta.get("tokenizer_key", ""),
    )
