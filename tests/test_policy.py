"""The policy's allow-list rules as before/after tables: one named row per escape seen in the wild.

Each row replaces one fragment of `tests/helpers/repos.TRAIN_PY` (regions LEARNING_RATE,
BETAS, WARMUP_STEPS, configure_optimizer, GPT.forward) and names the rule that must
refuse it, or says it must stay accepted (everything the sweep and the demo write).
"""

from __future__ import annotations

import pytest

from gitresearch.boundaries.validator import Accepted
from tests.helpers.repos import GitRepo
from tests.helpers.validation import judge_text, rules

STILL_ACCEPTED = [
    ("a number", "LEARNING_RATE = 3e-4", "LEARNING_RATE = 1e-3"),
    ("a negative number", "LEARNING_RATE = 3e-4", "LEARNING_RATE = -1e-3"),
    ("arithmetic on literals", "LEARNING_RATE = 3e-4", "LEARNING_RATE = 3e-4 * 2 ** 3"),
    ("a tuple of literals", "BETAS = (0.9, 0.95)", "BETAS = (0.9, 0.999)"),
    ("a list of literals", "BETAS = (0.9, 0.95)", "BETAS = [0.9, 0.999]"),
    ("a dict of literals", "BETAS = (0.9, 0.95)", 'BETAS = {"beta1": 0.9, "beta2": None}'),
    ("integer division", "WARMUP_STEPS = 100", "WARMUP_STEPS = 1000 // 8"),
    ("a boolean", "WARMUP_STEPS = 100", "WARMUP_STEPS = True"),
    ("a public attribute in a function", "h = x * 2", "h = x.mean(dim=-1) * 2"),
    ("an existing default, changed", "weight_decay=0.1", "weight_decay=0.01"),
]


@pytest.mark.parametrize(
    ("before", "after"), [r[1:] for r in STILL_ACCEPTED], ids=[r[0] for r in STILL_ACCEPTED]
)
def test_legitimate_edits_stay_accepted(repo: GitRepo, before: str, after: str) -> None:
    verdict = judge_text(repo, "train.py", before, after)
    assert isinstance(verdict, Accepted), verdict


REFUSED = [
    (
        "walrus in a constant rebinds the evaluation",
        "LEARNING_RATE = 3e-4",
        "LEARNING_RATE = ((evaluate := (lambda m: 1e-06)), 3e-4)[1]",
        "constant-not-literal",
    ),
    ("a name in a constant", "LEARNING_RATE = 3e-4", "LEARNING_RATE = STEPS * 1e-7", "constant-not-literal"),
    ("a call in a constant", "LEARNING_RATE = 3e-4", 'LEARNING_RATE = float("3e-4")', "constant-not-literal"),
    (
        "a lambda in a constant",
        "WARMUP_STEPS = 100",
        "WARMUP_STEPS = (lambda: 100)()",
        "constant-not-literal",
    ),
    ("a private attribute", "h = x * 2", "h = math._private * 2", "forbidden-attribute"),
    ("a module reached through an attribute", "h = x * 2", 'h = math.os.system("id")', "forbidden-attribute"),
    ("print.__self__ reaches the builtins", "h = x * 2", "h = print.__self__", "forbidden-name"),
    ("frame walking", "h = x * 2", "h = x.gi_frame.f_back.f_globals", "forbidden-name"),
    ("a look-alike os (fullwidth letters)", "h = x * 2", "h = ｏｓ.getcwd()", "forbidden-name"),
    ("a look-alike attribute", "h = x * 2", "h = math.ｓｙｓｔｅｍ", "forbidden-attribute"),
    (
        "a walrus in a function rebinds a module-level name",
        "h = x * 2",
        "h = (evaluate := (lambda m: 0.0))",
        "forbidden-binding",
    ),
    ("a call in a default argument", "weight_decay=0.1", 'weight_decay=print("x") or 0.1', "forbidden-call"),
    (
        "a call in a decorator",
        "def configure_optimizer(params, weight_decay=0.1):",
        "@(lambda f: f)\ndef configure_optimizer(params, weight_decay=max(0.1, 0.2)):",
        "forbidden-call",
    ),
]


@pytest.mark.parametrize(("before", "after", "rule"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_escapes_are_refused(repo: GitRepo, before: str, after: str, rule: str) -> None:
    assert rule in rules(judge_text(repo, "train.py", before, after))


def test_what_the_region_already_used_stays_allowed(repo: GitRepo) -> None:
    text = repo.read("train.py").replace("h = x * 2", "h = x._cache * 2")
    repo.write("train.py", text)
    repo.commit("a region that reads a private attribute")
    verdict = judge_text(repo, "train.py", "h = x._cache * 2", "h = x._cache * 3")
    assert isinstance(verdict, Accepted), verdict
