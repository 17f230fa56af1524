"""Typed recipes: composition, overrides, errors reported together, and the TOML round trip."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialsum_core.errors import RecipeError
from dialsum_core.manager import build_plugins
from dialsum_core.recipe import Recipe, load_recipe, write_recipe


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_follow_the_seed() -> None:
    r = Recipe()
    assert r.run.mode == "single" and r.run.seed == 42 and r.run.tta_num_aug == 3
    assert r.train.learning_rate == 2e-5 and r.train.epochs == 3
    assert r.generation.num_beams == 4 and r.generation.no_repeat_ngram_size == 3
    assert r.generation.repetition_penalty == 1.5


def test_extends_chain_merges_tables_and_replaces_arrays(tmp_path: Path) -> None:
    write(tmp_path / "base.toml", '[run]\nmodels = ["a", "b"]\nseed = 1\n[train]\nepochs = 5\nbatch_size = 4\n')
    write(tmp_path / "mid.toml", 'extends = "base.toml"\n[train]\nepochs = 2\n')
    child = write(tmp_path / "child.toml", 'extends = "mid.toml"\n[run]\nmodels = ["c"]\n')
    r = load_recipe(child)
    assert r.run.models == ["c"] and r.run.seed == 1
    assert r.train.epochs == 2 and r.train.batch_size == 4
    assert r.where("train.batch_size") == str(tmp_path / "base.toml")
    assert r.where("train.epochs") == str(tmp_path / "mid.toml")


def test_extends_follows_the_path_rule_for_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every path key takes ``~`` for the home folder; ``extends`` looked for a folder named ``~``."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    write(tmp_path / "home" / "base.toml", "[train]\nepochs = 7\n")
    r = load_recipe(write(tmp_path / "child.toml", 'extends = "~/base.toml"\n'))
    assert r.train.epochs == 7 and r.where("train.epochs") == str(tmp_path / "home" / "base.toml")


def test_extends_cycle_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "a.toml", 'extends = "b.toml"\n')
    write(tmp_path / "b.toml", 'extends = "a.toml"\n')
    with pytest.raises(RecipeError, match="cycle"):
        load_recipe(tmp_path / "a.toml")


def test_set_overrides_parse_toml_values(tmp_path: Path) -> None:
    p = write(tmp_path / "r.toml", "[train]\nepochs = 5\n")
    r = load_recipe(
        p,
        [
            "train.epochs=1",
            'run.models=["x", "y"]',
            "run.debug=true",
            "run.name=exp one",
            'models."solar-10.7b".use_lora=true',
        ],
    )
    assert r.train.epochs == 1 and r.run.models == ["x", "y"] and r.run.debug is True
    assert r.run.name == "exp one"
    assert r.models["solar-10.7b"] == {"use_lora": True}
    assert r.where("train.epochs") == "--set"


def test_all_errors_reported_at_once_with_file_key_and_type(tmp_path: Path) -> None:
    p = write(
        tmp_path / "bad.toml",
        '[train]\nepochs = "three"\nlearning_rat = 0.1\nwarmup_ratio = 1.5\n[run]\ndebug = "yes"\nlog_level = "LOUD"\n'
        "[generation]\nnum_beams = 0\n[wat]\nx = 1\n",
    )
    with pytest.raises(RecipeError) as info:
        load_recipe(p)
    problems = info.value.problems
    text = "\n".join(problems)
    assert all(line.startswith(f"{p}: ") for line in problems)
    assert "train.epochs: expected an integer, got string 'three'" in text
    assert "train.learning_rat: unknown key (did you mean 'learning_rate'?)" in text
    assert "train.warmup_ratio: must be in [0, 1)" in text
    assert "run.debug: expected true or false" in text
    assert "run.log_level: must be one of" in text
    assert "generation.num_beams: must be > 0" in text
    assert "wat: unknown top-level key" in text
    assert len(problems) == 7


def test_plugin_options_are_typed_by_the_plugin(tmp_path: Path) -> None:
    plugins = build_plugins()
    p = write(
        tmp_path / "r.toml",
        '[run]\nmodels = ["lead"]\nloggers = []\nmetrics = ["rouge"]\n'
        '[models.lead]\nturns = "two"\nturnz = 3\n[metrics.rouge]\ntokenizer = "spaces"\n',
    )
    r = load_recipe(p)
    problems = "\n".join(r.problems(plugins))
    assert f"{p}: models.lead.turns: expected an integer" in problems
    assert "models.lead.turnz: unknown key (did you mean 'turns'?)" in problems
    assert "metrics.rouge.tokenizer: must be one of" in problems
    ok = r.override("models.lead.turns=2").merge({"models": {"lead": {"turnz": None}}})
    assert ok.models["lead"] == {"turns": 2}
    assert [x for x in ok.problems(plugins) if "run.mode" not in x and ": data." not in x] == [
        f"{p}: metrics.rouge.tokenizer: must be one of ['auto', 'kiwi', 'whitespace'], got 'spaces'"
    ]


def test_a_typo_does_not_hide_the_problems_the_checks_find(tmp_path: Path) -> None:
    """One `dialsum check` shows every problem: a misspelt key, and what the sections' checks see."""
    p = write(tmp_path / "r.toml", '[run]\nname = "a/b"\n[data]\ntrain_pth = "t.csv"\n')
    problems = load_recipe(p, strict=False).problems(build_plugins())
    assert f"{p}: data.train_pth: unknown key (did you mean 'train_path'?)" in problems
    assert any(x.startswith(f"{p}: run.name: must be a folder name") for x in problems), problems


