"""The local executor: a pool of git worktrees, one per slot, each job in its own thread.

Every job gets its slot's worktree reset to the job's commit (detached, leftovers of the
last job removed, `link` paths linked back to the user's checkout), an environment that
carries the seed, the GPU and the result-file path but never an LLM key, and a benchmark
process bounded by the runner. After the run the protected files in the worktree are
compared with the commit's blobs, so a benchmark that edits its own evaluation fails as
"tampered" whatever metric it printed. Results come back as values on one queue.
"""

from __future__ import annotations

import json
import math
import os
import queue
import shutil
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from gitresearch.boundaries.config import Config
from gitresearch.durations import format_duration
from gitresearch.execute.base import Curve, Failed, FailureReason, Job, RunResult, Slot, Succeeded
from gitresearch.execute.runner import Launch, ProcessOutcome, RunningProcess
from gitresearch.execute.sandbox import Spec, environment_paths, gpu_devices, sandbox_env, wrap
from gitresearch.store import Store, StoreError, blob_hash

# Variables that carry LLM credentials; the benchmark never sees them (DESIGN promise 6).
SECRET_VARIABLES = frozenset(
    [
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "AZURE_OPENAI_API_KEY",
        "GEMINI_API_KEY",
        "GOOGLE_API_KEY",
        "MISTRAL_API_KEY",
        "GROQ_API_KEY",
        "TOGETHER_API_KEY",
        "DEEPSEEK_API_KEY",
        "OPENROUTER_API_KEY",
        "FIREWORKS_API_KEY",
        "XAI_API_KEY",
        "COHERE_API_KEY",
    ]
)
# Variables that would point git commands inside the benchmark at the user's checkout.
GIT_REDIRECTS = frozenset({"GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY"})


@dataclass(frozen=True)
class PoolSettings:
    state_dir: Path  # .git/gitresearch
    source_root: Path  # the user's checkout, where `link` paths live
    protected: tuple[str, ...]  # protected files present in the base commit
    sandboxed: bool = False  # every job inside `execute.sandbox` (decided once, at start)
    links: tuple[str, ...] = ()  # [objective] link, globs expanded against source_root at start
    grace: float = 5.0
    log_head: int = 256 * 1024
    log_tail: int = 256 * 1024


def log_path_for(state_dir: Path, job: Job) -> Path:
    """A new log file for `job` under the run's logs (a rerun of the same job gets `-2`, ...)."""
    folder = state_dir / "logs" / job.run
    stem = f"{job.experiment:04d}-{job.purpose}-s{job.seed}"
    path, n = folder / f"{stem}.log", 1
    while path.exists():
        n += 1
        path = folder / f"{stem}-{n}.log"
    return path


def benchmark_env(
    config: Config, base: Mapping[str, str], job: Job, slot: Slot, result_path: Path
) -> dict[str, str]:
    secrets = set(SECRET_VARIABLES)
    if config.agent is not None and config.agent.api_key_env:
        secrets.add(config.agent.api_key_env)
    env = {k: v for k, v in base.items() if k not in secrets and k not in GIT_REDIRECTS}
    if slot.gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = slot.gpu
    env["GITRESEARCH_SEED"] = str(job.seed)
    if config.objective.seed_env:
        env[config.objective.seed_env] = str(job.seed)
    env["GITRESEARCH_RESULT"] = str(result_path)
    env["GITRESEARCH_EXPERIMENT"] = f"{job.run}/{job.experiment:04d}"
    env["GITRESEARCH_RUN"] = job.run
    env["GITRESEARCH_SLOT"] = slot.name
    env["GITRESEARCH_COMMIT"] = job.commit  # for benchmarks that used to ask git
    env["GITRESEARCH_OUTPUT"] = str(result_path.parent)  # where to write weights, predictions
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


