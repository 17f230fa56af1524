"""Entry-point module of the test-time augmenters (cheap to import: kiwipiepy loads when one is built)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from dialsum_core import hookimpl
from dialsum_core.recipe import PATH
from dialsum_core.validators import at_least, one_of

Problems = list[tuple[str, str]]


def _rate(_inst: Any, _attr: Any, value: float) -> None:
    if not 0 < value <= 1:
        raise ValueError(f"must be in (0, 1], got {value!r}")


@attrs.define
class ReorderOptions:
    """``reorder`` takes no option: it permutes the ``#PersonN#`` tags present."""


@attrs.define
class MaskOptions:
    #: Probability that each low-information word (interjection, filler, intensifier...) is dropped or masked.
    rate: float = attrs.field(default=0.5, validator=_rate)
    #: ``drop`` removes the token; ``mask`` replaces it by ``mask_token``.
    mode: str = attrs.field(default="drop", validator=one_of(("drop", "mask")))
    #: Text put in place of a masked token when `mode = "mask"`.
    mask_token: str = "<mask>"


@attrs.define
class SynonymOptions:
    #: Probability that each word found in the lexicon is replaced.
    rate: float = attrs.field(default=0.3, validator=_rate)
    #: A lexicon file (lines of ``form/TAG`` synonyms); empty: the bundled Korean lexicon.
    lexicon: str = attrs.field(default="", metadata=PATH)


@attrs.define
class ParaphraseOptions:
    #: CSV ``fname,dialogue`` of precomputed paraphrases (several rows per dialogue allowed).
    table: str = attrs.field(default="", metadata=PATH)
    #: Or a local seq2seq paraphrase model folder (transformers), used turn by turn.
    model: str = attrs.field(default="", metadata=PATH)
    #: Beam width of the paraphrase model, and the most variants it makes per dialogue.
    num_beams: int = attrs.field(default=4, validator=at_least(1))
    #: Longest input turn given to the paraphrase model, in tokens.
    max_length: int = attrs.field(default=256, validator=at_least(1))
    #: Longest paraphrase generated per turn, in tokens.
    max_new_tokens: int = attrs.field(default=128, validator=at_least(1))


def _factory(name: str) -> Any:
    def make(options: Any, ctx: Any) -> Any:
        from dialsum_tta.augment import make as build

        # the run's recipe holds absolute paths (the core resolves every PATH field once)
        return build(name, options, lambda value: Path(value).expanduser())

    return make


def _file_problem(recipe: Any, key: str, value: str, read: Callable[[str], Any] | None = None) -> Problems:
    """The file ``value`` of ``key`` must exist and, with ``read``, be read by it without error:
    the reader the augmenter runs with, so that check and run accept the same files."""
    if not value:
        return []
    path = recipe.path_of(key, value)
    if not path.exists():
        return [(key, f"{value!r} not found (a path set in a recipe file is relative to that file, one from "
                      "--set to the working directory)")]
    if read is not None:
        from dialsum_core.errors import DataError

        try:
            read(str(path))
        except DataError as exc:
            return [(key, str(exc))]
    return []


def _model_problem(recipe: Any, key: str, value: str) -> Problems:
    """A paraphrase model folder is only looked at (a ``config.json`` in it), never loaded here."""
    from dialsum_tta.files import model_folder_problem

    found = _file_problem(recipe, key, value)
    if found or not value:
        return found
    problem = model_folder_problem(str(recipe.path_of(key, value)))
    return [(key, problem)] if problem else []


def check_paraphrase(recipe: Any, plugins: Any) -> Problems:
    """Exactly one source of paraphrases, and one that can serve: a table that parses (UTF-8,
    columns fname and dialogue, no empty row) or a model folder with its ``config.json``."""
    from dialsum_tta.files import load_table

    opts = recipe.options("augmenters", "paraphrase", plugins)
    if not opts.table and not opts.model:
        return [("augmenters.paraphrase", "set table = \"paraphrases.csv\" (columns fname, dialogue) or "
                 "model = \"path/to/paraphrase-model\"")]
    if opts.table and opts.model:
        return [("augmenters.paraphrase", "set table or model, not both")]
    found = (_file_problem(recipe, "augmenters.paraphrase.table", opts.table, load_table)
             + _model_problem(recipe, "augmenters.paraphrase.model", opts.model))
    return found or _table_fit_problem(recipe, plugins, opts.table)


