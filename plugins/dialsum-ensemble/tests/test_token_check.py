"""``dialsum check`` of the token-level strategies, with the real registrations of the installed plugins.

The strategies' check reads only the core's recipe (``run.models``, ``recipe.uses``) and what the
model loaders declare (the ``token-ensemble`` tag); whether two loaders of dialsum-hf share a
tokenizer is dialsum-hf's to say. So the check works, and refuses the same recipes, whichever of the
other plugins are installed.
"""

from __future__ import annotations

from typing import Any

import attrs

from dialsum_core import hookimpl
from dialsum_core.manager import Plugins, build_plugins
from dialsum_core.recipe import Recipe, plugin_name


def problems(plugins: Plugins, run: dict[str, Any], **tables: Any) -> list[str]:
    recipe = Recipe.from_dict({"run": run, **tables}, schema=plugins.schema)
    return plugins.resolve(recipe).problems(plugins)


def refusals(found: list[str]) -> list[str]:
    """The lines about joint decoding, and any check that crashed instead of answering."""
    return [p for p in found if "tokenizer" in p or "decode jointly" in p or "check failed" in p]


def test_the_refusals_of_joint_decoding() -> None:
    plugins = build_plugins()
    # presets of different checkpoints, or a trained tokenizer beside a checkpoint's: refused
    for models in (["kobart", "koalpaca"], ["scratch", "kobart"]):
        (line,) = refusals(problems(plugins, {"mode": "multi_model", "models": models, "ensemble": "averaging"}))
        assert line.startswith("<python>: run.ensemble: ") and "share a tokenizer" in line, line
    # the seed's multi_model example: three presets of one loader class on three checkpoints; the line
    # names the installed strategies that combine finished summaries, the choices left
    (line,) = refusals(problems(plugins, {"mode": "multi_model", "models": ["solar-10.7b", "polyglot-ko-12.8b",
                                                                          "kullm-v2"], "ensemble": "weighted_avg"}))
    assert "do not share a tokenizer" in line and line.endswith("(blending, majority_vote, rouge_weighted, stacking)")
    # two loaders reading one checkpoint, the folds of one model, or an output-level strategy: fine
    same = {"hf-seq2seq": {"model_name_or_path": "digit82/kobart-summarization"}}
    assert not refusals(problems(plugins, {"mode": "multi_model", "models": ["kobart", "hf-seq2seq"],
                                           "ensemble": "weighted_avg"}, models=same))
    assert not refusals(problems(plugins, {"mode": "kfold", "models": ["scratch"], "ensemble": "averaging"}))
    assert not refusals(problems(plugins, {"mode": "multi_model", "models": ["kobart", "koalpaca"],
                                           "ensemble": "majority_vote"}))
    # a loader without the tag; one model's TTA variants are voted on, never decoded jointly
    (line,) = refusals(problems(plugins, {"mode": "multi_model", "models": ["lead", "kobart"],
                                          "ensemble": "weighted_avg"}))
    assert "model loader(s) ['lead'] cannot decode jointly (no 'token-ensemble' tag)" in line
    assert not refusals(problems(plugins, {"mode": "single", "models": ["lead"], "ensemble": "averaging",
                                           "use_tta": True, "tta_strategies": ["reorder"]}))


class Echo:
    """A third party's model loader whose models can decode jointly (tagged), with options of its own."""

    @hookimpl
    def dialsum_register_model_loaders(self, register: Any) -> None:
        options = attrs.make_class("EchoOptions", {"size": attrs.field(default=1)})
        register("echo", lambda options, ctx: None, options=options, tags=("token-ensemble",),
                 description="Repeats the dialogue")


def test_models_of_different_plugins_are_not_assumed_to_share_a_tokenizer() -> None:
    plugins = build_plugins(extra=[("echo", Echo())])
    (line,) = refusals(problems(plugins, {"mode": "multi_model", "models": ["echo", "kobart"],
                                          "ensemble": "averaging"}))
    assert "built by different loaders (EchoOptions of echo, PretrainedOptions of dialsum-hf)" in line, line


