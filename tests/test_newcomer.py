"""A newcomer's first hour: the traps a new user fell into, each reproduced through the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import ROOT, run_cli

QUICK = str(ROOT / "recipes" / "quick.toml")
LEAD = ['run.models=["lead"]', 'run.loggers=["file"]']


def _sets(*items: str) -> list[str]:
    return [a for item in items for a in ("--set", item)]


def test_the_saved_config_runs_again_from_anywhere(tmp_path: Path) -> None:
    """config.toml kept relative data paths, which then resolved against the experiment folder."""
    out = tmp_path / "exp"
    first = run_cli(["run", QUICK, *_sets(*LEAD, f"run.output_dir={out}", "run.name=first")])
    assert first.returncode == 0, first.stderr
    config = out / "first" / "config.toml"
    assert str(ROOT / "data" / "sample" / "train.csv") in config.read_text(encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    again = run_cli(["run", str(config), *_sets("run.name=again")], cwd=elsewhere)
    assert again.returncode == 0, again.stderr
    assert (out / "again" / "results.json").is_file()


@pytest.mark.parametrize(("content", "expected"), [
    (None, "data file not found"),
    ("fname,summary\na,b\n", "missing column(s) dialogue"),
    ("fname,dialogue,summary,topic\n", "no rows"),
    ("fname,dialogue,summary,topic\nd1,안녕,요약,t\n".encode("cp949"), "not UTF-8"),
])
def test_check_refuses_the_data_run_would_refuse(tmp_path: Path, content: str | bytes | None, expected: str) -> None:
    """`dialsum check` said ok for data files `dialsum run` then refused, after creating a folder."""
    train = tmp_path / "train.csv"
    if isinstance(content, bytes):
        train.write_bytes(content)
    elif content is not None:
        train.write_text(content, encoding="utf-8")
    for command in ("check", "run"):
        res = run_cli([command, QUICK, *_sets(*LEAD, f"data.train_path={train}", f"run.output_dir={tmp_path / 'x'}")])
        lines = res.stderr.strip().splitlines()
        assert res.returncode == 2 and len(lines) == 1, res.stderr
        assert lines[0].startswith("error: --set: data.train_path: ") and expected in lines[0]
        assert not (tmp_path / "x").exists()  # refused before any experiment folder


def test_every_problem_at_once_core_and_plugin_tables() -> None:
    """A typo in a plugin's table was reported only once the core tables were fixed."""
    res = run_cli(["check", QUICK, *_sets("train.epochz=1", "models.scratch.vocab_sise=3", "run.seed=x")])
    errors = res.stderr.strip().splitlines()
    assert res.returncode == 2 and len(errors) == 3
    assert any("train.epochz: unknown key (did you mean 'epochs'?)" in e for e in errors)
    assert any("models.scratch.vocab_sise: unknown key (did you mean 'vocab_size'?)" in e for e in errors)
    assert any("run.seed: expected an integer" in e for e in errors)


def test_registered_names_keep_their_dots_without_quotes() -> None:
    """--set models.solar-10.7b.X gave "unknown model loader 'solar-10'"."""
    res = run_cli(["check", str(ROOT / "recipes" / "single.toml"),
                   *_sets('run.models=["solar-10.7b"]', "models.solar-10.7b.lora_r=8", "models.solar-10.7b.lora_rr=8")])
    assert res.returncode == 2
    assert res.stderr.strip() == ("error: --set: models.solar-10.7b.lora_rr: unknown key (did you mean 'lora_r'?)")


def test_a_run_failure_is_one_line_and_its_traceback_goes_to_the_log(tmp_path: Path) -> None:
    """A model that cannot be downloaded printed a traceback before the one-line error."""
    out = tmp_path / "exp"
    res = run_cli(["run", str(ROOT / "recipes" / "single-tiny.toml"),
                   *_sets('run.models=["hf-seq2seq"]', "models.hf-seq2seq.model_name_or_path=nobody/nothing",
                          f"run.output_dir={out}", "run.name=x")], env={"HF_HUB_OFFLINE": "1"})
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines()[-1].startswith("error: models.hf-seq2seq.model_name_or_path: cannot load")
    assert "Traceback" in (out / "x" / "train.log").read_text(encoding="utf-8")


def test_one_path_rule_for_every_key(tmp_path: Path) -> None:
    """--set data.* resolved against the working directory but --set augmenters.*.table against the
    recipe file; now every path from --set is relative to the working directory."""
    sample = (ROOT / "data" / "sample" / "paraphrases.csv").read_text(encoding="utf-8")
    (tmp_path / "para.csv").write_text(sample, encoding="utf-8")  # a copy: the table of the recipe's data
    args = ["check", str(ROOT / "recipes" / "single-tiny.toml"),
            *_sets("run.use_tta=true", 'run.tta_strategies=["paraphrase"]', "augmenters.paraphrase.table=para.csv")]
    assert run_cli(args, cwd=tmp_path).returncode == 0
    res = run_cli(args, cwd=ROOT)
    assert res.returncode == 2 and "augmenters.paraphrase.table: 'para.csv' not found" in res.stderr


def test_training_on_other_data_while_validating_on_the_sample_is_said_loudly(tmp_path: Path) -> None:
    """Setting data.train_path and data.test_path kept validating on the bundled sample dev.csv silently."""
    train = tmp_path / "train.csv"
    train.write_text((ROOT / "data" / "sample" / "train.csv").read_text(encoding="utf-8"), encoding="utf-8")
    res = run_cli(["run", QUICK, *_sets(*LEAD, f"data.train_path={train}", f"run.output_dir={tmp_path / 'x'}")])
    assert res.returncode == 0, res.stderr
    dev = ROOT / "data" / "sample" / "dev.csv"
    assert f"WARNING validating on {dev} (set in {QUICK})" in res.stderr and f"{train} (set in --set)" in res.stderr
