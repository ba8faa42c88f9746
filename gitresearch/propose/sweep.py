"""The built-in search over the constants in the allowed regions (no LLM).

The engine works in a unit cube (each knob's range on its own scale mapped to [0, 1]) and
changes only a few knobs per proposal, so every accepted change stays a readable,
cherry-pickable commit ("set BETAS[1] to 0.95"):

1. screening (with TPE, or with the GP on at most `SCREEN_MAX_KNOBS` knobs; on more, the
   GP's suggestions are taken whole from the start, since probing every knob both ways
   would spend the budget before any model is fitted): each knob is probed once up and
   once down from the incumbent (a step of 0.3
   of its range, about ×4 on a log scale); a probe that is accepted is followed by another
   step the same way, a line search, and when that search is accepted at the edge of the
   range the range is pushed out (a decade on a log scale, three times at most) and the
   step past the edge is queued after the other knobs' probes;
2. then, alternately, a model fitted on every measured assignment suggests a point and the
   1 to 3 knobs where it differs most from the incumbent are moved there; or a local
   Gaussian move of one or two knobs around the incumbent. Without screening, a few design
   points around the starting configuration (`DESIGN_POINTS`) come first, then the model's
   suggestions, taken whole. A suggestion already measured (values keep three significant
   digits, so a model that has settled keeps landing on one point) is replaced by a small
   step beside it rather than asking the model again (`STEP_OFF_SIGMA`). The model is Optuna's
   Gaussian-process sampler (noisy observations, `model_name`) when torch and scipy are
   installed and the space has at most `GP_MAX_KNOBS` knobs, its TPE otherwise. The GP is
   fitted on warped values (`warped`), so that a few awful points do not flatten the
   differences near the best.

Everything random comes from one seed, so with one slot the same seed gives the same
sequence of proposals. `SweepEngine` knows nothing of git, so the search-efficiency bench
drives it on synthetic objectives; `SweepProposer` binds it to the repository's literals.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import random
import statistics
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution
from optuna.trial import FrozenTrial, TrialState, create_trial

from gitresearch.boundaries.resolve import Boundaries
from gitresearch.boundaries.sources import FileSource
from gitresearch.boundaries.validator import Violation
from gitresearch.errors import UsageError
from gitresearch.propose.base import Context, Outcome, Proposal
from gitresearch.propose.searchspace import Knob, Value, boundary_knobs
from gitresearch.stats import Direction

SCREEN_STEP = 0.3
LOCAL_SIGMA = 0.15
# A model suggestion already measured (values have three significant digits, so a settled
# GP keeps landing on one point) is replaced by a step beside it: this wide in the unit
# cube on the first try, wider on each next (up to LOCAL_SIGMA), MAX_STEPS_OFF tries.
STEP_OFF_SIGMA = 0.01
MAX_STEPS_OFF = 20
MAX_WIDENINGS = 3  # how often one knob's range may be pushed past an edge
GP_MAX_KNOBS = 40  # beyond, a Gaussian process's fit and acquisition get slow; TPE scales
SCREEN_MAX_KNOBS = 8  # with the GP model, more knobs than this skip screening (efficiency bench)
GP_STARTUP = 10  # random points before the GP's first fit when screening (Optuna's default)
# Without screening, the GP's first points are a design around the starting configuration
# instead of uniform draws over the whole box: the user's values are usually sensible, and a
# point drawn anywhere in a 9-knob box is usually awful. Median true regret over 10 seeds,
# the engine alone after 30 / 40 trials: `smooth` 0.071 / 0.015 with 4 design points, 0.073 /
# 0.013 with 6, 0.079 / 0.029 with 3, 0.089 / 0.031 with 10 uniform points (Optuna's default);
# `sparse` 0.199 / 0.188 with 4, 0.212 / 0.206 with 6, 0.262 / 0.249 with 3.
DESIGN_POINTS = 4
DESIGN_SIGMA = 0.25  # of each knob's range in the unit cube
DESIGN_FLIP = 0.2  # the chance a boolean or a choice moves in a design point
MAX_PENDING = 16  # suggestions in flight the model keeps as pending points; older ones are dropped


def warped(values: Sequence[float | None], direction: Direction) -> list[float | None]:
    """The values as the Gaussian process is fitted on them: standardised, then Yeo-Johnson
    transformed with its power fitted by maximum likelihood (output warping, as HEBO does),
    in the same order and direction. A search's values are skewed: a few configurations are
    far worse than the rest, and fitted raw they set the model's scale and its noise, so the
    differences near the best, the ones that matter, look like noise. None and values that
    are not finite (failures) stay None; fewer than 3 distinct values are left as they are."""
    sign = 1.0 if direction == "minimize" else -1.0
    finite = [sign * v for v in values if v is not None and math.isfinite(v)]
    if len(set(finite)) < 3:
        return [v if v is not None and math.isfinite(v) else None for v in values]
    import numpy as np  # with scipy, installed wherever the Gaussian process is
    from scipy import stats  # type: ignore[import-untyped]

    mu, sd = statistics.fmean(finite), statistics.pstdev(finite)
    transformed = iter(stats.yeojohnson(np.asarray([(x - mu) / sd for x in finite]))[0])
    return [sign * float(next(transformed)) if v is not None and math.isfinite(v) else None for v in values]


def gp_available() -> bool:
    """Optuna's GPSampler needs torch and scipy."""
    return all(importlib.util.find_spec(m) is not None for m in ("torch", "scipy"))


