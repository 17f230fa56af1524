"""Token-level averaging on tiny random BART models that share one tokenizer.

The strongest checks are exact: with one positive weight the joint decoding must equal that
model's own beam search, whichever model drives transformers' ``generate``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from dialsum_core.context import RunContext  # noqa: E402
from dialsum_core.events import Events  # noqa: E402
from dialsum_core.experiment import Experiment  # noqa: E402
from dialsum_core.manager import build_plugins  # noqa: E402
from dialsum_core.recipe import Recipe  # noqa: E402
from dialsum_core.testing import TINY_DIALOGUES  # noqa: E402


def tokenizer() -> object:
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator([d for _, d, s, _ in TINY_DIALOGUES] + [s for _, _, s, _ in TINY_DIALOGUES],
                            trainers.WordLevelTrainer(special_tokens=["<pad>", "<s>", "</s>", "<unk>"]))
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 2)])
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>",
                                                eos_token="</s>", unk_token="<unk>")


class TinySeq2Seq:
    """The attributes a dialsum HF model exposes, around a transformers model."""

    is_encoder_decoder = True

    def __init__(self, model: object, tok: object):
        self.model, self.tokenizer = model, tok
        self.tokenizer_signature = "tiny-wordlevel"

    def prompt(self, dialogue: str) -> str:
        return dialogue

    def generate(self, dialogues: list[str], ctx: RunContext) -> list[str]:
        g = ctx.recipe.generation
        enc = self.tokenizer(dialogues, return_tensors="pt", padding=True)
        with torch.inference_mode():
            out = self.model.generate(**enc, num_beams=g.num_beams, max_new_tokens=g.max_new_tokens,
                                      min_new_tokens=g.min_new_tokens, no_repeat_ngram_size=g.no_repeat_ngram_size,
                                      repetition_penalty=g.repetition_penalty, length_penalty=g.length_penalty,
                                      do_sample=False)
        return self.tokenizer.batch_decode(out, skip_special_tokens=True)


def tiny(seed: int, tok: object) -> TinySeq2Seq:
    torch.manual_seed(seed)
    cfg = transformers.BartConfig(vocab_size=len(tok), d_model=32, encoder_layers=1, decoder_layers=1,
                                  encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64,
                                  decoder_ffn_dim=64, max_position_embeddings=128, pad_token_id=0,
                                  bos_token_id=1, eos_token_id=2, decoder_start_token_id=2,
                                  forced_eos_token_id=2)
    return TinySeq2Seq(transformers.BartForConditionalGeneration(cfg).eval(), tok)


@pytest.fixture(scope="module")
def models() -> tuple[TinySeq2Seq, TinySeq2Seq]:
    torch.set_num_threads(1)
    tok = tokenizer()
    return tiny(0, tok), tiny(1, tok)


def make_ctx(tmp_path: Path) -> RunContext:
    plugins = build_plugins()
    recipe = Recipe.from_dict({"generation": {"num_beams": 3, "max_new_tokens": 10, "min_new_tokens": 2,
                                              "no_repeat_ngram_size": 2, "repetition_penalty": 1.3}})
    return RunContext(recipe=recipe, plugins=plugins, experiment=Experiment(tmp_path), events=Events(plugins.pm))


DIALOGUES = [d for _, d, _, _ in TINY_DIALOGUES[:4]]


def test_one_model_equals_its_own_generate(models, tmp_path: Path) -> None:
    a, _ = models
    ctx = make_ctx(tmp_path)
    ens = ctx.build("ensembles", "weighted_avg")
    assert ens.level == "token"
    alone = a.generate(DIALOGUES, ctx)
    assert ens.generate([a], [1.0], DIALOGUES, ctx) == alone
    assert any(s.strip() for s in alone)
    assert a.model.generation_config.use_cache is not False  # the hook restored the driver


def test_single_positive_weight_reproduces_that_member(models, tmp_path: Path) -> None:
    a, b = models
    ctx = make_ctx(tmp_path)
    ens = ctx.build("ensembles", "weighted_avg")
    out_a, out_b = a.generate(DIALOGUES, ctx), b.generate(DIALOGUES, ctx)
    assert out_a != out_b
    assert ens.generate([a, b], [1.0, 0.0], DIALOGUES, ctx) == out_a
    # "a" has no weight: "b" drives; and with "a" driving through the hook, "b"'s logits replace its own
    assert ens.generate([a, b], [0.0, 1.0], DIALOGUES, ctx) == out_b
    from dialsum_ensemble.token import _Hook

    hook = _Hook(a.model, [a.model, b.model], [0.0, 1.0], True)
    with hook.active():
        assert a.generate(DIALOGUES, ctx) == out_b


def test_average_of_a_model_with_itself_is_the_model(models, tmp_path: Path) -> None:
    a, b = models
    ctx = make_ctx(tmp_path)
    ens = ctx.build("ensembles", "averaging")
    assert ens.generate([a, a], [0.3, 0.9], DIALOGUES, ctx) == a.generate(DIALOGUES, ctx)
    mixed = ctx.build("ensembles", "averaging").generate([a, b], [1.0, 1.0], DIALOGUES, ctx)
    assert len(mixed) == len(DIALOGUES) and all(isinstance(s, str) for s in mixed)


def test_refuses_models_with_different_tokenizers(models, tmp_path: Path) -> None:
    from dialsum_core.errors import DialsumError

    a, b = models
    other = TinySeq2Seq(b.model, b.tokenizer)
    other.tokenizer_signature = "another"
    with pytest.raises(DialsumError, match="output-level"):
        make_ctx(tmp_path).build("ensembles", "averaging").generate([a, other], [1, 1], DIALOGUES, make_ctx(tmp_path))


def test_cached_decoding_gives_the_cacheless_outputs_encoder_decoder(models, tmp_path: Path) -> None:
    """Every member decodes with its own key/value cache, reordered with the driver's beams."""
    from dialsum_ensemble.token import generate

    a, b = models
    ctx = make_ctx(tmp_path)
    for weights in ([1.0, 1.0], [0.3, 0.7], [0.0, 1.0]):
        assert generate([a, b], weights, DIALOGUES, ctx) == generate([a, b], weights, DIALOGUES, ctx,
                                                                     use_cache=False)


