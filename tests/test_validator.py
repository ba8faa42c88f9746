"""Before/after tables for the validator: one named test per rule, plus accepted edits."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitresearch.boundaries.resolve import load_boundaries
from gitresearch.boundaries.validator import Accepted, RegionEdit, Rejected, Validator
from gitresearch.store import CommitSource, open_repo
from tests.helpers.repos import TRAIN_PY, GitRepo
from tests.helpers.validation import judge_text, rules, validator

# -- accepted: edits inside regions ---------------------------------------------------------

ACCEPTED = [
    ("constant", "LEARNING_RATE = 3e-4", "LEARNING_RATE = 1e-3"),
    ("constant-comment", "3e-4  # tuned by hand", "6e-4  # doubled"),
    ("tuple-element", "BETAS = (0.9, 0.95)", "BETAS = (0.9, 0.99)"),
    ("function-body", "decay = weight_decay * 2", "decay = 0.0"),
    (
        "function-signature",
        "def configure_optimizer(params, weight_decay=0.1):",
        "def configure_optimizer(params, weight_decay=0.01):",
    ),
    (
        "function-grows",
        "    return dict(lr=LEARNING_RATE",
        "    no_decay = [p for p in params if getattr(p, 'ndim', 2) < 2]\n    return dict(lr=LEARNING_RATE",
    ),
    ("method-body", "h = x * 2", "h = x * 3 + 1"),
    ("existing-module-names", "h = x * 2", "h = math.tanh(x) * 2"),
    ("method-call-eval-attribute", "h = x * 2", "h = x.eval() * 2"),
    ("keyword-named-input", "h = x * 2", "h = dict(input=x)['input'] * 2"),
]


@pytest.mark.parametrize(("before", "after"), [c[1:] for c in ACCEPTED], ids=[c[0] for c in ACCEPTED])
def test_edit_inside_regions_is_accepted(repo: GitRepo, before: str, after: str) -> None:
    verdict = judge_text(repo, "train.py", before, after)
    assert isinstance(verdict, Accepted), verdict
    (change,) = verdict.changes
    assert change.path == "train.py"
    assert change.patched == TRAIN_PY.replace(before, after)


def test_whole_file_allowed_non_python(repo: GitRepo) -> None:
    verdict = judge_text(repo, "notes.md", "# notes", "# notes\nanything goes here")
    assert isinstance(verdict, Accepted)


# -- one named test per rule ----------------------------------------------------------------


def test_outside_region_code(repo: GitRepo) -> None:
    verdict = judge_text(repo, "train.py", "STEPS = 1000", "STEPS = 10")
    assert rules(verdict) == ["outside-region"]
    assert isinstance(verdict, Rejected)
    v = verdict.violations[0]
    assert v.line == 9 and "STEPS = 1000" in v.message and "STEPS = 10" in v.message


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("import math\n", "import math \n"),  # trailing whitespace
        ("# --- hyperparameters", "# --- HYPERPARAMETERS"),  # a comment
        ("\n\ndef schedule", "\n\n\ndef schedule"),  # a blank line
        ('if __name__ == "__main__":', "if __name__ == '__main__':"),  # quotes
        ("    return 1.0\n", "    return 0.5\n"),  # another function
        ("        self.n_layer = n_layer", "        self.n_layer = 2"),  # another method
    ],
    ids=["whitespace", "comment", "blank-line", "quotes", "other-function", "other-method"],
)
def test_outside_region_every_kind(repo: GitRepo, before: str, after: str) -> None:
    assert rules(judge_text(repo, "train.py", before, after)) == ["outside-region"]


def test_outside_region_eof_newline(repo: GitRepo) -> None:
    verdict = validator(repo).judge_files({"train.py": TRAIN_PY.rstrip("\n")})
    assert rules(verdict) == ["outside-region"]


def test_outside_region_code_smuggled_after_a_region(repo: GitRepo) -> None:
    verdict = validator(repo).judge_edits(
        [RegionEdit("train.py", "WARMUP_STEPS", "WARMUP_STEPS = 10\nSTEPS = 5\n")]
    )
    assert "outside-region" in rules(verdict)


def test_protected(repo: GitRepo) -> None:
    assert rules(judge_text(repo, "prepare.py", "data.txt", "other.txt")) == ["protected"]


def test_protected_boundaries_file(repo: GitRepo) -> None:
    verdict = judge_text(repo, "boundaries.toml", 'metric = "val_loss"', 'metric = "x"')
    assert rules(verdict) == ["protected"]


def test_not_allowed(repo: GitRepo) -> None:
    verdict = judge_text(repo, "data.txt", "abc", "xyz")
    assert rules(verdict) == ["not-allowed"]
    assert isinstance(verdict, Rejected)
    assert "train.py" in verdict.violations[0].message  # says what is allowed


def test_new_file(repo: GitRepo) -> None:
    diff = (
        "diff --git a/evil.py b/evil.py\nnew file mode 100644\nindex 0000000..1111111\n"
        "--- /dev/null\n+++ b/evil.py\n@@ -0,0 +1 @@\n+print('hi')\n"
    )
    assert rules(validator(repo).judge_diff(diff)) == ["new-file"]


def test_deleted_file(repo: GitRepo) -> None:
    repo.git("rm", "-q", "notes.md")
    diff = repo.git("diff", "--cached")
    repo.git("reset", "-q", "--hard")
    assert rules(validator(repo).judge_diff(diff)) == ["deleted-file"]


def test_renamed_file(repo: GitRepo) -> None:
    repo.git("mv", "notes.md", "notes2.md")
    diff = repo.git("diff", "--cached", "-M")
    repo.git("reset", "-q", "--hard")
    assert "rename from" in diff
    assert rules(validator(repo).judge_diff(diff)) == ["renamed-file"]


def test_binary_file(repo: GitRepo) -> None:
    (repo.root / "notes.md").write_bytes(b"\x00\x01\x02binary")
    diff = repo.git("diff", "--binary")
    repo.git("checkout", "-q", "notes.md")
    assert rules(validator(repo).judge_diff(diff)) == ["binary-file"]


def test_mode_change(repo: GitRepo) -> None:
    (repo.root / "notes.md").chmod(0o755)
    diff = repo.git("diff")
    repo.git("checkout", "-q", "notes.md")
    (repo.root / "notes.md").chmod(0o644)
    assert "new mode" in diff
    assert rules(validator(repo).judge_diff(diff)) == ["mode-change"]


def test_outside_repo(repo: GitRepo) -> None:
    diff = "--- a/../outside.py\n+++ b/../outside.py\n@@ -1 +1 @@\n-a\n+b\n"
    assert rules(validator(repo).judge_diff(diff)) == ["outside-repo"]


def test_malformed_diff(repo: GitRepo) -> None:
    diff = "--- a/train.py\n+++ b/train.py\n@@ -5,3 +5,3 @@\n LEARNING_RATE = 3e-4  # tuned by hand\n"
    verdict = validator(repo).judge_diff(diff)
    assert rules(verdict) == ["malformed-diff"]
    assert isinstance(verdict, Rejected)
    assert "hunk ends early" in verdict.violations[0].message


def test_malformed_hunk_header(repo: GitRepo) -> None:
    diff = "--- a/train.py\n+++ b/train.py\n@@ -5,x +5 @@\n-a\n+b\n"
    assert rules(validator(repo).judge_diff(diff)) == ["malformed-diff"]


def test_does_not_apply(repo: GitRepo) -> None:
    diff = "--- a/train.py\n+++ b/train.py\n@@ -5 +5 @@\n-LEARNING_RATE = 1.0\n+LEARNING_RATE = 2.0\n"
    verdict = validator(repo).judge_diff(diff)
    assert rules(verdict) == ["does-not-apply"]
    assert isinstance(verdict, Rejected)
    assert "LEARNING_RATE = 1.0" in verdict.violations[0].message


def test_syntax_error(repo: GitRepo) -> None:
    verdict = judge_text(repo, "train.py", "h = x * 2", "h = x * (2")
    assert rules(verdict) == ["syntax-error"]
    assert isinstance(verdict, Rejected)
    v = verdict.violations[0]
    assert v.line is not None and 27 <= v.line <= 29
    assert "^" in v.message  # the caret under the offending text


def test_region_missing_renamed(repo: GitRepo) -> None:
    verdict = judge_text(repo, "train.py", "def configure_optimizer(", "def configure_optimizers(")
    assert "region-missing" in rules(verdict)


def test_region_missing_deleted(repo: GitRepo) -> None:
    verdict = validator(repo).judge_files({"train.py": TRAIN_PY.replace("BETAS = (0.9, 0.95)\n", "")})
    assert "region-missing" in rules(verdict)


def test_region_duplicated(repo: GitRepo) -> None:
    verdict = judge_text(repo, "train.py", "BETAS = (0.9, 0.95)", "BETAS = (0.9, 0.95); BETAS = (0.8, 0.9)")
    assert rules(verdict) == ["region-duplicated"]


def test_unknown_region(repo: GitRepo) -> None:
    verdict = validator(repo).judge_edits([RegionEdit("train.py", "LEARNING_RAT", "LEARNING_RATE = 1\n")])
    assert rules(verdict) == ["unknown-region"]
    assert isinstance(verdict, Rejected)
    assert 'Did you mean "LEARNING_RATE"' in verdict.violations[0].message


def test_unknown_region_not_opened(repo: GitRepo) -> None:
    verdict = validator(repo).judge_edits([RegionEdit("train.py", "STEPS", "STEPS = 1\n")])
    assert rules(verdict) == ["unknown-region"]


def test_overlapping_edits(repo: GitRepo) -> None:
    verdict = validator(repo).judge_edits(
        [
            RegionEdit("train.py", "LEARNING_RATE", "LEARNING_RATE = 1e-3"),
            RegionEdit("train.py", "LEARNING_RATE", "LEARNING_RATE = 2e-3"),
        ]
    )
    assert rules(verdict) == ["overlapping-edits"]


def test_forbidden_import(repo: GitRepo) -> None:
    verdict = judge_text(repo, "train.py", "        h = x * 2", "        import numpy\n        h = x * 2")
    assert rules(verdict) == ["forbidden-import"]


def test_forbidden_import_allowed_by_policy(repo: GitRepo) -> None:
    repo.write("boundaries.toml", repo.read("boundaries.toml") + '\n[policy]\nallow_imports = ["numpy"]\n')
    verdict = judge_text(
        repo, "train.py", "        h = x * 2", "        import numpy.linalg\n        h = x * 2"
    )
    assert isinstance(verdict, Accepted)


def test_forbidden_statement(repo: GitRepo) -> None:
    verdict = judge_text(
        repo, "train.py", "    decay = weight_decay * 2", "    global STEPS\n    decay = weight_decay * 2"
    )
    assert rules(verdict) == ["forbidden-statement"]


@pytest.mark.parametrize(
    "name",
    [
        "eval",
        "exec",
        "open",
        "__import__",
        "os",
        "sys",
        "subprocess",
        "globals",
        "setattr",
        "breakpoint",
        "importlib",
        "__builtins__",
    ],
)
def test_forbidden_name(repo: GitRepo, name: str) -> None:
    verdict = judge_text(repo, "train.py", "h = x * 2", f"h = {name}")
    assert rules(verdict) == ["forbidden-name"]
    assert isinstance(verdict, Rejected)
    assert verdict.violations[0].line == 28


def test_forbidden_dunder_attribute(repo: GitRepo) -> None:
    verdict = judge_text(repo, "train.py", "h = x * 2", "h = x.__builtins__")
    assert rules(verdict) == ["forbidden-name"]


def test_forbidden_name_from_policy(repo: GitRepo) -> None:
    repo.write("boundaries.toml", repo.read("boundaries.toml") + '\n[policy]\nforbid_names = ["torch"]\n')
    verdict = judge_text(repo, "train.py", "h = x * 2", "h = torch.ones(1)")
    assert rules(verdict) == ["forbidden-name"]


def test_names_already_in_region_stay_allowed(repo: GitRepo) -> None:
    text = TRAIN_PY.replace("h = x * 2", "h = open('w') and x")
    repo.write("train.py", text)
    repo.commit("region uses open")
    verdict = judge_text(repo, "train.py", "h = open('w') and x", "h = open('v') and x * 3")
    assert isinstance(verdict, Accepted)


def test_empty_patch(repo: GitRepo) -> None:
    assert rules(validator(repo).judge_files({"train.py": TRAIN_PY})) == ["empty-patch"]
    assert rules(validator(repo).judge_diff("")) == ["empty-patch"]


def test_not_text(repo: GitRepo) -> None:
    (repo.root / "notes.md").write_bytes("caf\xe9\n".encode("latin-1"))
    repo.commit("latin-1 notes")
    verdict = validator(repo).judge_files({"notes.md": "cafe\n"})
    assert rules(verdict) == ["not-text"]


# -- region edits: the proposers' form ------------------------------------------------------


def test_region_edit_is_reindented_for_methods(repo: GitRepo) -> None:
    verdict = validator(repo).judge_edits(
        [RegionEdit("train.py", "GPT.forward", "def forward(self, x):\n    return x[:, -1] * 3\n")]
    )
    assert isinstance(verdict, Accepted)
    patched = verdict.changes[0].patched
    assert "    def forward(self, x):\n        return x[:, -1] * 3\n" in patched


def test_region_edits_in_one_file_apply_together(repo: GitRepo) -> None:
    verdict = validator(repo).judge_edits(
        [
            RegionEdit("train.py", "LEARNING_RATE", "LEARNING_RATE = 1e-3  # faster"),
            RegionEdit("train.py", "BETAS", "BETAS = (0.9, 0.99)"),
        ]
    )
    assert isinstance(verdict, Accepted)
    patched = verdict.changes[0].patched
    assert "LEARNING_RATE = 1e-3  # faster\nBETAS = (0.9, 0.99)\nWARMUP_STEPS = 100\n" in patched


def test_rejection_feedback_reads_as_a_list(repo: GitRepo) -> None:
    verdict = judge_text(repo, "train.py", "h = x * 2", "h = eval('x')")
    assert isinstance(verdict, Rejected)
    text = verdict.feedback()
    assert text.startswith("The patch was rejected (1 problem):")
    assert "train.py:28: [forbidden-name]" in text


def test_judged_against_a_commit_not_the_checkout(repo: GitRepo) -> None:
    diff = repo.diff_of("train.py", TRAIN_PY.replace("3e-4", "1e-3"))
    repo.write("train.py", TRAIN_PY.replace("3e-4", "5e-4"))  # an uncommitted edit
    commit = CommitSource(open_repo(repo.root), "HEAD")
    boundaries = load_boundaries(repo.root / "boundaries.toml", repo.root, commit)
    assert isinstance(Validator(boundaries, commit).judge_diff(diff), Accepted)
    assert isinstance(validator(repo).judge_diff(diff), Rejected)  # the working tree moved on


def test_nested_regions_class_and_method(repo: GitRepo, tmp_path: Path) -> None:
    repo.write(
        "boundaries.toml", repo.read("boundaries.toml").replace('"GPT.forward"', '"GPT", "GPT.forward"')
    )
    verdict = judge_text(repo, "train.py", "self.n_layer = n_layer", "self.n_layer = n_layer * 2")
    assert isinstance(verdict, Accepted)


@pytest.mark.parametrize(
    "expr",
    ["().__class__.__base__.__subclasses__()", "f.__globals__", "x.__builtins__", "type(x).__mro__"],
)
def test_forbidden_escape_attributes(repo: GitRepo, expr: str) -> None:
    verdict = judge_text(repo, "train.py", "h = x * 2", f"h = {expr}")
    assert set(rules(verdict)) == {"forbidden-name"}


def test_common_dunders_stay_allowed(repo: GitRepo) -> None:
    verdict = judge_text(repo, "train.py", "h = x * 2", "h = x.__class__.__name__ and super().__init__()")
    assert isinstance(verdict, Accepted)


@pytest.mark.parametrize("stmt", ["from os import path", "import torch.nn as nn", "from . import prepare"])
def test_every_import_form_is_caught(repo: GitRepo, stmt: str) -> None:
    verdict = judge_text(repo, "train.py", "        h = x * 2", f"        {stmt}\n        h = x * 2")
    assert rules(verdict) == ["forbidden-import"]


def test_whole_file_python_gets_the_policy_too(repo: GitRepo) -> None:
    repo.write("helpers.py", "def f():\n    return 1\n")
    repo.write("boundaries.toml", repo.read("boundaries.toml") + '\n[[allow]]\npath = "helpers.py"\n')
    repo.commit("helpers")
    assert isinstance(judge_text(repo, "helpers.py", "return 1", "return 2"), Accepted)
    assert rules(judge_text(repo, "helpers.py", "return 1", "return exec('1')")) == ["forbidden-name"]


def test_crlf_files_round_trip(repo: GitRepo) -> None:
    repo.git("config", "core.autocrlf", "false")
    (repo.root / "train.py").write_bytes(TRAIN_PY.replace("\n", "\r\n").encode())
    repo.commit("crlf")
    verdict = judge_text(repo, "train.py", "LEARNING_RATE = 3e-4", "LEARNING_RATE = 1e-3")
    assert isinstance(verdict, Accepted), verdict
