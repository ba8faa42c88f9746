"""The LLM agent end to end: `gitresearch start` against a real local Chat Completions server.

Every test runs the real command in a subprocess on a real repository; the only fake is the
network peer (gitresearch.testing.fakellm, an HTTP server with scripted replies).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from gitresearch.ledger import Ledger
from gitresearch.notes import BaseNote
from gitresearch.propose.agent import Malformed, parse_reply
from gitresearch.rebuild import sync_from_git
from gitresearch.runview import detail, load_run
from gitresearch.store import Store
from gitresearch.testing.fakellm import FakeLLM, Step, proposal
from tests.helpers.repos import GitRepo, make_repo

BENCH = """\
import math, os
# --- knobs ---
LR = 0.01  # best near 0.1


def penalty():
    return 0.5  # a structural mistake the agent should remove


seed = int(os.environ["GITRESEARCH_SEED"])
noise = ((seed * 7919) % 100 - 50) / 10000
print("---")
print(f"loss: {(math.log10(LR) + 1) ** 2 + penalty() + noise:.6f}")
"""

CONFIG = """\
[objective]
command = "python bench.py"
metric = "loss"
timeout = "30s"

[search]
proposer = "{proposer}"
baseline_runs = 3
confirm_runs = 2

[budget]
experiments = {experiments}
llm_usd = {usd}
gpus = "none"
jobs = 1
max_consecutive_failures = 3

[[allow]]
path = "bench.py"
regions = ["LR", "penalty"]