class TinyCausal:
    """A decoder-only member (Llama), prompted with the dialogue, left-padded as dialsum-hf batches."""

    is_encoder_decoder = False

    def __init__(self, model: object, tok: object):
        self.model, self.tokenizer = model, tok
        self.tokenizer_signature = "tiny-wordlevel"

    def generate(self, dialogues: list[str], ctx: RunContext) -> list[str]:
        g = ctx.recipe.generation
        self.tokenizer.padding_side = "left"
        enc = self.tokenizer(dialogues, return_tensors="pt", padding=True)
        with torch.inference_mode():
            out = self.model.generate(**enc, num_beams=g.num_beams, max_new_tokens=g.max_new_tokens,
                                      min_new_tokens=g.min_new_tokens, do_sample=False, pad_token_id=0)
        return self.tokenizer.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)


def test_cached_decoding_gives_the_cacheless_outputs_decoder_only(tmp_path: Path) -> None:
    from dialsum_ensemble.token import generate

    tok = tokenizer()
    members = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        cfg = transformers.LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                       num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=256,
                                       pad_token_id=0, bos_token_id=1, eos_token_id=2)
        members.append(TinyCausal(transformers.LlamaForCausalLM(cfg).eval(), tok))
    ctx = make_ctx(tmp_path)
    a, b = members
    assert a.generate(DIALOGUES, ctx) != b.generate(DIALOGUES, ctx)
    for weights in ([1.0, 1.0], [0.2, 0.8]):
        cached = generate(members, weights, DIALOGUES, ctx)
        assert cached == generate(members, weights, DIALOGUES, ctx, use_cache=False)
        assert len(cached) == len(DIALOGUES)
