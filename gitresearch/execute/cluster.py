"""Benchmark jobs on a Ray cluster (`[budget] executor = "ray"`), git still the one record.

The search loop, the decisions, the ledger and every git write stay on the machine that runs
`gitresearch start`; only jobs travel. A job is a Ray task that carries the commit it must
run as git objects: the run's base once per node (a bundle put in Ray's object store, so
each node fetches it once), and for each job a thin bundle of its commit over the base (a
few kilobytes). On the node the task keeps a clone per run under `[cluster] cache`, brings
the commit in, and runs the job with the same code as a local run (`LocalExecutor` with one
slot): the sandbox, protected files, the scorer and linked data (which must exist at the
same path on every node) apply exactly as they do locally. The result comes back as a
value (metrics, timing, the log, capped) and is recorded like a local one; the slot's name
says which node ran it (`ray2@10.0.0.7`). While a job runs, its node posts the job's curve
of intermediate values to the driver's `CurveBoard` actor, so early stopping works here too.

Faults: a node that dies mid-job makes Ray run the task again elsewhere (`max_retries`),
and the loop sees one result; Ctrl-C cancels the remote tasks (the node's process group is
killed); a killed `start` takes its tasks with it (Ray ends a dead driver's tasks) and
`start --resume` runs again what had no result. An unreachable cluster is a usage error.

Only this module imports Ray (`pip install gitresearch[ray]`).
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from gitresearch.boundaries.config import Config
from gitresearch.errors import UsageError
from gitresearch.execute.base import Curve, Failed, Job, RunResult, Slot, Succeeded
from gitresearch.execute.local import LocalExecutor, PoolSettings, log_path_for
from gitresearch.store import Store, init_cache_repo

MAX_LOG = 1024 * 1024  # bytes of a job's log that come back
MAX_RETRIES = 2  # a job whose node died runs again elsewhere, this many times at most
CURVE_EVERY = 0.5  # seconds: how often a node sends a running job's curve, and the driver reads them


@dataclass(frozen=True)
class Shipment:
    """Everything a node needs to run one job, as values."""

    config: Config
    job: Job
    slot: Slot
    run_base: str
    base_bundle: list[Any]  # [ObjectRef]: a list, so Ray hands the ref over and not the bytes
    bundle: bytes  # the job's commit over the base ("" for the base itself)
    protected: tuple[str, ...]
    links: tuple[str, ...]
    source_root: str  # where `link` paths live, the same on every node
    sandboxed: bool
    cache: str
    board: Any = None  # the driver's CurveBoard actor: where the job's curve goes while it runs


class CurveBoard:
    """A Ray actor on the driver's side: nodes post each running job's curve of intermediate
    values, the driver reads them all at once (for early stopping, as it does locally)."""

    def __init__(self) -> None:
        self.curves: dict[str, Curve] = {}

    def put(self, key: str, curve: Curve) -> None:
        self.curves[key] = curve

    def drop(self, key: str) -> None:
        self.curves.pop(key, None)

    def all(self) -> dict[str, Curve]:
        return dict(self.curves)


@dataclass(frozen=True)
class Returned:
    result: RunResult
    node: str
    log: bytes


def ray_module() -> Any:
    try:
        import ray
    except ImportError:
        raise UsageError(
            '[budget] executor = "ray" needs Ray: pip install "gitresearch[ray]" (or pip install ray)'
        ) from None
    return ray


def connect(address: str) -> Any:
    """Join the cluster at `address` as a driver; UsageError when it cannot be reached."""
    ray = ray_module()
    if ray.is_initialized():
        return ray
    _reachable(address)
    try:
        ray.init(address=address, logging_level="ERROR", log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise UsageError(
            f'cannot reach the Ray cluster at "{address}" ({str(exc).splitlines()[0]}); start one '
            "with `ray start --head`, or fix [cluster] address (docs/cluster.md)"
        ) from None
    return ray


def _reachable(address: str) -> None:
    """A host:port that answers nothing fails in seconds here, not after Ray's minute of retries."""
    if address in ("auto", "local", ""):
        return
    hostport = address.removeprefix("ray://")
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():
        return
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=5):
            pass
    except OSError as exc:
        raise UsageError(
            f'cannot reach the Ray cluster at "{address}" ({exc.strerror or exc}); start one with '
            "`ray start --head`, or fix [cluster] address (docs/cluster.md)"
        ) from None