def test_a_typo_leaves_the_other_values_of_its_section_to_the_checks(tmp_path: Path) -> None:
    """A section with a misspelt key is checked with what the user wrote in its other keys, never with
    its defaults: a set key is not reported as unset, and a clash of two set keys is seen at once."""
    csv = write(tmp_path / "train.csv", "fname,dialogue,summary,topic\nd0,#Person1#: a,b,c\n")
    p = write(tmp_path / "r.toml", f'[data]\ntrain_pth = "x"\ntrain_path = "{csv}"\n'
                                     '[train]\nepochz = 1\nfp16 = true\nbf16 = true\n')
    problems = load_recipe(p, strict=False).problems(build_plugins())
    assert f"{p}: data.train_pth: unknown key (did you mean 'train_path'?)" in problems
    assert not [x for x in problems if "data.train_path" in x], problems
    assert f"{p}: train.fp16: fp16 and bf16 are both on; choose one" in problems


def test_a_value_that_cannot_be_typed_is_reported_once(tmp_path: Path) -> None:
    """The checks of a section see its default where a value could not be typed: what they would say
    about that default is not said about the user's key."""
    p = write(tmp_path / "r.toml", "[data]\ntrain_path = 3\n")
    problems = [x for x in load_recipe(p, strict=False).problems(build_plugins()) if "data.train_path" in x]
    assert problems == [f"{p}: data.train_path: expected a string, got integer 3"]


def test_a_typo_in_a_nested_table_leaves_its_other_values_checked() -> None:
    from dialsum_core.recipe import structure_options

    inst, problems = structure_options(_Outer, {"inner": {"step": -1.0, "stpe": 1.0}, "size": 3}, "s")
    assert problems == [("s.inner.stpe", "unknown key (did you mean 'step'?)"),
                        ("s.inner.step", "'step' must be >= 0.0: -1.0")], problems
    assert inst is not None and inst.size == 3


def test_unknown_plugin_names_are_reported(tmp_path: Path) -> None:
    plugins = build_plugins()
    p = write(
        tmp_path / "r.toml", '[run]\nmode = "nope"\nmodels = ["lead", "ghost"]\nloggers = []\nmetrics = ["rouge"]\n'
    )
    problems = "\n".join(load_recipe(p).problems(plugins))
    assert "run.mode: unknown run mode 'nope'" in problems
    assert "run.models: unknown model loader 'ghost'" in problems


