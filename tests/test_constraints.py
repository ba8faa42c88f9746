"""Constraints as written in boundaries.toml: parsed, refused with a clear error, and told
apart in a decision's reason (the proposers learn a broken constraint as a failure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitresearch.constraints import Constraint, broken_by, judge, parse_constraint
from gitresearch.stats import Noise
from tests.helpers.repos import make_repo

BENCH = "LR = 0.1\nprint('loss: 1.0')\nprint('accuracy: 0.9')\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("accuracy >= 0.97", Constraint("accuracy >= 0.97", "accuracy", ">=", 0.0, 0.97, False)),
        ("mem <= 1.1 * base", Constraint("mem <= 1.1 * base", "mem", "<=", 1.1, 0.0, True)),
        ("seconds <= base + 30", Constraint("seconds <= base + 30", "seconds", "<=", 1.0, 30.0, True)),
        ("x >= base*0.9 ", Constraint("x >= base*0.9", "x", ">=", 0.9, 0.0, True)),
        ("y >= 0.9 * base - 0.01", Constraint("y >= 0.9 * base - 0.01", "y", ">=", 0.9, -0.01, True)),
        ("z <= base", Constraint("z <= base", "z", "<=", 1.0, 0.0, True)),
    ],
)
def test_constraints_read_as_written(text: str, expected: Constraint) -> None:
    assert parse_constraint(text) == expected


@pytest.mark.parametrize(
    "text", ["accuracy > 0.97", "accuracy >= fast", ">= 3", "2 * base >= acc", "a <= 2 * base * 3"]
)
def test_what_is_not_a_constraint_says_how_to_write_one(text: str) -> None:
    with pytest.raises(ValueError, match=r"(not a constraint|is not a number)"):
        parse_constraint(text)


def test_a_bad_constraint_in_the_config_names_the_file_key_and_line(tmp_path: Path) -> None:
    toml = (
        '[objective]\ncommand = "python bench.py"\nmetric = "loss"\n'
        'constraints = ["accuracy > 0.9"]\n\n[[allow]]\npath = "bench.py"\n'
    )
    repo = make_repo(tmp_path / "r", {"bench.py": BENCH, "boundaries.toml": toml})
    done = repo.gitresearch("check")
    assert done.returncode == 2
    assert "boundaries.toml" in done.stderr and "constraints" in done.stderr and ":4" in done.stderr
    assert "METRIC <= BOUND" in done.stderr and "Traceback" not in done.stderr


def test_check_shows_the_constraints(tmp_path: Path) -> None:
    toml = (
        '[objective]\ncommand = "python bench.py"\nmetric = "loss"\n'
        'constraints = ["accuracy >= 0.9"]\ntradeoffs = { seconds = "minimize" }\n\n[[allow]]\npath = "bench.py"\n'
    )
    repo = make_repo(tmp_path / "r", {"bench.py": BENCH, "boundaries.toml": toml})
    done = repo.gitresearch("check")
    assert done.returncode == 0, done.stderr
    assert "constraints: accuracy >= 0.9 (must hold on fresh seeds, with confidence)" in done.stdout
    assert "tradeoffs:  seconds (minimize)" in done.stdout


def test_the_constrained_metric_is_recorded(tmp_path: Path) -> None:
    from gitresearch.boundaries.config import load_config

    path = tmp_path / "boundaries.toml"
    path.write_text(
        '[objective]\ncommand = "x"\nmetric = "loss"\nrecord = ["seconds"]\n'
        'constraints = ["accuracy >= 0.9", "seconds <= base + 5"]\n\n[[allow]]\npath = "b.py"\n'
    )
    assert load_config(path).objective.record == ("seconds", "accuracy")


def test_a_reason_tells_which_constraint_was_not_met() -> None:
    c = parse_constraint("accuracy >= 0.9")
    other = parse_constraint("mem <= base")
    violated = judge(c, [0.95], [0.5, 0.5], Noise(0.01, 10), 0.001).reason
    unsure = judge(c, [0.95], [0.905], Noise(0.01, 10), 0.001).reason
    missing = judge(c, [0.95], [], Noise(0.01, 10), 0.001).reason
    holds = judge(c, [0.95], [0.99, 0.99], Noise(0.001, 10), 0.001).reason
    assert broken_by(f"gate: {violated}", [other, c]) == c
    assert broken_by(f"confirmation (3 of at most 3 fresh seeds): {unsure}", [c]) == c
    assert broken_by(missing, [c]) == c
    assert broken_by(holds, [c]) is None
    assert broken_by("gate: no better than its parent (worse by 0.1)", [c, other]) is None