def describe(ray: Any) -> str:
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    total = ray.cluster_resources()
    return (
        f"Ray cluster: {len(nodes)} node(s), {total.get('CPU', 0):g} CPU(s), {total.get('GPU', 0):g} GPU(s)"
    )


def plan(config: Config, ray: Any) -> list[Slot]:
    """As many slots as `[cluster] jobs`, or as the cluster's resources hold jobs."""
    c = config.cluster
    jobs = c.jobs
    if jobs <= 0:
        total = ray.cluster_resources()
        fits = [
            total.get(name, 0.0) / need
            for name, need in (("GPU", c.gpus_per_job), ("CPU", c.cpus_per_job))
            if need > 0
        ]
        jobs = max(1, math.floor(min(fits))) if fits else 1
    return [Slot(i, f"ray{i}", None) for i in range(jobs)]


class RayExecutor:
    """The Executor protocol over Ray tasks."""

    def __init__(self, store: Store, config: Config, settings: PoolSettings, run_base: str, ray: Any) -> None:
        self.store = store
        self.config = config
        self.settings = settings
        self.run_base = run_base
        self.ray = ray
        self._slots = tuple(plan(config, ray))
        self._task = ray.remote(
            num_cpus=config.cluster.cpus_per_job,
            num_gpus=config.cluster.gpus_per_job,
            max_retries=MAX_RETRIES,
            retry_exceptions=False,
        )(run_shipment)
        self._base_ref = ray.put(store.bundle(run_base))
        self._refs: dict[Any, tuple[Job, Slot]] = {}
        self._lock = threading.Lock()
        self._board = ray.remote(num_cpus=0)(CurveBoard).remote()
        self._curves: dict[str, Curve] = {}
        self._read = 0.0
        self._submitted: dict[str, float] = {}  # job key -> when it was handed to Ray

    @property
    def slots(self) -> Sequence[Slot]:
        return self._slots

    def free_slots(self) -> int:
        with self._lock:
            return len(self._slots) - len(self._refs)

    def running(self) -> Mapping[str, tuple[Job, Slot]]:
        with self._lock:
            return {job.key: (job, slot) for job, slot in self._refs.values()}

    def submit(self, job: Job) -> Slot:
        bundle = b"" if job.commit == self.run_base else self.store.bundle(job.commit, self.run_base)
        with self._lock:
            busy = {slot.index for _, slot in self._refs.values()}
            free = [s for s in self._slots if s.index not in busy]
            if not free:
                raise RuntimeError("no free slot")
            slot = free[0]
            shipment = Shipment(
                config=self.config,
                job=job,
                slot=slot,
                run_base=self.run_base,
                base_bundle=[self._base_ref],
                bundle=bundle,
                protected=self.settings.protected,
                links=self.settings.links,
                source_root=str(self.settings.source_root.resolve()),
                sandboxed=self.settings.sandboxed,
                cache=self.config.cluster.cache,
                board=self._board,
            )
            self._refs[self._task.remote(shipment)] = (job, slot)
            self._submitted[job.key] = time.monotonic()
        return slot

    def wait_any(self, timeout: float | None = None) -> list[RunResult]:
        with self._lock:
            refs = list(self._refs)
        if not refs:
            return []
        ready, _ = self.ray.wait(refs, num_returns=1, timeout=timeout)
        if not ready:
            return []
        ready, _ = self.ray.wait(refs, num_returns=len(refs), timeout=0)
        out = []
        for ref in ready:
            with self._lock:
                job, slot = self._refs.pop(ref)
            out.append(self._collect(ref, job, slot))
        return out

    def _collect(self, ref: Any, job: Job, slot: Slot) -> RunResult:
        since = time.monotonic() - self._submitted.pop(job.key, time.monotonic())
        try:
            returned: Returned = self.ray.get(ref)
        except self.ray.exceptions.TaskCancelledError:
            curve = self._curves.pop(job.key, ())  # what the node last posted
            return Failed(job, slot, "cancelled", "cancelled", since, None, {}, None, "", curve)
        except self.ray.exceptions.RayError as exc:
            detail = str(exc).strip().splitlines()[-1][:500] if str(exc).strip() else type(exc).__name__
            return Failed(job, slot, "setup", f"the Ray task failed: {detail}", 0.0, None, {}, None, "")
        result = returned.result
        self._curves.pop(job.key, None)
        self._board.drop.remote(job.key)
        named = replace(slot, name=f"{slot.name}@{returned.node}")
        log_path = log_path_for(self.settings.state_dir, job)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_bytes(returned.log)
        if isinstance(result, Succeeded):
            return replace(result, slot=named, log_path=log_path)
        return replace(result, slot=named, log_path=log_path if returned.log else None)

    def cancel(self, key: str) -> bool:
        with self._lock:
            found = [ref for ref, (job, _) in self._refs.items() if job.key == key]
        for ref in found:
            self.ray.cancel(ref, force=False)  # KeyboardInterrupt on the node: it kills its group
        return bool(found)

    def progress(self, key: str) -> Curve:
        """The curve the job's node last posted (read from the board at most every
        CURVE_EVERY seconds, all jobs at once)."""
        now = time.monotonic()
        if now - self._read >= CURVE_EVERY:
            self._read = now
            with contextlib.suppress(Exception):  # a slow or lost board only delays a stop
                self._curves = self.ray.get(self._board.all.remote(), timeout=5)
        return self._curves.get(key, ())

    def close(self) -> None:
        with self._lock:
            refs = list(self._refs)
        for ref in refs:
            self.ray.cancel(ref, force=False)
        if refs:
            self.ray.wait(refs, num_returns=len(refs), timeout=30)
        with contextlib.suppress(Exception):
            self.ray.kill(self._board)