def test_toml_syntax_and_encoding_errors_are_one_line(tmp_path: Path) -> None:
    p = write(tmp_path / "syntax.toml", "[train\nepochs = 1\n")
    with pytest.raises(RecipeError) as info:
        load_recipe(p)
    assert len(info.value.problems) == 1 and "TOML syntax error" in info.value.problems[0]
    q = tmp_path / "latin.toml"
    q.write_bytes('[run]\nname = "caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(RecipeError, match="not UTF-8"):
        load_recipe(q)


def test_python_api_build_evolve_write_and_reload(tmp_path: Path) -> None:
    r = Recipe()
    r = r.evolve(train=attrs.evolve(r.train, epochs=1, batch_size=2))
    r = r.override(("run.models", ["lead"]), "generation.num_beams=2")
    r = r.merge({"run": {"debug": True}, "models": {"lead": {"turns": 2}}})
    out = write_recipe(r, tmp_path / "out.toml")
    again = load_recipe(out)
    assert again == r
    assert again.train.epochs == 1 and again.generation.num_beams == 2 and again.run.debug


names = st.text(alphabet=st.characters(whitelist_categories=("Ll", "Lu", "Nd", "Lo")), min_size=1, max_size=12)
scalars = st.one_of(
    st.booleans(), st.integers(-(10**6), 10**6), st.floats(allow_nan=False, allow_infinity=False), names
)


@st.composite
def recipes(draw: st.DrawFn) -> Recipe:
    base = Recipe()
    run = attrs.evolve(
        base.run,
        mode=draw(names),
        name=draw(st.text(max_size=20)),
        seed=draw(st.integers(0, 2**31)),
        debug=draw(st.booleans()),
        models=draw(st.lists(names, min_size=1, max_size=4)),
        ensemble_weights=draw(st.lists(st.floats(0, 10), max_size=4)),
        tta_num_aug=draw(st.integers(1, 10)),
    )
    train = attrs.evolve(
        base.train,
        epochs=draw(st.integers(1, 100)),
        learning_rate=draw(st.floats(1e-8, 1.0)),
        warmup_ratio=draw(st.floats(0, 0.99)),
        fp16=draw(st.booleans()),
    )
    gen = attrs.evolve(base.generation, num_beams=draw(st.integers(1, 16)), top_p=draw(st.floats(0.01, 1.0)))
    tables = draw(st.dictionaries(names, st.dictionaries(names, scalars, max_size=3), max_size=3))
    return base.evolve(description=draw(st.text(max_size=30)), run=run, train=train, generation=gen, models=tables)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(recipes())
def test_round_trip_through_toml(recipe: Recipe) -> None:
    import tomllib

    again = Recipe.from_dict(tomllib.loads(recipe.to_toml()))
    assert again == recipe


@attrs.define
class _Param:
    step: float = attrs.field(default=0.0, validator=attrs.validators.ge(0.0))


@attrs.define
class _Space:
    space: dict[str, _Param] = attrs.field(factory=dict)
    grid: list[_Param] = attrs.field(factory=list)


@attrs.define(kw_only=True)
class _Outer:
    inner: _Param = attrs.field(factory=_Param)
    size: int = 1


def test_validators_of_typed_entries_in_tables_and_arrays_run_too() -> None:
    """A table of parameter tables (a search space) is checked entry by entry, every problem named."""
    from dialsum_core.recipe import structure_options

    _, problems = structure_options(_Space, {"space": {"a.b": {"step": -1.0}, "c": {"step": 1.0}},
                                             "grid": [{"step": 2.0}, {"step": -2.0}]}, "modes.x")
    assert [k for k, _ in problems] == ["modes.x.space.a.b.step", "modes.x.grid[1].step"], problems


@pytest.mark.parametrize("key", ["models", "metrics", "tta_strategies"])
def test_a_plugin_named_twice_in_one_key_is_refused(key: str) -> None:
    """One plugin of the run, named twice: ``run.models = ["lead", "lead"]`` trained one model twice
    and ensembled it with itself (weights per model then name it twice); the loggers' own check
    said so for ``run.loggers`` only."""
    from dialsum_core.manager import build_plugins

    plugins = build_plugins()
    names = {"models": ["scratch", "lead", "scratch"], "metrics": ["rouge", "rouge"],
             "tta_strategies": ["reorder", "reorder"]}[key]
    recipe = Recipe.from_dict({"run": {"mode": "multi_model", "use_tta": True, key: names}}, schema=plugins.schema)
    twice = names[0]
    assert any(f"run.{key}: {twice!r} listed more than once; list each " in p for p in recipe.problems(plugins))
    once = Recipe.from_dict({"run": {"mode": "multi_model", "use_tta": True, key: list(dict.fromkeys(names))}},
                            schema=plugins.schema)
    assert not [p for p in once.problems(plugins) if "more than once" in p]


def test_write_recipe_elsewhere_keeps_reading_the_same_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A relative path is read from the file that holds it: written to another folder as it was, the
    recipe would silently point at other files (or none)."""
    (tmp_path / "a").mkdir()
    write(tmp_path / "a" / "r.toml", '[data]\ntrain_path = "train.csv"\ndev_references = ["refs/1.csv"]\n'
          '[augmenters.synonym]\nlexicon = "lex.txt"\n[models."polyglot-ko-12.8b"]\nmodel_name_or_path = "./local"\n')
    monkeypatch.chdir(tmp_path)
    recipe = load_recipe(tmp_path / "a" / "r.toml", ["data.test_path=test.csv"])
    again = load_recipe(write_recipe(recipe, tmp_path / "b" / "c" / "copy.toml"))
    for key in ("data.train_path", "data.dev_references", "data.test_path", "augmenters.synonym.lexicon",
                'models."polyglot-ko-12.8b".model_name_or_path'):
        values = [recipe.get(key), again.get(key)]
        plain = key.replace('"', "")
        as_read = [[r.path_of(plain, v).resolve() for v in (x if isinstance(x, list) else [x])]
                   for r, x in zip((recipe, again), values, strict=True)]
        assert as_read[0] == as_read[1], key
    assert again.get("data.test_path") == str(tmp_path / "test.csv")
