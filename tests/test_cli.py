"""The command line: import hygiene, exit codes, and every shipped recipe passing `dialsum check`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, run_cli

PROBE = """
import sys
from dialsum_core.cli import main
try:
    main({args!r})
except SystemExit:
    pass
heavy = sorted(m for m in ("torch", "transformers", "peft", "optuna", "wandb", "matplotlib", "kiwipiepy")
               if m in sys.modules)
print("HEAVY=" + ",".join(heavy))
"""


@pytest.mark.parametrize("args", [["--help"], ["plugins"], ["models"], ["--version"]])
def test_cli_does_not_import_heavy_libraries(args: list[str]) -> None:
    res = subprocess.run([sys.executable, "-c", PROBE.format(args=args)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines()[-1] == "HEAVY=", res.stdout


def test_plugins_names_who_contributes_sections_and_hooks() -> None:
    """A plugin that registers no named thing (the data reader, the launcher) still shows: which
    recipe tables it adds keys to and which other hooks it implements."""
    res = run_cli(["plugins"])
    assert res.returncode == 0, res.stderr
    rows = {line.split()[0]: line for line in res.stdout.splitlines() if line.strip()}
    assert "dialsum-data" in rows["data"] and "[data], dialsum_load_data" in rows["data"]
    assert "dialsum_processes" in rows["launch"] and "[train], [generation]" in rows["hf"]
    assert rows["dialsum-core"].split()[-1] == "[run]"


def test_console_handlers_are_those_showing_the_run_log() -> None:
    """`dialsum run` shows the log on stderr through one handler, which a live display may route."""
    code = ("import sys\nfrom dialsum_core import cli\nassert cli.console_handlers() == []\n"
            "try:\n    cli.main(['run', 'no-such-recipe.toml'])\nexcept SystemExit:\n    pass\n"
            "handlers = cli.console_handlers()\nprint(len(handlers), handlers[0].stream is sys.stderr)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.stdout.strip() == "1 True", res.stderr


def test_version() -> None:
    res = run_cli(["--version"])
    assert res.returncode == 0 and res.stdout.startswith("dialsum 0.")


def test_bad_recipe_exits_2_with_one_line_per_problem(tmp_path: Path) -> None:
    p = tmp_path / "bad.toml"
    p.write_text('[train]\nepochs = 0\nbatch_size = "x"\n', encoding="utf-8")
    res = run_cli(["check", str(p)])
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert any("train.epochs: must be > 0" in ln for ln in lines)
    assert any("train.batch_size: expected an integer" in ln for ln in lines)
    assert "Traceback" not in res.stderr
    missing = run_cli(["check", str(tmp_path / "nope.toml")])
    assert missing.returncode == 2 and "recipe file not found" in missing.stderr


def test_bad_recipe_run_creates_no_experiment_folder(tmp_path: Path) -> None:
    p = tmp_path / "bad.toml"
    p.write_text(f'[run]\nmodels = ["ghost"]\noutput_dir = "{tmp_path / "exp"}"\n', encoding="utf-8")
    res = run_cli(["run", str(p)])
    assert res.returncode == 2 and "unknown model loader 'ghost'" in res.stderr
    assert not (tmp_path / "exp").exists()


def test_an_output_dir_that_is_a_file_is_refused_by_check_and_run(tmp_path: Path, sample_csv, tiny_dialogues) -> None:
    """Refused before anything runs, as one line naming the key, never a NotADirectoryError traceback."""
    train = sample_csv(tmp_path / "train.csv", tiny_dialogues)
    (tmp_path / "taken").write_text("not a folder", encoding="utf-8")
    recipe = tmp_path / "r.toml"
    recipe.write_text(f'[run]\nmode = "single"\nmodels = ["lead"]\nloggers = []\nmetrics = ["rouge"]\n'
                      f'output_dir = "{tmp_path / "taken" / "experiments"}"\n[data]\ntrain_path = "{train}"\n',
                      encoding="utf-8")
    for command in ("check", "run"):
        res = run_cli([command, str(recipe)])
        assert res.returncode == 2, res.stderr
        assert f"run.output_dir: {tmp_path / 'taken'} is a file" in res.stderr and "Traceback" not in res.stderr


def test_an_experiment_name_longer_than_a_folder_name_is_refused_by_check(tmp_path: Path) -> None:
    """File systems take at most 255 bytes per name: a longer ``run.name`` is refused before anything
    runs (counted in UTF-8 bytes: 100 Korean syllables are 300), one 255 bytes long is not."""
    for name, refused in (("가" * 100, True), ("x" * 256, True), ("x" * 255, False)):
        res = run_cli(["check", str(ROOT / "recipes" / "tiny.toml"), "--set", f"run.output_dir={tmp_path}",
                       "--set", f"run.name={name}"])
        assert (res.returncode == 2) is refused, res.stderr
        assert ("run.name: is " in res.stderr) is refused and "Traceback" not in res.stderr
    assert not any(tmp_path.iterdir())


def shipped_recipes() -> list[Path]:
    return sorted((ROOT / "recipes").glob("*.toml"))


@pytest.mark.parametrize("recipe", shipped_recipes(), ids=lambda p: p.name)
def test_every_shipped_recipe_passes_check(recipe: Path) -> None:
    res = run_cli(["check", str(recipe)])
    assert res.returncode == 0, res.stderr
    assert ": ok" in res.stdout


def test_there_are_shipped_recipes() -> None:
    names = {p.name for p in shipped_recipes()}
    assert "quick.toml" in names, names


def lead_recipe(tmp_path: Path, sample_csv, tiny_dialogues) -> Path:
    """A recipe of a torch-free model (the first sentence) on a few dialogues: a real run in seconds."""
    train = sample_csv(tmp_path / "train.csv", tiny_dialogues)
    test = sample_csv(tmp_path / "test.csv", tiny_dialogues[:3], with_summary=False)
    recipe = tmp_path / "lead.toml"
    recipe.write_text(
        f'[run]\nmode = "single"\nmodels = ["lead"]\nloggers = []\nmetrics = ["rouge"]\nname = "lead-e2e"\n'
        f'output_dir = "{tmp_path / "experiments"}"\n'
        f'[data]\ntrain_path = "{train.name}"\ntest_path = "{test.name}"\nvalid_fraction = 0.5\n',
        encoding="utf-8",
    )
    return recipe


def test_lead_run_end_to_end(tmp_path: Path, sample_csv, tiny_dialogues) -> None:
    """A real run through the CLI with a torch-free model: folder layout and results."""
    recipe = lead_recipe(tmp_path, sample_csv, tiny_dialogues)
    res = run_cli(["run", str(recipe)])
    assert res.returncode == 0, res.stderr
    exp = tmp_path / "experiments" / "lead-e2e"
    results = json.loads((exp / "results.json").read_text(encoding="utf-8"))
    assert results["status"] == "complete" and results["mode"] == "single"
    config = (exp / "config.toml").read_text(encoding="utf-8")
    assert "[versions]" in config and "dialsum-lead" in config and "[models.lead]" in config
    for sub in ("checkpoints", "predictions", "visualizations"):
        assert (exp / sub).is_dir()
    rerun = run_cli(["check", str(exp / "config.toml")])
    assert rerun.returncode == 0, rerun.stderr


def test_a_run_started_outside_the_main_thread_runs(tmp_path: Path, sample_csv, tiny_dialogues) -> None:
    """``dialsum run`` called through the CLI from a thread other than the main one (a notebook's or a job
    server's worker) failed setting its SIGTERM handler, which Python allows only in the main thread."""
    import threading

    from click.testing import CliRunner

    from dialsum_core.cli import cli

    recipe = lead_recipe(tmp_path, sample_csv, tiny_dialogues)
    ended = []
    thread = threading.Thread(target=lambda: ended.append(CliRunner().invoke(cli, ["run", str(recipe)])))
    thread.start()
    thread.join()
    assert ended[0].exit_code == 0, (ended[0].output, ended[0].exception)
    results = json.loads((tmp_path / "experiments" / "lead-e2e" / "results.json").read_text(encoding="utf-8"))
    assert results["status"] == "complete"


def test_gpu_recipes_pass_check_where_their_hardware_is() -> None:
    """recipes/gpu/: every key valid; on a machine without CUDA only the 4-bit loading is refused."""
    import torch

    gpu = ROOT / "recipes" / "gpu"
    for name in ("kobart-full.toml", "polyglot-lora.toml"):
        res = run_cli(["check", str(gpu / name)])
        assert res.returncode == 0, res.stderr
    solar = run_cli(["check", str(gpu / "solar-qlora.toml")])
    if torch.cuda.is_available():
        return
    problems = solar.stderr.strip().splitlines()
    assert solar.returncode == 2 and problems and all("models.solar-10.7b.load_in_4bit" in p for p in problems)
    cpu = run_cli(["check", str(gpu / "solar-qlora.toml"), "--set", "models.solar-10.7b.load_in_4bit=false"])
    assert cpu.returncode == 0, cpu.stderr


def test_help_shows_no_markup() -> None:
    """`dialsum --help` showed raw ``double backquotes`` (docstring markup) to users."""
    res = run_cli(["--help"])
    assert res.returncode == 0 and "``" not in res.stdout
    for command in ("run", "check", "plugins", "models"):
        sub = run_cli([command, "--help"])
        assert sub.returncode == 0 and "``" not in sub.stdout, command


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc, where no folder can be created")
def test_an_output_dir_no_folder_can_be_created_in_is_refused_by_check_as_by_run(tmp_path: Path) -> None:
    """``run`` refuses it when it makes the experiment folder; ``check`` said ok. /proc/self takes no new
    folder whoever runs the test (permission bits would not show it to root)."""
    for command in ("check", "run"):
        res = run_cli([command, str(ROOT / "recipes" / "tiny.toml"), "--set", "run.output_dir=/proc/self/experiments"])
        assert res.returncode == 2, (command, res.stdout, res.stderr)
        assert "run.output_dir: cannot create" in res.stderr and "Traceback" not in res.stderr, res.stderr