def _table_fit_problem(recipe: Any, plugins: Any, table: str) -> Problems:
    """The table must paraphrase *this* data's dialogues. Rows are found by ``fname``, and data sets
    share fnames (``dev_0``...): the sample table beside the competition's files gave each dialogue
    the paraphrase of another one, silently (a run only warns about fnames without a row). A
    paraphrase keeps its dialogue's speakers turn by turn (396 of the 400 second translations of the
    real dev set do); a table whose rows mostly do not is another data set's."""
    from dialsum_tta.augment import turns
    from dialsum_tta.files import load_table

    if not table or (data := plugins.checked_data(recipe)) is None:
        return []
    dialogues = {e.fname: e.dialogue for e in (*data.train, *data.valid, *data.test)}
    pairs = [(f, p) for f, ps in load_table(str(recipe.path_of("augmenters.paraphrase.table", table))).items()
             if f in dialogues for p in ps]
    if not pairs:
        return [("augmenters.paraphrase.table", f"{table!r} has no row for any of the {len(dialogues)} dialogues of "
                 f"the data (fnames such as {next(iter(dialogues), '')!r}); give the paraphrases of this data")]
    def speakers(text: str) -> list[str]:
        return ["".join(prefix.split()) for prefix, _ in turns(text) if prefix]

    off = [f for f, p in pairs if speakers(p) != speakers(dialogues[f])]
    if 2 * len(off) > len(pairs):
        return [("augmenters.paraphrase.table", f"{len(off)} of its {len(pairs)} rows for this data's dialogues have "
                 f"other speakers turn by turn than the dialogue of their fname (such as {off[0]!r}): the "
                 "paraphrases of another data set? give the paraphrases of this data")]
    return _test_coverage_problem(recipe, table, data.test, {f for f, _ in pairs})


def _test_coverage_problem(recipe: Any, table: str, test: Any, covered: set[str]) -> Problems:
    """Test-time paraphrases need rows for the test dialogues. A table of the training and
    validation dialogues only (the real data's second translation covers dev.csv, not test.csv)
    gave the validation predictions their paraphrase candidates and the submission none: the
    ensemble scored on validation was not the one submitted, found out after every model had
    trained. ``run.use_tta`` and ``run.tta_strategies`` are the run modes' keys, read when present."""
    run = recipe.run
    if not (getattr(run, "use_tta", False) and "paraphrase" in getattr(run, "tta_strategies", ())) or not test:
        return []
    if any(e.fname in covered for e in test):
        return []
    return [("augmenters.paraphrase.table", f"{table!r} has no row for any of the {len(test)} test dialogues "
             f"(fnames such as {test[0].fname!r}): run.use_tta would paraphrase the validation dialogues and no "
             "test one, so the submission would not be the ensemble validated; add the test dialogues' "
             "paraphrases, or leave paraphrase out of run.tta_strategies")]


def check_synonym(recipe: Any, plugins: Any) -> Problems:
    """A lexicon of the recipe's own must parse (UTF-8, every word written ``form/TAG``)."""
    from dialsum_tta.files import load_lexicon

    opts = recipe.options("augmenters", "synonym", plugins)
    return _file_problem(recipe, "augmenters.synonym.lexicon", opts.lexicon, load_lexicon)


def bundled_lexicon() -> Path:
    """The synonym lexicon shipped with the plugin: ``synonym``'s word groups when ``lexicon`` is empty."""
    return Path(__file__).parent / "data" / "synonyms_ko.txt"


@hookimpl
def dialsum_register_augmenters(register: Any) -> None:
    register("reorder", _factory("reorder"), options=ReorderOptions,
             description="Exchange speaker tags consistently (#Person1# <-> #Person2#...) and map them back")
    register("mask", _factory("mask"), options=MaskOptions,
             description="Drop or mask interjections and filler words found with kiwipiepy")
    register("synonym", _factory("synonym"), options=SynonymOptions, check=check_synonym,
             description="Replace words by same-POS synonyms from a shipped Korean lexicon")
    register("paraphrase", _factory("paraphrase"), options=ParaphraseOptions, check=check_paraphrase,
             description="Precomputed paraphrases (CSV fname,dialogue) or a local paraphrase model")
