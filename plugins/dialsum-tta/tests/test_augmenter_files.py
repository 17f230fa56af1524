"""The augmenters' files are read by ``dialsum check`` with the readers the run uses: a file the run
could not use is one line naming the key, the file and the line or row, before anything trains;
and the run itself says the same in one line (a DataError), never with a traceback."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

import pytest

from dialsum_core.context import RunContext
from dialsum_core.errors import DataError
from dialsum_core.events import Events
from dialsum_core.experiment import Experiment
from dialsum_core.manager import build_plugins
from dialsum_core.recipe import Recipe

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "sample" / "train.csv"
#: The real data beside the repository (``../shared/data``, or ``DIALSUM_SHARED_DATA``), for the tests that need it.
REAL = Path(os.environ.get("DIALSUM_SHARED_DATA", SAMPLE.parents[3] / "shared" / "data")) / "dialogsum-ko"
LEXICON = "# verbs\n사/VV 구입하/VV 구매하/VV\n"
TABLE = 'fname,dialogue\nd1,"#Person1#: 다른 말이에요."\n'


def write(path: Path, text: str, encoding: str = "utf-8") -> str:
    path.write_text(text, encoding=encoding)
    return str(path)


@pytest.fixture(scope="module")
def plugins() -> Any:
    return build_plugins()


def tta_problems(plugins: Any, strategy: str, options: dict[str, str], data: dict | None = None) -> list[str]:
    """The recipe's problems about its augmenters, with ``strategy`` used at test time (or, with
    ``data``, by the training-data augmentation of dialsum-data)."""
    run: dict[str, Any] = {"models": ["lead"], "metrics": ["rouge"], "loggers": []}
    if data is None:
        run.update(use_tta=True, tta_strategies=[strategy], ensemble="majority_vote")
    recipe = Recipe.from_dict({"run": run, "augmenters": {strategy: options},
                               "data": {"train_path": str(SAMPLE), **(data or {})}})
    return [p for p in recipe.problems(plugins) if ": augmenters." in p]


def test_check_reads_the_synonym_lexicon(plugins: Any, tmp_path: Path) -> None:
    cases = {
        write(tmp_path / "cp949.txt", LEXICON, "cp949"): "line 2: not UTF-8 text",
        write(tmp_path / "notag.txt", LEXICON + "먹/VV 식사\n"): "line 3: '식사' is not written form/TAG",
        str(tmp_path): "is a folder, not a synonym lexicon file",
    }
    for path, says in cases.items():
        (problem,) = tta_problems(plugins, "synonym", {"lexicon": path})
        assert f": augmenters.synonym.lexicon: {path}: {says}" in problem, problem
    assert tta_problems(plugins, "synonym", {"lexicon": write(tmp_path / "ok.txt", LEXICON)}) == []
    # the same augmenter making training copies is checked the same way
    augmentation = {"preprocessing": {"augmentation": {"enable": True, "strategies": ["synonym"]}}}
    (problem,) = tta_problems(plugins, "synonym", {"lexicon": str(tmp_path / "cp949.txt")}, augmentation)
    assert "augmenters.synonym.lexicon: " in problem and "line 2: not UTF-8" in problem


def test_check_reads_the_paraphrase_table(plugins: Any, tmp_path: Path) -> None:
    cases = {
        write(tmp_path / "cp949.csv", TABLE, "cp949"): "line 2: not UTF-8 text",
        write(tmp_path / "columns.csv", "id,text\n1,x\n"): "row 1: missing column(s) fname, dialogue",
        write(tmp_path / "empty_row.csv", TABLE + "d2,\n"): "row 3: empty fname or dialogue",
        str(tmp_path): "is a folder, not a paraphrase table file",
    }
    for path, says in cases.items():
        (problem,) = tta_problems(plugins, "paraphrase", {"table": path})
        assert f": augmenters.paraphrase.table: {path}: {says}" in problem, problem
    with SAMPLE.open(encoding="utf-8", newline="") as fh:
        first = next(csv.DictReader(fh))
    mine = write(tmp_path / "ok.csv", f'fname,dialogue\n{first["fname"]},"{first["dialogue"]}"\n')
    assert tta_problems(plugins, "paraphrase", {"table": mine}) == []


def test_check_looks_into_the_paraphrase_model_folder(plugins: Any, tmp_path: Path) -> None:
    empty = tmp_path / "model"
    empty.mkdir()
    (problem,) = tta_problems(plugins, "paraphrase", {"model": str(empty)})
    assert f"augmenters.paraphrase.model: {empty}: no config.json" in problem
    (problem,) = tta_problems(plugins, "paraphrase", {"model": write(tmp_path / "model.bin", "x")})
    assert "augmenters.paraphrase.model: " in problem and "not a folder" in problem
    (empty / "config.json").write_text("{}", encoding="utf-8")
    # without weights the run loaded it only after its models trained, and failed there
    (problem,) = tta_problems(plugins, "paraphrase", {"model": str(empty)})
    assert f"augmenters.paraphrase.model: {empty}: no weights in it (one of model.safetensors, " in problem
    (empty / "model.safetensors").write_bytes(b"")
    # without a tokenizer transformers built one of five tokens: every turn became <unk>, silently
    (problem,) = tta_problems(plugins, "paraphrase", {"model": str(empty)})
    assert f"augmenters.paraphrase.model: {empty}: no tokenizer files (tokenizer.json, " in problem
    (empty / "tokenizer.json").write_text("{}", encoding="utf-8")
    # without a model_type transformers could not tell the model's class: it failed after the models trained
    (problem,) = tta_problems(plugins, "paraphrase", {"model": str(empty)})
    assert f"augmenters.paraphrase.model: {empty}: config.json names no model_type" in problem
    (empty / "config.json").write_text('{"model_type": "bart", "is_encoder_decoder": true}', encoding="utf-8")
    assert tta_problems(plugins, "paraphrase", {"model": str(empty)}) == []  # no model is loaded to check


def test_check_refuses_a_decoder_only_paraphrase_model(plugins: Any, tmp_path: Path) -> None:
    """The augmenter loads its model as a seq2seq one: a decoder-only folder (a causal model saved by
    save_pretrained, weights and tokenizer complete) passed the check, and the run failed when it first
    paraphrased, after its models had trained. Real tiny models of both kinds, saved as transformers does."""
    testing = pytest.importorskip("dialsum_hf.testing")
    texts = ["#Person1#: 안녕하세요. #Person2#: 네, 반가워요."] * 4
    causal = testing.save_tiny_model("llama", tmp_path / "llama", texts, vocab_size=200)
    seq2seq = testing.save_tiny_model("bart", tmp_path / "bart", texts, vocab_size=200)
    (problem,) = tta_problems(plugins, "paraphrase", {"model": str(causal)})
    assert f"augmenters.paraphrase.model: {causal}: a decoder-only llama model, " in problem
    assert tta_problems(plugins, "paraphrase", {"model": str(seq2seq)}) == []
    # a config written without the flag (by hand, or by an older library): its model type is one transformers'
    # AutoModelForSeq2SeqLM loads
    config = json.loads((seq2seq / "config.json").read_text(encoding="utf-8"))
    del config["is_encoder_decoder"]
    (seq2seq / "config.json").write_text(json.dumps(config), encoding="utf-8")
    assert tta_problems(plugins, "paraphrase", {"model": str(seq2seq)}) == []
    # a decoder-only model of text and images is a ...ForConditionalGeneration too, and passed for its class name
    config = json.loads((causal / "config.json").read_text(encoding="utf-8"))
    for kind, arch in (("llava", "LlavaForConditionalGeneration"), ("gemma3", "Gemma3ForConditionalGeneration")):
        (causal / "config.json").write_text(json.dumps({**config, "model_type": kind, "architectures": [arch]}),
                                            encoding="utf-8")
        (problem,) = tta_problems(plugins, "paraphrase", {"model": str(causal)})
        assert f"augmenters.paraphrase.model: {causal}: a decoder-only {kind} model, which AutoModelForSeq2SeqLM " \
               "does not load; the paraphrase augmenter loads a seq2seq" in problem, problem
    (causal / "config.json").write_text(json.dumps(config), encoding="utf-8")
    # the run builds the augmenter with the same rule
    with pytest.raises(DataError, match="a decoder-only llama model"):
        build(tmp_path, "paraphrase", {"model": str(causal)})


def test_check_refuses_a_sharded_paraphrase_model_missing_a_shard(plugins: Any, tmp_path: Path) -> None:
    """A sharded model copied or downloaded in part passed the check (its weight map is there); the run
    failed to load it when it first paraphrased, after its models had trained."""
    testing = pytest.importorskip("dialsum_hf.testing")
    from transformers import AutoModelForSeq2SeqLM

    texts = ["#Person1#: 안녕하세요. #Person2#: 네, 반가워요."] * 4
    whole = testing.save_tiny_model("bart", tmp_path / "bart", texts, vocab_size=200)
    sharded = tmp_path / "sharded"
    AutoModelForSeq2SeqLM.from_pretrained(str(whole)).save_pretrained(str(sharded), max_shard_size="20KB")
    for f in whole.iterdir():
        if f.name.startswith(("tokenizer", "special")):
            (sharded / f.name).write_bytes(f.read_bytes())
    assert tta_problems(plugins, "paraphrase", {"model": str(sharded)}) == []
    shards = sorted(sharded.glob("model-*.safetensors"))
    assert len(shards) > 1
    shards[-1].unlink()
    (problem,) = tta_problems(plugins, "paraphrase", {"model": str(sharded)})
    assert f"augmenters.paraphrase.model: {sharded}: its weight map names shard files the folder lacks " \
        f"({shards[-1].name})" in problem
    with pytest.raises(DataError, match="names shard files the folder lacks"):
        build(tmp_path, "paraphrase", {"model": str(sharded)})


def test_a_tokenizer_config_alone_is_no_tokenizer(plugins: Any, tmp_path: Path) -> None:
    """A folder whose tokenizer is only its ``tokenizer_config.json`` (settings, no vocabulary) passed the
    check; transformers then builds no tokenizer from it (the class save_pretrained names refuses to build
    without a vocabulary; a slow class builds one of a handful of tokens), when the run first paraphrased,
    after its models had trained. A slow tokenizer's own files (vocab.json and merges.txt) do load."""
    testing = pytest.importorskip("dialsum_hf.testing")
    from transformers import AutoTokenizer

    texts = ["#Person1#: 안녕하세요. #Person2#: 네, 반가워요."] * 4
    model = testing.save_tiny_model("bart", tmp_path / "bart", texts, vocab_size=200)
    whole = len(AutoTokenizer.from_pretrained(str(model)))
    backend = AutoTokenizer.from_pretrained(str(model)).backend_tokenizer
    (model / "tokenizer.json").unlink()
    assert (model / "tokenizer_config.json").is_file()
    with pytest.raises(ValueError, match="Couldn't instantiate the backend tokenizer"):
        AutoTokenizer.from_pretrained(str(model))
    (problem,) = tta_problems(plugins, "paraphrase", {"model": str(model)})
    assert f"augmenters.paraphrase.model: {model}: no tokenizer files (tokenizer.json, vocab.json, vocab.txt...), " \
        "only tokenizer_config.json, which holds no vocabulary" in problem, problem
    with pytest.raises(DataError, match=f"^{model}: no tokenizer files .*only tokenizer_config.json"):
        build(tmp_path, "paraphrase", {"model": str(model)})
    # the same settings beside a slow BPE tokenizer's vocabulary and merges: a tokenizer of the whole vocabulary
    backend.model.save(str(model))
    settings = json.loads((model / "tokenizer_config.json").read_text(encoding="utf-8"))
    (model / "tokenizer_config.json").write_text(json.dumps({**settings, "tokenizer_class": "BartTokenizer"}),
                                                 encoding="utf-8")
    assert len(AutoTokenizer.from_pretrained(str(model))) >= whole
    assert tta_problems(plugins, "paraphrase", {"model": str(model)}) == []