class OwnPreset:
    """A preset of a plugin of one's own, registered with dialsum-hf's factory and options (as
    docs/writing-a-plugin.md shows): it is compared with dialsum-hf's models by checkpoint."""

    @hookimpl
    def dialsum_register_model_loaders(self, register: Any) -> None:
        import functools

        from dialsum_hf.plugin import CausalOptions, make_pretrained

        register("my-koalpaca", functools.partial(make_pretrained, name="my-koalpaca", family="causal"),
                 options=CausalOptions, tags=("preset", "token-ensemble"),
                 defaults={"model_name_or_path": "beomi/KoAlpaca-Polyglot-12.8B", "prompt_template": "koalpaca"})


def test_a_preset_of_another_plugin_on_the_same_checkpoint_decodes_jointly() -> None:
    plugins = build_plugins(extra=[("own-preset", OwnPreset())])
    run = {"mode": "multi_model", "models": ["my-koalpaca", "koalpaca"], "ensemble": "averaging"}
    assert not refusals(problems(plugins, run))
    (line,) = refusals(problems(plugins, run, models={"my-koalpaca": {"model_name_or_path": "other/checkpoint"}}))
    assert "do not share a tokenizer (different model_name_or_path" in line, line


@attrs.define
class OwnRunKeys:
    #: The strategy this mode combines its sources with.
    blend_with: str = attrs.field(default="averaging", metadata=plugin_name("ensembles"))


class OwnMode:
    """A third party's run mode that names an ensemble under a [run] key of its own."""

    @hookimpl
    def dialsum_register_run_modes(self, register: Any) -> None:
        register("blend", lambda options, ctx: None, description="Trains the models and blends them")

    @hookimpl
    def dialsum_register_sections(self, register: Any) -> None:
        register("run", OwnRunKeys, description="The blend mode's keys", defaults={"mode": "blend"},
                 uses=lambda recipe, plugins: [("run.blend_with", "ensembles", [recipe.run.blend_with])])


def test_the_check_needs_neither_the_run_modes_nor_the_hugging_face_models() -> None:
    # without dialsum-modes, another plugin's key chooses the strategy: the refusal names that key
    plugins = build_plugins(disable=["modes"], extra=[("blend", OwnMode())])
    found = refusals(problems(plugins, {"models": ["lead"]}))
    assert found == ["<python>: run.blend_with: model loader(s) ['lead'] cannot decode jointly (no 'token-ensemble' "
                     "tag); the strategy averages log-probabilities token by token, which needs models that share "
                     "a tokenizer; use an output-level strategy such as run.blend_with = \"majority_vote\" or "
                     "\"rouge_weighted\""], found
    # without dialsum-hf, the tag still decides
    plugins = build_plugins(disable=["hf"])
    found = refusals(problems(plugins, {"mode": "kfold", "models": ["lead"], "ensemble": "averaging"}))
    assert len(found) == 1 and "run.ensemble: model loader(s) ['lead'] cannot decode jointly" in found[0], found
    assert not refusals(problems(plugins, {"mode": "kfold", "models": ["lead"], "ensemble": "majority_vote"}))


def test_a_mode_that_combines_no_models_never_decodes_jointly() -> None:
    """``single`` combines each model's TTA variants alone, by the vote: models of different
    tokenizers (or without the tag) were refused with the default strategy, wrongly."""
    plugins = build_plugins()
    for models in (["scratch", "lead"], ["scratch", "kobart"]):
        run = {"mode": "single", "models": models, "ensemble": "weighted_avg", "use_tta": True,
               "tta_strategies": ["reorder"]}
        assert not refusals(problems(plugins, run)), models
    # the same models in a mode that combines them: refused
    assert refusals(problems(plugins, {"mode": "multi_model", "models": ["scratch", "lead"],
                                       "ensemble": "weighted_avg"}))
