"""Early stopping's memory between looks (gitresearch/stopping.py), without a loop: a curve
judged once per report, every AUDIT_EVERY-th stop against one rival let run as a check, an
audit that finds the curves no guide, and the same memory rebuilt on resume."""

from __future__ import annotations

from gitresearch.boundaries.config import Direction
from gitresearch.notes import Points
from gitresearch.prune import setting
from gitresearch.stopping import AUDIT_EVERY, EarlyStopping, Rival

PARENT: Points = tuple((float(s), 1.0 + 1.0 / s) for s in range(25, 301, 25))
REFERENCE = [tuple((s, v + d) for s, v in PARENT) for d in (0.0, 0.004, -0.004)]
STUCK: Points = tuple((s, v + 0.5) for s, v in PARENT)  # 0.5 behind, not closing: stopped at 100
LEVEL: Points = tuple((s, v + 0.001) for s, v in PARENT)


def memory(direction: Direction = "minimize") -> EarlyStopping:
    return EarlyStopping(setting("conservative"), direction)


def upto(curve: Points, step: float) -> Points:
    return tuple(p for p in curve if p[0] <= step)


def rival(number: int | None = None, commit: str = "p") -> Rival:
    return Rival(commit, number, PARENT, REFERENCE)


def no_noise() -> float:
    return 0.0


def test_a_curve_is_judged_once_per_new_report() -> None:
    m = memory()
    assert m.judge("k", 1, 0, upto(STUCK, 75), rival(), no_noise) is None  # one report from a quarter on
    call = m.judge("k", 1, 0, upto(STUCK, 175), rival(), no_noise)
    assert call is not None and not call.audit and call.stop.evidence.step == 175
    assert call.stop.evidence.against is None  # against its parent
    assert m.judge("k", 1, 0, upto(STUCK, 175), rival(), no_noise) is None  # nothing new: not again
    assert m.calls == {"p": 1}
    assert m.judge("l", 2, 0, upto(LEVEL, 275), rival(), no_noise) is None  # level: runs on


def test_a_stop_against_a_held_gate_pass_names_it() -> None:
    call = memory().judge("k", 5, 0, upto(STUCK, 175), rival(number=3, commit="g"), no_noise)
    assert call is not None and call.stop.evidence.against == 3


def test_every_eighth_stop_against_one_rival_runs_on_as_an_audit() -> None:
    m = memory()
    calls = [m.judge(f"k{i}", i, 0, upto(STUCK, 175), rival(), no_noise) for i in range(1, AUDIT_EVERY + 1)]
    assert all(c is not None for c in calls)
    assert [c.audit for c in calls if c is not None] == [False] * (AUDIT_EVERY - 1) + [True]
    # the audited experiment's runs are not stopped meanwhile; another rival counts apart
    assert not m.may_stop("other-seed", AUDIT_EVERY) and m.may_stop("k1", 1)
    other = m.judge("x", 99, 0, upto(STUCK, 175), rival(commit="q"), no_noise)
    assert other is not None and not other.audit
    # the audited run ends: its stop comes back to be checked, and its experiment is free again
    stop, audit = m.ended(f"k{AUDIT_EVERY}", AUDIT_EVERY)
    assert stop is None and audit is not None and audit.evidence.step == 175
    assert m.may_stop("other-seed", AUDIT_EVERY)


def test_a_run_being_stopped_is_not_judged_again_and_ends_with_its_reason() -> None:
    m = memory()
    call = m.judge("k", 1, 0, upto(STUCK, 175), rival(), no_noise)
    assert call is not None
    m.stopped("k", call.stop)
    assert not m.may_stop("k", 1)
    assert m.ended("k", 1) == (call.stop, None)
    assert m.ended("k", 1) == (None, None)


def test_an_audit_that_ends_level_makes_the_rivals_curves_no_guide() -> None:
    m = memory()
    call = m.judge("k", 1, 0, upto(STUCK, 175), rival(), no_noise)
    assert call is not None
    assert m.audited_run("p", 0.45, call.stop, clearly=0.02) is None  # ended far behind: right
    assert m.guided("p")
    why = m.audited_run("p", 0.001, call.stop, clearly=0.02)  # ended level: the curves misled
    assert why is not None and "not beyond" in why
    assert not m.guided("p") and not m.guided("base", "p") and m.guided("base")
    # a curve that overstated the gap many times over (a forged one) is no guide either
    n = memory()
    assert n.audited_run("p", 0.1, call.stop, clearly=0.02) is not None  # 0.5 then, 0.1 at the end


def test_maximize_reads_the_gap_the_other_way() -> None:
    m = memory("maximize")
    ahead = tuple((s, -v) for s, v in PARENT)  # a maximised metric: the parent's curve negated
    behind = tuple((s, v - 0.5) for s, v in ahead)
    call = m.judge(
        "k",
        1,
        0,
        upto(behind, 175),
        Rival("p", None, ahead, [tuple((s, -v) for s, v in c) for c in REFERENCE]),
        no_noise,
    )
    assert call is not None and call.stop.evidence.value < call.stop.evidence.parent
    assert m.audited_run("p", 0.45, call.stop, clearly=0.02) is None


def test_prune_off_judges_nothing() -> None:
    m = EarlyStopping(None, "minimize")
    assert not m.may_stop("k", 1)
    assert m.judge("k", 1, 0, STUCK, rival(), no_noise) is None


def test_a_resumed_search_recalls_its_counts_and_the_curves_that_misled() -> None:
    m = memory()
    for _ in range(AUDIT_EVERY - 1):
        m.recall("p", stopped=True, audit=None)
    m.recall("q", stopped=False, audit="wrong")
    m.recall("r", stopped=False, audit=None)  # neither stopped nor audited: counts nothing
    assert m.calls == {"p": AUDIT_EVERY - 1, "q": 1}
    assert not m.guided("q") and m.guided("p", "r")
    call = m.judge("k", 9, 0, upto(STUCK, 175), rival(), no_noise)  # the next call is the 8th: an audit
    assert call is not None and call.audit
