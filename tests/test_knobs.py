"""[[knob]] entries: the user's say over the search space, through `gitresearch check` and the sweep."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from gitresearch.boundaries.resolve import load_boundaries
from gitresearch.boundaries.sources import DirectorySource
from gitresearch.errors import ConfigError
from gitresearch.propose.searchspace import knob_space
from gitresearch.propose.sweep import SweepEngine, dims_from_knobs
from tests.helpers.repos import GitRepo, make_repo

TRAIN = """\
LEARNING_RATE = 0.5
ACTIVATION = "gelu"
HIDDEN = 256
SEED = 1337
CONFIG = {"max_depth": 6, "subsample": 0.8}
model = build(LEARNING_RATE, ACTIVATION, HIDDEN, SEED, CONFIG)
"""

HEAD = """\
[objective]
command = "python train.py"
metric = "loss"

[[allow]]
path = "train.py"
regions = ["LEARNING_RATE", "ACTIVATION", "HIDDEN", "SEED", "CONFIG"]
"""


def repo_with(root: Path, knobs: str) -> GitRepo:
    return make_repo(root, {"train.py": TRAIN, "boundaries.toml": HEAD + knobs})


def space(repo: GitRepo) -> dict[str, dict[str, object]]:
    done = repo.gitresearch("check", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    found = {k["label"]: {**k, "why": None} for k in doc["search_space"]}
    found |= {k["label"]: {**k, "searched": False} for k in doc["not_searched"]}
    return found


def test_without_rules_the_defaults_apply(tmp_path: Path) -> None:
    knobs = space(repo_with(tmp_path / "r", ""))
    assert knobs["LEARNING_RATE"]["scale"] == "log" and knobs["LEARNING_RATE"]["low"] == pytest.approx(0.05)
    assert knobs["CONFIG.max_depth"]["value"] == 6
    assert knobs["SEED"]["why"] and "seed" in str(knobs["SEED"]["why"])
    assert "choices" in str(knobs["ACTIVATION"]["why"])


def test_rules_set_range_scale_choices_and_exclusions(tmp_path: Path) -> None:
    rules = """
[[knob]]
name = "LEARNING_RATE"
range = [0.01, 1.0]

[[knob]]
name = "ACTIVATION"
choices = ["relu", "silu"]

[[knob]]
name = "HIDDEN"
choices = [128, 256, 512]

[[knob]]
name = "CONFIG.subsample"
exclude = true

[[knob]]
name = "CONFIG.max_depth"
range = [2, 12]
scale = "int"
"""
    repo = repo_with(tmp_path / "r", rules)
    knobs = space(repo)
    assert (knobs["LEARNING_RATE"]["low"], knobs["LEARNING_RATE"]["high"]) == (0.01, 1.0)
    assert knobs["ACTIVATION"]["choices"] == ["gelu", "relu", "silu"]  # the current value stays a choice
    assert knobs["HIDDEN"]["choices"] == [128, 256, 512]
    assert knobs["CONFIG.subsample"]["why"] == "excluded in boundaries.toml"
    assert (knobs["CONFIG.max_depth"]["low"], knobs["CONFIG.max_depth"]["scale"]) == (2, "int")
    text = repo.gitresearch("check").stdout
    assert '{"gelu", "relu", "silu"}' in text and "not searched" in text

    # the sweep moves a string knob between its choices and writes it in the file's quotes
    source = DirectorySource(repo.root)
    searched = [
        k
        for k in knob_space(load_boundaries(repo.root / "boundaries.toml", repo.root, source), source)
        if k.skip is None
    ]
    activation = next(k for k in searched if k.label == "ACTIVATION")
    assert activation.render("silu") == '"silu"'
    engine = SweepEngine(dims_from_knobs(searched), {k.label: k.value for k in searched}, "minimize", seed=0)
    proposed = [engine.propose() for _ in range(12)]
    moved = {v for found in proposed if found for label, v in found[0].items() if label == "ACTIVATION"}
    assert moved and moved <= {"relu", "silu"}


def test_a_rule_opts_a_structural_knob_in(tmp_path: Path) -> None:
    knobs = space(repo_with(tmp_path / "r", '\n[[knob]]\nname = "SEED"\nexclude = false\n'))
    assert knobs["SEED"].get("searched", True) and knobs["SEED"]["why"] is None


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ('[[knob]]\nname = "LEARNING_RAT"\n', 'did you mean "LEARNING_RATE"?'),
        ('[[knob]]\nname = "LEARNING_RATE"\nrange = [1.0, 0.1]\n', "must go from low to high"),
        ('[[knob]]\nname = "LEARNING_RATE"\nrange = [0.0, 1.0]\nscale = "log"\n', "needs a range above zero"),
        ('[[knob]]\nname = "ACTIVATION"\nrange = [1, 2]\n', "only over `choices`"),
        ('[[knob]]\nname = "HIDDEN"\nchoices = [128, "wide"]\n', "all be numbers"),
        ('[[knob]]\nname = "HIDDEN"\nchoices = [128, 256]\nrange = [1, 2]\n', "not both"),
        ('[[knob]]\nname = "HIDDEN"\nstep = 2\n', "unknown key `step`"),
    ],
)
def test_a_wrong_rule_is_a_clear_error(tmp_path: Path, rules: str, message: str) -> None:
    repo = repo_with(tmp_path / "r", "\n" + rules)
    done = repo.gitresearch("check")
    assert done.returncode == 2
    assert message in done.stderr and re.search(r"boundaries\.toml:\d+:", done.stderr)
    assert "Traceback" not in done.stderr


def test_rules_are_checked_where_the_sweep_reads_them(tmp_path: Path) -> None:
    repo = repo_with(tmp_path / "r", '\n[[knob]]\nname = "NOPE"\n')
    source = DirectorySource(repo.root)
    boundaries = load_boundaries(repo.root / "boundaries.toml", repo.root, source)
    with pytest.raises(ConfigError, match="matches no literal"):
        knob_space(boundaries, source)
