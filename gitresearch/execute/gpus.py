"""Which accelerators a run may use, turned into executor slots.

GPUs are found with `nvidia-smi` (through the runner, which owns subprocesses). A
`CUDA_VISIBLE_DEVICES` the user already set is honoured: only the devices it names are
used, under the names it gives them. `[budget] gpus` then picks all, none or a list, and
`jobs_per_gpu` multiplies; with no GPU, `jobs` CPU slots run instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gitresearch.boundaries.config import BudgetConfig, Config
from gitresearch.errors import ConfigError
from gitresearch.execute.base import Slot
from gitresearch.execute.runner import query


@dataclass(frozen=True)
class Gpu:
    id: str  # as CUDA_VISIBLE_DEVICES names it
    index: int
    uuid: str
    name: str
    memory_mib: int


@dataclass(frozen=True)
class Detection:
    gpus: tuple[Gpu, ...]
    note: str  # what was found or why nothing was, for the user


def detect(env: Mapping[str, str]) -> Detection:
    result = query(
        ["nvidia-smi", "--query-gpu=index,uuid,name,memory.total", "--format=csv,noheader,nounits"]
    )
    if result is None:
        return Detection((), "no GPU: nvidia-smi was not found or did not answer")
    code, out, err = result
    if code != 0:
        first = (err or out).strip().splitlines()[:1]
        return Detection((), f"no GPU: nvidia-smi failed ({first[0] if first else f'exit {code}'})")
    found = []
    for line in out.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 4 or not parts[0].isdigit():
            continue
        memory = int(parts[3]) if parts[3].isdigit() else 0
        found.append(Gpu(parts[0], int(parts[0]), parts[1], parts[2], memory))
    visible = env.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        names = ", ".join(f"{g.index}: {g.name}" for g in found)
        return Detection(tuple(found), f"{len(found)} GPU(s): {names}" if found else "no GPU found")
    chosen = []
    for entry in (e.strip() for e in visible.split(",")):
        if not entry or entry == "-1":
            break  # CUDA stops at the first invalid entry
        match = next((g for g in found if entry in (str(g.index), g.uuid)), None)
        if match is None:
            break  # likewise: devices after an unknown one are invisible to CUDA
        chosen.append(Gpu(entry, match.index, match.uuid, match.name, match.memory_mib))
    return Detection(tuple(chosen), f"{len(chosen)} GPU(s) visible through CUDA_VISIBLE_DEVICES={visible!r}")


def plan_slots(config: Config, detection: Detection) -> tuple[list[Slot], str]:
    """The executor's slots and one line saying what was chosen and why."""
    budget: BudgetConfig = config.budget
    if budget.gpus == "none":
        return _cpu(budget.jobs, ""), f'{budget.jobs} CPU job(s) (gpus = "none"; GPUs hidden)'
    if budget.gpus == "all":
        if not detection.gpus:
            return _cpu(budget.jobs, None), f"{detection.note}; running {budget.jobs} CPU job(s)"
        gpus = list(detection.gpus)
    else:
        by_id = {g.id: g for g in detection.gpus}
        missing = [str(i) for i in budget.gpus if str(i) not in by_id]
        if missing:
            raise ConfigError(
                config.path,
                f"GPU(s) {', '.join(missing)} not available ({detection.note})",
                key="budget.gpus",
                line=config.lines.get("budget.gpus"),
                hint='use gpus = "all", or list only GPUs that nvidia-smi shows',
            )
        gpus = [by_id[str(i)] for i in budget.gpus]
    slots: list[Slot] = []
    for gpu in gpus:
        for k in range(budget.jobs_per_gpu):
            name = f"gpu{gpu.id}" if budget.jobs_per_gpu == 1 else f"gpu{gpu.id}#{k + 1}"
            slots.append(Slot(len(slots), name, gpu.id))
    return slots, f"{len(slots)} slot(s) on {len(gpus)} GPU(s): " + ", ".join(
        f"{g.id} {g.name}" for g in gpus
    )


def _cpu(jobs: int, visible: str | None) -> list[Slot]:
    return [Slot(i, f"cpu{i}", visible) for i in range(jobs)]