def build(tmp_path: Path, name: str, options: dict[str, str]) -> Any:
    plugins = build_plugins()
    recipe = Recipe.from_dict({"augmenters": {name: options}}, source=str(tmp_path / "r.toml"))
    ctx = RunContext(recipe=recipe, plugins=plugins, experiment=Experiment(tmp_path), events=Events(plugins.pm))
    return ctx.build("augmenters", name)


def test_the_run_says_what_the_check_says(tmp_path: Path) -> None:
    """A run that skipped the check (a plugin calling the augmenters itself) still gets one line."""
    lexicon = write(tmp_path / "cp949.txt", LEXICON, "cp949")
    with pytest.raises(DataError, match=r"cp949.txt: line 2: not UTF-8 text"):
        build(tmp_path, "synonym", {"lexicon": lexicon})
    with pytest.raises(DataError, match=r"is a folder, not a synonym lexicon file"):
        build(tmp_path, "synonym", {"lexicon": str(tmp_path)})
    table = write(tmp_path / "cp949.csv", TABLE, "cp949")
    with pytest.raises(DataError, match=r"cp949.csv: line 2: not UTF-8 text"):
        build(tmp_path, "paraphrase", {"table": table})
    model = tmp_path / "model"
    model.mkdir()
    with pytest.raises(DataError, match=r"no config.json"):
        build(tmp_path, "paraphrase", {"model": str(model)})


