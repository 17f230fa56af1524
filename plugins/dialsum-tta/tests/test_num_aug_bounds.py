"""A huge ``run.tta_num_aug`` (say 10**6): every augmenter makes at most the distinct variants it can
build, and the random ones stop drawing once those are found instead of drawing ``3 * n``."""

from __future__ import annotations

import csv
import math
import tracemalloc
from pathlib import Path

import pytest
from test_augmenters import DIALOGUE, ctx_with

from dialsum_tta.augment import low_information_spans, turns

#: Three speakers: five permutations of their tags besides the dialogue itself.
THREE = "#Person1#: 안녕하세요, 주문하시겠어요?\n#Person2#: 네, 커피 두 잔이요.\n#Person3#: 저는 녹차요."
#: Few words with synonyms: few possible variants.
SHORT = "#Person1#: 어제 예쁜 가방을 샀어요.\n#Person2#: 아, 그래요? 좋네요."


def _peak_mib(call):
    """What ``call`` returns, and the most memory Python allocated while it ran (MiB)."""
    tracemalloc.start()
    try:
        got = call()
        return got, tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def test_mask_makes_at_most_every_choice_of_words_however_many_are_asked(tmp_path: Path) -> None:
    aug = ctx_with(tmp_path).build("augmenters", "mask")
    words = sum(len(low_information_spans(t)) for _, t in turns(DIALOGUE))
    possible = 2**words - 1  # each droppable word kept or dropped, the dialogue itself aside
    every = aug.augment("d1", DIALOGUE, n=possible, seed=42)
    huge, peak = _peak_mib(lambda: aug.augment("d1", DIALOGUE, n=10**5, seed=42))
    assert len({v.dialogue for v in huge}) == len(huge) <= possible
    assert [v.dialogue for v in huge[: len(every)]] == [v.dialogue for v in every]  # the same draws, and more
    assert peak < 4, f"{peak:.0f} MiB held for {len(huge)} variants: the draws grow with n"


def test_synonym_makes_at_most_every_choice_of_synonyms_however_many_are_asked(tmp_path: Path) -> None:
    aug = ctx_with(tmp_path).build("augmenters", "synonym")
    small = aug.augment("d1", SHORT, n=3, seed=42)
    huge, peak = _peak_mib(lambda: aug.augment("d1", SHORT, n=10**4, seed=42))
    possible = math.prod(aug._possible(aug._analyse(t)) for _, t in turns(SHORT)) - 1
    assert len({v.dialogue for v in huge}) == len(huge) <= possible
    assert [v.dialogue for v in huge[: len(small)]] == [v.dialogue for v in small]  # the same draws, and more
    assert peak < 4, f"{peak:.0f} MiB held for {len(huge)} variants: the draws grow with n"


def test_reorder_and_a_paraphrase_table_are_bounded_by_what_they_hold(tmp_path: Path) -> None:
    reorder = ctx_with(tmp_path).build("augmenters", "reorder")
    assert len(reorder.augment("d1", THREE, n=10**6, seed=42)) == math.factorial(3) - 1
    table = tmp_path / "para.csv"
    with table.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([["fname", "dialogue"], ["d1", DIALOGUE.replace("가방", "핸드백")],
                                  ["d1", DIALOGUE.replace("샀어요", "구입했어요")], ["d1", DIALOGUE]])
    para = ctx_with(tmp_path, paraphrase={"table": str(table)}).build("augmenters", "paraphrase")
    assert len(para.augment("d1", DIALOGUE, n=10**6, seed=42)) == 2  # the row equal to the dialogue adds nothing


@pytest.mark.parametrize("name", ["mask", "synonym"])
def test_asking_no_more_than_possible_draws_as_before(tmp_path: Path, name: str) -> None:
    """Up to the possible variants, ``n`` more asks for more of the same draws: a prefix."""
    aug = ctx_with(tmp_path).build("augmenters", name)
    few = [v.dialogue for v in aug.augment("d1", DIALOGUE, n=2, seed=7)]
    more = [v.dialogue for v in aug.augment("d1", DIALOGUE, n=5, seed=7)]
    assert few == more[:2]


def test_a_paraphrase_model_makes_at_most_its_beams(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A real (tiny, random) seq2seq model: ``n`` widened the beam to ``n`` (10**6 beams per turn
    never finishes); the model now returns at most ``num_beams`` variants, each keeping the turns'
    speaker prefixes, and says once that it made fewer."""
    pytest.importorskip("transformers")
    testing = pytest.importorskip("dialsum_hf.testing")
    model = testing.save_tiny_model("bart", tmp_path / "para", [DIALOGUE, THREE] * 4, vocab_size=300)
    options = {"model": str(model), "num_beams": 2, "max_new_tokens": 8}
    aug = ctx_with(tmp_path, paraphrase=options).build("augmenters", "paraphrase")
    with caplog.at_level("WARNING", logger="dialsum"):
        first = aug.augment("d1", THREE, n=6, seed=0)
        again = aug.augment("d2", THREE, n=6, seed=0)
    assert 1 <= len(first) <= 2 and [v.dialogue for v in again] == [v.dialogue for v in first]
    for variant in first:
        assert [p for p, _ in turns(variant.dialogue)] == [p for p, _ in turns(THREE)]
    warned = [r.getMessage() for r in caplog.records if "num_beams" in r.getMessage()]
    assert len(warned) == 1 and "at most its num_beams (2)" in warned[0], warned


def test_reorder_of_many_speakers_draws_the_permutations_it_needs(tmp_path: Path) -> None:
    reorder = ctx_with(tmp_path).build("augmenters", "reorder")
    many = "\n".join(f"#Person{i}#: 제 차례예요, {i}번이에요." for i in range(1, 10))  # 9! = 362,880 orders
    got, peak = _peak_mib(lambda: reorder.augment("d1", many, n=3, seed=42))
    assert peak < 4, f"{peak:.0f} MiB held for {len(got)} variants: every permutation was listed"
    assert len({v.dialogue for v in got}) == 3 and many not in {v.dialogue for v in got}
    assert got[0].dialogue.startswith("#Person2#: 제 차례예요, 1번")  # the swap of the first two comes first
    assert all(v.restore(v.dialogue) == many for v in got)  # each relabels consistently and maps back
    assert [v.dialogue for v in reorder.augment("d1", many, n=3, seed=42)] == [v.dialogue for v in got]
