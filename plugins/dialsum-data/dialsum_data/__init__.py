"""dialsum-data: the competition's dialogue CSV files as a run reads them.

It owns the recipe's ``[data]`` section and answers the core's ``dialsum_load_data`` hook: reading
(``fname, dialogue, summary, topic``, refused whole with the file and the row), the seed's clean-up,
the validation split or file with further references, the debug subsample, and the augmented
training copies that run modes add after any fold split (:func:`augmented`).
"""

from dialsum_data.cleanup import preprocess, remove_noise, simplify_tokens
from dialsum_data.csv_files import LoadReport, add_references, load_csv, read_csv
from dialsum_data.sections import AugmentationSection, DataSection, PreprocessingSection
from dialsum_data.splits import augmented, load_splits, split_valid, subset

__all__ = [
    "AugmentationSection",
    "DataSection",
    "LoadReport",
    "PreprocessingSection",
    "add_references",
    "augmented",
    "load_csv",
    "load_splits",
    "preprocess",
    "read_csv",
    "remove_noise",
    "simplify_tokens",
    "split_valid",
    "subset",
]
