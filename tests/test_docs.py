"""The documentation, its generated references, the plugin scaffold, the examples and the sample data.

The docs site must build with ``mkdocs build --strict``; every recipe key and every hook must be
documented (the failure lists exactly which); the migration table must cover every flag of the seed's
``train.py`` and name only keys that exist; scaffolded plugins must install and pass their own tests.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs
import pytest
from click.testing import CliRunner

from conftest import ROOT, make_dist, run_cli
from dialsum_core.cli import cli
from dialsum_core.manager import build_plugins
from dialsum_tools import recipe_doc
from dialsum_tools.scaffold import KIND_ARGS, Names, new_plugin

DOCS = ROOT / "docs"
SEED_SPEC = Path(os.environ.get("DIALSUM_SHARED_DATA", ROOT.parent / "shared" / "data")).parent / "seed"

#: Every flag of the seed's train.py (checked against the seed document when it is present).
SEED_FLAGS = (
    "mode", "config", "experiment_name", "models", "use_lora", "lora_r", "epochs", "batch_size",
    "learning_rate", "gradient_accumulation_steps", "k_folds", "fold_seed", "ensemble_strategy",
    "ensemble_weights", "use_tta", "tta_strategies", "tta_num_aug", "optuna_trials", "optuna_timeout",
    "optuna_sampler", "optuna_pruner", "optuna_n_jobs", "temperature", "top_p", "num_beams",
    "max_new_tokens", "use_wandb", "wandb_project", "log_level", "save_visualizations", "seed",
    "gpu_check", "auto_batch", "debug", "resume_from",
)
#: The settings of the seed's ``configs/train_config.yaml``.
SEED_CONFIG = tuple(f"{section}.{key}" for section, keys in {
    "experiment": "name seed output_dir",
    "data": "train_path dev_path test_path max_length preprocessing.remove_noise preprocessing.simplify_tokens "
            "preprocessing.augmentation.enable preprocessing.augmentation.strategies",
    "model": "name use_lora lora_config.r lora_config.alpha lora_config.dropout quantization.use_8bit "
             "quantization.use_4bit",
    "training": "epochs batch_size learning_rate gradient_accumulation_steps warmup_ratio weight_decay scheduler fp16",
    "generation": "max_new_tokens min_new_tokens temperature top_p num_beams repetition_penalty no_repeat_ngram_size "
                  "length_penalty",
    "evaluation": "metrics save_predictions",
    "logging": "level use_wandb wandb_project save_checkpoints checkpoint_interval",
}.items() for key in keys.split())


def load_module(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def handwritten_docs() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(DOCS.rglob("*.md")))


# ------------------------------------------------------------------------------------------------
# Nothing undocumented
# ------------------------------------------------------------------------------------------------
def test_every_recipe_key_has_a_description() -> None:
    missing = recipe_doc.undocumented(build_plugins())
    assert not missing, "recipe keys without a description:\n" + "\n".join(missing)


def test_every_hook_is_documented() -> None:
    missing = recipe_doc.undocumented_hooks(handwritten_docs(), build_plugins())
    assert not missing, "undocumented hooks:\n" + "\n".join(missing)


def test_descriptions_come_from_comments_docstrings_and_metadata() -> None:
    # A class in this file, so its source is there for the parser.
    @attrs.define
    class Base:
        #: Inherited,
        #: on two lines.
        base: int = 1

    @attrs.define
    class Options(Base):
        #: Above the field.
        above: int = 2
        inline: str = "x"  #: At the end of the line.
        below: bool = False
        """Below the field."""
        meta: float = attrs.field(default=0.5, metadata={"help": "From metadata."})
        bare: list[int] = attrs.field(factory=list)

    assert recipe_doc.field_help(Options) == {
        "base": "Inherited, on two lines.",
        "above": "Above the field.",
        "inline": "At the end of the line.",
        "below": "Below the field.",
        "meta": "From metadata.",
    }
    docs = {o.key: o for o in recipe_doc.describe_class(Options, "models.x", {"above": 5})}
    assert docs["models.x.above"].default == "5" and docs["models.x.bare"].type == "array of integers"
    assert docs["models.x.bare"].help == "" and docs["models.x.meta"].default == "0.5"


def test_check_names_the_undocumented_key_of_a_plugin(tmp_path: Path) -> None:
    make_dist(tmp_path, "dialsum-undoc", "0.3.0", "undoc_plugin", '''
        import attrs
        from dialsum_core import hookimpl

        @attrs.define
        class UndocOptions:
            #: Documented.
            size: int = 1
            speed: float = 2.0

        @hookimpl
        def dialsum_register_metrics(register):
            register("undoc", lambda o, c: None, options=UndocOptions, description="a metric")
        ''', {"undoc": "undoc_plugin"})
    others = ",".join(ep.name for ep in metadata.entry_points(group="dialsum") if ep.name != "tools")
    proc = run_cli(["recipe-doc", "--check"], site=tmp_path, env={"DIALSUM_DISABLE_PLUGINS": others})
    assert proc.returncode == 2, proc.stderr
    assert "undocumented: metrics.undoc.speed: no description" in proc.stderr
    assert "UndocOptions, dialsum-undoc" in proc.stderr and "metrics.undoc.size" not in proc.stderr


# ------------------------------------------------------------------------------------------------
# Generated references and the site
# ------------------------------------------------------------------------------------------------
def test_recipe_doc_writes_the_references(tmp_path: Path) -> None:
    out, hooks = tmp_path / "recipe.md", tmp_path / "hooks.md"
    result = CliRunner().invoke(cli, ["recipe-doc", "-o", str(out), "--hooks-output", str(hooks)])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    for option in recipe_doc.section_options():
        assert f"`{option.key}`" in text
    plugins = build_plugins()
    for reg in plugins.registry:
        assert f"### `{reg.name}`" in text
    hook_text = hooks.read_text(encoding="utf-8")
    assert all(f"### `{name}`" in hook_text for name, _ in recipe_doc.hookspec_functions(plugins))
    # an event a plugin declares is listed with the distribution that owns it
    fold = hook_text.split("### `dialsum_before_fold`")[1].split("### ")[0]
    assert "Declared by `dialsum-modes`" in fold and "optionalhook=True" in fold


def test_every_docs_page_is_in_the_nav() -> None:
    yaml = pytest.importorskip("yaml", reason="PyYAML (a dependency of mkdocs) is not installed")
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))

    def pages(nav: Any) -> list[str]:
        if isinstance(nav, str):
            return [nav]
        if isinstance(nav, list):
            return [p for item in nav for p in pages(item)]
        return [p for value in nav.values() for p in pages(value)]

    in_nav = set(pages(config["nav"]))
    on_disk = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md") if "dev" not in p.relative_to(DOCS).parts}
    assert not on_disk - in_nav, f"add these pages to the nav of mkdocs.yml: {sorted(on_disk - in_nav)}"
    generated = set(recipe_doc.PAGES.values())
    assert not in_nav - on_disk - generated, f"nav entries without a page: {sorted(in_nav - on_disk - generated)}"


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None:
        pytest.skip("mkdocs-material is not installed (pip install -e '.[test]')")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    recipe = (tmp_path / "site" / "reference" / "recipe" / "index.html").read_text(encoding="utf-8")
    assert "train.learning_rate" in recipe and "models.lead.max_turns" in recipe
    tutorial = (tmp_path / "site" / "writing-a-plugin" / "index.html").read_text(encoding="utf-8")
    assert "check_lead" in tutorial  # the example's source is included, not copied


# ------------------------------------------------------------------------------------------------
# Migration table
# ------------------------------------------------------------------------------------------------
def migration_rows() -> dict[str, list[str]]:
    """``flag -> recipe keys`` from the table of docs/migration.md."""
    rows: dict[str, list[str]] = {}
    for line in (DOCS / "migration.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        m = re.fullmatch(r"`--(\w+)`", cells[0]) if len(cells) == 4 else None
        if m:
            rows[m.group(1)] = re.findall(r"`((?:run|data|train|generation|models|modes|loggers)\.[^`]+)`", cells[2])
    return rows


def test_migration_table_covers_every_seed_flag() -> None:
    spec = SEED_SPEC / "unified-run-options.md"
    if spec.exists():
        seed = set(re.findall(r"'--(\w+)'", spec.read_text(encoding="utf-8")))
        assert seed == set(SEED_FLAGS), f"the seed's flags changed: {sorted(seed ^ set(SEED_FLAGS))}"
    rows = migration_rows()
    assert not set(SEED_FLAGS) - set(rows), f"flags missing from docs/migration.md: {set(SEED_FLAGS) - set(rows)}"


def test_migration_table_names_existing_keys() -> None:
    rows = {f"--{flag}": keys for flag, keys in migration_rows().items()}
    rows |= {", ".join(seed): keys for seed, keys in config_rows()}
    plugins = build_plugins()
    known = {o.key for o in recipe_doc.section_options()}
    for reg in plugins.registry:
        known |= {o.key for o in recipe_doc.plugin_options(reg)}
    tables = {f"{t}.{reg.name}" for reg in plugins.registry for t in [recipe_doc.KIND[reg.kind].table]}
    wrong = []
    for seed, keys in rows.items():
        for key in keys:
            pattern = re.escape(key).replace(re.escape("<name>"), r"[^.]+")
            if any(re.fullmatch(pattern, k) for k in known):
                continue
            table = ".".join(key.split(".")[:2])
            if key.startswith(("run.", "data.", "train.", "generation.")) or "<name>" in key or table in tables:
                wrong.append(f"{seed}: {key}")
    assert not wrong, f"docs/migration.md names keys that do not exist: {wrong}"


def migration_section(title: str) -> str:
    """The text of one ``## title`` section of docs/migration.md."""
    text = (DOCS / "migration.md").read_text(encoding="utf-8")
    assert f"\n## {title}\n" in text, f"docs/migration.md has no section {title!r}"
    return text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def config_rows() -> list[tuple[list[str], list[str]]]:
    """``(seed config keys, recipe keys)`` per row of the config-file table of docs/migration.md."""
    rows = []
    for line in migration_section("The seed's config file").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        seed_keys = re.findall(r"`([a-z]\w*\.[a-z][\w.]*)`", cells[0]) if len(cells) == 2 else []
        seed_keys = [k for k in seed_keys if not k.endswith(".yaml")]
        if seed_keys:
            rows.append((seed_keys, re.findall(r"`((?:run|data|train|generation|models|modes|loggers)\.[^`]+)`",
                                               cells[1])))
    return rows


