"""Corpus BLEU with sacrebleu, on the same morpheme tokens ROUGE uses."""

from __future__ import annotations

from collections.abc import Sequence

from dialsum_metrics.tokenize import pair_tokenizer, tokenize

#: The key :meth:`BleuMetric.compute` returns: sacrebleu's corpus BLEU over 100, a fraction like every
#: recorded score. Declared a percentage, so that the tables people read show sacrebleu's own number
#: (0-100, as papers and leaderboards report BLEU) beside ROUGE x100.
SCORE = "bleu"


class BleuMetric:
    def __init__(self, tokenizer: str = "auto"):
        self.tokenizer = tokenizer

    def compute(self, predictions: Sequence[str], references: Sequence[Sequence[str]]) -> dict[str, float]:
        import sacrebleu

        if len(predictions) != len(references):
            raise ValueError(f"{len(predictions)} predictions for {len(references)} reference sets")
        if not predictions:
            return {SCORE: 0.0}
        hyps: list[str] = []
        refs: list[list[str]] = []
        for pred, rs in zip(predictions, references, strict=True):
            # one tokenizer for a dialogue's prediction and all its references, so they split alike
            kind = pair_tokenizer(self.tokenizer, pred, *rs)
            hyps.append(" ".join(tokenize(pred, kind)))
            refs.append([" ".join(tokenize(r, kind)) for r in rs])
        n_refs = max(len(r) for r in refs)
        # sacrebleu wants every reference stream complete; repeating the first reference changes
        # nothing, because clipping uses the maximum count over references.
        streams = [[rs[k] if k < len(rs) else rs[0] for rs in refs] for k in range(n_refs)]
        # force: the texts are morphemes joined by spaces on purpose, so sacrebleu's warning that
        # input ending in " ." looks tokenized (three lines per call) would only fill the logs
        bleu = sacrebleu.corpus_bleu(hyps, streams, tokenize="none", force=True)
        return {SCORE: bleu.score / 100.0}
