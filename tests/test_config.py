"""boundaries.toml: one bad-config fixture per failure mode, and the parsed schema."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitresearch.boundaries.config import parse_config
from gitresearch.boundaries.resolve import load_boundaries
from gitresearch.durations import format_duration, parse_duration
from gitresearch.errors import ConfigError
from tests.helpers.repos import GitRepo

FIXTURES = sorted((Path(__file__).parent / "fixtures" / "bad_configs").glob("*.toml"))


def expectations(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        if line.startswith("# expect"):
            key, _, value = line[2:].partition(": ")
            out[key] = value
    return out


@pytest.fixture
def bad_repo(repo: GitRepo) -> GitRepo:
    repo.write("twice.py", "def helper():\n    return 1\n\n\ndef helper():\n    return 2\n")
    repo.commit("a file defining a function twice")
    return repo


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.stem for f in FIXTURES])
def test_bad_config_is_located(bad_repo: GitRepo, fixture: Path) -> None:
    expect = expectations(fixture)
    config = bad_repo.write("boundaries.toml", fixture.read_text())
    with pytest.raises(ConfigError) as caught:
        load_boundaries(config, bad_repo.root)
    err = caught.value
    assert expect["expect"] in err.render()
    assert err.path == str(config)
    assert err.key == (None if expect["expect-key"] == "-" else expect["expect-key"])
    assert err.line == (None if expect["expect-line"] == "-" else int(expect["expect-line"]))


@pytest.mark.parametrize("fixture", FIXTURES[:6] + FIXTURES[-6:], ids=lambda f: f.stem)
def test_bad_config_on_the_command_line(bad_repo: GitRepo, fixture: Path) -> None:
    bad_repo.write("boundaries.toml", fixture.read_text())
    done = bad_repo.gitresearch("check")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert expectations(fixture)["expect"] in done.stderr
    assert "boundaries.toml" in done.stderr
    assert done.stdout == ""


def test_full_schema_parses_to_typed_values(tmp_path: Path) -> None:
    text = """
[objective]
command = "python bench/train.py"
metric = "val_loss"
direction = "maximize"
timeout = "1h30m"
repeats = 2
seed_env = "SEED"
min_improvement = 0.01
record = ["train_seconds"]
link = ["data"]

[search]
proposer = "sweep"
baseline_runs = 5
confirm_runs = 0
seed = 7

[budget]
experiments = 40
wall_clock = "90s"
llm_usd = 0
gpus = [0, 2]
jobs_per_gpu = 2
jobs = 3
max_consecutive_failures = 9

[[allow]]
path = "./bench//train.py"
regions = ["LR"]

[[allow]]
path = "src/**/*.py"

[protect]
paths = ["bench/prepare.py"]

[policy]
allow_imports = ["numpy"]
forbid_names = ["torch"]

[agent]
model = "m"
base_url = "http://localhost:1/v1"
api_key_env = "KEY"
"""
    cfg = parse_config(text, tmp_path / "boundaries.toml")
    assert cfg.objective.direction == "maximize"
    assert cfg.objective.timeout == 5400.0
    assert cfg.objective.record == ("train_seconds",)
    assert cfg.search.proposer == "sweep" and cfg.search.seed == 7 and cfg.search.confirm_runs == 0
    assert cfg.budget.wall_clock == 90.0 and cfg.budget.gpus == (0, 2) and cfg.budget.llm_usd == 0.0
    assert cfg.allow[0].path == "bench/train.py" and cfg.allow[0].regions == ("LR",)
    assert cfg.allow[1].regions is None
    assert cfg.allow[0].line == 29
    assert cfg.policy.allow_imports == ("numpy",)
    assert cfg.agent is not None and cfg.agent.api_key_env == "KEY" and cfg.agent.brief is None


def test_defaults(tmp_path: Path) -> None:
    cfg = parse_config(
        '[objective]\ncommand = "x"\nmetric = "m"\n[[allow]]\npath = "a.py"\n', tmp_path / "b.toml"
    )
    assert (
        cfg.objective.timeout == 600.0
        and cfg.objective.repeats == 1
        and cfg.objective.direction == "minimize"
    )
    assert cfg.search.proposer == "auto" and cfg.search.baseline_runs == 3 and cfg.search.confirm_runs == 3
    assert cfg.budget.experiments == 100 and cfg.budget.gpus == "all" and cfg.budget.wall_clock == 8 * 3600
    assert cfg.agent is None
    assert cfg.search.prune == "conservative" and cfg.search.prune_after is None


def test_config_objects_are_frozen(tmp_path: Path) -> None:
    cfg = parse_config(
        '[objective]\ncommand = "x"\nmetric = "m"\n[[allow]]\npath = "a.py"\n', tmp_path / "b.toml"
    )
    with pytest.raises(AttributeError):
        cfg.objective.metric = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("10m", 600),
        ("8h", 28800),
        ("1h30m", 5400),
        ("2d", 172800),
        ("250ms", 0.25),
        ("45", 45),
        (30, 30),
        (1.5, 1.5),
        (" 5 m ", 300),
    ],
)
def test_durations(text: str | int | float, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "10 minutes", "m10", "10x", "-5s", "0", "1h-5m", True])
def test_bad_durations(text: str | bool) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_format_duration() -> None:
    assert [format_duration(s) for s in (0.2, 45, 600, 750, 5400)] == [
        "200ms",
        "45s",
        "10m",
        "12m30s",
        "1h30m",
    ]


def test_allow_glob_and_merge(repo: GitRepo) -> None:
    repo.write("src/a.py", "X = 1\n")
    repo.write("src/deep/b.py", "Y = 2\n")
    repo.write(
        "boundaries.toml",
        '[objective]\ncommand = "x"\nmetric = "m"\n'
        '[[allow]]\npath = "src/**/*.py"\n[[allow]]\npath = "train.py"\nregions = ["BETAS"]\n'
        '[[allow]]\npath = "train.py"\nregions = ["STEPS", "BETAS"]\n',
    )
    b = load_boundaries(repo.root / "boundaries.toml", repo.root)
    assert sorted(b.files) == ["src/a.py", "src/deep/b.py", "train.py"]
    assert b.files["train.py"].regions == ("BETAS", "STEPS")
    assert b.files["src/a.py"].regions is None
    assert b.protected("boundaries.toml") and b.protected(".git/HEAD") and not b.protected("train.py")