@contextmanager
def one_torch_thread(gp: bool) -> Iterator[None]:
    """The GP's fit and acquisition on one torch thread. Its matrices are tiny (a hundred
    points), so one thread is as fast alone, and far faster while the benchmarks hold every
    core: 0.13 s against 0.63 s per suggestion late in a demo search with two CPU jobs on 2
    cores, where torch's default of one thread per core fights the benchmarks for them."""
    if not gp:
        yield
        return
    import torch  # the GP's own dependency, loaded by Optuna's sampler anyway

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def model_name(knobs: int, wanted: str = "auto") -> str:
    """The model for a space of `knobs` knobs: "GP" or "TPE" (`wanted`: [search] model)."""
    if wanted == "tpe":
        return "TPE"
    if not gp_available():
        if wanted == "gp":
            raise UsageError('[search] model = "gp" needs torch and scipy: pip install scipy torch')
        return "TPE"
    return "GP" if wanted == "gp" or knobs <= GP_MAX_KNOBS else "TPE"


@dataclass(frozen=True)
class Dim:
    label: str
    kind: str  # int | float | bool | choice
    low: float
    high: float
    scale: str
    choices: tuple[Value, ...] = ()

    def to_unit(self, value: Value) -> float:
        if self.kind == "bool":
            return 1.0 if value else 0.0
        if self.choices:
            index = self.choices.index(value) if value in self.choices else 0
            return index / max(1, len(self.choices) - 1)
        assert not isinstance(value, str)
        v = float(value)
        if self.scale in ("log", "log-int"):
            lo, hi, v = math.log(self.low), math.log(self.high), math.log(min(max(v, self.low), self.high))
        elif self.scale == "log1m":
            lo, hi = -math.log(1 - self.low), -math.log(1 - self.high)
            v = -math.log(1 - min(max(v, self.low), self.high))
        else:
            lo, hi = self.low, self.high
            v = min(max(v, lo), hi)
        return 0.5 if hi == lo else (v - lo) / (hi - lo)

    def from_unit(self, u: float) -> Value:
        u = min(max(u, 0.0), 1.0)
        if self.kind == "bool":
            return u >= 0.5
        if self.choices:
            return self.choices[round(u * (len(self.choices) - 1))]
        if self.scale in ("log", "log-int"):
            v = math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        elif self.scale == "log1m":
            lo, hi = -math.log(1 - self.low), -math.log(1 - self.high)
            v = 1 - math.exp(-(lo + u * (hi - lo)))
        else:
            v = self.low + u * (self.high - self.low)
        if self.kind == "int":
            return round(v)
        # three significant digits, values a person would write; for a beta, of its gap to 1
        if self.scale == "log1m":
            return round(1 - float(f"{1 - v:.3g}"), 12)
        return float(f"{v:.3g}")

    def widened(self, upward: bool) -> Dim:
        """The same knob with its range pushed one step further past the edge it reached."""
        if self.choices:
            return self  # the choices are the user's
        lo, hi = self.low, self.high
        if self.scale in ("log", "log-int"):
            lo, hi = (lo, hi * 10) if upward else (lo / 10, hi)
        elif self.scale == "log1m":
            lo, hi = (lo, 1 - (1 - hi) / 10) if upward else (max(0.0, 1 - (1 - lo) * 10), hi)
        else:
            span = (hi - lo) / 2
            lo, hi = (lo, hi + span) if upward else (lo - span, hi)
        return dataclasses.replace(self, low=lo, high=hi)

    def distribution(self) -> BaseDistribution:
        if self.kind == "bool":
            return CategoricalDistribution([False, True])
        return FloatDistribution(0.0, 1.0)


