"""The OS sandbox around every benchmark process, built on bubblewrap (`bwrap`).

Code that a model or a search wrote runs here unattended, next to the user's checkout,
keys and history; the validator's policy is a first filter, this is the wall (promise 2).
A job sees:
- the whole filesystem read-only, with the repository folder and `$HOME` replaced by empty
  ones, so the user's checkout, `.git` (hooks, refs, notes, config, the ledger), untracked
  secrets such as `.env` or `~/.netrc`, and other slots' worktrees are not there at all;
- writable: its own worktree, a per-job scratch folder (`$HOME`, `$TMPDIR`), its output
  folder (where the result file goes) and its slot's cache (`XDG_CACHE_HOME`, `TORCH_HOME`,
  `HF_HOME`, `TRITON_CACHE_DIR`: kept across the run's jobs on that slot);
- read-only again: the protected files inside its worktree (tampering is impossible, not
  only detected), the `link`ed data, and the Python environment it was started from
  (`VIRTUAL_ENV`, `CONDA_PREFIX`, `PATH` entries) where those live in a hidden folder;
- a new PID namespace, session, IPC and UTS namespace: the harness and other jobs are
  invisible, and everything the job started dies with it (`--die-with-parent`, the
  namespace's init); no network unless `[objective] network = true`;
- the GPUs: `/dev/nvidia*` passed through, `CUDA_VISIBLE_DEVICES` as the slot sets it.

`probe()` says whether bubblewrap works on this machine (and what to install when it
does not); the executor wraps each command with `wrap()` when the run is sandboxed.
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from gitresearch.execute.runner import query

INSTALL_HINT = "install bubblewrap: `sudo apt-get install bubblewrap` (Debian/Ubuntu), `sudo dnf install bubblewrap` (Fedora)"


@dataclass(frozen=True)
class SandboxStatus:
    works: bool
    tool: str | None  # "bubblewrap 0.8.0"
    problem: str | None  # why it does not work here

    def describe(self) -> str:
        if self.works:
            return f"{self.tool}: every benchmark runs with the filesystem read-only but its worktree, no network, no view of the harness"
        return f"not available: {self.problem}; {INSTALL_HINT}"


@functools.lru_cache(maxsize=1)
def probe() -> SandboxStatus:
    """Does bubblewrap run a command here, with the namespaces a job gets?"""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return SandboxStatus(False, None, "`bwrap` is not on PATH")
    version = query([bwrap, "--version"])
    tool = version[1].strip() if version and version[0] == 0 else "bubblewrap"
    trial = query(
        [
            bwrap,
            *_namespaces(network=False),
            "--ro-bind",
            "/",
            "/",
            "--dev",
            "/dev",
            "--proc",
            "/proc",
            "true",
        ]
    )
    if trial is None:
        return SandboxStatus(False, tool, "`bwrap` did not answer")
    if trial[0] != 0:
        why = (trial[2].strip().splitlines() or ["it failed"])[-1]
        return SandboxStatus(
            False, tool, f"`bwrap` cannot create namespaces here ({why}); user namespaces may be disabled"
        )
    return SandboxStatus(True, tool, None)


@dataclass(frozen=True, kw_only=True)
class Spec:
    """Everything one job's sandbox needs; paths are absolute and exist on the host."""

    worktree: Path
    scratch: Path  # per job: becomes $HOME and $TMPDIR
    out: Path  # per job: the result file is written here
    cache: Path  # per slot, kept across the run's jobs
    hide: Sequence[
        Path
    ]  # folders replaced by empty ones (the repository, its git folder, $HOME; /tmp always)
    read_only: Sequence[Path] = ()  # shown again, read-only (the environment, linked data)
    protected: Sequence[Path] = ()  # files inside the worktree, mounted read-only
    network: bool = False
    devices: Sequence[Path] = ()  # GPU device nodes to pass through
    masked: Sequence[Path] = ()  # replaced by an empty file or folder (hidden data)


def _namespaces(*, network: bool) -> list[str]:
    ns = ["--unshare-user-try", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    if not network:
        ns.append("--unshare-net")
    return [*ns, "--die-with-parent", "--new-session"]


def wrap(spec: Spec) -> list[str]:
    """The bwrap argv to put before the shell that runs the benchmark command."""
    bwrap = shutil.which("bwrap") or "bwrap"
    argv = [bwrap, *_namespaces(network=spec.network)]
    argv += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    for device in spec.devices:
        argv += ["--dev-bind-try", str(device), str(device)]
    # Hide first (outermost), then lay back what the job may see, innermost last: bwrap
    # applies mounts in order, and creates the mount points it needs inside a tmpfs.
    hidden = _outermost([Path("/tmp"), *spec.hide])
    for folder in hidden:
        argv += ["--tmpfs", str(folder)]
    shown = [
        p
        for p in spec.read_only
        if any(_inside(p, h) for h in hidden) and not any(_inside(h, p) for h in hidden)
    ]
    for path in _outermost(shown):
        argv += ["--ro-bind-try", str(path), str(path)]
    for path in (spec.worktree, spec.scratch, spec.out, spec.cache):
        argv += ["--bind", str(path), str(path)]
    for path in spec.protected:
        argv += ["--ro-bind-try", str(path), str(path)]
    for path in spec.masked:
        argv += ["--tmpfs", str(path)] if path.is_dir() else ["--ro-bind", "/dev/null", str(path)]
    argv += ["--chdir", str(spec.worktree)]
    return argv


def sandbox_env(env: Mapping[str, str], spec: Spec) -> dict[str, str]:
    """The job's environment inside the sandbox: an empty home and scratch of its own."""
    out = dict(env)
    home, tmp = spec.scratch / "home", spec.scratch / "tmp"
    out.update(
        {
            "HOME": str(home),
            "TMPDIR": str(tmp),
            "XDG_CACHE_HOME": str(spec.cache / "xdg"),
            "TORCH_HOME": str(spec.cache / "torch"),
            "HF_HOME": str(spec.cache / "huggingface"),
            "TRITON_CACHE_DIR": str(spec.cache / "triton"),
            "MPLCONFIGDIR": str(spec.cache / "matplotlib"),
        }
    )
    return out


def environment_paths(env: Mapping[str, str]) -> list[Path]:
    """Where the benchmark's interpreter and tools come from: shown again, read-only.

    A `bin` or `shims` folder on PATH brings its parent (a virtualenv, conda, pyenv, ~/.local
    keep their libraries beside it)."""
    found = [Path(env[k]) for k in ("VIRTUAL_ENV", "CONDA_PREFIX", "PYENV_ROOT") if env.get(k)]
    for entry in env.get("PATH", "").split(os.pathsep):
        if entry.startswith("/"):
            path = Path(entry)
            found.append(path.parent if path.name in ("bin", "shims") else path)
    return [p.resolve() for p in found if p.exists()]


def gpu_devices() -> list[Path]:
    dev = Path("/dev")
    return sorted(dev.glob("nvidia*")) + ([dev / "dri"] if (dev / "dri").exists() else [])


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _outermost(paths: Iterable[Path]) -> list[Path]:
    """Drop paths that lie inside another of the list; keep the order stable."""
    unique = sorted({Path(p) for p in paths}, key=lambda p: len(p.parts))
    kept: list[Path] = []
    for p in unique:
        if not any(_inside(p, k) for k in kept):
            kept.append(p)
    return kept