class LocalExecutor:
    def __init__(
        self,
        store: Store,
        config: Config,
        slots: Sequence[Slot],
        settings: PoolSettings,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        if not slots:
            raise ValueError("an executor needs at least one slot")
        self.store = store
        self.config = config
        self._slots = tuple(slots)
        self.settings = settings
        self.environ = dict(os.environ if environ is None else environ)
        self._results: queue.Queue[RunResult] = queue.Queue()
        self._busy: dict[int, Job] = {}
        self._procs: dict[str, RunningProcess] = {}
        self._reporting: dict[str, RunningProcess] = {}  # the experiment's own process (not the scorer)
        self._cancelled: set[str] = set()
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        self._git_lock = threading.Lock()

    # -- the Executor protocol ------------------------------------------------------------

    @property
    def slots(self) -> Sequence[Slot]:
        return self._slots

    def free_slots(self) -> int:
        with self._lock:
            return len(self._slots) - len(self._busy)

    def running(self) -> Mapping[str, tuple[Job, Slot]]:
        with self._lock:
            return {job.key: (job, self._slots[i]) for i, job in self._busy.items()}

    def submit(self, job: Job) -> Slot:
        expected = self._expected_blobs(job.commit)
        with self._lock:
            if any(j.key == job.key for j in self._busy.values()):
                raise RuntimeError(f"job {job.key} is already running")
            free = [s for s in self._slots if s.index not in self._busy]
            if not free:
                raise RuntimeError("no free slot")
            slot = free[0]
            self._busy[slot.index] = job
            thread = threading.Thread(
                target=self._work, args=(job, slot, expected), daemon=True, name=f"gitresearch-{slot.name}"
            )
            self._threads[job.key] = thread
        thread.start()
        return slot

    def wait_any(self, timeout: float | None = None) -> list[RunResult]:
        try:
            first = self._results.get(timeout=timeout)
        except queue.Empty:
            return []
        done = [first]
        while True:
            try:
                done.append(self._results.get_nowait())
            except queue.Empty:
                break
        with self._lock:
            for result in done:
                self._threads.pop(result.job.key, None)
                self._busy.pop(result.slot.index, None)
        return done

    def cancel(self, key: str) -> bool:
        with self._lock:
            if not any(j.key == key for j in self._busy.values()):
                return False
            self._cancelled.add(key)
            proc = self._procs.get(key)
        if proc is not None:
            proc.cancel()
        return True

    def progress(self, key: str) -> Curve:
        with self._lock:
            proc = self._reporting.get(key)
        return proc.points() if proc is not None else ()

    def close(self) -> None:
        for key in list(self.running()):
            self.cancel(key)
        for thread in list(self._threads.values()):
            thread.join(timeout=self.settings.grace + 10)

    # -- one job --------------------------------------------------------------------------

    def _expected_blobs(self, commit: str) -> dict[str, str | None]:
        source = self.store.source(commit)
        return {path: source.blob_sha(path) for path in self.settings.protected}

    def worktree(self, slot: Slot) -> Path:
        return self.settings.state_dir / "worktrees" / f"slot-{slot.index}"

    def _work(self, job: Job, slot: Slot, expected: Mapping[str, str | None]) -> None:
        try:
            result = self._run(job, slot, expected)
        except Exception as exc:  # a broken environment must still come back as a result
            result = Failed(job, slot, "setup", f"{type(exc).__name__}: {exc}", 0.0, None, {}, None, "")
        with self._lock:
            self._procs.pop(job.key, None)
            self._reporting.pop(job.key, None)
            self._cancelled.discard(job.key)
        # The slot stays busy until wait_any hands the result out: a job is never neither
        # running nor collectable, so a caller that waits while running() is non-empty
        # never loses a result.
        self._results.put(result)

    def _run(self, job: Job, slot: Slot, expected: Mapping[str, str | None]) -> RunResult:
        tree = self.worktree(slot)
        problem = self._checkout(tree, job.commit)
        if problem is not None:
            return Failed(job, slot, "setup", problem, 0.0, None, {}, None, "")
        self._link(tree)
        scratch, out = self._job_dirs(slot)
        result_path = out / "result.json"
        env = benchmark_env(self.config, self.environ, job, slot, result_path)
        outcome = self._execute(
            job, slot, self.config.objective.command, tree, scratch, out, env, self._log_path(job)
        )
        if outcome is None:
            return Failed(job, slot, "cancelled", "cancelled before it started", 0.0, None, {}, None, "")
        tampered = self._tampered(tree, expected)
        file_metrics, file_problem = _read_result_file(result_path)
        scored = self.config.objective.score is not None
        result = _classify(
            job, slot, outcome, self.config, tampered, file_metrics, file_problem, need_metric=not scored
        )
        if not scored or not isinstance(result, Succeeded):
            return result
        return self._score(job, slot, result, out)

    def _score(self, job: Job, slot: Slot, ran: Succeeded, out: Path) -> RunResult:
        """The protected scorer, in a clean checkout of the job's commit and a sandbox of its own,
        reading the experiment's output folder (read-only) and the hidden paths: the objective
        comes from it alone; the experiment's own output keeps only its `record` metrics."""
        tree = self.settings.state_dir / "worktrees" / f"score-{slot.index}"
        problem = self._checkout(tree, job.commit)
        if problem is not None:
            detail = f"the scorer's checkout: {problem}"
            return Failed(job, slot, "setup", detail, ran.seconds, None, {}, None, "")
        root = self.settings.source_root.resolve()
        for rel in self.config.hidden:
            target, here = root / rel, tree / rel
            if target.exists() and not here.exists() and not here.is_symlink():
                here.parent.mkdir(parents=True, exist_ok=True)
                here.symlink_to(target, target_is_directory=target.is_dir())
        scratch, score_out = self._job_dirs(slot, "score")
        env = benchmark_env(self.config, self.environ, job, slot, score_out / "result.json")
        env["GITRESEARCH_OUTPUT"] = str(out)  # what the experiment wrote, read-only here
        log = ran.log_path.with_name(ran.log_path.stem + "-score.log")
        command = self.config.objective.score or ""
        outcome = self._execute(job, slot, command, tree, scratch, score_out, env, log, experiment_out=out)
        if outcome is None:
            return Failed(job, slot, "cancelled", "cancelled before scoring", ran.seconds, None, {}, None, "")
        file_metrics, file_problem = _read_result_file(score_out / "result.json")
        scored = _classify(job, slot, outcome, self.config, [], file_metrics, file_problem, need_metric=True)
        if isinstance(scored, Failed):
            return replace(
                scored,
                detail="the scorer: " + scored.detail,
                seconds=ran.seconds + scored.seconds,
                curve=ran.curve,
            )
        metric = self.config.objective.metric
        metrics = {k: v for k, v in ran.metrics.items() if k != metric} | {metric: scored.metrics[metric]}
        return replace(ran, metrics=metrics, seconds=ran.seconds + scored.seconds)

    def _execute(
        self,
        job: Job,
        slot: Slot,
        command: str,
        tree: Path,
        scratch: Path,
        out: Path,
        env: dict[str, str],
        log_path: Path,
        experiment_out: Path | None = None,
    ) -> ProcessOutcome | None:
        """Run `command` in `tree` (inside the sandbox when the run is sandboxed), cancellable
        while it runs; None when the job was cancelled before it could start. With
        `experiment_out` it runs as the scorer: hidden paths and that folder shown read-only."""
        wrapper: tuple[str, ...] = ()
        if self.settings.sandboxed:
            spec = self._spec(tree, slot, scratch, out, env, experiment_out=experiment_out)
            env = sandbox_env(env, spec)
            wrapper = tuple(wrap(spec))
        launch = Launch(
            command=command,
            cwd=tree,
            env=env,
            timeout=self.config.objective.timeout,
            log_path=log_path,
            grace=self.settings.grace,
            log_head=self.settings.log_head,
            log_tail=self.settings.log_tail,
            wrapper=wrapper,
            metric_pattern=(
                (self.config.objective.metric, self.config.objective.metric_pattern)
                if self.config.objective.metric_pattern
                else None
            ),
            curve_metric=self.config.objective.metric if experiment_out is None else None,
        )
        with self._lock:
            if job.key in self._cancelled:
                return None
            proc = RunningProcess(launch)
            self._procs[job.key] = proc
            if experiment_out is None:
                self._reporting[job.key] = proc
        return proc.wait()

    def _checkout(self, tree: Path, commit: str) -> str | None:
        """`tree` at `commit`, clean (made on first use); the problem when that fails."""
        try:
            if (tree / ".git").is_file():
                self.store.reset_worktree(tree, commit)
            else:
                with self._git_lock:
                    self.store.ensure_worktree(tree, commit)
        except StoreError as exc:
            return str(exc)
        return None

    def _job_dirs(self, slot: Slot, kind: str = "slot") -> tuple[Path, Path]:
        """A fresh scratch folder (home, tmp) and output folder for the slot's next job."""
        base = self.settings.state_dir / "jobs" / f"{kind}-{slot.index}"
        scratch, out = base / "scratch", base / "out"
        for folder in (scratch, out):
            shutil.rmtree(folder, ignore_errors=True)
        for folder in (scratch / "home", scratch / "tmp", out):
            folder.mkdir(parents=True)
        return scratch, out

    def _spec(
        self,
        tree: Path,
        slot: Slot,
        scratch: Path,
        out: Path,
        env: Mapping[str, str],
        *,
        experiment_out: Path | None = None,
    ) -> Spec:
        cache = self.settings.state_dir / "cache" / f"slot-{slot.index}"
        cache.mkdir(parents=True, exist_ok=True)
        root = self.settings.source_root.resolve()
        hide = [root, self.settings.state_dir.parent.resolve()]
        home = self.environ.get("HOME")
        if home and Path(home).is_absolute() and Path(home).resolve() != Path("/"):
            hide.append(Path(home).resolve())
        linked = [(root / rel).resolve() for rel in self.settings.links if (root / rel).exists()]
        hidden = [root / rel for rel in self.config.hidden]
        masked: list[Path] = []
        if experiment_out is not None:  # the scorer sees the hidden paths and the experiment's output
            linked += [p.resolve() for p in hidden if p.exists()]
            linked.append(experiment_out.resolve())
        else:  # the experiment never does, whether tracked in its worktree or under a link
            masked = [tree / rel for rel in self.config.hidden if (tree / rel).exists()]
            masked += [p for p in hidden if p.exists()]
        return Spec(
            worktree=tree.resolve(),
            scratch=scratch.resolve(),
            out=out.resolve(),
            cache=cache.resolve(),
            hide=hide,
            read_only=[*environment_paths(env), *linked],
            protected=[(tree / rel).resolve() for rel in self.settings.protected if (tree / rel).is_file()],
            network=self.config.objective.network,
            devices=gpu_devices() if slot.gpu is not None else (),
            masked=masked,
        )

    def _link(self, tree: Path) -> None:
        for rel in self.settings.links:
            target = self.settings.source_root / rel
            here = tree / rel
            if not target.exists() or here.exists() or here.is_symlink():
                continue
            here.parent.mkdir(parents=True, exist_ok=True)
            here.symlink_to(target.resolve(), target_is_directory=target.is_dir())

    def _log_path(self, job: Job) -> Path:
        return log_path_for(self.settings.state_dir, job)

    @staticmethod
    def _tampered(tree: Path, expected: Mapping[str, str | None]) -> list[str]:
        changed = []
        for rel, sha in expected.items():
            path = tree / rel
            try:
                actual = blob_hash(path.read_bytes()) if path.is_file() and not path.is_symlink() else None
            except OSError:
                actual = None
            if actual != sha:
                changed.append(rel)
        return changed


MAX_RESULT_BYTES = 1 << 20


def _read_result_file(path: Path) -> tuple[dict[str, float], str | None]:
    """The JSON object a job wrote; never a file it pointed at with a link, never more than 1 MiB."""
    if path.is_symlink() or (path.exists() and not path.is_file()):
        return (
            {},
            f"the result file {path.name} is a link or not a regular file; write the JSON object itself",
        )
    if not path.exists():
        return {}, None
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as handle:
            raw = handle.read(MAX_RESULT_BYTES + 1)
        if len(raw) > MAX_RESULT_BYTES:
            return {}, f"the result file {path.name} is larger than 1 MiB"
        data = json.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return {}, f"the result file {path.name} is not valid JSON: {exc}"
    if not isinstance(data, dict):
        return {}, f"the result file {path.name} holds a {type(data).__name__}, not a JSON object"
    metrics = {
        str(k): float(v) for k, v in data.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
    }
    return metrics, None


def _classify(
    job: Job,
    slot: Slot,
    outcome: ProcessOutcome,
    config: Config,
    tampered: list[str],
    file_metrics: Mapping[str, float],
    file_problem: str | None,
    *,
    need_metric: bool = True,
) -> RunResult:
    metric = config.objective.metric
    # Only the objective and the `record` names are kept, and only as finite numbers: whatever
    # else a benchmark prints (a key spelt one character per line) never reaches the notes.
    wanted = {metric, *config.objective.record}
    every = {**outcome.metrics, **file_metrics}
    metrics = {k: v for k, v in every.items() if k in wanted and (k == metric or math.isfinite(v))}

    def failed(reason: FailureReason, detail: str) -> Failed:
        return Failed(
            job,
            slot,
            reason,
            detail,
            outcome.seconds,
            outcome.exit_code,
            metrics,
            outcome.log_path,
            outcome.log_tail,
            outcome.curve,
        )

    if outcome.start_error is not None:
        return failed("setup", outcome.start_error)
    if outcome.cancelled:
        return failed("cancelled", "cancelled while running")
    if outcome.timed_out:
        return failed(
            "timeout",
            f"still running after the {format_duration(config.objective.timeout)} timeout; "
            "the process group was killed",
        )
    if tampered:
        return failed("tampered", "the benchmark changed protected file(s): " + ", ".join(tampered))
    if outcome.exit_code != 0:
        return failed("crash", f"exited with status {outcome.exit_code}")
    if file_problem is not None:
        return failed("no-metric", file_problem)
    if not need_metric:  # the scorer gives the objective; the experiment's own claim is dropped
        return Succeeded(
            job,
            slot,
            {k: v for k, v in metrics.items() if k != metric},
            outcome.seconds,
            outcome.log_path,
            outcome.log_tail,
            outcome.curve,
        )
    if metric not in metrics:
        names = sorted(n[:32] for n in every)
        seen = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "") or "none"
        return failed(
            "no-metric",
            f'no `{metric}: <number>` line on stdout and no "{metric}" in the '
            f"GITRESEARCH_RESULT file (metrics seen: {seen})",
        )
    if not math.isfinite(metrics[metric]):
        return failed("nan", f"{metric} is {metrics[metric]}")
    return Succeeded(job, slot, metrics, outcome.seconds, outcome.log_path, outcome.log_tail, outcome.curve)
