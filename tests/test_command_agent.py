"""A coding agent as the proposer (`proposer = "command"`), end to end through `gitresearch start`.

The agent is a real subprocess: a script committed in the repository (protected) that reads
the brief gitresearch wrote, edits the scratch tree in place and writes its hypothesis.
Its behaviour follows from what the brief says, as a real agent's would:
- the first idea edits a function it may change *and* one it may not: refused, fed back;
- told the violations, it keeps the idea inside the boundaries: measured, accepted;
- the next idea (it sees its kept change in the history) crashes the benchmark: failed.
Every run it also tries what a hostile agent would: read a secret in the user's home and
the user's checkout, read the API key from its environment, write outside its tree.
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from gitresearch.execute.sandbox import probe
from gitresearch.propose.command import find_program, program_of, render_command, reported_cost
from tests.helpers.repos import GitRepo, make_repo, snapshot
from tests.helpers.runs import ledger_of

BENCH = """\
import os, random

LR = 0.01


def activation(x):
    return max(0.0, x)


def schedule(step):
    return 1.0


rng = random.Random(int(os.environ["GITRESEARCH_SEED"]))
loss = 1.0 + (0.0 if activation(-1.0) < 0 else 0.5) + 0.01 * schedule(0) + rng.gauss(0, 0.01)
print(f"loss: {loss:.6f}")
"""

LEAKY = BENCH.replace("    return max(0.0, x)", "    return x if x > 0 else 0.1 * x")
OUT_OF_BOUNDS = LEAKY.replace("def schedule(step):\n    return 1.0", "def schedule(step):\n    return 0.0")
CRASH = BENCH.replace("    return max(0.0, x)", '    raise RuntimeError("a broken idea")')

AGENT = """\
import os, pathlib, sys
brief = pathlib.Path(os.environ["GITRESEARCH_BRIEF"]).read_text()
assert brief == sys.argv[1], "the prompt argument and the brief file differ"
seen = []
for probe in {probes!r}:
    try:
        seen.append(pathlib.Path(probe).read_text()[:40])
    except OSError:
        pass
if os.environ.get("OPENAI_API_KEY"):
    seen.append(os.environ["OPENAI_API_KEY"])
try:
    pathlib.Path({escape!r}).write_text("written by the agent")
except OSError:
    pass
texts = {texts!r}
if "refused by the boundaries" in brief:
    pathlib.Path("bench.py").write_text(texts["leaky"])
    hypothesis = "Leaky activation keeps a gradient for negative inputs"
elif "Nothing yet: this is the first experiment." in brief:
    pathlib.Path("bench.py").write_text(texts["out_of_bounds"])
    hypothesis = "Leaky activation, and no schedule"
else:
    pathlib.Path("bench.py").write_text(texts["crash"])
    hypothesis = "A new activation"
pathlib.Path(os.environ["GITRESEARCH_HYPOTHESIS"]).write_text(
    hypothesis + "\\nThe agent saw: " + repr(seen) + "\\n"
)
print("Tokens: 1.2k sent, 80 received. Cost: $0.0040 message, $0.0040 session.")
"""

CONFIG = """\
[objective]
command = "python bench.py"
metric = "loss"
timeout = "30s"
sandbox = "required"

[search]
proposer = "command"
baseline_runs = 3

[budget]
experiments = 2
gpus = "none"
jobs = 1

[agent]
command = '{python} agent.py "{{prompt}}"'
timeout = "60s"

[[allow]]
path = "bench.py"
regions = ["activation", "LR"]

