"""The seed's named models: hub ids, prompt templates and LoRA targets (plain data, cheap to import)."""

from __future__ import annotations

from typing import Any

#: Prompt templates for instruction-tuned causal LMs. ``{instruction}`` and ``{dialogue}`` are
#: filled in; the model is trained to continue the prompt with the summary and an end-of-text token.
TEMPLATES: dict[str, str] = {
    # upstage/SOLAR-10.7B-Instruct and SOLAR-based Korean models
    "solar": "### User:\n{instruction}\n\n{dialogue}\n\n### Assistant:\n",
    # EleutherAI/polyglot-ko (a base model: a plain Korean instruction layout)
    "polyglot": "### 지시:\n{instruction}\n\n### 대화:\n{dialogue}\n\n### 요약:\n",
    # nlpai-lab/KULLM v2 (Alpaca-style, Korean)
    "kullm": (
        "아래는 작업을 설명하는 명령어와 추가 입력을 제공하는 컨텍스트가 함께 제공됩니다. "
        "요청을 적절히 완료하는 응답을 작성하세요.\n\n"
        "### 명령어:\n{instruction}\n\n### 입력:\n{dialogue}\n\n### 응답:\n"
    ),
    # beomi/KoAlpaca
    "koalpaca": "### 질문: {instruction}\n\n{dialogue}\n\n### 답변:",
    # anything else
    "plain": "{instruction}\n\n{dialogue}\n\n요약:",
}

DEFAULT_INSTRUCTION = "다음 대화를 한두 문장으로 요약하세요."

LLAMA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj"]
NEOX_TARGETS = ["query_key_value"]
BART_TARGETS = ["q_proj", "v_proj"]

#: name -> (family, description, option defaults). ``family`` picks the loader: ``seq2seq`` or ``causal``.
PRESETS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "kobart": (
        "seq2seq",
        "KoBART fine-tuned for summarization (encoder-decoder, full fine-tuning)",
        {"model_name_or_path": "digit82/kobart-summarization", "lora_target_modules": BART_TARGETS},
    ),
    "solar-10.7b": (
        "causal",
        "SOLAR 10.7B Instruct (Llama architecture), LoRA, SOLAR prompt",
        {
            "model_name_or_path": "upstage/SOLAR-10.7B-Instruct-v1.0",
            "prompt_template": "solar",
            "use_lora": True,
            "lora_target_modules": LLAMA_TARGETS,
        },
    ),
    "ldcc-solar": (
        "causal",
        "LDCC-SOLAR 10.7B (Korean SOLAR, Llama architecture), LoRA, SOLAR prompt",
        {
            "model_name_or_path": "LDCC/LDCC-SOLAR-10.7B",
            "prompt_template": "solar",
            "use_lora": True,
            "lora_target_modules": LLAMA_TARGETS,
        },
    ),
    "polyglot-ko-12.8b": (
        "causal",
        "Polyglot-Ko 12.8B (GPT-NeoX), LoRA, plain Korean prompt",
        {
            "model_name_or_path": "EleutherAI/polyglot-ko-12.8b",
            "prompt_template": "polyglot",
            "use_lora": True,
            "lora_target_modules": NEOX_TARGETS,
        },
    ),
    "kullm-v2": (
        "causal",
        "KULLM v2 (Polyglot-Ko 12.8B instruction-tuned, GPT-NeoX), LoRA, KULLM prompt",
        {
            "model_name_or_path": "nlpai-lab/kullm-polyglot-12.8b-v2",
            "prompt_template": "kullm",
            "use_lora": True,
            "lora_target_modules": NEOX_TARGETS,
        },
    ),
    "koalpaca": (
        "causal",
        "KoAlpaca (Polyglot-Ko 12.8B instruction-tuned, GPT-NeoX), LoRA, KoAlpaca prompt",
        {
            "model_name_or_path": "beomi/KoAlpaca-Polyglot-12.8B",
            "prompt_template": "koalpaca",
            "use_lora": True,
            "lora_target_modules": NEOX_TARGETS,
        },
    ),
}


#: preset -> the transformers ``model_type`` of its checkpoint (the tiny test models stand in for these).
ARCHITECTURES: dict[str, str] = {
    "kobart": "bart",
    "solar-10.7b": "llama",
    "ldcc-solar": "llama",
    "polyglot-ko-12.8b": "gpt_neox",
    "kullm-v2": "gpt_neox",
    "koalpaca": "gpt_neox",
}


def render_template(template: str, instruction: str, dialogue: str) -> str:
    """``template`` is a name from :data:`TEMPLATES` or a literal string with ``{dialogue}``."""
    text = TEMPLATES.get(template, template)
    return text.replace("{instruction}", instruction).replace("{dialogue}", dialogue)


def expand_all(recipe: Any, plugins: Any) -> Any:
    """``run.models = ["all"]``: every registered preset (``tags=("preset",)``, whichever plugin offers
    it) in place of ``all``, each name once; ``None`` when the recipe does not say ``all``."""
    import attrs

    if "all" not in recipe.run.models or plugins.get("model_loaders", "all") is not None:
        return None
    presets = [reg.name for reg in plugins.registry.tagged("model_loaders", "preset")]
    names = [n for name in recipe.run.models for n in (presets if name == "all" else [name])]
    return recipe.evolve(run=attrs.evolve(recipe.run, models=list(dict.fromkeys(names))))
