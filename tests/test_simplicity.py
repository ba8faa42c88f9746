"""`[search] simplicity = true` end to end: an agent deletes dead code at equal quality; with
simplicity the change is kept (non-inferiority on fresh seeds, stated in the reason), without
it the same change is discarded (no gain). The agent is a scripted command, as a user's."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.helpers.repos import make_repo
from tests.helpers.runs import ledger_of

BENCH = """\
import os, random


def unused_helper(x):
    y = x * 2
    z = y + 1
    w = z * z
    return w - y


def activation(x):
    return max(0.0, x)


rng = random.Random(int(os.environ["GITRESEARCH_SEED"]))
print(f"loss: {1.0 + activation(-1.0) + rng.gauss(0, 0.01):.6f}")
"""

AGENT = """\
import os, pathlib
text = pathlib.Path("bench.py").read_text()
start = text.index("def unused_helper")
end = text.index("def activation")
pathlib.Path("bench.py").write_text(text[:start] + text[end:])
pathlib.Path(os.environ["GITRESEARCH_HYPOTHESIS"]).write_text("Remove the unused helper\\n")
"""

CONFIG = """\
[objective]
command = "python bench.py"
metric = "loss"
timeout = "30s"
sandbox = "off"

[search]
proposer = "command"
baseline_runs = 4
confirm_runs = 3
simplicity = {simplicity}

[budget]
experiments = 1
gpus = "none"
jobs = 1

[agent]
command = "{python} agent.py"
timeout = "30s"

[[allow]]
path = "bench.py"

[protect]
paths = ["agent.py"]
"""


@pytest.mark.parametrize("simplicity", [True, False])
def test_deleting_dead_code_at_equal_quality(tmp_path: Path, simplicity: bool) -> None:
    toml = CONFIG.format(simplicity=str(simplicity).lower(), python=sys.executable)
    repo = make_repo(tmp_path / "r", {"bench.py": BENCH, "agent.py": AGENT, "boundaries.toml": toml})
    done = repo.gitresearch("start", "--name", "s", "--no-finalize")
    assert done.returncode == 0, done.stderr[-3000:]
    (exp,) = [e for e in ledger_of(repo).experiments("s") if e.commit]
    assert exp.hypothesis == "Remove the unused helper"
    assert "unused_helper" not in repo.git("show", f"{exp.commit}:bench.py")
    reason = exp.decision.reason if exp.decision else ""
    if simplicity:
        assert exp.status == "accepted", reason
        assert "simpler (7 line(s) fewer) and not worse beyond the noise" in reason
        assert "non-inferiority" in reason
    else:
        assert exp.status == "discarded", reason
        assert "simpler" not in reason
