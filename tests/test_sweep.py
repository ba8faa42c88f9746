"""The sweep engine on its own: screening, line search past the range's edge, determinism."""

from __future__ import annotations

import math

import pytest

from gitresearch.errors import UsageError
from gitresearch.propose.searchspace import Value, space_range
from gitresearch.propose.sweep import (
    DESIGN_POINTS,
    GP_MAX_KNOBS,
    Dim,
    SweepEngine,
    gp_available,
    model_name,
    warped,
)


def dims_of(initial: dict[str, Value]) -> list[Dim]:
    """A knob for each value, of its kind, over the range `gitresearch check` would give it."""
    dims = []
    for label, value in initial.items():
        kind = "bool" if isinstance(value, bool) else ("int" if isinstance(value, int) else "float")
        dims.append(Dim(label, kind, *space_range(value)))
    return dims


def engine(initial: dict[str, Value], seed: int = 0, model: str = "tpe") -> SweepEngine:
    """The engine with TPE by default: the exact trajectories below are TPE's."""
    return SweepEngine(dims_of(initial), initial, "minimize", seed, model)


def drive(e: SweepEngine, f: object, n: int) -> list[tuple[dict[str, Value], str, bool]]:
    assert callable(f)
    best = f(e.incumbent)
    log = []
    for _ in range(n):
        found = e.propose()
        if found is None:
            break
        changes, how = found
        value = f({**e.incumbent, **changes})
        accepted = value < best
        e.observe(changes, dict(e.incumbent), value, accepted, how)
        best = min(best, value)
        log.append((changes, how, accepted))
    return log


def test_screening_probes_every_knob_up_then_down() -> None:
    e = engine({"A": 0.1, "B": 10, "C": True})
    log = drive(e, lambda x: 1.0, 5)  # nothing ever helps
    assert {next(iter(c)) for c, _, _ in log[:3]} == {"A", "B", "C"}
    assert sorted(how for _, how, _ in log[:3]) == [
        "screening: flip",
        "screening: step up",
        "screening: step up",
    ]
    assert [how for _, how, _ in log[3:5]] == ["screening: step down", "screening: step down"]
    assert {next(iter(c)) for c, _, _ in log[3:5]} == {"A", "B"}
    assert all(len(changes) == 1 for changes, _, _ in log)


def test_line_search_goes_past_the_edge_of_the_range() -> None:
    e = engine({"LR": 3e-4, "EPS": 1e-4})
    log = drive(e, lambda x: (math.log10(float(x["LR"])) + 1.5) ** 2, 10)  # optimum 0.0316
    assert e.incumbent["LR"] == 0.03
    assert e.dims["LR"].high > 0.1  # widened past the initial [3e-5, 3e-3]
    assert [c["LR"] for c, how, ok in log if ok] == [0.00119, 0.003, 0.0238, 0.03]


def test_same_seed_same_proposals() -> None:
    def f(x: dict[str, Value]) -> float:
        return (float(x["A"]) - 0.3) ** 2 + (float(x["B"]) - 40) ** 2 / 1000

    runs = [[c for c, _, _ in drive(engine({"A": 0.1, "B": 10}, seed=5), f, 15)] for _ in range(2)]
    assert runs[0] == runs[1]
    other = [c for c, _, _ in drive(engine({"A": 0.1, "B": 10}, seed=6), f, 15)]
    assert other != runs[0]


def test_values_are_rounded_like_a_person_would_write_them() -> None:
    beta = Dim("B", "float", *space_range(0.999))
    lr = Dim("LR", "float", *space_range(3e-4))
    for u in (0.0, 0.13, 0.5, 0.77, 1.0):
        b, r = float(beta.from_unit(u)), float(lr.from_unit(u))
        assert b < 1.0 and abs((1 - b) - float(f"{1 - b:.3g}")) < 1e-12  # three digits of the gap to 1
        assert r == float(f"{r:.3g}")


