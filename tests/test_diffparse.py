"""Unified diffs as git writes them: parsing and strict application."""

from __future__ import annotations

import pytest

from gitresearch.boundaries.diffparse import apply_hunks, parse_diff
from tests.helpers.repos import GitRepo


def roundtrip(repo: GitRepo, rel: str, new: str) -> None:
    original = repo.read(rel)
    diff = repo.diff_of(rel, new)
    patches, problems = parse_diff(diff)
    assert problems == []
    (patch,) = patches
    assert patch.path == rel
    patched, problem = apply_hunks(original, patch.hunks)
    assert problem is None
    assert patched == new


@pytest.mark.parametrize(
    "new",
    [
        "line 1\nline 2 changed\nline 3\n",  # one hunk
        "line 1\nline 2\nline 3",  # drop the final newline
        "head\n" + "line 1\nline 2\nline 3\n" + "tail\n",  # add at both ends
        "",  # empty the file
    ],
    ids=["modify", "no-newline-at-eof", "both-ends", "emptied"],
)
def test_git_diffs_round_trip(repo: GitRepo, new: str) -> None:
    repo.write("f.txt", "line 1\nline 2\nline 3\n")
    repo.commit("f")
    roundtrip(repo, "f.txt", new)


def test_add_final_newline_round_trips(repo: GitRepo) -> None:
    repo.write("f.txt", "a\nb")
    repo.commit("f")
    roundtrip(repo, "f.txt", "a\nb\n")


def test_many_hunks(repo: GitRepo) -> None:
    lines = [f"line {i}\n" for i in range(100)]
    repo.write("f.txt", "".join(lines))
    repo.commit("f")
    lines[3], lines[50], lines[97] = "three\n", "fifty\n", "ninety-seven\n"
    roundtrip(repo, "f.txt", "".join(lines))


def test_quoted_path_with_spaces(repo: GitRepo) -> None:
    repo.write("my file.txt", "a\n")
    repo.commit("spaces")
    diff = repo.diff_of("my file.txt", "b\n")
    patches, problems = parse_diff(diff)
    assert problems == [] and patches[0].path == "my file.txt"


def test_plain_diff_u_with_timestamps() -> None:
    diff = (
        "--- train.py\t2026-01-01 10:00:00.000000000 +0000\n"
        "+++ train.py\t2026-01-02 10:00:00.000000000 +0000\n"
        "@@ -1,2 +1,2 @@\n-a\n+b\n c\n"
    )
    patches, problems = parse_diff(diff)
    assert problems == [] and patches[0].path == "train.py"
    assert apply_hunks("a\nc\n", patches[0].hunks) == ("b\nc\n", None)


def test_format_patch_preamble_and_signature() -> None:
    diff = (
        "From 123 Mon Sep 17 00:00:00 2001\nSubject: [PATCH] tweak\n\n---\n train.py | 2 +-\n\n"
        "diff --git a/train.py b/train.py\nindex 1..2 100644\n--- a/train.py\n+++ b/train.py\n"
        "@@ -1 +1 @@\n-a\n+b\n-- \n2.39.5\n"
    )
    patches, problems = parse_diff(diff)
    assert problems == [] and len(patches) == 1 and len(patches[0].hunks) == 1


def test_a_diff_hidden_after_the_signature_is_refused() -> None:
    """git apply reads past a `-- ` line; a file diff after it must not escape judgement."""
    diff = (
        "diff --git a/train.py b/train.py\n--- a/train.py\n+++ b/train.py\n@@ -1 +1 @@\n-a\n+b\n-- \n2.39.5\n"
        "diff --git a/prepare.py b/prepare.py\n--- a/prepare.py\n+++ b/prepare.py\n@@ -1 +1 @@\n-x\n+y\n"
    )
    _, problems = parse_diff(diff)
    assert problems and "after the `-- ` signature line" in problems[0].message and problems[0].diff_line == 9


def test_hunk_that_does_not_match_reports_the_line() -> None:
    patches, _ = parse_diff("--- a/f\n+++ b/f\n@@ -2 +2 @@\n-x\n+y\n")
    text, problem = apply_hunks("a\nb\n", patches[0].hunks)
    assert text is None and problem is not None
    assert "at line 2 the patch expects 'x' but the file has 'b'" in problem.message


@pytest.mark.parametrize(
    ("diff", "fragment"),
    [
        ("@@ -1 +1 @@\n-a\n+b\n", "hunk header before any file header"),
        ("--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n-a\n+b\n", "hunk ends early"),
        ("--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n+c\n", "unexpected line after a hunk"),
        ("--- a/f\n+++ b/f\n@@ -1 +1 @@\n*a\n+b\n", "does not start with"),
        ("--- a/f\n+++ b/f\n@@ bogus @@\n-a\n", "malformed hunk header"),
        ("diff --git a/f b/f\nindex 1..2 100644\n", "file header without any hunk"),
    ],
)
def test_malformed_diffs_are_problems_not_exceptions(diff: str, fragment: str) -> None:
    _, problems = parse_diff(diff)
    assert problems and fragment in problems[0].message
