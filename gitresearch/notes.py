"""The git-note format: the only module that knows its keys.

Notes under `refs/notes/gitresearch` are the most durable thing gitresearch writes (git holds
the truth; the ledger is rebuilt from them), and a colleague who fetches a run reads them
with whatever version they have. So the format lives here, as typed records with
`to_json` / `from_json`, and nowhere else:

- `ExperimentNote` on each experiment commit: its measurements, mean, spread, decision;
- `BaseNote` on a run's base commit: one `RunNote` per run started from that commit (its
  meta, the base measurements, the refused proposals, the LLM spend);
- `CandidateNote` on each commit of a run's candidates branch: rank and evidence.

Schema 2 gave the key `"runs"`, which had four meanings in schema 1, distinct names:
`measurements` (an experiment's measurements), `values` (a candidate's metric values),
`by_run` (the runs recorded on a base commit). `from_json` reads both schemas, and is
tolerant: a note is data fetched from elsewhere, so a missing or mistyped field becomes its
default, never an exception.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

SCHEMA = 2

Purpose = Literal["baseline", "measure", "confirm", "ablation"]
Ending = Literal["ok", "failed", "cancelled", "pruned"]
PURPOSES: tuple[Purpose, ...] = ("baseline", "measure", "confirm", "ablation")
ENDINGS: tuple[Ending, ...] = ("ok", "failed", "cancelled", "pruned")
Points = tuple[tuple[float, float], ...]
CURVE_IN_NOTE = 64  # the most points of a run's curve a note keeps (first, last, evenly between)

Json = dict[str, Any]


def _str(d: Mapping[str, Any], key: str, default: str = "") -> str:
    value = d.get(key)
    return value if isinstance(value, str) else default


def _opt_str(d: Mapping[str, Any], key: str) -> str | None:
    value = d.get(key)
    return value if isinstance(value, str) else None


def _num(d: Mapping[str, Any], key: str) -> float | None:
    value = d.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _int(d: Mapping[str, Any], key: str, default: int = 0) -> int:
    value = d.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return default
    return int(value)


def _dict(d: Mapping[str, Any], key: str) -> Json:
    value = d.get(key)
    return dict(value) if isinstance(value, dict) else {}


def _list(d: Mapping[str, Any], key: str) -> list[Any]:
    value = d.get(key)
    return list(value) if isinstance(value, list) else []


def _metrics(value: Any) -> dict[str, float]:
    if not isinstance(value, dict):
        return {}
    return {
        str(k): float(v)
        for k, v in value.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    }


def _drop_none(d: Json) -> Json:
    return {k: v for k, v in d.items() if v is not None}


def compact_curve(curve: Points, limit: int = CURVE_IN_NOTE) -> Points:
    """At most `limit` points of a curve: the first, the last and evenly spaced ones between,
    values to 6 significant digits (a note stays a few KiB however often a benchmark reports)."""
    if len(curve) > limit:
        picks = sorted({round(i * (len(curve) - 1) / (limit - 1)) for i in range(limit)})
        curve = tuple(curve[i] for i in picks)
    return tuple((float(f"{s:.10g}"), float(f"{v:.6g}")) for s, v in curve)


def curve_of(value: Any) -> Points:
    """A curve read back from JSON: [[step, value], ...] with finite numbers, steps increasing."""
    out: list[tuple[float, float]] = []
    for item in value if isinstance(value, list) else []:
        if not (isinstance(item, list) and len(item) == 2):
            continue
        step, v = item
        if any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in (step, v)):
            continue
        if math.isfinite(step) and math.isfinite(v) and (not out or step > out[-1][0]):
            out.append((float(step), float(v)))
    return tuple(out)


# -- one benchmark execution ------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Measurement:
    """One benchmark execution of one commit on one seed, as it finished."""

    seed: int
    purpose: Purpose
    status: Ending
    metrics: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    exit_code: int | None = None
    reason: str | None = None
    detail: str | None = None
    slot: str | None = None
    log_path: str | None = None
    commit: str = ""
    finished: float | None = None  # wall-clock time the result came in
    curve: Points = ()  # the objective's intermediate values, (step, value), compacted

    @property
    def started(self) -> float | None:
        return None if self.finished is None else self.finished - self.seconds

    def to_json(self) -> Json:
        timing = {}
        if self.finished is not None and self.started is not None:
            timing = {"started": round(self.started, 3), "finished": round(self.finished, 3)}
        return {
            **timing,
            "seed": self.seed,
            "purpose": self.purpose,
            "status": self.status,
            "metrics": self.metrics,
            "seconds": round(self.seconds, 3),
            "exit_code": self.exit_code,
            "reason": self.reason,
            "detail": self.detail,
            "slot": self.slot,
            "log_path": self.log_path,
            "commit": self.commit,
            **({"curve": [list(p) for p in self.curve]} if self.curve else {}),
        }

    @classmethod
    def from_json(cls, d: Any, *, commit: str = "", purpose: Purpose = "measure") -> Measurement | None:
        if not isinstance(d, dict):
            return None
        raw_purpose = d.get("purpose")
        raw_status = d.get("status")
        return cls(
            seed=_int(d, "seed"),
            purpose=raw_purpose if raw_purpose in PURPOSES else purpose,
            status=raw_status if raw_status in ENDINGS else "failed",
            metrics=_metrics(d.get("metrics")),
            seconds=_num(d, "seconds") or 0.0,
            exit_code=_int(d, "exit_code") if _num(d, "exit_code") is not None else None,
            reason=_opt_str(d, "reason"),
            detail=_opt_str(d, "detail"),
            slot=_opt_str(d, "slot"),
            log_path=_opt_str(d, "log_path"),
            commit=_str(d, "commit") or commit,
            finished=_num(d, "finished"),
            curve=curve_of(d.get("curve")),
        )


def measurements_of(items: Any, *, commit: str = "", purpose: Purpose = "measure") -> list[Measurement]:
    out = []
    for item in items if isinstance(items, list) else []:
        m = Measurement.from_json(item, commit=commit, purpose=purpose)
        if m is not None:
            out.append(m)
    return out


class Measured(Protocol):
    """A `Measurement`, or a ledger row of one."""

    @property
    def status(self) -> str: ...
    @property
    def purpose(self) -> str: ...
    @property
    def metrics(self) -> Mapping[str, float]: ...


def values(
    measurements: Iterable[Measured], metric: str, purposes: tuple[str, ...] = ("measure", "confirm")
) -> list[float]:
    """The metric of every successful measurement made for one of `purposes`."""
    return [
        m.metrics[metric]
        for m in measurements
        if m.status == "ok" and m.purpose in purposes and metric in m.metrics
    ]


# -- a decision -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class StatTest:
    """One statistical test as it was made (see `stats.compare`)."""

    passed: bool
    improvement: float
    threshold: float
    n: int  # the candidate's measurements that entered the test
    reason: str

    def to_json(self) -> Json:
        return {
            "passed": self.passed,
            "improvement": self.improvement,
            "threshold": self.threshold,
            "n": self.n,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, d: Any) -> StatTest | None:
        if not isinstance(d, dict):
            return None
        return cls(
            passed=bool(d.get("passed", False)),
            improvement=_num(d, "improvement") or 0.0,
            threshold=_num(d, "threshold") or 0.0,
            n=_int(d, "n", _int(d, "runs")),  # schema 1: "runs"
            reason=_str(d, "reason"),
        )


@dataclass(frozen=True)
class Pruned:
    """Why a run was stopped early: the point of its curve that lost, against its parent's."""

    seed: int
    step: float  # where it was stopped
    last_step: float  # the parent's last reported step on that seed
    value: float  # the experiment's value at `step`
    parent: float  # the parent's value there, on the same seed
    bound: float  # how much worse it had to be (noise at that step times the setting's factor)
    setting: str = "conservative"
    # the experiment whose curve it lost to when not its parent's: the best gate pass held on
    # the same parent (a run clearly behind it cannot be the one confirmed); `parent` is then
    # that experiment's value at `step`
    against: int | None = None

    def to_json(self) -> Json:
        out: Json = {
            "seed": self.seed,
            "step": self.step,
            "last_step": self.last_step,
            "value": self.value,
            "parent": self.parent,
            "bound": self.bound,
            "setting": self.setting,
        }
        if self.against is not None:
            out["against"] = self.against
        return out

    @classmethod
    def from_json(cls, d: Any) -> Pruned | None:
        if not isinstance(d, dict):
            return None
        numbers = [_num(d, k) for k in ("step", "last_step", "value", "parent", "bound")]
        if any(n is None for n in numbers):
            return None
        step, last, value, parent, bound = (float(n or 0.0) for n in numbers)
        against = d.get("against")
        return cls(
            _int(d, "seed"),
            step,
            last,
            value,
            parent,
            bound,
            _str(d, "setting", "conservative"),
            against if isinstance(against, int) and not isinstance(against, bool) and against > 0 else None,
        )