[protect]
paths = ["agent.py"]
"""


def agent_repo(root: Path, secret: Path, escape: Path) -> GitRepo:
    agent = AGENT.format(
        # its own tree's copy (relative) is readable; the secret, the user's .git and checkout not
        probes=[str(secret), str(root / ".git" / "config"), str(root / "bench.py"), "bench.py"],
        escape=str(escape),
        texts={"leaky": LEAKY, "out_of_bounds": OUT_OF_BOUNDS, "crash": CRASH},
    )
    return make_repo(
        root,
        {"bench.py": BENCH, "agent.py": agent, "boundaries.toml": CONFIG.format(python=sys.executable)},
    )


@pytest.mark.skipif(not probe().works, reason="needs bubblewrap (scripts/test.sh installs it)")
def test_a_command_agent_is_refused_fed_back_measured_and_kept_in_its_sandbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    secret = home / ".netrc"
    secret.write_text("machine api.example.com password TOPSECRET-NETRC\n")
    escape = tmp_path / "escaped.txt"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-TOPSECRET-KEY")
    repo = agent_repo(tmp_path / "r", secret, escape)
    before = snapshot(repo)

    done = repo.gitresearch("start", "--name", "agents")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "proposer: command (the command `" in done.stderr
    assert snapshot(repo) == before  # the checkout is untouched
    assert not escape.exists()  # it could not write outside its tree

    rows = ledger_of(repo).experiments("agents")
    refused = [r for r in rows if r.status == "rejected"]
    kept = [r for r in rows if r.status == "accepted"]
    failed = [r for r in rows if r.status == "failed"]
    assert len(refused) == 1 and refused[0].proposer == "command", done.stderr[-4000:]
    assert [(v["rule"], v["line"]) for v in refused[0].violations or []] == [("outside-region", 11)]
    assert len(kept) == 1 and kept[0].hypothesis == "Leaky activation keeps a gradient for negative inputs"
    assert len(failed) == 1 and failed[0].hypothesis == "A new activation"
    # the kept commit holds the structural edit, inside the boundaries only
    changed = repo.git("diff", "--name-only", f"{kept[0].parent}..{kept[0].commit}").split()
    assert changed == ["bench.py"] and repo.git("show", f"{kept[0].commit}:bench.py") == LEAKY
    # the agent read nothing it should not: no secret, no key, no user checkout; its own tree yes
    everything = repo.git("log", "--all", "-p", "--format=%B") + json.dumps([r.rationale for r in rows])
    everything += repo.git("notes", "--ref", "gitresearch", "list")
    assert "TOPSECRET" not in everything
    assert kept[0].rationale == f"The agent saw: {[BENCH[:40]]!r}"
    report = repo.gitresearch("report", "agents").stdout
    assert (
        "Agent: `" in report and "3 run(s) (0 without a proposal" in report and "$0.0120 reported" in report
    ), report


def test_a_missing_agent_program_is_a_clear_error(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "r",
        {
            "bench.py": BENCH,
            "boundaries.toml": CONFIG.format(python=sys.executable).replace(
                f"{sys.executable} agent.py", "no-such-agent-cli --go"
            ),
        },
    )
    done = repo.gitresearch("start", "--name", "x")
    assert done.returncode == 2, done.stderr
    assert "`no-such-agent-cli` is not installed or not on PATH" in done.stderr
    assert "boundaries.toml" in done.stderr and "Traceback" not in done.stderr
    check = repo.gitresearch("check")
    assert (
        check.returncode == 2
        and "error: [agent] command: `no-such-agent-cli` is not installed" in check.stderr
    )
    found = make_repo(
        tmp_path / "ok", {"bench.py": BENCH, "boundaries.toml": CONFIG.format(python=sys.executable)}
    )
    check = found.gitresearch("check")
    assert check.returncode == 0 and f"({sys.executable} found)" in check.stdout, check.stdout


def test_the_command_template_quotes_every_value_as_one_word() -> None:
    prompt = 'it\'s a "quoted" $HOME `prompt`; rm -rf /'
    line = render_command('claude -p "{prompt}" --allowedTools Edit', {"prompt": prompt})
    assert line.startswith("claude -p '") and line.endswith(" --allowedTools Edit")
    assert shlex.split(line) == ["claude", "-p", prompt, "--allowedTools", "Edit"]
    files = render_command(
        "aider --yes --message {prompt} {files}", {"prompt": "x y", "files": ["a b.py", "c.py"]}
    )
    assert shlex.split(files) == ["aider", "--yes", "--message", "x y", "a b.py", "c.py"]
    assert program_of("ANTHROPIC_MODEL=x claude -p hi") == "claude"
    assert program_of('claude -p "unbalanced') is None
    assert find_program(f"{shutil.which('git')} status") is not None
    assert reported_cost('{"type":"result","total_cost_usd":0.0123}') == pytest.approx(0.0123)
    assert reported_cost("Cost: $0.0040 message, $0.0100 session.") == pytest.approx(0.01)
    assert reported_cost("no cost here") is None


SLOW_AGENT = """\
import os, pathlib, subprocess, sys, time
mode = {mode!r}
started = time.time()
if mode == "hang":
    child = subprocess.Popen(["sleep", "300"])
    print(f"child pid {{child.pid}}", flush=True)
    time.sleep(300)
