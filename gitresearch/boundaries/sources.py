"""Where file contents come from: a protocol plus the working-tree implementation.

Configuration and validation read files through `FileSource` so the same code judges a
user's working tree (`gitresearch check`) and a commit's tree (`store.CommitSource`).
Paths are always repository-relative POSIX strings.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Protocol

# Folders no user means when they write a glob: tooling, caches and virtual environments.
SKIPPED_DIRS = frozenset(
    {
        ".git",
        ".venv",
        "venv",
        "env",
        "__pycache__",
        "node_modules",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
        ".hypothesis",
        ".tox",
        ".nox",
        "site-packages",
    }
)


class FileSource(Protocol):
    def files(self) -> Iterator[str]:
        """Every file path, repository-relative, POSIX separators."""
        ...

    def read_bytes(self, path: str) -> bytes | None:
        """The file's bytes, or None when it does not exist."""
        ...


class DirectorySource:
    """Files of a directory on disk (a checkout or a worktree)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def files(self) -> Iterator[str]:
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS)
            rel = Path(dirpath).relative_to(self.root)
            for name in sorted(filenames):
                yield (rel / name).as_posix()

    def read_bytes(self, path: str) -> bytes | None:
        full = self.root / path
        if not full.is_file():
            return None
        return full.read_bytes()


def find_repo_root(start: Path) -> Path | None:
    """The nearest folder at or above `start` holding `.git` (a directory or a worktree file)."""
    here = start.resolve()
    for folder in (here, *here.parents):
        if (folder / ".git").exists():
            return folder
    return None


def normalize_relpath(path: str) -> str | None:
    """A clean repo-relative path, or None when it is absolute or escapes the repository."""
    if not path or path.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", path):
        return None
    parts: list[str] = []
    for part in path.replace("\\", "/").split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
            continue
        parts.append(part)
    return "/".join(parts) if parts else None


@lru_cache(maxsize=512)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """Translate a path glob (`*`, `?`, `[abc]`, `**` across folders) into a regex."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif ch == "*":
            out.append("[^/]*")
            i += 1
        elif ch == "?":
            out.append("[^/]")
            i += 1
        elif ch == "[":
            close = pattern.find("]", i + 1)
            if close == -1:
                out.append(re.escape(ch))
                i += 1
            else:
                body = pattern[i + 1 : close].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = close + 1
        else:
            out.append(re.escape(ch))
            i += 1
    return re.compile("".join(out) + r"\Z")


def glob_match(pattern: str, path: str) -> bool:
    """Whether repo-relative `path` matches `pattern`; a folder pattern covers what is inside."""
    clean = pattern.rstrip("/")
    return bool(glob_regex(clean).match(path)) or path.startswith(clean + "/")


def is_glob(pattern: str) -> bool:
    return any(ch in pattern for ch in "*?[")


def expand_links(root: Path, patterns: Sequence[str]) -> tuple[list[str], list[str]]:
    """[objective] link entries against the checkout at `root`: the relative paths they name
    (globs expanded, `.git` never), and the entries that name nothing there."""
    found: list[str] = []
    missing: list[str] = []
    for pattern in patterns:
        if is_glob(pattern):
            hits = sorted(
                p.relative_to(root).as_posix()
                for p in root.glob(pattern)
                if ".git" not in p.relative_to(root).parts
            )
        else:
            hits = [pattern] if (root / pattern).exists() or (root / pattern).is_symlink() else []
        if not hits:
            missing.append(pattern)
        found.extend(h for h in hits if h not in found)
    return found, missing
