"""Running one benchmark process, bounded and observed; the only module that uses `subprocess`.

A benchmark runs in its own session (so its own process group): at the timeout or on
cancel the whole group gets SIGTERM, then after a grace period SIGKILL, and after any
exit the group is swept with SIGKILL so no grandchild outlives its run. Output is
streamed, never held whole: stdout is parsed for `name: value` lines as it arrives (last
occurrence wins; each value of the objective after a `step: N` line is also a point of the
run's curve, readable while it runs), and both streams go to a per-run log capped in size, keeping its head
and its tail. Timers, not polling, end a run, so a fast benchmark costs no waiting.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

_METRIC_LINE = re.compile(rb"^\s*([A-Za-z_][A-Za-z0-9_.\-/]*)\s*:\s*([-+0-9.eEinfatyINFATY]+)\s*$")
_SHELL = shutil.which("bash") or "/bin/sh"
_RECENT = 8192
MAX_CURVE_POINTS = 10_000  # a benchmark that reports every step keeps its first points and its last
STEP = "step"  # the metric-contract name of the intermediate-value step


@dataclass(frozen=True)
class Launch:
    command: str
    cwd: Path
    env: Mapping[str, str]
    timeout: float
    log_path: Path
    grace: float = 5.0
    log_head: int = 256 * 1024
    log_tail: int = 256 * 1024
    wrapper: tuple[str, ...] = ()  # a sandbox's argv, run with the shell and the command after it
    metric_pattern: tuple[str, str] | None = None  # (metric, regex with one group) for free-form output
    curve_metric: str | None = None  # the objective: its values after a `step:` line form the curve


@dataclass(frozen=True)
class ProcessOutcome:
    exit_code: int | None  # None: it never started
    seconds: float
    metrics: Mapping[str, float]
    timed_out: bool
    cancelled: bool
    log_path: Path
    log_tail: str
    output_bytes: int
    start_error: str | None = None
    curve: tuple[tuple[float, float], ...] = ()


def parse_metric_line(line: bytes) -> tuple[str, float] | None:
    match = _METRIC_LINE.match(line)
    if not match:
        return None
    try:
        return match.group(1).decode(), float(match.group(2))
    except ValueError:
        return None


def compile_pattern(pattern: str) -> re.Pattern[bytes]:
    return re.compile(pattern.encode())


def match_pattern(pattern: re.Pattern[bytes], line: bytes) -> float | None:
    """The number `pattern`'s group finds in `line` (searched anywhere in it), or None."""
    match = pattern.search(line)
    if match is None or match.group(1) is None:
        return None
    try:
        return float(match.group(1).decode(errors="replace").replace(",", ""))
    except ValueError:
        return None


def scan_metrics(
    lines: Iterable[bytes], patterns: Mapping[str, str] | None = None
) -> tuple[dict[str, list[tuple[int, float]]], dict[str, list[tuple[int, float]]]]:
    """Every metric value in a saved output, with its 1-based line: by `name: value` lines, and
    by each named `metric_pattern` (kept apart: a run reads both, `init --try` weighs them)."""
    compiled = {name: compile_pattern(p) for name, p in (patterns or {}).items()}
    named: dict[str, list[tuple[int, float]]] = {}
    matched: dict[str, list[tuple[int, float]]] = {}
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip(b"\r\n")
        found = parse_metric_line(line)
        if found is not None:
            named.setdefault(found[0], []).append((number, found[1]))
        for name, pattern in compiled.items():
            value = match_pattern(pattern, line)
            if value is not None:
                matched.setdefault(name, []).append((number, value))
    return named, matched