time.sleep(1.0)
idea = os.path.basename(os.path.dirname(os.getcwd()))
text = pathlib.Path("bench.py").read_text().replace("LR = 0.01", f"LR = 0.0{{int(idea) + 1}}")
pathlib.Path("bench.py").write_text(text)
pathlib.Path(os.environ["GITRESEARCH_HYPOTHESIS"]).write_text(
    f"LR from idea {{idea}}\\n{{started:.3f}} {{time.time():.3f}}\\n"
)
"""


def slow_agent_repo(
    root: Path, mode: str, *, jobs: int, experiments: int, proposer: str = "command", bench_s: float = 0.0
) -> GitRepo:
    config = (
        CONFIG.format(python=sys.executable)
        .replace('sandbox = "required"', 'sandbox = "off"')
        .replace('proposer = "command"', f'proposer = "{proposer}"')
        .replace("jobs = 1", f"jobs = {jobs}")
        .replace("experiments = 2", f"experiments = {experiments}")
        .replace('timeout = "60s"', 'timeout = "3s"')
        .replace('"{prompt}"', "")
    )
    bench = BENCH.replace('print(f"loss', f'__import__("time").sleep({bench_s})\nprint(f"loss')
    return make_repo(
        root, {"bench.py": bench, "agent.py": SLOW_AGENT.format(mode=mode), "boundaries.toml": config}
    )


def test_an_agent_past_its_timeout_is_killed_with_everything_it_started(tmp_path: Path) -> None:
    repo = slow_agent_repo(tmp_path / "r", "hang", jobs=1, experiments=2)
    done = repo.gitresearch("start", "--name", "hang")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "ran past the 3 s timeout without an edit" in done.stderr
    assert "agent stops proposing: 5 agent runs in a row gave no proposal" in done.stderr
    logs = sorted((repo.root / ".git" / "gitresearch" / "agents").glob("*/agent-*.log"))
    assert len(logs) == 5  # each run's log is kept for reading; its scratch tree is gone
    assert not any((log.parent / "tree").exists() for log in logs)
    for log in logs:
        pid = int(log.read_text().split("child pid ")[1].split()[0])
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()


def test_agents_run_side_by_side_as_slots_allow(tmp_path: Path) -> None:
    repo = slow_agent_repo(tmp_path / "r", "edit", jobs=2, experiments=2)
    done = repo.gitresearch("start", "--name", "two", "--no-finalize")
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [r for r in ledger_of(repo).experiments("two") if r.commit]
    assert len(rows) == 2 and {r.proposer for r in rows} == {"command"}
    spans = sorted(tuple(float(t) for t in r.rationale.split()) for r in rows)
    assert spans[1][0] < spans[0][1], spans  # the second agent started before the first ended


def test_hybrid_takes_turns_between_a_command_agent_and_the_sweep(tmp_path: Path) -> None:
    # the base's three runs take 3 s: the agent (1 s) has its idea ready before the first turn
    repo = slow_agent_repo(tmp_path / "r", "edit", jobs=1, experiments=4, proposer="hybrid", bench_s=1.0)
    done = repo.gitresearch("start", "--name", "both", "--no-finalize")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "proposer: hybrid (the command `" in done.stderr
    proposers = [r.proposer for r in ledger_of(repo).experiments("both") if r.commit]
    assert "command" in proposers and "sweep" in proposers, proposers


AIDER = Path(__file__).resolve().parents[1] / ".venv-aider" / "bin" / "aider"

# docs/agents.md's aider preset, with the test server for the model
AIDER_COMMAND = (
    "LITELLM_LOCAL_MODEL_COST_MAP=True {aider} --model openai/test-model --openai-api-base {url} "
    "--openai-api-key local --no-stream --yes-always --no-check-update --analytics-disable "
    "--no-show-model-warnings --no-pretty --no-suggest-shell-commands --edit-format diff "
    "--map-tokens 0 --no-gitignore --chat-history-file ~/.aider.chat.history.md "
    '--input-history-file ~/.aider.input.history --message "{{prompt}}" {{files}}'
)

OUT_OF_BOUNDS_REPLY = """The schedule is what holds it back.

