"""Metrics for dialsum: ROUGE-1/2/L F1 on Korean morphemes, and BLEU."""