@dataclass(frozen=True, kw_only=True)
class Decision:
    """Why an experiment ended where it did; every field is optional in a note."""

    status: str | None = None
    reason: str = ""
    delta: float | None = None  # mean minus its parent's mean, in metric units
    improvement: float | None = None  # the same, positive when better
    gate: StatTest | None = None
    test: StatTest | None = None
    noise: float | None = None
    reapplied_from: int | None = None
    reapplied_as: int | None = None
    pruned: Pruned | None = None
    # a run the early-stopping rule would have stopped ran to its end as a check: "right" (it
    # ended clearly behind its parent) or "wrong" (it did not: its parent's curves are no guide)
    audit: str | None = None

    def to_json(self) -> Json:
        return _drop_none(
            {
                "status": self.status,
                "reason": self.reason or None,
                "delta": self.delta,
                "improvement": self.improvement,
                "gate": self.gate.to_json() if self.gate else None,
                "test": self.test.to_json() if self.test else None,
                "noise": self.noise,
                "reapplied_from": self.reapplied_from,
                "reapplied_as": self.reapplied_as,
                "pruned": self.pruned.to_json() if self.pruned else None,
                "audit": self.audit,
            }
        )

    @classmethod
    def from_json(cls, d: Any) -> Decision:
        if not isinstance(d, dict):
            return cls()
        return cls(
            status=_opt_str(d, "status"),
            reason=_str(d, "reason"),
            delta=_num(d, "delta"),
            improvement=_num(d, "improvement"),
            gate=StatTest.from_json(d.get("gate")),
            test=StatTest.from_json(d.get("test")),
            noise=_num(d, "noise"),
            reapplied_from=_int(d, "reapplied_from") if _num(d, "reapplied_from") is not None else None,
            reapplied_as=_int(d, "reapplied_as") if _num(d, "reapplied_as") is not None else None,
            pruned=Pruned.from_json(d.get("pruned")),
            audit=_opt_str(d, "audit"),
        )


