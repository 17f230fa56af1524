"""A run summarizes the same validation and test dialogues with every model and fold, each with an
augmenter of its own: the variants of a dialogue are made once per augmenter, options, files,
``n`` and seed, and made again when any of them changes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_augmenters import DIALOGUE, ctx_with
from test_num_aug_bounds import THREE

import dialsum_metrics.tokenize as metrics_tokenize
from dialsum_tta import augment
from dialsum_tta.augment import yes_no_question


@pytest.mark.parametrize("name", ["mask", "synonym"])
def test_another_augmenter_with_the_same_options_reuses_the_variants(tmp_path: Path, name: str) -> None:
    first = ctx_with(tmp_path).build("augmenters", name).augment("d1", DIALOGUE, n=3, seed=5)
    second = ctx_with(tmp_path).build("augmenters", name).augment("d1", DIALOGUE, n=3, seed=5)
    assert first and [v.dialogue for v in second] == [v.dialogue for v in first]
    assert all(a is b for a, b in zip(second, first, strict=True))  # made once, not analysed again
    other_seed = ctx_with(tmp_path).build("augmenters", name).augment("d1", DIALOGUE, n=3, seed=6)
    assert not any(a is b for a, b in zip(other_seed, first, strict=False))
    every = ctx_with(tmp_path, **{name: {"rate": 1.0}}).build("augmenters", name).augment("d1", DIALOGUE, n=3, seed=5)
    assert every and every[0].dialogue != first[0].dialogue  # other options: other variants


def test_an_edited_lexicon_gives_variants_of_its_own(tmp_path: Path) -> None:
    lexicon = tmp_path / "lexicon.txt"
    lexicon.write_text("가방/NNG 핸드백/NNG\n", encoding="utf-8")
    options = {"synonym": {"lexicon": str(lexicon), "rate": 1.0}}
    before = ctx_with(tmp_path, **options).build("augmenters", "synonym").augment("d1", DIALOGUE, n=1, seed=5)
    lexicon.write_text("가방/NNG 백팩/NNG\n", encoding="utf-8")
    os.utime(lexicon, ns=(lexicon.stat().st_atime_ns, lexicon.stat().st_mtime_ns + 10**9))
    after = ctx_with(tmp_path, **options).build("augmenters", "synonym").augment("d1", DIALOGUE, n=1, seed=5)
    assert "핸드백" in before[0].dialogue and "백팩" in after[0].dialogue


def test_a_paraphrase_model_is_not_loaded_again_for_dialogues_it_paraphrased(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    testing = pytest.importorskip("dialsum_hf.testing")
    model = testing.save_tiny_model("bart", tmp_path / "para", [DIALOGUE, THREE] * 4, vocab_size=300)
    options = {"paraphrase": {"model": str(model), "num_beams": 2, "max_new_tokens": 8}}
    first_aug = ctx_with(tmp_path, **options).build("augmenters", "paraphrase")
    first = first_aug.augment("d1", THREE, n=2, seed=0)
    second_aug = ctx_with(tmp_path, **options).build("augmenters", "paraphrase")
    second = second_aug.augment("d1", THREE, n=2, seed=0)
    assert first and [v.dialogue for v in second] == [v.dialogue for v in first]
    assert first_aug._model is not None and second_aug._model is None



def test_the_augmenters_split_with_the_analyser_rouge_splits_with() -> None:
    """One kiwipiepy analyser per process, not one per plugin: each takes seconds to build and warm
    up and hundreds of MiB."""
    assert metrics_tokenize.tokenize("가방을 샀어요", "kiwi") == ["가방", "을", "사", "었", "어요"]
    assert yes_no_question("가방을 샀어요?")  # the augmenters' analyser, in use
    assert augment.kiwi() is metrics_tokenize.kiwi()