def dims_from_knobs(knobs: Sequence[Knob]) -> list[Dim]:
    return [Dim(k.label, k.kind, k.low, k.high, k.scale, k.choices) for k in knobs]


class SweepEngine:
    """Proposes changes of a few knobs at a time; learns from every measured assignment."""

    def __init__(
        self,
        dims: Sequence[Dim],
        incumbent: Mapping[str, Value],
        direction: Direction,
        seed: int,
        model: str = "auto",
    ) -> None:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.dims = {d.label: d for d in dims}
        self.incumbent: dict[str, Value] = dict(incumbent)
        self.start: dict[str, Value] = dict(incumbent)
        self.started_known = False
        self.direction = direction
        self.rng = random.Random(seed)
        self.seed = seed
        self.history: list[tuple[dict[str, Value], float | None]] = []
        self.widenings: dict[str, int] = {}
        self.wanted = model
        self.model = model_name(len(self.dims), model)
        # Screening costs two experiments per knob before any model suggestion: it pays on a
        # few knobs; on more, a Gaussian process spreads its probes better (efficiency bench).
        self.screened = not (self.model == "GP" and len(self.dims) > SCREEN_MAX_KNOBS)
        self.design = 0 if self.screened else DESIGN_POINTS  # design points still to propose
        self.study = self._new_study()
        self.stale = False  # the GP's study is rebuilt from the history before its next suggestion
        self.seen: set[tuple[Any, ...]] = {self._key(self.incumbent)}
        order = list(self.dims)
        self.rng.shuffle(order)
        self.screen: deque[tuple[str, int]] = deque(
            [(label, +1) for label in order] + [(label, -1) for label in order] if self.screened else []
        )
        self.accepted_moves: set[tuple[str, int]] = set()
        self.turn = 0
        # whole suggestions being measured, by assignment: the GP treats them as pending points
        # (Optuna's qLogEI), so parallel slots are not handed the same point twice
        self.pending: dict[tuple[Any, ...], optuna.Trial] = {}

    def _new_study(self) -> optuna.Study:
        sampler: optuna.samplers.BaseSampler
        if self.model == "GP":
            sampler = optuna.samplers.GPSampler(
                seed=self.seed,
                n_startup_trials=GP_STARTUP if self.screened else DESIGN_POINTS,
                deterministic_objective=False,  # seed noise: fitted as noise, not taken as truth
                warn_independent_sampling=False,
            )
        else:
            sampler = optuna.samplers.TPESampler(
                seed=self.seed, multivariate=True, n_startup_trials=max(5, len(self.dims) // 2)
            )
        return optuna.create_study(direction=self.direction, sampler=sampler)

    def _add_trial(self, assignment: Mapping[str, Value], value: float | None) -> None:
        if self.model == "GP":
            self.stale = True  # its values are warped together: the study is rebuilt (`_refit`)
            return
        self.study.add_trial(self._trial(assignment, value))

    def _trial(self, assignment: Mapping[str, Value], value: float | None) -> FrozenTrial:
        params = {
            label: (bool(v) if self.dims[label].kind == "bool" else self.dims[label].to_unit(v))
            for label, v in assignment.items()
            if label in self.dims
        }
        distributions = {label: d.distribution() for label, d in self.dims.items()}
        if value is None or not math.isfinite(value):
            return create_trial(state=TrialState.FAIL, params=params, distributions=distributions)
        return create_trial(params=params, distributions=distributions, value=value)

    def _refit(self) -> None:
        """The GP's study afresh from the history, every value warped, with the suggestions
        still being measured as pending points again (a fixed point costs no model fit)."""
        if not self.stale:
            return
        self.stale = False
        study = self._new_study()
        values = warped([value for _, value in self.history], self.direction)
        measured = [v for v in values if v is not None]
        # A failure (a crash, a broken constraint) counts as the worst value seen: Optuna's GP
        # leaves failed trials out, and would propose the same diverging learning rate again.
        worst = (max if self.direction == "minimize" else min)(measured) if measured else None
        for (assignment, _), value in zip(self.history, values, strict=True):
            study.add_trial(self._trial(assignment, worst if value is None else value))
        fixed = {label: d.distribution() for label, d in self.dims.items()}
        for key, trial in list(self.pending.items()):
            study.enqueue_trial(dict(trial.params))
            self.pending[key] = study.ask(fixed)
        self.study = study

    def _widen(self, label: str, upward: bool) -> None:
        """A line search reached the edge of the range and paid off there: push the edge out.

        The model learns in the unit cube, so its history is replayed on the new ranges.
        """
        if self.widenings.get(label, 0) >= MAX_WIDENINGS:
            return
        self.widenings[label] = self.widenings.get(label, 0) + 1
        self.dims[label] = self.dims[label].widened(upward)
        self.study = self._new_study()
        self.pending.clear()  # trials of the old study
        for assignment, value in self.history:
            self._add_trial(assignment, value)

    def _key(self, assignment: Mapping[str, Value]) -> tuple[Any, ...]:
        return tuple(assignment[label] for label in self.dims)

    def _assignment(self, changes: Mapping[str, Value]) -> dict[str, Value]:
        return {**self.incumbent, **changes}

    def propose(self) -> tuple[dict[str, Value], str] | None:
        """Changes to the incumbent, and a word on how they were chosen; None if nothing new is found."""
        measured: dict[str, Value] | None = None  # the model's suggestion, when that point was measured
        steps = 0
        for _ in range(200):
            if measured is not None and steps < MAX_STEPS_OFF:
                # Asked again in the same state, the model would only suggest the same point:
                # a late search's GP settles on one, and each ask costs it a fit (seconds, on a
                # machine whose cores run the benchmarks). A step beside it costs nothing.
                steps += 1
                found: tuple[dict[str, Value], str] | None = (
                    self._step_off(measured, steps),
                    f"{self._suggestion}, a step beside it (measured already)",
                )
            else:
                found = self._next()
            if found is None:
                return None
            changes, how = found
            changes = {k: v for k, v in changes.items() if v != self.incumbent[k]}
            key = self._key(self._assignment(changes))
            if not changes or key in self.seen:
                if measured is None and how == self._suggestion:
                    measured = found[0]
                continue
            self.seen.add(key)
            return changes, how
        return None

    @property
    def _suggestion(self) -> str:
        return f"{self.model} suggestion"

    def _step_off(self, point: Mapping[str, Value], n: int) -> dict[str, Value]:
        """`point` with its numeric knobs moved by a Gaussian step in the unit cube, wider on
        each try (`n`): near the model's suggestion, but not the point already measured."""
        sigma = min(LOCAL_SIGMA, STEP_OFF_SIGMA * n)
        moved = dict(point)
        for label, value in point.items():
            dim = self.dims[label]
            if dim.kind in ("int", "float") and not dim.choices:
                moved[label] = dim.from_unit(dim.to_unit(value) + self.rng.gauss(0.0, sigma))
        return moved

    def _release(self, key: tuple[Any, ...]) -> None:
        """A pending suggestion is measured (or never will be): no longer a pending point."""
        trial = self.pending.pop(key, None)
        if trial is not None:
            self.study.tell(trial, state=TrialState.FAIL)  # its measurement is added as its own trial

    def _next(self) -> tuple[dict[str, Value], str] | None:
        while self.screen:
            label, sign = self.screen.popleft()
            if (label, -sign) in self.accepted_moves:
                continue  # the other direction already paid off
            dim = self.dims[label]
            if dim.kind == "bool":
                if sign < 0:
                    continue
                return {label: not self.incumbent[label]}, "screening: flip"
            if dim.choices:
                index = dim.choices.index(self.incumbent[label]) + sign
                if not 0 <= index < len(dim.choices):
                    continue
                return {label: dim.choices[index]}, f"screening: step {'up' if sign > 0 else 'down'}"
            here = dim.to_unit(self.incumbent[label])
            if (sign > 0 and here >= 1 - 1e-9) or (sign < 0 and here <= 1e-9):
                continue  # already at the edge of the range
            u = min(max(here + sign * SCREEN_STEP, 0.0), 1.0)  # a step past the edge stops at it
            return {label: dim.from_unit(u)}, f"screening: step {'up' if sign > 0 else 'down'}"
        if not self.dims:
            return None
        if self.design > 0:
            self.design -= 1
            return self._design_point(), "design point around the start"
        self.turn += 1
        if not self.screened:
            return self._suggest()
        return self._suggest() if self.turn % 2 else self._local()

    def _suggest(self) -> tuple[dict[str, Value], str]:
        with one_torch_thread(self.model == "GP"):
            self._refit()
            trial = self.study.ask({label: d.distribution() for label, d in self.dims.items()})
        gaps = sorted(
            self.dims,
            key=lambda label: (
                -abs(float(trial.params[label]) - self.dims[label].to_unit(self.incumbent[label]))
            ),
        )
        # With few knobs, 1-3 at a time keeps each accepted change readable; on a space too large
        # to screen, the model's suggestion is taken whole (finalize's ablation ranks it).
        k = self.rng.choice((1, 1, 2, 2, 3)) if self.screened else len(self.dims)
        changes = {label: self.dims[label].from_unit(float(trial.params[label])) for label in gaps[:k]}
        key = self._key(self._assignment(changes))
        if k < len(self.dims) or key in self.seen:
            # only a direction (the point measured differs), or a point measured or in flight
            # already (`propose` steps beside it; an in-flight one keeps its own pending trial)
            self.study.tell(trial, state=TrialState.FAIL)
        else:
            self.pending[key] = trial
            while len(self.pending) > MAX_PENDING:
                self._release(next(iter(self.pending)))
        return changes, self._suggestion

    def _design_point(self) -> dict[str, Value]:
        """Every knob moved a little from the starting configuration (a Gaussian step in the
        unit cube; a boolean or a choice moved now and then)."""
        point: dict[str, Value] = {}
        for label, dim in self.dims.items():
            start = self.start[label]
            if dim.kind == "bool":
                point[label] = (not start) if self.rng.random() < DESIGN_FLIP else start
            elif dim.choices:
                others = [c for c in dim.choices if c != start]
                point[label] = (
                    self.rng.choice(others) if others and self.rng.random() < DESIGN_FLIP else start
                )
            else:
                point[label] = dim.from_unit(dim.to_unit(start) + self.rng.gauss(0.0, DESIGN_SIGMA))
        return point

    def _local(self) -> tuple[dict[str, Value], str]:
        labels = self.rng.sample(list(self.dims), k=min(len(self.dims), self.rng.choice((1, 1, 2))))
        changes: dict[str, Value] = {}
        for label in labels:
            dim = self.dims[label]
            if dim.kind == "bool":
                changes[label] = not self.incumbent[label]
            elif dim.choices:
                changes[label] = self.rng.choice([c for c in dim.choices if c != self.incumbent[label]])
            else:
                changes[label] = dim.from_unit(
                    dim.to_unit(self.incumbent[label]) + self.rng.gauss(0.0, LOCAL_SIGMA)
                )
        return changes, "local move around the incumbent"

    def observe_start(self, assignment: Mapping[str, Value], value: float) -> None:
        """The starting point's measured value (the base's mean, learnt from the first outcome
        measured against it), so the model knows where it began; once."""
        if self.started_known or {k: assignment.get(k) for k in self.start} != self.start:
            return
        self.started_known = True
        self.history.append((dict(self.start), value))
        self._add_trial(self.start, value)

    def observe(
        self,
        changes: Mapping[str, Value],
        base: Mapping[str, Value],
        value: float | None,
        accepted: bool,
        how: str,
    ) -> None:
        self.record(changes, base, value)
        if accepted:
            self.accept(changes, how)

    def record(self, changes: Mapping[str, Value], base: Mapping[str, Value], value: float | None) -> None:
        """A measured assignment (None: it failed) joins the model's history."""
        assignment = {**base, **changes}
        self._release(self._key(assignment))
        self.history.append((assignment, value))
        self._add_trial(assignment, value)

    def accept(self, changes: Mapping[str, Value], how: str) -> None:
        """The changes are the new incumbent (their value is already recorded)."""
        self.incumbent.update(changes)
        self.seen.add(self._key(self.incumbent))
        if how.startswith("screening: step") and len(changes) == 1:
            (label,) = changes
            sign = 1 if how.endswith("up") else -1
            self.accepted_moves.add((label, sign))
            dim = self.dims[label]
            here = dim.to_unit(self.incumbent[label])
            if (sign > 0 and here >= 1 - 1e-9) or (sign < 0 and here <= 1e-9):
                # Past the edge is a long shot: widen, but try it after the other knobs' probes.
                self._widen(label, upward=sign > 0)
                self.screen.append((label, sign))
            else:
                self.screen.appendleft((label, sign))  # keep going the way that paid off


class SweepProposer:
    """The engine bound to the repository: knobs are literals, proposals are file edits."""

    name = "sweep"
    stopped = ""  # it stops when the engine has nothing new, which needs no explanation

    def __init__(
        self,
        boundaries: Boundaries,
        base_source: FileSource,
        direction: Direction,
        seed: int,
        model: str = "auto",
    ) -> None:
        self.boundaries = boundaries
        knobs = boundary_knobs(boundaries, base_source)
        self.engine = SweepEngine(
            dims_from_knobs(knobs), {k.label: k.value for k in knobs}, direction, seed, model
        )
        self.paths = {k.label: k.path for k in knobs}
        self.held: set[int] = set()  # experiments it has learnt from while they wait, held

    @property
    def defers_confirmation(self) -> bool:
        """The model's suggestions are taken whole (no screening): what it proposes next does
        not depend on the incumbent, so only the best of several gate passes need be confirmed."""
        return not self.engine.screened

    @property
    def size(self) -> int:
        return len(self.paths)

    def describe(self) -> str:
        """Which model suggests points, and how to get the better one."""
        if self.engine.model == "GP":
            return "Gaussian-process model"
        if self.engine.wanted == "tpe":
            return 'TPE model ([search] model = "tpe")'
        if self.size > GP_MAX_KNOBS:
            return f"TPE model: {self.size} knobs is more than a Gaussian process handles quickly"
        return "TPE model; `pip install scipy torch` for the Gaussian-process model"

    def propose(self, ctx: Context) -> Proposal | None:
        found = self.engine.propose()
        if found is None:
            return None
        changes, how = found
        return self._build(changes, how, ctx)

    def _build(self, changes: Mapping[str, Value], how: str, ctx: Context) -> Proposal | None:
        current = {k.label: k for k in boundary_knobs(self.boundaries, ctx.source)}
        if any(label not in current for label in changes):
            return None
        files: dict[str, str] = {}
        for path in sorted({current[label].path for label in changes}):
            text = (ctx.source.read_bytes(path) or b"").decode("utf-8")
            for knob in sorted(
                (current[lb] for lb in changes if current[lb].path == path), key=lambda k: -k.start
            ):
                text = text[: knob.start] + knob.render(changes[knob.label]) + text[knob.end :]
            files[path] = text
        parts = [
            f"{label} to {current[label].render(v)} (was {current[label].text})"
            for label, v in changes.items()
        ]
        hypothesis = "Set " + " and ".join(parts)
        return Proposal(
            "sweep",
            hypothesis,
            f"sweep, {how}.",
            ctx.parent,
            files=files,
            meta={
                "knobs": {label: v for label, v in changes.items()},
                "base": {label: current[label].value for label in current},
                "how": how,
            },
        )

    def rebase(self, proposal: Proposal, ctx: Context) -> Proposal | None:
        changes = dict(proposal.meta.get("knobs", {}))
        return self._build(changes, str(proposal.meta.get("how", "re-applied")), ctx) if changes else None

    def observe(self, outcome: Outcome) -> None:
        meta = outcome.proposal.meta
        if outcome.proposal.proposer != "sweep" and "knobs" not in meta:
            return
        parent = dict(meta.get("base", self.engine.incumbent))
        # The model sees every experiment on the seeds they all share (and the start on them),
        # so that where the seed sets much of the noise, it is the same in every point it fits.
        value = outcome.value
        if outcome.shared_value is not None and outcome.shared_parent is not None:
            value = outcome.shared_value
            self.engine.observe_start(parent, outcome.shared_parent)
        elif outcome.value is not None and outcome.delta is not None:
            self.engine.observe_start(parent, outcome.value - outcome.delta)
        # a change that broke a constraint is no guide by its objective: the model sees it fail
        value = None if outcome.infeasible else value
        changes, how = dict(meta.get("knobs", {})), str(meta.get("how", ""))
        if outcome.number in self.held:  # learnt from when it was held; only the verdict is new
            self.held.discard(outcome.number)
            if outcome.accepted:
                self.engine.accept(changes, how)
            return
        if outcome.held:
            self.held.add(outcome.number)
        self.engine.observe(changes, parent, value, outcome.accepted, how)

    def rejected(self, proposal: Proposal, violations: Sequence[Violation]) -> None:
        del proposal, violations  # literal edits inside regions are always legal; nothing to learn

    def warm(self, ctx: Context) -> None:
        del ctx  # proposing takes milliseconds; nothing to prepare

    def duplicate(self, proposal: Proposal, of: int) -> None:
        del proposal, of  # the engine never proposes an assignment twice; others' duplicates teach nothing

    def usage(self) -> Mapping[str, Any]:
        return {}

    def restore_usage(self, usage: Mapping[str, Any]) -> None:
        del usage

    def close(self) -> None:
        pass  # no background work
