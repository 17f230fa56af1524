"""``python -m dialsum_core`` is ``dialsum`` (what a launcher that starts modules with ``-m`` needs)."""

from dialsum_core.cli import main

main()