def test_the_model_is_a_gaussian_process_when_it_can_be() -> None:
    assert model_name(5, "tpe") == "TPE"
    if not gp_available():
        assert model_name(5) == "TPE"
        with pytest.raises(UsageError, match="needs torch and scipy"):
            model_name(5, "gp")
        return
    assert (
        model_name(5) == "GP"
        and model_name(GP_MAX_KNOBS + 1) == "TPE"
        and model_name(GP_MAX_KNOBS + 1, "gp") == "GP"
    )
    e = engine({"A": 0.1, "B": 10, "C": 0.5}, seed=1, model="auto")
    assert e.model == "GP"

    def f(x: dict[str, Value]) -> float:
        return (math.log10(float(x["A"])) + 0.5) ** 2 + (math.log10(float(x["B"])) - 1.6) ** 2

    log = drive(e, f, 20)
    assert any(how == "GP suggestion" for _, how, _ in log)
    assert f(e.incumbent) < 0.05 < f({"A": 0.1, "B": 10, "C": 0.5})


def test_a_large_space_skips_screening_and_takes_the_gp_suggestion_whole() -> None:
    if not gp_available():
        pytest.skip("the Gaussian-process model needs torch and scipy")
    initial: dict[str, Value] = {f"K{i:02d}": 0.1 for i in range(12)}
    e = engine(initial, model="gp")
    assert not e.screened and not e.screen

    def f(x: dict[str, Value]) -> float:
        return sum((math.log10(float(x[k])) + 0.5) ** 2 for k in ("K00", "K05"))

    log = drive(e, f, 12)
    assert all(not how.startswith("screening") for _, how, _ in log)
    # first a design around the start: every knob moved a little, within a decade of 0.1
    design = [c for c, how, _ in log if how.startswith("design point")]
    assert (
        len(design) == DESIGN_POINTS
        and [how for _, how, _ in log[:DESIGN_POINTS]] == ["design point around the start"] * DESIGN_POINTS
    )
    assert all(0.01 <= float(v) <= 1.0 for c in design for v in c.values())
    assert max(len(c) for c, how, _ in log if how == "GP suggestion") > 3  # many knobs at once
    assert f(e.incumbent) < f(initial)
    small = engine({"A": 0.1, "B": 10}, model="gp")
    assert small.screened and small.screen  # a few knobs: screened one at a time, as before


def test_the_model_learns_the_starting_point_once() -> None:
    e = engine({"A": 0.1, "B": 10})
    e.observe_start({"A": 0.2, "B": 10}, 1.0)  # not the start: ignored
    assert e.history == []
    e.observe_start({"A": 0.1, "B": 10}, 2.5)
    e.observe_start({"A": 0.1, "B": 10}, 9.9)  # only once
    assert e.history == [({"A": 0.1, "B": 10}, 2.5)]
    assert len(e.study.trials) == 1 and e.study.trials[0].value == 2.5


def test_warped_values_keep_their_order_and_bring_the_outliers_in() -> None:
    if not gp_available():
        pytest.skip("the warping comes with the Gaussian process (scipy)")
    # a search's values: most near the best, a few awful (a learning rate 100x off)
    values: list[float | None] = [0.31, 0.30, 0.32, 0.35, 0.29, 12.0, 0.40, 7.5, None, float("nan"), 0.295]
    out = warped(values, "minimize")
    assert out[8] is None and out[9] is None  # failures stay failures
    pairs = [(v, w) for v, w in zip(values, out, strict=True) if v is not None and w is not None]
    assert sorted(pairs, key=lambda p: p[0]) == sorted(pairs, key=lambda p: p[1])  # the same order

    def share(xs: list[float]) -> float:  # the gap between the two best, as a share of the range
        best = sorted(xs)
        return (best[1] - best[0]) / (best[-1] - best[0])

    raw = [v for v, _ in pairs]
    assert share([w for _, w in pairs]) > 5 * share(raw)  # near the best, differences stand out
    # maximising is the mirror image; too few distinct values are left alone
    mirrored = warped([-v if v is not None else None for v in values], "maximize")
    assert mirrored == pytest.approx([-w if w is not None else None for w in out])
    assert warped([1.0, 1.0, 2.0], "minimize") == [1.0, 1.0, 2.0]


def test_the_gaussian_process_is_fitted_on_warped_values() -> None:
    if not gp_available():
        pytest.skip("the Gaussian-process model needs torch and scipy")
    initial: dict[str, Value] = {f"K{i:02d}": 0.1 for i in range(10)}
    e = engine(initial, model="gp")

    def f(x: dict[str, Value]) -> float:
        return sum((math.log10(float(x[k])) + 0.5) ** 2 for k in ("K00", "K05")) ** 2

    drive(e, f, DESIGN_POINTS + 3)
    e._refit()
    fitted = [t.value for t in e.study.trials if t.state.name == "COMPLETE"]
    assert fitted == pytest.approx(warped([v for _, v in e.history], "minimize"))
    assert fitted != pytest.approx([v for _, v in e.history])  # not the raw values