[agent]
model = "test-model"
base_url = "{url}"
price_input = 1.0
price_output = 2.0
max_tokens = 500
timeout = "{timeout}"
brief = "program.md"
"""

FIX = proposal(
    "Remove the constant penalty from the loss",
    [("bench.py", "penalty", "def penalty():\n    return 0.0\n")],
)


def agent_repo(
    root: Path,
    url: str,
    *,
    proposer: str = "llm",
    experiments: int = 2,
    usd: float = 5.0,
    timeout: str = "20s",
) -> GitRepo:
    return make_repo(
        root,
        {
            "bench.py": BENCH,
            "program.md": "Make the loss small. The penalty looks suspicious.\n",
            "boundaries.toml": CONFIG.format(
                proposer=proposer, experiments=experiments, usd=usd, url=url, timeout=timeout
            ),
        },
    )


def start(
    repo: GitRepo, *args: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    full.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "gitresearch", "start", "--name", "r", *args],
        cwd=repo.root,
        capture_output=True,
        text=True,
        timeout=180,
        env=full,
    )


def experiments(repo: GitRepo) -> list[Any]:
    store = Store(repo.root)
    ledger = Ledger(store.ledger_path)
    sync_from_git(store, ledger)
    return ledger.experiments("r")


def run_note(repo: GitRepo) -> dict[str, Any]:
    store = Store(repo.root)
    base = store.run("r")
    assert base is not None
    return BaseNote.from_json(store.read_note(base.base)).by_run["r"].to_json()


def user_texts(request: Mapping[str, Any]) -> list[str]:
    return [m["content"] for m in request["messages"] if m["role"] == "user"]


def lr(value: float) -> str:
    return proposal(f"Set LR to {value}", [("bench.py", "LR", f"LR = {value}")])


def test_agent_finds_the_structural_fix_and_counts_its_cost(tmp_path: Path) -> None:
    with FakeLLM([Step(FIX), Step(lr(0.1)), Step(lr(0.3))]) as server:
        repo = agent_repo(tmp_path / "repo", server.url, experiments=3)
        done = start(repo)
        requests = server.completions()
    assert done.returncode == 0, done.stderr
    assert "proposer: llm (test-model at http://127.0.0.1" in done.stderr
    rows = {e.number: e for e in experiments(repo)}
    assert rows[1].status == "accepted" and rows[1].proposer == "llm"
    assert rows[1].hypothesis == "Remove the constant penalty from the loss"
    assert rows[2].status == "accepted"  # LR 0.01 -> 0.1 removes the (log10 LR + 1)^2 term
    assert "return 0.0" in repo.git("show", f"{rows[1].commit}:bench.py")
    assert "Gitresearch-Proposer: llm" in repo.git("log", "-1", "--format=%B", rows[1].commit)
    assert repo.read("bench.py") == BENCH  # the checkout is untouched
    # What the model saw: the brief, the objective, the code of every region, the budget.
    first = user_texts(requests[0])[0]
    for expected in (
        "The penalty looks suspicious",
        "Metric: loss (lower is better)",
        "LR = 0.01",
        "def penalty",
    ):
        assert expected in first
    assert requests[0]["response_format"]["type"] == "json_schema"
    # The next request is prepared while the first experiment runs, and knows it is running;
    # the one after knows how it ended.
    assert "Being measured or about to run" in user_texts(requests[1])[0]
    assert "- Remove the constant penalty from the loss" in user_texts(requests[1])[0]
    assert "#1 [llm] accepted" in user_texts(requests[2])[0]
    usage = run_note(repo)["llm"]
    assert usage["requests"] == 3
    assert usage["prompt_tokens"] == 3000 and usage["completion_tokens"] == 600
    assert usage["usd"] == pytest.approx(3 * (1000 * 1.0 + 200 * 2.0) / 1e6)


def test_malformed_reply_goes_back_in_the_same_conversation(tmp_path: Path) -> None:
    with FakeLLM(
        [Step("Sure! Here is my idea: lower the penalty."), Step("```json\n" + FIX + "\n```")]
    ) as server:
        repo = agent_repo(tmp_path / "repo", server.url, experiments=1)
        done = start(repo)
        requests = server.completions()
    assert done.returncode == 0, done.stderr
    assert "LLM reply unusable (no JSON object was found in the reply); asking again" in done.stderr
    second = requests[1]["messages"]
    assert second[:2] == requests[0]["messages"][:2]  # the same conversation, continued
    assert second[2] == {"role": "assistant", "content": "Sure! Here is my idea: lower the penalty."}
    assert "could not be used" in second[3]["content"]
    assert experiments(repo)[0].status == "accepted"


@pytest.mark.parametrize(
    ("bad", "rule"),
    [
        (proposal("Edit the fixed part", [("bench.py", "seed", "seed = 1")]), "unknown-region"),
        (proposal("Break it", [("bench.py", "penalty", "def penalty(:\n    return 0.0\n")]), "syntax-error"),
        (
            proposal(
                "Import os", [("bench.py", "penalty", "def penalty():\n    import os\n    return 0.0\n")]
            ),
            "forbidden-import",
        ),
    ],
)
def test_rejected_patch_is_fed_back_with_its_violations(tmp_path: Path, bad: str, rule: str) -> None:
    with FakeLLM([Step(bad), Step(FIX)]) as server:
        repo = agent_repo(tmp_path / "repo", server.url, experiments=1)
        done = start(repo)
        requests = server.completions()
    assert done.returncode == 0, done.stderr
    rows = experiments(repo)
    assert [e.status for e in rows] == ["rejected", "accepted"]
    assert rows[0].violations and rows[0].violations[0]["rule"] == rule
    feedback = requests[1]["messages"]
    assert feedback[2] == {"role": "assistant", "content": bad}
    # The review shows what was refused and why.
    store = Store(repo.root)
    ledger = Ledger(store.ledger_path)
    view = load_run(store, ledger, "r")
    refused = detail(store, ledger, view, rows[0].number)
    assert refused.diff.startswith("(never committed") and "The edits it proposed" in refused.diff
    assert refused.violations[0]["rule"] == rule
    assert f"[{rule}]" in feedback[3]["content"] and "rejected by the boundaries" in feedback[3]["content"]


def test_rejections_stop_after_the_attempt_limit(tmp_path: Path) -> None:
    bad = proposal("Edit the fixed part", [("bench.py", "seed", "seed = 1")])
    with FakeLLM([Step(bad)] * 3 + [Step(FIX)]) as server:
        repo = agent_repo(tmp_path / "repo", server.url, experiments=1)
        done = start(repo)
        requests = server.completions()
    assert done.returncode == 0, done.stderr
    # Three tries in one conversation (1 + 2 corrections), then a fresh conversation.
    assert [len(r["messages"]) for r in requests] == [2, 4, 6, 2]
    assert [e.status for e in experiments(repo)] == ["rejected"] * 3 + ["accepted"]


def test_crashed_experiment_gets_a_fix_request_with_the_log(tmp_path: Path) -> None:
    crash = proposal("Scale the penalty", [("bench.py", "penalty", "def penalty():\n    return 1 / 0\n")])
    with FakeLLM([Step(crash), Step(FIX)]) as server:
        repo = agent_repo(tmp_path / "repo", server.url, experiments=2)
        done = start(repo)
        requests = server.completions()
    assert done.returncode == 0, done.stderr
    rows = experiments(repo)
    assert [e.status for e in rows] == ["failed", "accepted"]
    fix = user_texts(requests[1])[0]
    assert "An experiment of yours failed to run" in fix and "ZeroDivisionError" in fix
    assert "return 1 / 0" in fix
    note = Store(repo.root).read_note(rows[1].commit) or {}
    assert note["proposal"]["kind"] == "fix" and note["proposal"]["fix_of"] == 1


def test_already_measured_code_is_not_run_again(tmp_path: Path) -> None:
    with FakeLLM([Step(FIX), Step(FIX), Step(lr(0.1))]) as server:
        repo = agent_repo(tmp_path / "repo", server.url, experiments=2)
        done = start(repo)
        requests = server.completions()
    assert done.returncode == 0, done.stderr
    rows = experiments(repo)
    assert [e.status for e in rows] == ["accepted", "duplicate", "accepted"]
    assert "#1" in rows[1].decision.reason
    assert "already measured (experiment #1)" in requests[2]["messages"][-1]["content"]


def test_rate_limits_and_slow_replies_are_retried(tmp_path: Path) -> None:
    with FakeLLM([Step(status=429), Step(status=503), Step(FIX, delay=3.0), Step(FIX)]) as server:
        repo = agent_repo(tmp_path / "repo", server.url, experiments=1, timeout="1s")
        done = start(repo)
        requests = server.completions()
    assert done.returncode == 0, done.stderr
    assert len(requests) == 4
    assert experiments(repo)[0].status == "accepted"
    assert run_note(repo)["llm"]["retries"] == 3


def test_requests_that_keep_failing_are_counted_and_stop_the_agent(tmp_path: Path) -> None:
    with FakeLLM(fallback=lambda request: Step(status=500)) as server:
        repo = agent_repo(tmp_path / "repo", server.url, experiments=3)
        done = start(repo)
    assert done.returncode == 0, done.stderr
    assert "LLM request failed: server after 4 tries" in done.stderr
    assert "5 LLM requests in a row failed" in done.stderr
    assert run_note(repo)["llm"]["failed_requests"] == 5
    assert experiments(repo) == []


def test_server_without_json_schema_falls_back_to_json_mode(tmp_path: Path) -> None:
    with FakeLLM([Step(FIX)], json_schema=False) as server:
        repo = agent_repo(tmp_path / "repo", server.url, experiments=1)
        done = start(repo)
        requests = server.completions()
    assert done.returncode == 0, done.stderr
    assert [r["response_format"]["type"] for r in requests] == ["json_schema", "json_object"]
    assert experiments(repo)[0].status == "accepted"
    assert run_note(repo)["llm"]["response_format"] == "json_object"


def test_the_dollar_budget_is_never_exceeded(tmp_path: Path) -> None:
    # Each reply costs $0.0014; the worst case of a request is its prompt plus 500 tokens at $2/M.
    # $0.004 leaves room for two requests and stops the agent before a third could overspend.
    with FakeLLM([Step(FIX), Step(lr(0.1)), Step(lr(0.2)), Step(lr(0.3))]) as server:
        repo = agent_repo(tmp_path / "repo", server.url, experiments=4, usd=0.004)
        done = start(repo)
        requests = server.completions()
    assert done.returncode == 0, done.stderr
    usage = run_note(repo)["llm"]
    assert usage["usd"] <= 0.004
    assert len(requests) == usage["requests"] == 2
    assert "LLM agent stops proposing: the LLM budget would be exceeded" in done.stderr
    assert "the llm proposer stopped" in done.stderr


def test_missing_key_and_unreachable_server_fail_before_the_run(tmp_path: Path) -> None:
    repo = agent_repo(tmp_path / "repo", "http://127.0.0.1:9/v1")
    text = repo.read("boundaries.toml").replace('base_url = "http://127.0.0.1:9/v1"\n', "")
    repo.write("boundaries.toml", text)
    repo.commit("OpenAI itself")
    done = start(repo)
    assert done.returncode == 2
    assert "$OPENAI_API_KEY is not set" in done.stderr and "Traceback" not in done.stderr
    repo.write(
        "boundaries.toml",
        CONFIG.format(proposer="llm", experiments=1, usd=1, url="http://127.0.0.1:9/v1", timeout="5s"),
    )
    repo.commit("unreachable")
    done = start(repo)
    assert done.returncode == 2
    assert "cannot reach the LLM server at http://127.0.0.1:9/v1" in done.stderr
    assert "Traceback" not in done.stderr
    assert Store(repo.root).run("r") is None  # nothing was started


def test_a_model_the_server_lists_under_another_name_is_a_warning(tmp_path: Path) -> None:
    """llama.cpp lists the path it loaded and answers chats under any model name."""
    with FakeLLM([Step(FIX)], models=["/models/SmolLM2-135M-Instruct-Q8_0.gguf"]) as server:
        repo = agent_repo(tmp_path / "repo", server.url, experiments=1)
        done = start(repo)
    assert done.returncode == 0, done.stderr
    assert "warning: the LLM server at" in done.stderr
    assert (
        'does not list model "test-model" (it lists: /models/SmolLM2-135M-Instruct-Q8_0.gguf)' in done.stderr
    )
    assert experiments(repo)[0].status == "accepted"


def test_a_reply_cut_off_at_max_tokens_is_named_and_asked_shorter(tmp_path: Path) -> None:
    with FakeLLM([Step(FIX[:60], finish_reason="length"), Step(FIX)]) as server:
        repo = agent_repo(tmp_path / "repo", server.url, experiments=1)
        done = start(repo)
        requests = server.completions()
    assert done.returncode == 0, done.stderr
    assert "LLM reply cut off at max_tokens (500); asking for a shorter one" in done.stderr
    assert "is missing" not in done.stderr and "no JSON object" not in done.stderr
    assert "cut off at the limit of 500 tokens" in user_texts(requests[1])[-1]
    assert experiments(repo)[0].status == "accepted"
    assert run_note(repo)["llm"]["truncated_replies"] == 1


def test_a_timed_out_try_is_counted_as_if_billed(tmp_path: Path) -> None:
    """A try that timed out may have been billed in full: its prompt plus max_tokens count."""
    with FakeLLM([Step(FIX, delay=3.0), Step(FIX)]) as server:
        repo = agent_repo(tmp_path / "repo", server.url, experiments=1, timeout="1s")
        done = start(repo)
    assert done.returncode == 0, done.stderr
    usage = run_note(repo)["llm"]
    assert usage["timed_out_tries"] == 1
    assert usage["completion_tokens"] == 200 + 500  # the reply, and a full max_tokens for the lost try
    prompt_estimate = usage["prompt_tokens"] - 1000
    assert prompt_estimate > 100  # the brief, estimated from its text
    assert usage["usd"] == pytest.approx((1000 + prompt_estimate) * 1e-6 + 700 * 2e-6, rel=1e-3)


def test_a_slow_model_shows_in_the_status_line() -> None:
    from gitresearch.cli.progress import status_line
    from gitresearch.loop import Snapshot

    snap = Snapshot(
        done=1, budget=5, seconds_left=3600, metric="loss", best=1.0, gain=None, best_number=None,
        running={}, slots=(), started={}, llm_usd=0.01, waiting_s=130.0,
    )  # fmt: skip
    assert "waiting 2m10s for the model" in status_line(snap)
    assert "waiting" not in status_line(Snapshot(**{**snap.__dict__, "waiting_s": 3.0}))


def test_auto_picks_hybrid_when_reachable_and_sweep_when_not(tmp_path: Path) -> None:
    repo = agent_repo(tmp_path / "repo", "http://127.0.0.1:9/v1", proposer="auto", experiments=2)
    done = start(repo)
    assert done.returncode == 0, done.stderr
    assert "proposer: sweep (" in done.stderr and "the [agent] is not usable: cannot reach" in done.stderr
    assert {e.proposer for e in experiments(repo)} == {"sweep"}


def test_hybrid_shares_one_history_between_agent_and_sweep(tmp_path: Path) -> None:
    with FakeLLM([Step(FIX, delay=0.2)], fallback=lambda request: Step(lr(0.05), delay=0.2)) as server:
        repo = agent_repo(tmp_path / "repo", server.url, proposer="auto", experiments=6)
        done = start(repo)
        requests = server.completions()
    assert done.returncode == 0, done.stderr
    assert "proposer: hybrid (test-model at" in done.stderr
    rows = experiments(repo)
    assert {"llm", "sweep"} <= {e.proposer for e in rows}
    assert any(e.proposer == "llm" and e.status == "accepted" for e in rows)
    # The agent's later prompts show what the sweep tried.
    sweep_hypotheses = [e.hypothesis for e in rows if e.proposer == "sweep" and e.status != "rejected"]
    last = user_texts(requests[-1])[0]
    assert any(h in last for h in sweep_hypotheses)
    assert "[sweep]" in last


def test_resume_keeps_counting_the_spend(tmp_path: Path) -> None:
    with FakeLLM([Step(FIX), Step(lr(0.1))]) as server:
        repo = agent_repo(tmp_path / "repo", server.url, experiments=1)
        assert start(repo).returncode == 0
        done = subprocess.run(
            [sys.executable, "-m", "gitresearch", "start", "--resume", "r", "--experiments", "2"],
            cwd=repo.root,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr
    assert run_note(repo)["llm"]["requests"] == 2


@pytest.mark.parametrize(
    "text",
    [
        FIX,
        "```json\n" + FIX + "\n```",
        "Here is the change.\n" + FIX + "\nLet me know.",
    ],
)
def test_replies_are_parsed_robustly(text: str) -> None:
    hypothesis, rationale, edits = parse_reply(text)
    assert hypothesis == "Remove the constant penalty from the loss"
    assert rationale
    assert edits[0].region == "penalty" and "return 0.0" in edits[0].source


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no json here", "no JSON object"),
        (json.dumps({"hypothesis": "x", "rationale": "y", "edits": []}), '"edits" must be a non-empty list'),
        (
            json.dumps({"rationale": "y", "edits": [{"path": "a", "region": "b", "source": "c"}]}),
            '"hypothesis"',
        ),
        (json.dumps({"hypothesis": "x", "edits": [{"path": "a", "region": 1, "source": "c"}]}), "edit 1"),
    ],
)
def test_unusable_replies_say_why(text: str, message: str) -> None:
    with pytest.raises(Malformed, match=message):
        parse_reply(text)


def test_the_client_takes_an_injected_http_client() -> None:
    import httpx2

    from gitresearch.boundaries.config import AgentConfig
    from gitresearch.propose.agent import SCHEMA
    from gitresearch.propose.llm import ChatClient

    seen: list[str] = []
    http = httpx2.Client(event_hooks={"request": [lambda request: seen.append(str(request.url))]})
    with FakeLLM([Step(FIX)]) as server:
        chat = ChatClient(AgentConfig(model="test-model", base_url=server.url), {}, http_client=http)
        assert chat.preflight() == f"LLM test-model at {server.url}"
        reply = chat.complete([{"role": "user", "content": "propose"}], SCHEMA)
    assert reply.text == FIX and reply.mode == "json_schema"
    assert seen == [f"{server.url}/models", f"{server.url}/chat/completions"]
    assert chat.prices.cost(reply.prompt_tokens, reply.completion_tokens) == 0.0  # a server of your own


def test_a_server_that_wants_max_completion_tokens_gets_it(tmp_path: Path) -> None:
    refusal = "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead."
    with FakeLLM([Step(refusal, status=400), Step(FIX)]) as server:
        repo = agent_repo(tmp_path / "repo", server.url, experiments=1)
        done = start(repo)
        requests = server.completions()
    assert done.returncode == 0, done.stderr
    assert "max_tokens" in requests[0] and "max_completion_tokens" not in requests[0]
    assert requests[1]["max_completion_tokens"] == 500 and "max_tokens" not in requests[1]
    assert experiments(repo)[0].status == "accepted"
