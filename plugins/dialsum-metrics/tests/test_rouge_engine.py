"""The fast engine must return rouge-score's numbers on the same tokens, pair by pair."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rouge_score import rouge_scorer

from dialsum_metrics.engine import RougeEngine, consensus, mbr_select, support
from dialsum_metrics.rouge import RougeMetric, score_tokens


class _Given:
    """A rouge-score tokenizer that returns the tokens it is given (joined with a separator)."""

    def tokenize(self, text: str) -> list[str]:
        return text.split("\x1f") if text else []


SCORER = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], tokenizer=_Given())
# few distinct tokens so that overlaps, repeats and long common subsequences are frequent;
# lengths past 64 and 128 exercise the multi-word bit vectors of the LCS
TOKENS = st.lists(st.sampled_from(["가", "나", "다", "#Person1#", "a", "bb"]), min_size=0, max_size=150)


def reference(a: list[str], b: list[str]) -> list[float]:
    s = SCORER.score("\x1f".join(b), "\x1f".join(a))
    return [s[m].fmeasure for m in ("rouge1", "rouge2", "rougeL")]


@settings(max_examples=60, deadline=None)
@given(st.lists(TOKENS, min_size=1, max_size=6))
def test_pairwise_equals_rouge_score(groups: list[list[str]]) -> None:
    got = RougeEngine().pairwise_tokens(groups)
    for i, a in enumerate(groups):
        for j, b in enumerate(groups):
            assert np.allclose(got[i, j], reference(a, b), rtol=0, atol=1e-9), (a, b)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(TOKENS, TOKENS), min_size=1, max_size=5))
def test_score_tokens_equals_rouge_score(pairs: list[tuple[list[str], list[str]]]) -> None:
    got = RougeEngine().score_tokens([p for p, _ in pairs], [r for _, r in pairs])
    for row, (p, r) in zip(got, pairs, strict=True):
        assert np.allclose(row, reference(p, r), rtol=0, atol=1e-9)


def test_korean_texts_match_metric_definition(tiny_dialogues) -> None:
    eng = RougeEngine()
    summaries = [s for _, _, s, _ in tiny_dialogues]
    preds = [d.split("\n")[0] for _, d, _, _ in tiny_dialogues]
    got = eng.score(preds, [[s] for s in summaries])
    toks_p, toks_r = eng.tokens(preds), eng.tokens(summaries)
    for row, p, r in zip(got, toks_p, toks_r, strict=True):
        expect = score_tokens(p, [r])
        assert row.tolist() == pytest.approx([expect["rouge1"], expect["rouge2"], expect["rougeL"]], abs=1e-12)
    assert got[:, 0].max() > 0  # Hangul is scored, not silently dropped
    metric = RougeMetric().compute(preds, [[s] for s in summaries])
    assert metric["rouge1"] == pytest.approx(got[:, 0].mean(), abs=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.lists(TOKENS, min_size=1, max_size=5), st.sampled_from(["clipped", "unique"]),
       st.sampled_from(["plain", "summary"]))
def test_every_convention_equals_its_readable_definition(groups: list[list[str]], counts: str, rouge_l: str) -> None:
    """The vectorised engine and the readable definitions of rouge.py agree pair by pair, for each
    convention (summary-level ROUGE-L is asymmetric: [i, j] scores i against reference j)."""
    from dialsum_metrics.rouge import pair_scores

    got = RougeEngine(counts=counts, rouge_l=rouge_l).pairwise_tokens(groups)
    for i, a in enumerate(groups):
        for j, b in enumerate(groups):
            assert got[i, j].tolist() == pytest.approx(pair_scores(a, b, counts, rouge_l), abs=1e-12), (a, b)


def test_mixed_group_splits_each_pair_alike() -> None:
    """A group with Hangul and non-Hangul texts: every pair uses kiwi when either side has Hangul,
    the same numbers as scoring that pair alone with kiwi."""
    texts = ["#Person2# Tom.", "#Person2#은 Tom.", "Tom left early.", "Tom left."]
    eng = RougeEngine()
    pw = eng.pairwise(texts)
    kiwi, ws = RougeEngine("kiwi"), RougeEngine("whitespace")
    for i, a in enumerate(texts):
        for j, b in enumerate(texts):
            single = (kiwi if 1 in (i, j) else ws).score([a], [b])[0]
            assert pw[i, j].tolist() == pytest.approx(single.tolist(), abs=1e-12), (a, b)
    assert np.array_equal(eng.cross(texts[:2], texts[2:]), pw[:2, 2:])


def test_multi_reference_means_by_default_and_max_on_request() -> None:
    eng = RougeEngine(tokenizer="whitespace")
    got = eng.score(["a b c d"], [["a b x y", "c d z"]])[0]
    one = eng.score(["a b c d"], ["a b x y"])[0]
    two = eng.score(["a b c d"], ["c d z"])[0]
    assert got.tolist() == pytest.approx(((one + two) / 2).tolist(), abs=1e-15)
    best = RougeEngine(tokenizer="whitespace", references="max").score(["a b c d"], [["a b x y", "c d z"]])[0]
    assert best.tolist() == np.maximum(one, two).tolist()


def test_cross_and_duplicates() -> None:
    eng = RougeEngine(tokenizer="whitespace")
    texts = ["a b c", "a b c", "c b a", ""]
    pw = eng.pairwise(texts)
    assert pw.shape == (4, 4, 3)
    assert pw[0, 1].tolist() == [1.0, 1.0, 1.0]
    assert pw[3].tolist() == [[0.0] * 3] * 4  # an empty text scores 0 against everything
    assert np.array_equal(eng.cross(texts[:2], texts[2:]), pw[:2, 2:])


def test_mbr_picks_the_consensus() -> None:
    eng = RougeEngine(tokenizer="whitespace")
    texts = ["the cat sat on the mat", "a cat sat on the mat", "the cat sat on a mat", "dogs bark loudly"]
    pw = eng.pairwise(texts)
    assert mbr_select(pw) in (0, 1, 2)
    assert mbr_select(pw, [1, 1, 1, 0]) != 3
    # votes from the outlier only: the outlier's neighbours lose, the lone candidate gets its own score 0
    cons = consensus(pw, [0, 0, 0, 1])
    assert cons[3] == 0.0
    assert consensus(pw[:1, :1]).tolist() == [0.0]


def test_a_higher_weight_never_makes_a_candidate_lose() -> None:
    """mbr_select with weights counted only the *other* candidates' votes: with two candidates,
    weight 0 on one made it always win."""
    eng = RougeEngine(tokenizer="whitespace")
    pw = eng.pairwise(["the cat sat on the mat", "dogs bark loudly at night"])
    assert mbr_select(pw, [1, 0]) == 0 and mbr_select(pw, [0, 1]) == 1
    rng = np.random.default_rng(0)
    for _ in range(50):
        sim = rng.random((5, 5))
        sim = (sim + sim.T) / 2
        w = rng.random(5)
        k = int(rng.integers(5))
        before = support(sim, w)
        w[k] += 1.0
        after = support(sim, w)
        # every candidate k was at least level with stays at least level with
        assert all(after[k] >= after[j] - 1e-12 for j in range(5) if before[k] >= before[j])


def test_the_published_measure_order_is_the_order_of_the_engines_columns() -> None:
    """Other plugins index the engine's arrays by ``dialsum_metrics.MEASURES``; each column must hold
    the measure that name says (rouge-score's numbers, computed independently)."""
    from dialsum_metrics import MEASURES

    pred, ref = "a b c d e", "a c b d f"
    expected = SCORER.score("\x1f".join(ref.split()), "\x1f".join(pred.split()))
    assert len({round(expected[m].fmeasure, 6) for m in MEASURES}) == 3  # the three differ: the order shows
    row = RougeEngine("whitespace").score([pred], [ref])[0]
    pairwise = RougeEngine("whitespace").pairwise([pred, ref])[0, 1]
    for m in MEASURES:
        assert row[MEASURES.index(m)] == pytest.approx(expected[m].fmeasure)
        assert pairwise[MEASURES.index(m)] == pytest.approx(expected[m].fmeasure)


def test_scoring_a_split_holds_memory_linear_in_its_predictions() -> None:
    """Predictions against their references are n pairs among 2n texts: scoring them held the
    overlaps of every pair of texts (and an LCS table of every text and token): 930 MiB for these
    1,000 predictions; the pairs alone give the same scores in a few MiB."""
    import random
    import tracemalloc

    rng = random.Random(0)
    vocab = [f"w{i}" for i in range(3000)]
    preds, refs = ([" ".join(rng.choice(vocab) for _ in range(25)) for _ in range(1000)] for _ in range(2))
    engine = RougeEngine("whitespace")
    engine.tokens(preds + refs)  # tokenised apart
    tracemalloc.start()
    try:
        got = engine.score(preds, refs)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
    assert peak < 40, f"{peak:.0f} MiB held to score {len(preds)} predictions"
    for k in (0, 499, 999):
        assert np.allclose(got[k], reference(preds[k].split(), refs[k].split()), rtol=0, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.lists(TOKENS, min_size=0, max_size=6), st.sampled_from([1, 2]), st.booleans())
def test_occurrence_features_of_every_text_at_once_are_each_texts_own(groups: list[list[str]], n: int,
                                                                     unique: bool) -> None:
    """The features are built for all the texts of a call at once (scoring passes thousands of
    short texts): each text's must be the occurrences ``(n-gram, k)`` of its own n-grams, in
    increasing order, the first occurrence only with ``unique``."""
    from collections import Counter

    from dialsum_metrics.engine import _Encoded, _occurrence_features

    enc = _Encoded(groups)
    vocab = max(enc.vocab_size, 1)
    feats, counts = _occurrence_features(enc.ids, n, vocab, unique)
    assert len(feats) == len(groups) == len(counts)
    width = int(counts.max(initial=0)) + 1
    for ids, got, count in zip(enc.ids, feats, counts, strict=True):
        grams = Counter(tuple(ids[i : i + n].tolist()) for i in range(len(ids) - n + 1))
        want = sorted((sum(g[k] * vocab ** (n - 1 - k) for k in range(n)), j)
                      for g, c in grams.items() for j in range(1 if unique else c))
        assert [(int(f) // width, int(f) % width) for f in got] == want
        assert count == len(want)
