"""Hugging Face model loaders for dialsum.

``scratch`` trains a small BART and its tokenizer from the training data (a laptop-sized demo);
``hf-seq2seq`` and ``hf-causal`` fine-tune any pretrained encoder-decoder or decoder-only model,
optionally with LoRA or QLoRA; the named presets (``kobart``, ``solar-10.7b``...) are those two
loaders with sensible defaults. The entry-point module :mod:`dialsum_hf.plugin` imports nothing
heavy; torch and transformers load only when a loader is built.
"""
