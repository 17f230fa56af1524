"""Each augmenter on small Korean dialogues (kiwipiepy runs offline), and paraphrases on real data."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from dialsum_core.context import RunContext
from dialsum_core.errors import DataError
from dialsum_core.events import Events
from dialsum_core.experiment import Experiment
from dialsum_core.manager import build_plugins
from dialsum_core.recipe import Recipe

ROOT = Path(__file__).resolve().parents[3]
SHARED = Path(os.environ.get("DIALSUM_SHARED_DATA", ROOT.parent / "shared" / "data")) / "dialogsum-ko"

DIALOGUE = ("#Person1#: 음, 저는 어제 예쁜 가방을 샀어요. 정말 싸고 좋아요.\n"
            "#Person2#: 아, 그래요? 저도 빨리 가게에 가서 사고 싶어요. #PhoneNumber#로 연락 주세요.\n"
            "#Person1#: 아니요, 그냥 아주 쉬웠어요.")


def ctx_with(tmp_path: Path, **augmenters: dict) -> RunContext:
    plugins = build_plugins()
    recipe = Recipe.from_dict({"augmenters": augmenters} if augmenters else {}, source=str(tmp_path / "r.toml"))
    return RunContext(recipe=recipe, plugins=plugins, experiment=Experiment(tmp_path), events=Events(plugins.pm))


def tags(text: str) -> list[str]:
    return re.findall(r"#[A-Za-z][A-Za-z0-9]*#", text)


def test_reorder_swaps_speakers_and_restores_summaries(tmp_path: Path) -> None:
    aug = ctx_with(tmp_path).build("augmenters", "reorder")
    (v,) = aug.augment("d1", DIALOGUE, n=3, seed=42)  # two speakers: one permutation
    assert v.dialogue.startswith("#Person2#: 음,") and "\n#Person1#: 아, 그래요?" in v.dialogue
    assert "#PhoneNumber#" in v.dialogue
    assert v.restore("#Person2#가 #Person1#에게 가방을 산 이야기를 한다.") == \
        "#Person1#가 #Person2#에게 가방을 산 이야기를 한다."
    three = DIALOGUE + "\n#Person3#: 저도 갈래요."
    vs = aug.augment("d1", three, n=10, seed=42)
    assert len(vs) == 5  # 3! - 1 permutations
    assert vs[0].dialogue.startswith("#Person2#")  # the plain swap first
    assert [v.dialogue for v in vs] == [v.dialogue for v in aug.augment("d1", three, n=10, seed=42)]
    for v in vs:
        assert v.restore(v.dialogue) == three
    assert aug.augment("d1", "#Person1#: 혼잣말이에요.", n=3, seed=1) == []


def test_mask_drops_fillers_but_not_answers(tmp_path: Path) -> None:
    aug = ctx_with(tmp_path).build("augmenters", "mask")
    vs = aug.augment("d1", DIALOGUE, n=3, seed=42)
    assert 1 <= len(vs) <= 3 and len({v.dialogue for v in vs}) == len(vs)
    for v in vs:
        assert v.dialogue != DIALOGUE
        assert tags(v.dialogue) == tags(DIALOGUE)
        assert "아니요" in v.dialogue  # an answer carries meaning
        assert len(v.dialogue) < len(DIALOGUE)
        assert v.restore("요약") == "요약"
    masked = ctx_with(tmp_path, mask={"mode": "mask", "rate": 1.0}).build("augmenters", "mask")
    (m,) = masked.augment("d1", DIALOGUE, n=1, seed=0)
    assert m.dialogue.count("<mask>") >= 3 and "음" not in m.dialogue.split("\n")[0]


def test_synonym_keeps_part_of_speech(tmp_path: Path) -> None:
    from dialsum_tta.augment import base_tag, kiwi, load_lexicon
    from dialsum_tta.plugin import bundled_lexicon

    lexicon = load_lexicon(str(bundled_lexicon()))
    assert len(lexicon) > 100
    aug = ctx_with(tmp_path, synonym={"rate": 1.0}).build("augmenters", "synonym")
    vs = aug.augment("d1", DIALOGUE, n=2, seed=3)
    assert vs
    original = [(t.form, base_tag(t.tag)) for t in kiwi().tokenize(DIALOGUE)]
    for v in vs:
        assert tags(v.dialogue) == tags(DIALOGUE)
        changed = [(t.form, base_tag(t.tag)) for t in kiwi().tokenize(v.dialogue)]
        assert changed != original
        # every replaced content word is a lexicon synonym of the same part of speech
        swapped = [(a, b) for a, b in zip(original, changed, strict=False) if a != b]
        assert swapped
        first = swapped[0]
        assert first[0][1] == first[1][1], first
        assert first[1] in [(f, base_tag(t)) for f, t in lexicon[first[0]]]
    # verbs are re-conjugated, not pasted: 샀어요 -> 구입했어요/구매했어요
    assert any("구입했어요" in v.dialogue or "구매했어요" in v.dialogue for v in vs)


def test_synonym_lexicon_errors_name_the_line(tmp_path: Path) -> None:
    from dialsum_tta.augment import load_lexicon

    bad = tmp_path / "lex.txt"
    bad.write_text("# comment\n사/VV 구입하\n", encoding="utf-8")
    with pytest.raises(DataError, match="line 2"):
        load_lexicon(str(bad))


def test_paraphrase_table_and_checks(tmp_path: Path) -> None:
    import csv

    plugins = build_plugins()
    sample = Path(__file__).resolve().parents[3] / "data" / "sample" / "train.csv"
    with sample.open(encoding="utf-8", newline="") as fh:
        first = next(csv.DictReader(fh))  # a row for the data's own dialogues, which check asks for
    table = tmp_path / "para.csv"
    table.write_text("fname,dialogue\nd1,\"#Person1#: 다른 말이에요.\"\nd1,\"#Person1#: 또 다른 말.\"\n"
                     f'{first["fname"]},"{first["dialogue"]}"\n', encoding="utf-8")
    ok = Recipe.from_dict({"run": {"use_tta": True, "tta_strategies": ["paraphrase"], "models": ["lead"],
                                   "ensemble": "majority_vote"},
                           "augmenters": {"paraphrase": {"table": str(table)}}, "data": {"train_path": str(sample)}})
    assert ok.problems(plugins) == []
    missing = Recipe.from_dict({"run": {"use_tta": True, "tta_strategies": ["paraphrase"], "models": ["lead"]}})
    assert any("augmenters.paraphrase" in p for p in missing.problems(plugins))
    aug = ctx_with(tmp_path, paraphrase={"table": str(table)}).build("augmenters", "paraphrase")
    assert [v.dialogue for v in aug.augment("d1", "#Person1#: 원문.", n=5, seed=0)] == \
        ["#Person1#: 다른 말이에요.", "#Person1#: 또 다른 말."]
    assert aug.augment("d2", "#Person1#: 원문.", n=5, seed=0) == []
    broken = tmp_path / "broken.csv"
    broken.write_text("id,text\n1,x\n", encoding="utf-8")
    with pytest.raises(DataError, match="row 1"):
        ctx_with(tmp_path, paraphrase={"table": str(broken)}).build("augmenters", "paraphrase").augment("1", "x", 1, 0)


@pytest.mark.realdata
def test_paraphrase_from_the_alternative_translation(tmp_path: Path) -> None:
    alt = SHARED / "dev_alt_translation.csv"
    if not alt.exists():
        pytest.skip(f"real data not found at {SHARED} (set DIALSUM_SHARED_DATA to its parent)")
    from dialsum_data import load_csv

    dev = load_csv(SHARED / "dev.csv")[:20]
    aug = ctx_with(tmp_path, paraphrase={"table": str(alt)}).build("augmenters", "paraphrase")
    variants = [aug.augment(e.fname, e.dialogue, n=3, seed=42) for e in dev]
    assert all(len(v) == 1 for v in variants)
    for e, (v,) in zip(dev, variants, strict=True):
        assert v.dialogue != e.dialogue and v.name == "paraphrase:1"
        assert set(re.findall(r"#Person\d#", v.dialogue)) <= set(re.findall(r"#Person\d#", e.dialogue)) | {
            "#Person3#", "#Person4#"}


def test_turns_and_speakers_follow_the_cores_tag_convention() -> None:
    """A turn starts with any tag the core recognises, and reorder swaps the core's speaker tags."""
    from dialsum_core.data import KNOWN_TAGS, speaker_tag
    from dialsum_tta.augment import SPEAKER_RE, make, turns
    from dialsum_tta.plugin import SynonymOptions, bundled_lexicon

    for tag in KNOWN_TAGS:
        assert turns(f"{tag}: 네.") == [(f"{tag}: ", "네.")]
    assert turns("#Person1# 네.") == [("", "#Person1# 네.")]  # no colon: not a speaker prefix
    assert [SPEAKER_RE.fullmatch(speaker_tag(n)).group(1) for n in (1, 12)] == ["1", "12"]
    # synonym without a lexicon of its own reads the bundled one
    assert make("synonym", SynonymOptions(), Path).lexicon == make(
        "synonym", SynonymOptions(lexicon=str(bundled_lexicon())), Path).lexicon