# -- the three notes --------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ExperimentNote:
    """On an experiment's commit: everything measured and decided about it."""

    run: str
    experiment: int
    parent: str
    proposer: str
    status: str
    metric: str
    measurements: list[Measurement] = field(default_factory=list)
    mean: float | None = None
    spread: float | None = None
    decision: Decision = field(default_factory=Decision)
    proposal: Json = field(default_factory=dict)  # the proposer's own metadata (knobs, phase)

    def to_json(self) -> Json:
        return {
            "gitresearch": SCHEMA,
            "run": self.run,
            "experiment": self.experiment,
            "parent": self.parent,
            "proposer": self.proposer,
            "status": self.status,
            "metric": self.metric,
            "measurements": [m.to_json() for m in self.measurements],
            "mean": self.mean,
            "spread": self.spread,
            "decision": self.decision.to_json(),
            "proposal": self.proposal,
        }

    @classmethod
    def from_json(cls, d: Any, *, commit: str = "") -> ExperimentNote | None:
        """None when `d` is not an experiment note (for example a candidate's)."""
        if not isinstance(d, dict) or "candidate_rank" in d:
            return None
        old = d.get("runs") if isinstance(d.get("runs"), list) else None  # schema 1
        return cls(
            run=_str(d, "run"),
            experiment=_int(d, "experiment"),
            parent=_str(d, "parent"),
            proposer=_str(d, "proposer"),
            status=_str(d, "status", "committed"),
            metric=_str(d, "metric"),
            measurements=measurements_of(d.get("measurements", old), commit=commit),
            mean=_num(d, "mean"),
            spread=_num(d, "spread"),
            decision=Decision.from_json(d.get("decision")),
            proposal=_dict(d, "proposal"),
        )


@dataclass(frozen=True, kw_only=True)
class Rejection:
    """A proposal the boundaries refused: it never became a commit, so it lives on the base."""

    number: int
    proposer: str = ""
    hypothesis: str = ""
    rationale: str = ""
    parent: str | None = None
    violations: list[Json] = field(default_factory=list)

    def to_json(self) -> Json:
        return {
            "number": self.number,
            "proposer": self.proposer,
            "hypothesis": self.hypothesis,
            "rationale": self.rationale,
            "parent": self.parent,
            "violations": self.violations,
        }

    @classmethod
    def from_json(cls, d: Any) -> Rejection | None:
        if not isinstance(d, dict) or _num(d, "number") is None:
            return None
        return cls(
            number=_int(d, "number"),
            proposer=_str(d, "proposer"),
            hypothesis=_str(d, "hypothesis"),
            rationale=_str(d, "rationale"),
            parent=_opt_str(d, "parent"),
            violations=[v for v in _list(d, "violations") if isinstance(v, dict)],
        )


RunStatus = Literal["running", "stopped", "searched", "finalized"]


