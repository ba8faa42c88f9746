"""Judging an edit of a test repository's file, the way the validator tables do."""

from __future__ import annotations

from gitresearch.boundaries.resolve import load_boundaries
from gitresearch.boundaries.sources import DirectorySource
from gitresearch.boundaries.validator import Rejected, Validator, Verdict
from tests.helpers.repos import GitRepo


def validator(repo: GitRepo) -> Validator:
    source = DirectorySource(repo.root)
    return Validator(load_boundaries(repo.root / "boundaries.toml", repo.root, source), source)


def judge_text(repo: GitRepo, rel: str, before: str, after: str) -> Verdict:
    """Replace `before` with `after` in `rel` (exactly once) and judge the resulting git diff."""
    text = repo.read(rel)
    assert text.count(before) == 1, f"fixture text {before!r} must occur once in {rel}"
    return validator(repo).judge_diff(repo.diff_of(rel, text.replace(before, after)))


def rules(verdict: Verdict) -> list[str]:
    assert isinstance(verdict, Rejected), f"expected a rejection, got {verdict}"
    return [v.rule for v in verdict.violations]
