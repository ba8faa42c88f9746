"""Session-wide settings and the shared `repo` fixture (helpers live in tests/helpers/)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.repos import BOUNDARIES, GIT_ENV, PREPARE_PY, TRAIN_PY, GitRepo, make_repo


@pytest.fixture(autouse=True, scope="session")
def git_identity() -> Iterator[None]:
    """Every git process of the session (ours and the ones gitresearch starts) commits as the tests."""
    saved = {k: os.environ.get(k) for k in GIT_ENV}
    os.environ.update(GIT_ENV)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[GitRepo]:
    yield make_repo(
        tmp_path / "repo",
        {
            "train.py": TRAIN_PY,
            "prepare.py": PREPARE_PY,
            "notes.md": "# notes\n",
            "data.txt": "abc\n",
            "boundaries.toml": BOUNDARIES,
        },
    )