# -- on the node --------------------------------------------------------------------------


def run_shipment(shipment: Shipment) -> Returned:
    """One job on this node: the run's clone brought up to the job's commit, then the job run
    as a local one, on one slot (the GPUs Ray gave the task)."""
    s = shipment
    node = socket.gethostname()
    with contextlib.suppress(Exception):
        import ray

        # host and node: two raylets on one machine share the host, never the node id
        node = f"{ray.util.get_node_ip_address()}/{ray.get_runtime_context().get_node_id()[:6]}"  # type: ignore[no-untyped-call]
    cache = Path(os.path.expanduser(s.cache)) / f"{s.job.run}-{s.run_base[:12]}"
    with _locked(cache / "lock"):
        store = init_cache_repo(cache / "repo")
        if not store.has_commit(s.run_base):
            import ray

            store.unbundle(ray.get(s.base_bundle[0]), s.run_base)
        if s.bundle and not store.has_commit(s.job.commit):
            store.unbundle(s.bundle, s.job.commit)
    gpus = os.environ.get("CUDA_VISIBLE_DEVICES") if s.config.cluster.gpus_per_job > 0 else None
    slot = Slot(s.slot.index, s.slot.name, gpus or None)
    settings = PoolSettings(
        store.state_dir,
        Path(s.source_root),
        s.protected,
        sandboxed=s.sandboxed,
        links=s.links,
    )
    executor = LocalExecutor(store, s.config, [slot], settings)
    executor.submit(s.job)
    posted: tuple[float, float] | None = None
    try:
        results: list[RunResult] = []
        while not results:
            results = executor.wait_any(timeout=CURVE_EVERY)
            curve = executor.progress(s.job.key)
            if s.board is not None and curve and curve[-1] != posted:
                posted = curve[-1]
                s.board.put.remote(s.job.key, curve)
    except BaseException:  # cancelled (KeyboardInterrupt) or the worker is going down
        executor.close()
        raise
    result = results[0]
    log = b""
    if result.log_path is not None and Path(result.log_path).exists():
        with open(result.log_path, "rb") as handle:
            log = handle.read(MAX_LOG)
    return Returned(result, node, log)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One task at a time brings commits into a node's clone of the run."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
