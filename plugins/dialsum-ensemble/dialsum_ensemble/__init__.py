"""Ensemble strategies for dialsum.

Summaries are text, so class-score averaging has no meaning here. Two designs replace it:
*token-level* averaging of log-probabilities while decoding (``averaging``, ``weighted_avg``; models
that share a tokenizer) and *output-level* selection among finished candidates by their ROUGE
agreement (``majority_vote``, ``rouge_weighted``, ``stacking``, ``blending``).
"""