def test_a_model_folder_transformers_cannot_load_is_one_line(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"model_type": "bart"}), encoding="utf-8")
    (model / "model.safetensors").write_bytes(b"")  # an empty weight file: the check reads no weights
    (model / "tokenizer.json").write_text("{}", encoding="utf-8")
    aug = build(tmp_path, "paraphrase", {"model": str(model)})
    with pytest.raises(DataError, match=rf"^{model}: cannot load the paraphrase model: "):
        aug.augment("d1", "#Person1#: 안녕하세요.", n=1, seed=0)


def test_an_edited_file_is_read_again(tmp_path: Path) -> None:
    """The readers cache by path, modification time and size: the check and the run read a file
    once, and a file fixed after a refusal is read anew in the same process."""
    from dialsum_tta.files import load_lexicon

    path = tmp_path / "lex.txt"
    write(path, "사/VV 구입하\n")
    with pytest.raises(DataError, match="line 1"):
        load_lexicon(str(path))
    write(path, LEXICON)
    assert load_lexicon(str(path)) is load_lexicon(str(path))
    assert ("구입하", "VV") in dict(load_lexicon(str(path)))[("사", "VV")]


def table_problems(plugins: Any, table: str, data: dict[str, str]) -> list[str]:
    """The problems of a paraphrase ``table`` used at test time on the dialogues of ``data``."""
    run = {"models": ["lead"], "metrics": ["rouge"], "loggers": [], "use_tta": True, "tta_strategies": ["paraphrase"],
           "ensemble": "majority_vote"}
    recipe = Recipe.from_dict({"run": run, "augmenters": {"paraphrase": {"table": table}}, "data": data})
    return [p for p in recipe.problems(plugins) if ": augmenters." in p]