def test_a_failure_counts_as_the_worst_value_seen() -> None:
    """Optuna's GP leaves failed trials out: told nothing, it would propose the same diverging
    setting again. The sweep fits a failure (a crash, a broken constraint) as the worst value."""
    if not gp_available():
        pytest.skip("the Gaussian-process model needs torch and scipy")
    initial: dict[str, Value] = {f"K{i:02d}": 0.1 for i in range(10)}
    e = engine(initial, model="gp")
    e.observe_start(dict(initial), 1.0)
    for i, value in enumerate([0.8, None, 0.5, 2.0, None]):
        e.observe({"K00": 0.1 + 0.05 * (i + 1)}, dict(initial), value, False, "GP suggestion")
    e._refit()
    trials = e.study.trials
    assert len(trials) == 6 and all(t.state.name == "COMPLETE" for t in trials)
    worst = max(t.value for t in trials if t.value is not None)
    assert trials[2].value == worst and trials[5].value == worst  # the two failures
    assert trials[4].value == worst  # as bad as the worst measured (2.0), no worse


class Settled(SweepEngine):
    """An engine whose model has settled: every ask suggests the same point (as a late GP's
    does once its suggestions round to the same three digits), and each ask is counted."""

    def __init__(self, point: dict[str, Value], initial: dict[str, Value]) -> None:
        super().__init__(dims_of(initial), initial, "minimize", 0, "tpe")
        self.screen.clear()  # straight to the model: no screening, no local moves between its asks
        self.screened = False
        self.point = point
        self.asks = 0

    def _suggest(self) -> tuple[dict[str, Value], str]:
        self.asks += 1
        return dict(self.point), self._suggestion


def test_a_suggestion_measured_already_is_stepped_beside_without_asking_the_model_again() -> None:
    point: dict[str, Value] = {"LR": 0.003, "WD": 0.5}
    e = Settled(point, {"LR": 0.001, "WD": 0.1})
    first = e.propose()
    assert first == (point, "TPE suggestion") and e.asks == 1
    e.observe(point, dict(e.incumbent), 1.0, False, "TPE suggestion")  # measured
    seen: list[dict[str, Value]] = [point]
    for n in range(2, 6):
        found = e.propose()
        assert found is not None
        changes, how = found
        # one ask per proposal: the model, asked again in the same state, would answer the same
        assert e.asks == n and how == "TPE suggestion, a step beside it (measured already)"
        assert changes not in seen  # a point not measured or proposed before...
        for label in ("LR", "WD"):  # ...and near the model's: a small step in the unit cube
            dim = e.dims[label]
            assert abs(dim.to_unit(changes[label]) - dim.to_unit(point[label])) < 0.1
        seen.append(changes)


def test_a_measured_suggestion_with_nothing_to_step_ends_the_search_instead_of_looping() -> None:
    e = Settled({"FLAG": True}, {"FLAG": False})
    assert e.propose() == ({"FLAG": True}, "TPE suggestion")
    # a boolean has no step beside it: the model is asked again, and in the end nothing is new
    assert e.propose() is None and e.asks > 1


def test_the_gaussian_process_thinks_on_one_torch_thread_and_gives_the_rest_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if not gp_available():
        pytest.skip("the Gaussian-process model needs torch and scipy")
    import optuna
    import torch

    threads: list[int] = []
    sample = optuna.samplers.GPSampler.sample_relative

    def spied(self: optuna.samplers.GPSampler, *args: object) -> object:
        threads.append(torch.get_num_threads())
        return sample(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(optuna.samplers.GPSampler, "sample_relative", spied)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        e = engine({f"K{i:02d}": 0.1 for i in range(12)}, model="gp")  # no screening: the GP at once
        drive(e, lambda x: sum(math.log10(float(v)) ** 2 for v in x.values()), DESIGN_POINTS + 3)
        # the benchmarks hold the cores: the GP's tiny matrices are faster on one thread
        assert threads and set(threads) == {1}
        assert torch.get_num_threads() == 2  # and the process's setting is as it was
    finally:
        torch.set_num_threads(before)
