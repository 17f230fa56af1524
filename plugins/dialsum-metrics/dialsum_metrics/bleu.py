"""Corpus BLEU with sacrebleu, on the same morpheme tokens ROUGE uses."""

from __future__ import annotations

from collections.abc import Sequence

from dialsum_metrics.tokenize import tokenize_many


class BleuMetric:
    def __init__(self, tokenizer: str = "auto"):
        self.tokenizer = tokenizer

    def compute(self, predictions: Sequence[str], references: Sequence[Sequence[str]]) -> dict[str, float]:
        import sacrebleu

        if not predictions:
            return {"bleu": 0.0}
        hyps = [" ".join(t) for t in tokenize_many(predictions, self.tokenizer)]
        n_refs = max(len(r) for r in references)
        # sacrebleu wants every reference stream complete; repeating the first reference changes
        # nothing, because clipping uses the maximum count over references.
        streams = [
            [" ".join(tokenize_many([refs[k] if k < len(refs) else refs[0]], self.tokenizer)[0]) for refs in references]
            for k in range(n_refs)
        ]
        bleu = sacrebleu.corpus_bleu(hyps, streams, tokenize="none")
        return {"bleu": bleu.score / 100.0}