def _dialogues(tmp_path: Path, speakers: list[str]) -> str:
    """A data file of four dialogues ``d1``..``d4``, whose turns go to ``speakers`` in turn."""
    rows = [(f"d{i}", "\n".join(f"#Person{s}#: 말 {i}-{k}" for k, s in enumerate(who)))
            for i, who in enumerate(speakers, 1)]
    lines = ["fname,dialogue,summary,topic"] + [f'{f},"{d}",#Person1#의 말,t' for f, d in rows]
    return write(tmp_path / "data.csv", "\n".join(lines) + "\n")


def test_a_paraphrase_table_of_another_data_set_is_refused_by_check(plugins: Any, tmp_path: Path) -> None:
    """Rows are found by fname, and data sets share fnames (``dev_0``): the sample table beside the
    competition's files gave each dialogue another one's paraphrase, silently. A table without a
    row for the data, or whose rows mostly have other speakers turn by turn, is refused."""
    data = {"train_path": _dialogues(tmp_path, ["121", "1212", "12", "2121"])}

    def problems(rows: list[tuple[str, str]]) -> list[str]:
        text = "fname,dialogue\n" + "".join(f'{f},"{d}"\n' for f, d in rows)
        return table_problems(plugins, write(tmp_path / "t.csv", text), data)

    (problem,) = problems([("x1", "#Person1#: 다른 말")])
    assert "augmenters.paraphrase.table: " in problem and "has no row for any of the 4 dialogues of the data" in problem
    other = "#Person1#: 가\n#Person1#: 나"  # one speaker twice: none of the four dialogues
    (problem,) = problems([("d1", other), ("d2", other), ("d3", other), ("d4", "#Person2#: 가\n#Person1#: 나"
                                                                           "\n#Person2#: 다\n#Person1#: 라")])
    assert "3 of its 4 rows for this data's dialogues have other speakers turn by turn" in problem, problem
    # a paraphrase may merge two turns now and then: one row of four is not another data set
    assert problems([("d1", other), ("d2", "#Person1#:가\n#Person2# : 나\n#Person1#: 다\n#Person2#: 라"),
                           ("d3", "#Person1#: 가\n#Person2#: 나")]) == []


