"""The git side of gitresearch, and the only module that imports GitPython.

For now it reads commits: a `CommitSource` serves a commit's tree through the same
`FileSource` protocol as a working tree, so patches are judged against exactly the commit
an experiment starts from, whatever the user's uncommitted edits.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import git
from gitdb.exc import BadName, BadObject

from gitresearch.errors import UsageError


class CommitSource:
    """The files of one commit, read from the object database (nothing is checked out)."""

    def __init__(self, repo: git.Repo, rev: str) -> None:
        try:
            self.commit = repo.commit(rev)
        except (BadName, BadObject, ValueError) as exc:
            raise UsageError(f'no commit named "{rev}" in {repo.working_dir}: {exc}') from None
        self._tree = self.commit.tree

    @property
    def hexsha(self) -> str:
        return str(self.commit.hexsha)

    def files(self) -> Iterator[str]:
        for item in self._tree.traverse():
            if isinstance(item, git.Blob):
                yield str(item.path)

    def read_bytes(self, path: str) -> bytes | None:
        try:
            blob = self._tree / path
        except KeyError:
            return None
        if not isinstance(blob, git.Blob):
            return None
        data: bytes = blob.data_stream.read()
        return data


def open_repo(root: Path) -> git.Repo:
    try:
        return git.Repo(root)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise UsageError(f"{root} is not a git repository") from None


def head_source(root: Path, rev: str = "HEAD") -> CommitSource | None:
    """The commit `rev` as a file source, or None in a repository without commits yet."""
    repo = open_repo(root)
    if rev == "HEAD" and not repo.head.is_valid():
        return None
    return CommitSource(repo, rev)