bench.py
```python
<<<<<<< SEARCH
def schedule(step):
    return 1.0
=======
def schedule(step):
    return 0.0
>>>>>>> REPLACE
```
"""

INSIDE_REPLY = """Undo the schedule change; make the activation leaky instead.

bench.py
```python
<<<<<<< SEARCH
def schedule(step):
    return 0.0
=======
def schedule(step):
    return 1.0
>>>>>>> REPLACE
```

bench.py
```python
<<<<<<< SEARCH
    return max(0.0, x)
=======
    return x if x > 0 else 0.1 * x
>>>>>>> REPLACE
```
"""


@pytest.mark.skipif(not AIDER.exists(), reason="aider is installed into .venv-aider by scripts/test.sh")
@pytest.mark.skipif(not probe().works, reason="needs bubblewrap (scripts/test.sh installs it)")
def test_aider_as_the_agent_through_start_refused_then_kept(tmp_path: Path) -> None:
    from gitresearch.testing.fakellm import FakeLLM, Step

    edits = iter([OUT_OF_BOUNDS_REPLY, INSIDE_REPLY])
    commits = iter(["Remove the learning-rate schedule", "Make the activation leaky for negative inputs"])
    asked: list[str] = []

    def reply(request: Mapping[str, Any]) -> Step:
        text = json.dumps(request.get("messages", []))
        if "commit message" in text.lower():
            return Step(next(commits, "Edit bench.py"))
        asked.append(text)
        return Step(next(edits, "No further changes."))

    with FakeLLM(fallback=reply) as server:
        config = CONFIG.format(python=sys.executable).replace(
            "[agent]\n" + f"command = '{sys.executable} agent.py \"{{prompt}}\"'\n" + 'timeout = "60s"',
            "[agent]\n"
            + f"command = '{AIDER_COMMAND.format(aider=AIDER, url=server.url)}'\n"
            + 'timeout = "120s"\n'
            + f'read_only = ["{AIDER.parent.parent}"]',
        )
        assert "openai/test-model" in config
        config = config.replace("experiments = 2", "experiments = 1")
        repo = make_repo(tmp_path / "r", {"bench.py": BENCH, "boundaries.toml": config})
        done = repo.gitresearch("start", "--name", "aider")
    assert done.returncode == 0, done.stderr[-3000:]
    rows = ledger_of(repo).experiments("aider")
    refused = [r for r in rows if r.status == "rejected"]
    kept = [r for r in rows if r.status == "accepted"]
    assert len(refused) == 1 and refused[0].hypothesis == "Remove the learning-rate schedule"
    assert [v["rule"] for v in refused[0].violations or []] == ["outside-region"]
    assert len(kept) == 1 and kept[0].hypothesis == "Make the activation leaky for negative inputs"
    assert repo.git("show", f"{kept[0].commit}:bench.py") == LEAKY
    # aider's second run was told why the first was refused
    assert len(asked) == 2 and "outside-region" in asked[1] and "outside-region" not in asked[0]
