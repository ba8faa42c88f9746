"""The one exception tree of gitresearch.

Expected failures (a rejected patch, a crashed benchmark) are values, not exceptions.
Exceptions are kept for a broken environment or configuration, all under one root so the
command line can turn any of them into a clear message and an exit status::

    GitResearchError            exit 3 unless a subclass says otherwise
     ├── ConfigError            exit 2: boundaries.toml or an option is wrong
     └── UsageError             exit 2: the command was called in a way that cannot work
"""

from __future__ import annotations

from pathlib import Path


class GitResearchError(Exception):
    """Root of every error gitresearch raises on purpose."""

    exit_code = 3


class UsageError(GitResearchError):
    """The command cannot run as called (no repository, a file that exists, ...)."""

    exit_code = 2


class ConfigError(GitResearchError):
    """A mistake in a configuration file, located as precisely as we can."""

    exit_code = 2

    def __init__(
        self,
        path: Path | str,
        message: str,
        *,
        key: str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.path = str(path)
        self.key = key
        self.line = line
        self.message = message
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        head = f"{where}: " + (f"[{self.key}] " if self.key else "") + self.message
        return head if self.hint is None else f"{head}\n  hint: {self.hint}"
