"""What the loop hands out and gets back: jobs, results, and the executor protocol.

An executor runs benchmark jobs (a commit, a seed) on slots it owns and reports each
outcome as a value. The loop only ever talks to this protocol, so the local worktree pool
(`pool.LocalExecutor`) and the scripted executor of the tests
(`testing.fakeexec.ScriptedExecutor`) are interchangeable, as a remote one would be.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from gitresearch.notes import Purpose

FailureReason = Literal["crash", "timeout", "no-metric", "nan", "tampered", "cancelled", "setup", "pruned"]
Curve = tuple[tuple[float, float], ...]  # (step, value) of the objective as the benchmark reported it


@dataclass(frozen=True)
class Slot:
    index: int
    name: str  # "gpu0", "gpu1#2" (second job on GPU 1), "cpu0"
    gpu: str | None  # the CUDA_VISIBLE_DEVICES value for this slot; None: leave unset


@dataclass(frozen=True)
class Job:
    run: str
    experiment: int  # 0 is the run's base
    commit: str
    seed: int
    purpose: Purpose = "measure"

    @property
    def key(self) -> str:
        return f"{self.run}/{self.experiment:04d}/{self.purpose}/s{self.seed}"


@dataclass(frozen=True)
class Succeeded:
    job: Job
    slot: Slot
    metrics: Mapping[str, float]
    seconds: float
    log_path: Path
    log_tail: str
    curve: Curve = ()

    @property
    def ok(self) -> Literal[True]:
        return True


@dataclass(frozen=True)
class Failed:
    job: Job
    slot: Slot
    reason: FailureReason
    detail: str
    seconds: float
    exit_code: int | None
    metrics: Mapping[str, float]
    log_path: Path | None
    log_tail: str
    curve: Curve = ()

    @property
    def ok(self) -> Literal[False]:
        return False


RunResult = Succeeded | Failed


class Executor(Protocol):
    """Runs jobs on slots; results come back in completion order."""

    @property
    def slots(self) -> Sequence[Slot]: ...

    def free_slots(self) -> int:
        """How many more jobs `submit` accepts right now."""
        ...

    def submit(self, job: Job) -> Slot:
        """Start `job` on a free slot (raises RuntimeError when none is free)."""
        ...

    def running(self) -> Mapping[str, tuple[Job, Slot]]:
        """Jobs in flight by key."""
        ...

    def wait_any(self, timeout: float | None = None) -> list[RunResult]:
        """Block until at least one job finishes (or `timeout`); return every finished one."""
        ...

    def cancel(self, key: str) -> bool:
        """Stop a running job; its result arrives as Failed(reason="cancelled")."""
        ...

    def progress(self, key: str) -> Curve:
        """The intermediate values a running job has reported so far (empty when it reports
        none, or when this executor cannot see them while the job runs)."""
        ...

    def close(self) -> None:
        """Cancel what runs and wait for it; the executor is unusable afterwards."""
        ...