def read_log_tail(path: str | Path, limit: int) -> tuple[str, bool]:
    """The last `limit` bytes of a run's log, and whether anything before them was left out.

    Raises OSError when the log cannot be read."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - limit))
        return f.read().decode("utf-8", "replace"), size > limit


class _CappedLog:
    """Head written straight to disk, tail kept in memory, the middle counted and dropped."""

    def __init__(self, path: Path, head: int, tail: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.file: IO[bytes] = open(path, "wb")  # noqa: SIM115 - closed in close()
        self.head_left = head
        self.tail: deque[bytes] = deque()
        self.tail_size = 0
        self.tail_cap = tail
        self.dropped = 0
        self.total = 0
        self.recent = b""  # the last few KiB of everything, for error messages
        self.lock = threading.Lock()

    def write(self, chunk: bytes) -> None:
        with self.lock:
            self.total += len(chunk)
            self.recent = (self.recent + chunk[-_RECENT:])[-_RECENT:]
            if self.head_left > 0:
                part = chunk[: self.head_left]
                self.file.write(part)
                self.file.flush()
                self.head_left -= len(part)
                chunk = chunk[len(part) :]
            if not chunk:
                return
            self.tail.append(chunk)
            self.tail_size += len(chunk)
            while self.tail_size - len(self.tail[0]) >= self.tail_cap:
                gone = self.tail.popleft()
                self.tail_size -= len(gone)
                self.dropped += len(gone)

    def close(self) -> str:
        with self.lock:
            tail = b"".join(self.tail)
            if self.tail_size > self.tail_cap:
                cut = self.tail_size - self.tail_cap
                self.dropped += cut
                tail = tail[cut:]
            if self.dropped:
                self.file.write(b"\n[gitresearch: %d bytes of output omitted]\n" % self.dropped)
            self.file.write(tail)
            self.file.close()
        return self.recent.decode("utf-8", errors="replace")


class RunningProcess:
    """One benchmark process: start it, cancel it from any thread, wait for its outcome."""

    def __init__(self, launch: Launch) -> None:
        self.launch = launch
        self.log = _CappedLog(launch.log_path, launch.log_head, launch.log_tail)
        self.metrics: dict[str, float] = {}
        self.curve: list[tuple[float, float]] = []  # appended by the reader thread; read with `points()`
        self._step: float | None = None
        self._pattern = (
            (launch.metric_pattern[0], compile_pattern(launch.metric_pattern[1]))
            if launch.metric_pattern
            else None
        )
        self._partial = b""
        self._timed_out = False
        self._cancelled = False
        self._timers: list[threading.Timer] = []
        self._state = threading.Lock()
        self.started = time.monotonic()
        self.start_error: str | None = None
        argv: str | list[str] = launch.command
        if launch.wrapper:
            argv = [*launch.wrapper, _SHELL, "-c", launch.command]
        try:
            self.proc: subprocess.Popen[bytes] | None = subprocess.Popen(
                argv,
                shell=not launch.wrapper,
                executable=None if launch.wrapper else _SHELL,
                cwd=launch.cwd,
                env=dict(launch.env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            self.proc = None
            self.start_error = f"could not start `{launch.command}`: {exc}"
            return
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._readers = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, True), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, False), daemon=True),
        ]
        for reader in self._readers:
            reader.start()
        self._arm(launch.timeout, self._on_timeout)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def _arm(self, delay: float, action: object) -> None:
        timer = threading.Timer(delay, action)  # type: ignore[arg-type]
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def _pump(self, stream: IO[bytes], parse: bool) -> None:
        read = getattr(stream, "read1", stream.read)
        while True:
            chunk = read(65536)
            if not chunk:
                break
            self.log.write(chunk)
            if parse:
                self._parse(chunk)
        if parse and self._partial:
            self._parse(b"\n")

    def _parse(self, chunk: bytes) -> None:
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()[-65536:]  # a line without end is kept, but never unbounded
        for line in lines:
            if len(line) < 4096:
                line = line.rstrip(b"\r")
                found = parse_metric_line(line)
                if found is not None:
                    self.metrics[found[0]] = found[1]
                    if found[0] == STEP:
                        self._step = found[1]
                    elif found[0] == self.launch.curve_metric:
                        self._point(found[1])
                if self._pattern is not None:
                    value = match_pattern(self._pattern[1], line)
                    if value is not None:
                        self.metrics[self._pattern[0]] = value
                        if self._pattern[0] == self.launch.curve_metric:
                            self._point(value)

    def _point(self, value: float) -> None:
        """One intermediate value at the last reported step (a later value at the same step
        replaces it; a step that goes back is ignored: the curve is a function of the step)."""
        if self._step is None or not math.isfinite(self._step):
            return
        if self.curve and self.curve[-1][0] == self._step:
            self.curve[-1] = (self._step, value)
        elif not self.curve or self._step > self.curve[-1][0]:
            if len(self.curve) >= MAX_CURVE_POINTS:
                del self.curve[MAX_CURVE_POINTS // 2]  # thin the middle, keep the latest
            self.curve.append((self._step, value))

    def points(self) -> tuple[tuple[float, float], ...]:
        """The curve so far (safe from any thread: a copy of the list)."""
        return tuple(list(self.curve))

    def _signal(self, sig: int) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)

    def _on_timeout(self) -> None:
        with self._state:
            if self.proc is None or self.proc.returncode is not None:
                return
            self._timed_out = True
        self._terminate()

    def _terminate(self) -> None:
        self._signal(signal.SIGTERM)
        self._arm(self.launch.grace, lambda: self._signal(signal.SIGKILL))

    def cancel(self) -> None:
        with self._state:
            if self._cancelled or self._timed_out:
                return
            self._cancelled = True
        self._terminate()

    def wait(self) -> ProcessOutcome:
        if self.proc is None:
            tail = self.log.close()
            return ProcessOutcome(
                None, 0.0, {}, False, False, self.launch.log_path, tail, 0, self.start_error
            )
        code = self.proc.wait()
        seconds = time.monotonic() - self.started
        for timer in self._timers:
            timer.cancel()
        self._signal(signal.SIGKILL)  # sweep grandchildren left in the group
        for reader in self._readers:
            reader.join(timeout=5.0)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        tail = self.log.close()
        return ProcessOutcome(
            code,
            seconds,
            dict(self.metrics),
            self._timed_out,
            self._cancelled,
            self.launch.log_path,
            tail[-4000:],
            self.log.total,
            curve=self.points(),
        )


def query(argv: list[str], timeout: float = 10.0) -> tuple[int, str, str] | None:
    """Run a short helper program (nvidia-smi); None when it cannot be started or hangs."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.returncode, done.stdout, done.stderr