@dataclass(frozen=True, kw_only=True)
class RunNote:
    """One run (a search session) as recorded on its base commit."""

    started: float = 0.0
    meta: Json = field(default_factory=dict)  # metric, direction, command, proposer, budgets
    baseline: list[Measurement] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    status: str = "stopped"  # a RunStatus when written by this version
    llm: Json = field(default_factory=dict)  # the agent's spend, when it ran

    def to_json(self) -> Json:
        return {
            "started": self.started,
            "meta": self.meta,
            "baseline": [m.to_json() for m in self.baseline],
            "rejected": [r.to_json() for r in self.rejected],
            "status": self.status,
            **({"llm": self.llm} if self.llm else {}),
        }

    @classmethod
    def from_json(cls, d: Any) -> RunNote:
        if not isinstance(d, dict):
            return cls()
        rejected = [Rejection.from_json(r) for r in _list(d, "rejected")]
        return cls(
            started=_num(d, "started") or 0.0,
            meta=_dict(d, "meta"),
            baseline=measurements_of(d.get("baseline"), purpose="baseline"),
            rejected=[r for r in rejected if r is not None],
            status=_str(d, "status", "stopped"),
            llm=_dict(d, "llm"),
        )


@dataclass(frozen=True, kw_only=True)
class BaseNote:
    """The note on a base commit: every run that started from it, by name."""

    by_run: dict[str, RunNote] = field(default_factory=dict)
    extra: Json = field(default_factory=dict)  # keys another tool or version left; kept as they are

    def with_run(self, name: str, record: RunNote) -> BaseNote:
        return BaseNote(by_run={**self.by_run, name: record}, extra=self.extra)

    def to_json(self) -> Json:
        return {
            **self.extra,
            "gitresearch": SCHEMA,
            "by_run": {name: r.to_json() for name, r in self.by_run.items()},
        }

    @classmethod
    def from_json(cls, d: Any) -> BaseNote:
        if not isinstance(d, dict):
            return cls()
        raw = _dict(d, "by_run") or _dict(d, "runs")  # schema 1: "runs"
        extra = {k: v for k, v in d.items() if k not in ("gitresearch", "by_run", "runs")}
        return cls(by_run={str(k): RunNote.from_json(v) for k, v in raw.items()}, extra=extra)


@dataclass(frozen=True, kw_only=True)
class Ablation:
    commit: str  # the final stack without this change
    values: list[float] = field(default_factory=list)

    def to_json(self) -> Json:
        return {"commit": self.commit, "values": self.values}

    @classmethod
    def from_json(cls, d: Any) -> Ablation | None:
        if not isinstance(d, dict):
            return None
        return cls(commit=_str(d, "commit"), values=_floats(d.get("values")))


def _floats(items: Any) -> list[float]:
    out = []
    for v in items if isinstance(items, list) else []:
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            out.append(float(v))
    return out


@dataclass(frozen=True, kw_only=True)
class CandidateNote:
    """On a commit of the candidates branch: its rank and the evidence behind it."""

    run: str
    rank: int
    experiment: int  # the last accepted experiment it stands for
    members: list[int] = field(default_factory=list)  # every accepted experiment it stands for
    source_commit: str = ""
    hypothesis: str = ""
    metric: str = ""
    delta: float | None = None
    improvement: float | None = None
    contribution: float | None = None
    contribution_note: str = ""
    values: list[float] = field(default_factory=list)
    mean: float | None = None
    spread: float | None = None
    ablation: Ablation | None = None

    def to_json(self) -> Json:
        return {
            "gitresearch": SCHEMA,
            "run": self.run,
            "candidate_rank": self.rank,
            "experiment": self.experiment,
            "experiments": self.members,
            "source_commit": self.source_commit,
            "hypothesis": self.hypothesis,
            "metric": self.metric,
            "delta": self.delta,
            "improvement": self.improvement,
            "contribution": self.contribution,
            "contribution_note": self.contribution_note,
            "values": self.values,
            "mean": self.mean,
            "spread": self.spread,
            "ablation": self.ablation.to_json() if self.ablation else None,
        }

    @classmethod
    def from_json(cls, d: Any, *, rank: int = 0) -> CandidateNote | None:
        """None when `d` is not a candidate note."""
        if not isinstance(d, dict):
            return None
        raw_values = d.get("values", d.get("runs"))  # schema 1: "runs"
        return cls(
            run=_str(d, "run"),
            rank=_int(d, "candidate_rank", rank),
            experiment=_int(d, "experiment"),
            members=[int(n) for n in _list(d, "experiments") if isinstance(n, int)],
            source_commit=_str(d, "source_commit"),
            hypothesis=_str(d, "hypothesis"),
            metric=_str(d, "metric"),
            delta=_num(d, "delta"),
            improvement=_num(d, "improvement"),
            contribution=_num(d, "contribution"),
            contribution_note=_str(d, "contribution_note"),
            values=_floats(raw_values),
            mean=_num(d, "mean"),
            spread=_num(d, "spread"),
            ablation=Ablation.from_json(d.get("ablation")),
        )
