"""``python -m dialsum_core`` is ``dialsum`` (what ``accelerate launch -m`` needs)."""

from dialsum_core.cli import main

main()
