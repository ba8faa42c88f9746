"""The command line as a user runs it: a real subprocess in a real repository."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.helpers.repos import TRAIN_PY, GitRepo, make_repo


def test_help_teaches_the_commands(repo: GitRepo) -> None:
    done = repo.gitresearch("--help")
    assert done.returncode == 0
    assert "check" in done.stdout and "init" in done.stdout
    check_help = repo.gitresearch("check", "--help")
    assert "--patch" in check_help.stdout and "Exit 0 accepted, 1" in check_help.stdout


def test_the_lazy_command_table_matches_the_commands() -> None:
    import click

    from gitresearch.cli.main import COMMANDS, cli

    ctx = click.Context(cli)
    for name, (_, _, short) in COMMANDS.items():
        command = cli.get_command(ctx, name)
        assert command is not None and command.get_short_help_str(limit=300) == short, name


def test_help_does_not_import_the_heavy_parts() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from gitresearch.cli.main import main; main(['--help']); "
            "print(sorted(m for m in ('openai', 'optuna', 'libcst', 'textual', 'git') if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and done.stdout.strip().endswith("[]"), done.stdout[-300:] + done.stderr


def test_check_lists_regions_protected_files_and_search_space(repo: GitRepo) -> None:
    done = repo.gitresearch("check")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "train.py  configure_optimizer  function    lines 12-14" in out
    assert "train.py  GPT.forward          method      lines 27-29" in out
    assert "notes.md  (whole file)" in out
    assert "  prepare.py\n" in out and "  boundaries.toml\n" in out
    assert "train.py:5" in out and "LEARNING_RATE" in out and "[3e-05, 0.003] log" in out


def test_check_json(repo: GitRepo) -> None:
    done = repo.gitresearch("check", "--json")
    assert done.returncode == 0
    doc = json.loads(done.stdout)
    regions = {r["name"]: (r["kind"], r["start_line"], r["end_line"]) for r in doc["regions"]}
    assert regions["BETAS"] == ("assignment", 6, 6)
    assert regions["GPT.forward"] == ("method", 27, 29)
    assert "prepare.py" in doc["protected"]
    labels = {k["label"]: k for k in doc["search_space"]}
    assert labels["BETAS[1]"]["value"] == 0.95 and labels["BETAS[1]"]["scale"] == "log1m"


def test_check_patch_from_stdin_accepted(repo: GitRepo) -> None:
    repo.write("train.py", TRAIN_PY.replace("3e-4", "1e-3"))
    diff = repo.git("diff")
    status_before = repo.git("status", "--porcelain")
    done = repo.gitresearch("check", "--patch", "-", input=diff)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("accepted")
    assert repo.git("status", "--porcelain") == status_before
    assert repo.read("train.py") == TRAIN_PY.replace("3e-4", "1e-3")


def test_check_patch_file_rejected(repo: GitRepo, tmp_path: Path) -> None:
    diff = repo.diff_of("train.py", TRAIN_PY.replace("STEPS = 1000", "STEPS = 5"))
    patch = tmp_path / "p.diff"
    patch.write_text(diff)
    done = repo.gitresearch("check", "--patch", str(patch))
    assert done.returncode == 1
    assert "train.py:9: [outside-region]" in done.stderr
    assert "Traceback" not in done.stderr


def test_check_patch_json(repo: GitRepo) -> None:
    diff = repo.diff_of("prepare.py", "changed\n")
    done = repo.gitresearch("check", "--patch", "-", "--json", input=diff)
    assert done.returncode == 1
    doc = json.loads(done.stdout)
    assert doc["accepted"] is False
    assert doc["violations"][0]["rule"] == "protected" and doc["violations"][0]["path"] == "prepare.py"


def test_check_patch_worktree_and_against(repo: GitRepo) -> None:
    first = repo.git("rev-parse", "HEAD").strip()
    repo.write("train.py", TRAIN_PY.replace("3e-4", "5e-4"))
    repo.commit("move on")
    diff_vs_first = repo.git("diff", first, "HEAD")
    assert repo.gitresearch("check", "--patch", "-", "--against", first, input=diff_vs_first).returncode == 0
    assert repo.gitresearch("check", "--patch", "-", input=diff_vs_first).returncode == 1
    bad = repo.gitresearch("check", "--patch", "-", "--against", "no-such-ref", input=diff_vs_first)
    assert bad.returncode == 2 and "no commit named" in bad.stderr


def test_no_config_points_at_init(repo: GitRepo) -> None:
    (repo.root / "boundaries.toml").unlink()
    done = repo.gitresearch("check")
    assert done.returncode == 2
    assert "gitresearch init" in done.stderr and "Traceback" not in done.stderr


def test_outside_a_repository(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path)
    done = repo.gitresearch("check")
    assert done.returncode == 2
    assert "not inside a git repository" in done.stderr


def test_unknown_option_is_a_usage_error(repo: GitRepo) -> None:
    done = repo.gitresearch("check", "--bogus")
    assert done.returncode == 2 and "No such option" in done.stderr


def test_init_writes_a_working_config(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "r",
        {
            "train.py": TRAIN_PY,
            "prepare.py": "X = 1\nif __name__ == '__main__':\n    pass\n",
            "tests/test_x.py": "A = 1\n",
        },
    )
    done = repo.gitresearch("init")
    assert done.returncode == 0, done.stderr
    text = repo.read("boundaries.toml")
    assert 'command = "python train.py"' in text
    assert 'metric = "val_loss"' in text
    assert (
        'regions = ["LEARNING_RATE", "BETAS", "WARMUP_STEPS", "USE_BIAS", "configure_optimizer", "schedule"]'
        in text
    )
    assert "# not opened: STEPS (the training budget" in text
    assert 'paths = ["prepare.py"]' in text
    check = repo.gitresearch("check")
    assert check.returncode == 0, check.stderr


def test_init_never_overwrites(repo: GitRepo) -> None:
    before = repo.read("boundaries.toml")
    done = repo.gitresearch("init")
    assert done.returncode == 2 and "never overwrites" in done.stderr
    assert repo.read("boundaries.toml") == before


def test_init_print_only(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"train.py": TRAIN_PY})
    done = repo.gitresearch("init", "--print")
    assert done.returncode == 0 and "[objective]" in done.stdout
    assert not (repo.root / "boundaries.toml").exists()


def test_init_without_python(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"README.md": "hi\n"})
    done = repo.gitresearch("init")
    assert done.returncode == 2 and "no Python entry script" in done.stderr
