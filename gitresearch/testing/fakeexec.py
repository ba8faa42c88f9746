"""A scripted executor: the metric is a function of the job, and nothing is run.

The loop's decisions, budgets, re-application and resume are tested through this fake in
milliseconds, with the real store, ledger, proposers and validator around it: `score`
receives each `Job` (its commit and seed; read the commit's code with `store.source`) and
returns the metrics, or a `Crash` for a failed run. `seconds` delays a result (a float, or
a function of the job), so that jobs overlap on several slots as they do on GPUs; the
delay is real time, and results come back in completion order like the local pool's.
`curve` gives a job's whole curve of intermediate values, (step, value) pairs: while the job
runs, `progress` shows the points whose step is within the elapsed share of its delay (the
last step at the end), as a benchmark that reports evenly through its run would.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from gitresearch.execute.base import Curve, Failed, FailureReason, Job, RunResult, Slot, Succeeded


@dataclass(frozen=True)
class Crash:
    """What `score` returns for a run that fails."""

    detail: str = "exit code 1"
    reason: FailureReason = "crash"


Score = Callable[[Job], "Mapping[str, float] | float | Crash"]


class ScriptedExecutor:
    def __init__(
        self,
        score: Score,
        log_dir: Path,
        *,
        metric: str = "loss",
        slots: int = 1,
        seconds: float | Callable[[Job], float] = 0.0,
        curve: Callable[[Job], Curve] | None = None,
    ) -> None:
        self.score, self.metric = score, metric
        self.log_dir = log_dir
        log_dir.mkdir(parents=True, exist_ok=True)
        self._slots = [Slot(i, f"fake{i}", None) for i in range(slots)]
        self._seconds = seconds
        self._curve = curve
        self._curves: dict[str, Curve] = {}
        self._running: dict[str, tuple[Job, Slot, float, float]] = {}  # key -> job, slot, due, delay
        self._cancelled: set[str] = set()
        self._wake = threading.Condition()
        self.submitted: list[Job] = []  # every job, in order: what a test asserts on

    @property
    def slots(self) -> Sequence[Slot]:
        return self._slots

    def free_slots(self) -> int:
        return len(self._slots) - len(self._running)

    def submit(self, job: Job) -> Slot:
        busy = {slot.index for _, slot, _, _ in self._running.values()}
        free = [s for s in self._slots if s.index not in busy]
        if not free:
            raise RuntimeError("no free slot")
        delay = self._seconds(job) if callable(self._seconds) else self._seconds
        self._running[job.key] = (job, free[0], time.monotonic() + delay, delay)
        if self._curve is not None:
            self._curves[job.key] = tuple(self._curve(job))
        self.submitted.append(job)
        return free[0]

    def running(self) -> Mapping[str, tuple[Job, Slot]]:
        return {key: (job, slot) for key, (job, slot, _, _) in self._running.items()}

    def wait_any(self, timeout: float | None = None) -> list[RunResult]:
        until = None if timeout is None else time.monotonic() + timeout
        with self._wake:
            while True:
                now = time.monotonic()
                done = [
                    k for k, (_, _, due, _) in self._running.items() if due <= now or k in self._cancelled
                ]
                if done or not self._running:
                    break
                soonest = min(due for _, _, due, _ in self._running.values())
                wait = soonest - now if until is None else min(soonest, until) - now
                if wait <= 0:
                    break
                self._wake.wait(wait)
        return [self._finish(key) for key in sorted(done, key=lambda k: self._running[k][2])]

    def cancel(self, key: str) -> bool:
        if key not in self._running:
            return False
        with self._wake:
            self._cancelled.add(key)
            self._wake.notify_all()
        return True

    def progress(self, key: str) -> Curve:
        if key not in self._running:
            return ()
        _, _, due, delay = self._running[key]
        return self._so_far(key, due, delay)

    def _so_far(self, key: str, due: float, delay: float) -> Curve:
        curve = self._curves.get(key, ())
        if not curve:
            return ()
        share = 1.0 if delay <= 0 else min(1.0, (time.monotonic() - (due - delay)) / delay)
        return tuple(p for p in curve if p[0] <= share * curve[-1][0])

    def close(self) -> None:
        for key in list(self._running):
            self.cancel(key)
        self.wait_any(timeout=0)

    def _finish(self, key: str) -> RunResult:
        job, slot, due, delay = self._running.pop(key)
        log = self.log_dir / f"{key.replace('/', '_')}.log"
        seconds = max(0.0, time.monotonic() - (due - delay))
        so_far = self._so_far(key, due, delay)
        full = self._curves.pop(key, ())
        if key in self._cancelled:
            self._cancelled.discard(key)
            log.write_text("cancelled\n")
            return Failed(job, slot, "cancelled", "cancelled by the loop", seconds, None, {}, log, "", so_far)
        outcome = self.score(job)
        if isinstance(outcome, Crash):
            text = f"Traceback (most recent call last):\nRuntimeError: {outcome.detail}\n"
            log.write_text(text)
            return Failed(job, slot, outcome.reason, outcome.detail, seconds, 1, {}, log, text)
        metrics = {self.metric: float(outcome)} if isinstance(outcome, (int, float)) else dict(outcome)
        text = "---\n" + "".join(f"{k}: {v}\n" for k, v in metrics.items())
        log.write_text(text)
        return Succeeded(job, slot, metrics, seconds, log, text, full)
