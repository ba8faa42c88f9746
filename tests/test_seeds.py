"""No luck from fixed seeds: benchmarks that ignore their seed, run as a new user would.

A benchmark that fixes its own seed gives one value on every seed; the measured noise is
then zero and any change looks like progress. `start` stops after the base with the line
to change; a benchmark declared deterministic runs, with `min_improvement` as its bar; a
benchmark whose noise ignores the seed (but varies) is left to the statistics.
"""

from __future__ import annotations

from pathlib import Path

from gitresearch.boundaries.seeds import find_fixed_seeds
from gitresearch.boundaries.sources import DirectorySource
from tests.helpers.repos import GitRepo, make_repo
from tests.helpers.runs import ledger_of

FIXED = """\
import math, random
random.seed(1337)  # the author's habit
LR = 0.01
loss = (math.log10(LR) + 1) ** 2 + random.gauss(0, 0.02)
print(f"loss: {loss:.6f}")
"""

SEED_BLIND_NOISE = """\
import math, random
LR = 0.01
loss = (math.log10(LR) + 1) ** 2 + random.SystemRandom().gauss(0, 0.02)
print(f"loss: {loss:.6f}")
"""

CONFIG = """\
[objective]
command = "python bench.py"
metric = "loss"
timeout = "30s"
{extra}

[search]
baseline_runs = 3
confirm_runs = 2

[budget]
experiments = {experiments}
gpus = "none"
jobs = 2

[[allow]]
path = "bench.py"
regions = ["LR"]
"""


def repo_with(tmp_path: Path, bench: str, extra: str = "", experiments: int = 8) -> GitRepo:
    return make_repo(
        tmp_path / "r",
        {"bench.py": bench, "boundaries.toml": CONFIG.format(extra=extra, experiments=experiments)},
    )


def test_a_fixed_seed_stops_the_run_after_the_base_with_the_line_to_change(tmp_path: Path) -> None:
    repo = repo_with(tmp_path, FIXED)
    done = repo.gitresearch("start", "--name", "s")
    assert done.returncode == 2, done.stderr[-2000:]
    assert "on all 3 seeds: the benchmark ignores the seed gitresearch passes" in done.stderr
    assert "bench.py:2: `random.seed(1337)` fixes the seed" in done.stderr
    assert 'random.seed(int(os.environ.get("GITRESEARCH_SEED", 1337)))' in done.stderr
    assert "deterministic = true" in done.stderr and "Traceback" not in done.stderr
    assert [e for e in ledger_of(repo).experiments("s") if e.commit] == []  # nothing was tried


def test_check_shows_the_fixed_seed_before_anything_runs(tmp_path: Path) -> None:
    repo = repo_with(tmp_path, FIXED)
    done = repo.gitresearch("check")
    assert done.returncode == 0
    assert "literal seed(s)" in done.stderr and "bench.py:2: `random.seed(1337)`" in done.stderr


def test_a_declared_deterministic_benchmark_runs_with_min_improvement_as_its_bar(tmp_path: Path) -> None:
    repo = repo_with(tmp_path, FIXED, "deterministic = true\nmin_improvement = 0.05", experiments=6)
    done = repo.gitresearch("start", "--name", "d", "--no-finalize")
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [e for e in ledger_of(repo).experiments("d") if e.commit]
    assert len(rows) == 6
    for e in rows:
        if e.status == "accepted":
            assert e.decision.improvement is not None and e.decision.improvement > 0.05


def test_deterministic_without_min_improvement_is_a_located_config_error(tmp_path: Path) -> None:
    repo = repo_with(tmp_path, FIXED, "deterministic = true")
    done = repo.gitresearch("start")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "boundaries.toml" in done.stderr and "min_improvement" in done.stderr


def test_seed_blind_but_noisy_is_left_to_the_statistics(tmp_path: Path) -> None:
    repo = repo_with(tmp_path, SEED_BLIND_NOISE, experiments=6)
    done = repo.gitresearch("start", "--name", "n", "--no-finalize")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ignores the seed" not in done.stderr
    assert len([e for e in ledger_of(repo).experiments("n") if e.commit]) == 6


def test_the_finder_reads_the_usual_ways_of_fixing_a_seed(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(
        "import torch, numpy as np, random\n"
        "torch.manual_seed(42)\n"
        "np.random.seed(0)\n"
        "random.seed(seed)\n"  # a variable: fine
        "model = Forest(random_state=23, n_estimators=4)\n"
        "rng = np.random.default_rng(-7)\n"
        "key = jax.random.PRNGKey(0)\n"
        "torch.manual_seed(int(os.environ['GITRESEARCH_SEED']))\n"  # already right
    )
    found = find_fixed_seeds(DirectorySource(tmp_path), ["train.py"])
    assert [(f.line, f.code) for f in found] == [
        (2, "torch.manual_seed(42)"),
        (3, "np.random.seed(0)"),
        (5, "random_state=23"),
        (6, "np.random.default_rng(-7)"),
        (7, "jax.random.PRNGKey(0)"),
    ]
    assert found[0].fix == 'torch.manual_seed(int(os.environ.get("GITRESEARCH_SEED", 42)))'


def test_a_seed_made_of_a_literal_and_an_offset_is_found(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "r", {"train.py": "import torch\nseed_offset = 0\ntorch.manual_seed(1337 + seed_offset)\n"}
    )
    found = find_fixed_seeds(DirectorySource(repo.root), ["train.py"])
    assert [f.render() for f in found] == [
        "train.py:3: `torch.manual_seed(1337 + seed_offset)` fixes the seed; write "
        '`torch.manual_seed(int(os.environ.get("GITRESEARCH_SEED", 1337)) + seed_offset)`'
    ]