def test_migration_config_table_covers_every_key_of_the_seed_config() -> None:
    """Every setting of the seed's ``configs/train_config.yaml`` has a row saying where it goes."""
    spec = SEED_SPEC / "unified-run-options.md"
    if spec.exists():
        block = spec.read_text(encoding="utf-8").split("### configs/train_config.yaml", 1)[1]
        block = block.split("```yaml", 1)[1].split("```", 1)[0]
        paths, path = [], []
        for line in block.splitlines():
            m = re.match(r"( *)(\w+):", line)
            if m:
                path[len(m.group(1)) // 2:] = [m.group(2)]
                paths.append(".".join(path))
        seed = {p for p in paths if not any(q.startswith(p + ".") for q in paths)}  # the leaves
        assert seed == set(SEED_CONFIG), f"the seed's config keys changed: {sorted(seed ^ set(SEED_CONFIG))}"
    covered = {key for seed_keys, _ in config_rows() for key in seed_keys}
    missing = sorted(set(SEED_CONFIG) - covered)
    assert not missing, f"seed config keys missing from docs/migration.md: {missing}"
    assert all(keys for _, keys in config_rows()), "a config row of docs/migration.md names no recipe key"


# ------------------------------------------------------------------------------------------------
# new-plugin
# ------------------------------------------------------------------------------------------------
def test_new_plugin_refuses_bad_input(tmp_path: Path) -> None:
    runner = CliRunner()
    bad_name = runner.invoke(cli, ["new-plugin", "Bad Name!", "metric", "--dir", str(tmp_path)])
    assert bad_name.exit_code == 2 and "not a valid plugin name" in bad_name.output
    bad_kind = runner.invoke(cli, ["new-plugin", "ok", "tokenizer", "--dir", str(tmp_path)])
    assert bad_kind.exit_code == 2 and "tokenizer" in bad_kind.output
    first = runner.invoke(cli, ["new-plugin", "dup", "metric", "--dir", str(tmp_path)])
    assert first.exit_code == 0 and (tmp_path / "dialsum-dup" / "dialsum_dup" / "plugin.py").exists()
    again = runner.invoke(cli, ["new-plugin", "dup", "logger", "--dir", str(tmp_path)])
    assert again.exit_code == 2 and "exists already" in again.output


def test_new_plugin_layout(tmp_path: Path) -> None:
    root = new_plugin("dialsum-csv_log", "logger", tmp_path)
    n = Names.of("csv_log")
    assert root == tmp_path / "dialsum-csv-log" and (n.pkg, n.cls, n.name) == ("dialsum_csv_log", "CsvLog", "csv_log")
    pyproject = (root / "pyproject.toml").read_text(encoding="utf-8")
    assert '[project.entry-points.dialsum]\ncsv_log = "dialsum_csv_log.plugin"' in pyproject
    plugin = (root / "dialsum_csv_log" / "plugin.py").read_text(encoding="utf-8")
    assert "import torch" not in plugin and "#: CSV file written in the experiment folder." in plugin
    assert (root / "tests" / "test_csv_log.py").exists()


def test_a_scaffolded_ensemble_and_model_follow_the_protocols_run_modes_call(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Called as the bundled modes call them: ``fit(candidates, references, weights, ctx)``,
    ``combine(candidates, weights, ctx)``, and a ``FitResult`` from ``Model.fit``."""
    from importlib import import_module

    from dialsum_core.protocols import Candidate, FitResult

    for name, kind in (("sk-ens", "ensemble"), ("sk-model", "model_loader")):
        monkeypatch.syspath_prepend(str(new_plugin(name, kind, tmp_path)))
    impl, options = import_module("dialsum_sk_ens.impl"), import_module("dialsum_sk_ens.plugin").SkEnsOptions()
    ensemble = impl.SkEnsEnsemble(options)
    cands = [[Candidate("a b c", "m1"), Candidate("a b d", "m2"), Candidate("x y z", "m3")]]
    assert ensemble.fit(cands, [["a b c"]], {}, None) == {}
    assert ensemble.combine(cands, {}, None) == ["a b c"]
    assert ensemble.combine(cands, {"m3": 10.0}, None) == ["x y z"]
    model_options = import_module("dialsum_sk_model.plugin").SkModelOptions()
    model = import_module("dialsum_sk_model.impl").SkModelModel(model_options)

    class Ctx:
        trial = None

        def emit(self, *args: Any, **kwargs: Any) -> None:
            pass

    assert isinstance(model.fit([], [], Ctx(), tmp_path / "fit"), FitResult)


@pytest.mark.slow
def test_scaffolded_plugins_install_lint_and_pass_their_tests(tmp_path: Path) -> None:
    """Every KIND: scaffold, ruff, a real pip install (into a private folder), discovery, its own tests."""
    src, site = tmp_path / "src", tmp_path / "site"
    roots = [new_plugin(f"sk-{kind.replace('_', '-')}", kind, src) for kind in KIND_ARGS]
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    for root in roots:
        lint = subprocess.run([ruff, "check", "--no-cache", "."], cwd=root, capture_output=True, text=True)
        assert lint.returncode == 0, f"{root.name}: {lint.stdout}{lint.stderr}"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(site), *map(str, roots)],
        capture_output=True, text=True, timeout=600,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    listing = run_cli(["plugins"], site=site)
    assert listing.returncode == 0, listing.stderr
    for kind in KIND_ARGS:
        assert f"sk-{kind.replace('_', '-')}" in listing.stdout
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *(str(r / "tests") for r in roots)],
        cwd=src, capture_output=True, text=True, env=env, timeout=600,
    )
    assert tests.returncode == 0, tests.stdout[-4000:] + tests.stderr[-2000:]
    assert re.search(r"\b(\d+) passed\b", tests.stdout) and "failed" not in tests.stdout


# ------------------------------------------------------------------------------------------------
# Programmatic example
# ------------------------------------------------------------------------------------------------
def test_programmatic_example_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plugins = build_plugins()
    needed = [("run_modes", "single"), ("model_loaders", "lead"), ("metrics", "rouge"), ("loggers", "file")]
    absent = [name for kind, name in needed if plugins.get(kind, name) is None]
    if absent:
        pytest.skip(f"the example needs these plugins installed: {absent}")
    example = load_module(ROOT / "examples" / "programmatic_run.py", "programmatic_run_example")
    results = example.main(["--output-dir", str(tmp_path), "--debug"])
    assert results["status"] == "complete" and results["models"] == ["lead"]
    assert 0.0 < results["best_rouge"] <= 1.0
    saved = (tmp_path / "experiments" / "programmatic-lead" / "config.toml").read_text(encoding="utf-8")
    assert "max_turns = 4" in saved and "seed = 7" in saved and "num_beams = 1" in saved
    assert "status: complete" in capsys.readouterr().out


# ------------------------------------------------------------------------------------------------
# Sample data
# ------------------------------------------------------------------------------------------------
def test_sample_data_is_what_the_generator_writes() -> None:
    gen = load_module(ROOT / "tools" / "make_sample_data.py", "make_sample_data")
    files = gen.build(20240, {"train": 400, "dev": 60, "test": 40})
    assert files == gen.build(20240, {"train": 400, "dev": 60, "test": 40})
    sample = ROOT / "data" / "sample"
    for name, text in files.items():
        assert (sample / name).read_text(encoding="utf-8") == text, "regenerate: python tools/make_sample_data.py"
    assert sum((sample / n).stat().st_size for n in files) < 500_000


def test_sample_data_shape() -> None:
    from dialsum_data import read_csv

    sample = ROOT / "data" / "sample"
    train, _ = read_csv(sample / "train.csv", require_summary=True)
    dev, _ = read_csv(sample / "dev.csv", require_summary=True)
    test, _ = read_csv(sample / "test.csv", require_summary=False)
    assert (len(train), len(dev), len(test)) == (400, 60, 40)
    assert [e.fname for e in dev[:2]] == ["dev_0", "dev_1"]
    header = next(csv.reader(io.StringIO((sample / "test.csv").read_text(encoding="utf-8"))))
    assert header == ["fname", "dialogue"]
    dialogues = [e.dialogue for e in (*train, *dev, *test)]
    assert len(set(dialogues)) == len(dialogues)
    assert all(d.startswith("#Person") and 5 <= d.count("\n") + 1 <= 9 for d in dialogues)
    assert all(re.search(r"#Person\d#", e.summary) for e in (*train, *dev))
    masked = sum("#PhoneNumber#" in d or "#Address#" in d for d in dialogues)
    assert masked >= 40 and len({e.topic for e in train}) >= 12


def test_the_kind_tables_of_the_docs_are_those_of_the_registry() -> None:
    """The docs' tables of kinds are written by hand: each must list every kind of ``KINDS``
    (its hook and its options table), and no hook that no kind has."""
    from dialsum_core.registry import KINDS

    hooks = {k.hook for k in KINDS}
    for page in ("concepts.md", "writing-a-plugin.md"):
        text = (ROOT / "docs" / page).read_text(encoding="utf-8")
        named = set(re.findall(r"`(dialsum_register_\w+)`", text)) - {"dialsum_register_sections",
                                                                       "dialsum_register_commands"}
        assert named == hooks, (page, named ^ hooks)
    concepts = (ROOT / "docs" / "concepts.md").read_text(encoding="utf-8")
    for kind in KINDS:
        assert f"| `{kind.hook}` |" in concepts and f"`[{kind.table}.NAME]`" in concepts, kind


# ------------------------------------------------------------------------------------------------
# Recipes and commands the pages show pass `dialsum check`
# ------------------------------------------------------------------------------------------------
def toml_blocks(text: str) -> list[str]:
    return re.findall(r"```toml\n(.*?)```", text, flags=re.S)


def check_problems(recipe_path: Path, sets: list[str], plugins: Any) -> list[str]:
    from dialsum_core.recipe import load_recipe

    recipe = load_recipe(recipe_path, sets)
    return [str(p) for p in recipe.problems(plugins)]


def test_the_example_recipes_of_readme_and_recipes_page_pass_check(tmp_path: Path) -> None:
    """The recipe the README shows and the anatomy of docs/recipes.md, saved in recipes/ as they say."""
    (tmp_path / "recipes").mkdir()
    shutil.copy(ROOT / "recipes" / "base.toml", tmp_path / "recipes" / "base.toml")
    (tmp_path / "data").symlink_to(ROOT / "data")
    plugins = build_plugins()
    examples = {
        "README.md": next(b for b in toml_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
                          if b.startswith("extends")),
        "docs/recipes.md": toml_blocks((DOCS / "recipes.md").read_text(encoding="utf-8"))[0],
    }
    for page, block in examples.items():
        path = tmp_path / "recipes" / "example.toml"
        path.write_text(block, encoding="utf-8")
        assert check_problems(path, [], plugins) == [], f"the recipe {page} shows does not pass dialsum check"


def joined_lines(text: str) -> list[str]:
    """The lines of shell text with ``\\`` continuations joined (in comments too), blank lines dropped."""
    out, cur = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if cur.startswith("#"):
            line = line.lstrip("#").strip()
        cur = f"{cur} {line}".strip() if cur else line
        if cur.endswith("\\"):
            cur = cur[:-1].rstrip()
            continue
        if cur:
            out.append(" ".join(cur.split()))
        cur = ""
    return out


def test_migration_examples_cover_the_seed_examples_and_pass_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each example of the seed is shown as a comment above the ``dialsum run`` that does the same, and
    that command passes ``dialsum check`` as written (from the repository root)."""
    lines = joined_lines(migration_section("The seed's examples as recipes"))
    shown = [line[2:] for line in lines if line.startswith("# python train.py")]
    runs = [line for line in lines if line.startswith("dialsum run ")]
    spec = SEED_SPEC / "unified-run-options.md"
    if spec.exists():
        examples = spec.read_text(encoding="utf-8").split("## 📋 실행 예시 모음", 1)[1].split("\n## ", 1)[0]
        seed = [line for line in joined_lines(examples) if line.startswith("python train.py")]
        assert len(seed) == 9, seed
        missing = [s for s in seed if s not in shown]
        assert not missing, f"seed examples missing from docs/migration.md: {missing}"
    assert len(runs) == len(shown) >= 9, (shown, runs)
    monkeypatch.chdir(ROOT)
    for command in runs:
        result = CliRunner().invoke(cli, ["check", *shlex.split(command)[2:]])
        assert result.exit_code == 0, f"{command}\n{result.output}"


# ------------------------------------------------------------------------------------------------
# Facts the pages state that the code defines
# ------------------------------------------------------------------------------------------------
def test_the_debug_caps_the_mode_pages_state_are_the_code_s() -> None:
    """``run.debug`` caps the study's trials and the weight search's: each page that says by how much
    says the number the modes use (and the ``gp`` sampler's random start, which ``dialsum check`` reads)."""
    from dialsum_modes.options import DEBUG_TRIALS, DEBUG_WEIGHT_SEARCH_TRIALS

    def row(page: str, key: str) -> str:
        text = (DOCS / "modes" / page).read_text(encoding="utf-8")
        return next(line for line in text.splitlines() if line.startswith(f"| `{key}` |"))

    for page in ("multi_model.md", "full.md"):
        assert f"with `run.debug`, {DEBUG_WEIGHT_SEARCH_TRIALS} at most" in row(page, "weight_search_trials"), page
    assert f"`run.debug` runs {DEBUG_TRIALS} at most" in row("optuna.md", "trials")
    from dialsum_modes.options import GP_STARTUP_TRIALS

    assert f"after its first {GP_STARTUP_TRIALS} random trials" in row("optuna.md", "sampler")
    assert f"`run.debug` limits the study to {DEBUG_TRIALS} trials" in (DOCS / "modes" / "optuna.md").read_text(
        encoding="utf-8")


#: The hand-written tables of options with their defaults: page -> the recipe table of each, in order.
DEFAULT_TABLES = {
    "logging.md": ["loggers.file", "loggers.console", "loggers.jsonl", "loggers.tensorboard", "loggers.wandb"],
    "models.md": ["models.hf-seq2seq"],
    "modes/full.md": ["modes.full"],
    "modes/kfold.md": ["modes.kfold"],
    "modes/multi_model.md": ["modes.multi_model"],
    "modes/optuna.md": ["modes.optuna", "modes.optuna.space.<name>"],
}


def default_tables(page: str) -> list[list[tuple[list[str], str]]]:
    """Each ``| key | default | meaning |`` table of ``page``: its rows as ``(keys, default cell)``."""
    tables: list[list[tuple[list[str], str]]] = []
    rows: list[tuple[list[str], str]] | None = None
    for line in (DOCS / page).read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
        if len(cells) == 3 and cells[0].startswith(("option", "key")) and cells[1] == "default":
            rows = []
            tables.append(rows)
        elif rows is not None and cells and not set(cells[0]) <= set("-: "):
            rows.append((re.findall(r"`([a-z_0-9]+)`", cells[0]), cells[1]))
        elif not cells:
            rows = None
    return tables


def _value(text: str) -> Any:
    import tomllib

    text = text.strip().strip("`")
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text  # a bare word (`auto`)


def test_the_defaults_the_pages_state_are_the_options_defaults() -> None:
    """A page that says a key's default says the one its options class has (``docs/reference/`` is
    generated and always does; these tables are written by hand)."""
    plugins = build_plugins()
    defaults = {o.key: o.default for reg in plugins.registry for o in recipe_doc.plugin_options(reg)}
    wrong = []
    for page, prefixes in DEFAULT_TABLES.items():
        tables = default_tables(page)
        assert len(tables) == len(prefixes), f"docs/{page}: name the recipe table of each default table here"
        for prefix, rows in zip(prefixes, tables, strict=True):
            for keys, cell in rows:
                stated = re.findall(r"`[^`]*`", cell) or [v for v in cell.split(",") if v.strip()]
                stated = stated[:1] * len(keys) if len(stated) < len(keys) else stated[:len(keys)]
                for key, text in zip(keys, stated, strict=True):
                    if f"{prefix}.{key}" not in defaults:
                        wrong.append(f"docs/{page}: {prefix}.{key} is no key")
                    elif not re.fullmatch(r"`[^`]*`|\s*[-\w.]+\s*", text):
                        continue  # a default said in words ("per preset")
                    elif _value(text) != _value(defaults[f"{prefix}.{key}"]):
                        wrong.append(f"docs/{page}: {prefix}.{key}: says {text.strip()}, "
                                     f"the default is {defaults[f'{prefix}.{key}']}")
    assert not wrong, "\n".join(wrong)


def test_the_ensemble_options_block_shows_the_defaults() -> None:
    """docs/ensembles.md shows each strategy's options with their values: they are the defaults."""
    import tomllib

    block = next(b for b in toml_blocks((DOCS / "ensembles.md").read_text(encoding="utf-8"))
                 if b.startswith("[ensembles."))
    plugins = build_plugins()
    defaults = {o.key: o.default for reg in plugins.registry for o in recipe_doc.plugin_options(reg)}
    shown = {f"ensembles.{name}.{key}": value
             for name, table in tomllib.loads(block)["ensembles"].items() for key, value in table.items()}
    assert shown and {k: recipe_doc._toml(v) for k, v in shown.items()} == {k: defaults.get(k) for k in shown}


def test_the_augmenters_table_shows_every_option_and_its_default() -> None:
    """The augmenters' table of docs/ensembles.md names each augmenter's options, with their values
    where it gives one (``rate = 0.5``): every option, and the defaults."""
    plugins = build_plugins()
    text = (DOCS / "ensembles.md").read_text(encoding="utf-8")
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `(\w+)` \| [^\n]*\| ([^|\n]*) \|$", text, flags=re.M)}
    for reg in plugins.registry.of_kind("augmenters"):
        options = {o.key.rsplit(".", 1)[1]: o.default for o in recipe_doc.plugin_options(reg)}
        cell = rows[reg.name]
        assert set(re.findall(r"`(\w+)(?: = [^`]*)?`", cell)) == set(options) or (cell == "none" and not options), \
            f"{reg.name}: the table lists {cell!r}, the options are {sorted(options)}"
        for key, value in re.findall(r"`(\w+) = ([^`]*)`", cell):
            assert value == options[key], f"augmenters.{reg.name}.{key}: says {value}, the default is {options[key]}"


def test_the_section_owners_table_names_each_key_s_owner() -> None:
    """docs/concepts.md says which distribution owns each key of ``[run]`` and ``[data]`` it lists:
    each is the distribution whose section class declares it."""
    owners: dict[str, str] = {}
    for part in recipe_doc.section_parts(build_plugins()):
        for field in attrs.fields(part.cls) if part.cls is not None else ():
            owners[f"{part.table}.{field.name}"] = part.distribution
    text = (DOCS / "concepts.md").read_text(encoding="utf-8").split("## Who owns which section", 1)[1]
    checked = 0
    for line in text.split("\n## ", 1)[0].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        m = re.fullmatch(r"`\[(run|data)\]`: (.*)", cells[0]) if len(cells) == 3 else None
        if not m:
            continue
        for key in re.findall(r"`(\w+)`", m.group(2).split(";")[0]):
            assert owners.get(f"{m.group(1)}.{key}") == cells[1], f"{m.group(1)}.{key}: {cells[1]}"
            checked += 1
    assert checked >= 20


def test_the_readme_names_every_bundled_plugin_with_its_folder() -> None:
    """The README's table of bundled plugins lists, per kind, each registered name and the folder of
    the distribution that registers it: a plugin added, renamed or moved shows here."""
    from dialsum_core.registry import KINDS

    rows = {}
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2:
            rows[cells[0]] = cells[1]
    plugins = build_plugins()
    bundled = {p.name for folder in ("plugins", "examples") for p in (ROOT / folder).iterdir() if p.is_dir()}
    for kind in KINDS:
        row = next(v for k, v in rows.items() if k.rstrip("s").endswith(kind.name.replace("_", " ").rstrip("s")))
        stated, start = {}, 0
        for m in re.finditer(r"\(`(?:plugins|examples)/([\w-]+)`\)", row):  # each folder names those before it
            stated |= {name: m.group(1) for name in re.findall(r"`([^`]+)`", row[start:m.start()])}
            start = m.end()
        registered = {r.name: r.distribution for r in plugins.registry.of_kind(kind.name) if r.distribution in bundled}
        assert stated == registered, f"README.md, {kind.name}: {stated} != {registered}"
