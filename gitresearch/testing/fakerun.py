"""A generated run, as another machine would hand it over: branches and notes only.

For the review's tests and its scale bench: `write_fake_run` adds a run of `n` sweep-like
experiments on top of `base` in one `git fast-import` (10,000 experiments in seconds),
deterministic for a seed: the same base gives the same commit ids. The ledger is then
rebuilt from git (`rebuild.sync_from_git`), exactly as for a fetched run.
"""

from __future__ import annotations

import json
import random
from typing import Any

from gitresearch.notes import BaseNote, Decision, ExperimentNote, Measurement, RunNote
from gitresearch.store import Store

WHO = "gitresearch fake run <fake@gitresearch.invalid> 1700000000 +0000"


def _data(text: str) -> bytes:
    raw = text.encode()
    return b"data %d\n" % len(raw) + raw + b"\n"


def write_fake_run(store: Store, run: str, n: int, *, base: str | None = None, seed: int = 0) -> None:
    """Experiments 1..n editing `params.py` (LR), about 5% failed and a few accepted."""
    base = base or store.head()
    rng = random.Random(seed)
    out: list[bytes] = []
    notes: list[tuple[str, dict[str, Any]]] = []
    baseline = [
        Measurement(
            seed=s,
            purpose="baseline",
            status="ok",
            metrics={"loss": round(2.0 + rng.gauss(0, 0.01), 6)},
            seconds=30.0,
            commit=base,
        )
        for s in range(3)
    ]
    record = RunNote(
        started=1700000000.0,
        meta={"metric": "loss", "direction": "minimize", "proposer": "sweep"},
        baseline=baseline,
        status="searched",
    )
    notes.append((base, BaseNote.from_json(store.read_note(base)).with_run(run, record).to_json()))
    out.append(f"reset refs/heads/gitresearch/{run}/base\nfrom {base}\n\n".encode())
    parent_ref, best = base, 2.0
    for number in range(1, n + 1):
        lr = 10 ** rng.uniform(-4, -1)
        blob, commit = 2 * number, 2 * number + 1
        failed = rng.random() < 0.05
        value = 2.0 - 0.3 * rng.random()
        status = (
            "failed"
            if failed
            else ("accepted" if value < best - 0.02 and rng.random() < 0.3 else "discarded")
        )
        measurements = [
            Measurement(
                seed=s,
                purpose="measure",
                status="failed" if failed else "ok",
                metrics={} if failed else {"loss": round(value + rng.gauss(0, 0.01), 6)},
                seconds=round(30.0 + rng.random(), 3),
                reason="crash" if failed else None,
                detail="exit code 1" if failed else None,
            )
            for s in range(3)
        ]
        hypothesis = f"Set LR to {lr:.3g} (was 0.01)"
        message = (
            f"{hypothesis}\n\nsweep, screening.\n\nGitresearch-Run: {run}\n"
            f"Gitresearch-Experiment: {number}\nGitresearch-Proposer: sweep\n"
        )
        out += [f"blob\nmark :{blob}\n".encode(), _data(f"LR = {lr:.3g}\n")]
        out += [
            f"commit refs/heads/gitresearch/{run}/{number:04d}\nmark :{commit}\n".encode(),
            f"committer {WHO}\n".encode(),
            _data(message),
            f"from {parent_ref}\nM 100644 :{blob} params.py\n\n".encode(),
        ]
        note = ExperimentNote(
            run=run,
            experiment=number,
            parent="",
            proposer="sweep",
            status=status,
            metric="loss",
            measurements=measurements,
            decision=Decision(
                status=status,
                reason="crash: exit code 1" if failed else "generated",
                delta=None if failed else round(value - best, 6),
            ),
        ).to_json()
        notes.append((f":{commit}", note))
        if status == "accepted":
            parent_ref, best = f":{commit}", value
    out.append(f"reset refs/heads/gitresearch/{run}/best\nfrom {parent_ref}\n\n".encode())
    out += [b"commit refs/notes/gitresearch\n", f"committer {WHO}\n".encode(), _data(f"notes of run {run}")]
    current = store.resolve_ref("refs/notes/gitresearch")
    if current is not None:
        out.append(f"from {current}\n".encode())
    for target, payload in notes:
        out += [f"N inline {target}\n".encode(), _data(json.dumps(payload, sort_keys=True))]
    out.append(b"\n")
    store.fast_import(b"".join(out))
