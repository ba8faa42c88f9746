"""One run per repository at a time.

An exclusive `flock` on `.git/gitresearch/lock` is the lock itself: the kernel drops it
when the holder dies, however it dies, so a lock can never be stale in effect. The file's
content (pid, host, run, start time) only serves the messages: who holds it, or whose
abandoned lock was taken over.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from gitresearch.errors import UsageError


class RepoLock:
    def __init__(self, state_dir: Path, run: str) -> None:
        self.path = state_dir / "lock"
        self.run = run
        self.handle: IO[str] | None = None
        self.took_over: str | None = None  # a message when a dead holder's lock was taken

    def acquire(self) -> RepoLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release()
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(handle)
            handle.close()
            raise UsageError(
                f"another gitresearch run holds this repository: run {holder.get('run', '?')}, "
                f"pid {holder.get('pid', '?')} on {holder.get('host', '?')}, since {holder.get('started', '?')}; "
                "wait for it, or stop it (Ctrl-C in its terminal, or `kill PID`)"
            ) from None
        previous = _read(handle)
        if previous.get("pid") and previous.get("pid") != os.getpid():
            self.took_over = (
                f"took over the lock left by pid {previous['pid']} (run {previous.get('run', '?')}), "
                "which is no longer running"
            )
        handle.seek(0)
        handle.truncate()
        json.dump(
            {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "run": self.run,
                "started": time.strftime("%Y-%m-%d %H:%M:%S"),
            },
            handle,
        )
        handle.flush()
        self.handle = handle
        return self

    def release(self) -> None:
        if self.handle is None:
            return
        with contextlib.suppress(OSError):
            self.handle.seek(0)
            self.handle.truncate()
            self.handle.flush()
        fcntl.flock(self.handle.fileno(), fcntl.LOCK_UN)
        self.handle.close()
        self.handle = None

    def __enter__(self) -> RepoLock:
        return self.acquire()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def is_held(state_dir: Path) -> bool:
    """Whether a live process holds the repository lock right now (nothing is taken)."""
    path = state_dir / "lock"
    if not path.exists():
        return False
    with open(path, encoding="utf-8") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return False


def _read(handle: IO[str]) -> dict[str, Any]:
    handle.seek(0)
    try:
        data = json.loads(handle.read() or "{}")
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}
