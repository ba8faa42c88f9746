"""The live display of a running search, on stderr.

Events (an experiment accepted, a failure, the base's noise) are printed as timestamped
lines. On a terminal, one status line below them is redrawn every second: experiments
done of the budget, time left, the best so far with its gain, and what each slot runs.
When stderr is not a terminal (a log file, CI) the status line is printed every 30 s.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from gitresearch.durations import format_duration
from gitresearch.loop import Snapshot


class Progress:
    def __init__(self, stream: TextIO | None = None, every: float | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.every = every if every is not None else (1.0 if self.tty else 30.0)
        self.last = 0.0
        self.status = ""

    def event(self, line: str) -> None:
        self._clear()
        self.stream.write(time.strftime("%H:%M:%S ") + line + "\n")
        self._draw()

    def tick(self, render: Callable[[], str]) -> None:
        now = time.monotonic()
        if now - self.last < self.every:
            return
        self.last = now
        self.status = render()
        if self.tty:
            self._clear()
            self._draw()
        else:
            self.stream.write(time.strftime("%H:%M:%S ") + self.status + "\n")
            self.stream.flush()

    def close(self) -> None:
        self._clear()
        self.status = ""

    def _clear(self) -> None:
        if self.tty and self.status:
            self.stream.write("\r\x1b[2K")

    def _draw(self) -> None:
        if self.tty and self.status:
            self.stream.write(self.status[:200])
        self.stream.flush()


WAITING_SHOWN = 10.0  # seconds: a slow model (grammar-constrained decoding can crawl) shows in the line


def status_line(snap: Snapshot) -> str:
    done, budget, seconds_left, llm_usd = snap.done, snap.budget, snap.seconds_left, snap.llm_usd
    metric, best, gain, best_number = snap.metric, snap.best, snap.gain, snap.best_number
    running, slots, started = snap.running, snap.slots, snap.started
    parts = [f"[{done}/{budget}]", f"{format_duration(max(seconds_left, 0))} left"]
    if llm_usd is not None:
        parts.append(f"LLM ${llm_usd:.3f}")
    if snap.waiting_s is not None and snap.waiting_s >= WAITING_SHOWN:
        parts.append(f"waiting {format_duration(snap.waiting_s)} for the model")
    if best is not None:
        where = f"#{best_number:04d}" if best_number else "base"
        parts.append(
            f"best {metric} {best:.4g} ({where}, better by {gain:.3g})"
            if gain
            else f"best {metric} {best:.4g} ({where})"
        )
    busy = {slot.name: job for job, slot in running.values()}
    for slot in slots:
        job = busy.get(slot.name)
        if job is None:
            parts.append(f"{slot.name}: idle")
        else:
            label = "base" if job.experiment == 0 else f"#{job.experiment:04d}"
            now = time.time()
            age = max(0.0, now - started.get(job.key, now))
            step = snap.steps.get(job.key)
            at = f" step {step:g}" if step is not None else ""
            parts.append(f"{slot.name}: {label} {job.purpose} s{job.seed}{at} {format_duration(age)}")
    return " | ".join(parts)
