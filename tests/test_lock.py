"""One run per repository: the lock, and taking over a dead process's lock."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gitresearch.errors import UsageError
from gitresearch.lock import RepoLock

HOLDER = """
import sys, time
from pathlib import Path
from gitresearch.lock import RepoLock
held = RepoLock(Path(sys.argv[1]), "other-run").acquire()
print("locked", flush=True)
time.sleep(600)
"""


def test_second_holder_is_refused_with_who_holds_it(tmp_path: Path) -> None:
    with RepoLock(tmp_path, "first"), pytest.raises(UsageError, match="run first, pid"):
        RepoLock(tmp_path, "second").acquire()
    with RepoLock(tmp_path, "third") as lock:
        assert lock.took_over is None


def test_lock_of_a_killed_process_is_taken_over(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    with pytest.raises(UsageError, match="other-run"):
        RepoLock(tmp_path, "mine").acquire()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(0.05)
    lock = RepoLock(tmp_path, "mine").acquire()
    try:
        assert (
            lock.took_over is not None
            and f"pid {proc.pid}" in lock.took_over
            and "other-run" in lock.took_over
        )
    finally:
        lock.release()