@pytest.mark.skipif(not REAL.is_dir(), reason=f"needs the real data in {REAL} (absent here)")
def test_the_sample_table_beside_the_competition_files_is_refused(plugins: Any) -> None:
    """What a user of recipes/full.toml gets who points the data keys at the competition's files and
    forgets the table: fnames dev_0... match, dialogues do not (90 of the 98 rows)."""
    real = {"train_path": str(REAL / "dev.csv"), "dev_path": str(REAL / "dev.csv"), "test_path": str(REAL / "test.csv")}
    sample = str(SAMPLE.parent / "paraphrases.csv")
    (problem,) = table_problems(plugins, sample, real)
    assert "90 of its 98 rows for this data's dialogues have other speakers" in problem, problem
    second = str(REAL / "dev_alt_translation.csv")  # an independent translation of the same dialogues
    assert table_problems(plugins, second, {k: v for k, v in real.items() if k != "test_path"}) == []


@pytest.mark.skipif(not REAL.is_dir(), reason=f"needs the real data in {REAL} (absent here)")
def test_a_table_of_no_test_dialogue_is_refused_for_test_time_augmentation(plugins: Any) -> None:
    """The real data's second translation covers dev.csv, not test.csv: a run with it as the
    paraphrase table ensembled validation with paraphrases and the 499 test dialogues without, and
    said so only by 'no row for test_12 (and maybe others)' after training."""
    real = {"train_path": str(REAL / "dev.csv"), "test_path": str(REAL / "test.csv")}
    second = str(REAL / "dev_alt_translation.csv")
    (problem,) = table_problems(plugins, second, real)
    assert "has no row for any of the 499 test dialogues (fnames such as 'test_0'): run.use_tta would " \
           "paraphrase the validation dialogues and no test one" in problem, problem
    # the same table for the training copies (data.preprocessing.augmentation) needs no test row
    augmentation = {"preprocessing": {"augmentation": {"enable": True, "strategies": ["paraphrase"]}}}
    assert tta_problems(plugins, "paraphrase", {"table": second}, {**real, **augmentation}) == []
