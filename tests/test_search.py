"""The search loop driven directly, with a scripted executor: decisions, budgets, re-application,
failures and resume, in seconds and without a benchmark process. (`gitresearch start` end to
end is in test_loop.py.)"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest

from gitresearch.execute.base import Job
from gitresearch.finalize import finalize
from gitresearch.ledger import Ledger
from gitresearch.notes import ExperimentNote
from gitresearch.propose.sweep import SweepProposer
from gitresearch.rebuild import sync_from_git
from gitresearch.store import Store
from gitresearch.testing.fakeexec import Crash
from tests.helpers.search import ScriptedProposer, constants, harness, knob_repo, quadratic


def test_a_real_improvement_is_confirmed_on_fresh_seeds_and_becomes_the_incumbent(tmp_path: Path) -> None:
    repo = knob_repo(tmp_path / "r", experiments=3)
    h = harness(repo, quadratic)
    proposer = ScriptedProposer([{"LR": "0.1"}, {"WIDTH": "16"}, {"MOMENTUM": "0.9"}])
    search = h.search("s", proposer)
    search.start()
    summary = search.loop()
    assert summary.experiments == 3 and summary.accepted == [1, 3]
    # every accepted change ran on the paired seed, then on seeds fresh to it: first those its
    # parent ran (each run a pair), then seeds nobody ran; a clear winner needs one
    by_exp: dict[int, list[Job]] = {}
    for job in h.executor.submitted:
        by_exp.setdefault(job.experiment, []).append(job)
    assert [(j.purpose, j.seed) for j in by_exp[0]] == [("baseline", 0), ("baseline", 1), ("baseline", 2)]
    assert [j.purpose for j in by_exp[1]] == ["measure", "confirm"]
    assert [j.seed for j in by_exp[1] if j.purpose == "confirm"] == [1]  # the base ran seed 1
    assert [j.seed for j in by_exp[3] if j.purpose == "confirm"] == [1]  # so did its parent, #1
    # the knob that does nothing failed the gate and was never confirmed
    assert [j.purpose for j in by_exp[2]] == ["measure"]
    refs = h.ws.store.run("s")
    assert refs is not None and refs.best == search.experiments[3].commit
    assert search.experiments[3].parent == search.experiments[1].commit
    # each note holds what the ledger holds
    for exp in search.experiments.values():
        note = ExperimentNote.from_json(h.ws.store.read_note(exp.commit), commit=exp.commit)
        row = h.ws.ledger.experiment("s", exp.number)
        assert note is not None and row is not None
        assert note.status == row.status == exp.status and note.decision == row.decision
        assert len(note.measurements) == len(h.ws.ledger.measurements("s", exp.number))
    assert proposer.outcomes[0].accepted and not proposer.outcomes[1].accepted


def test_a_winner_the_first_fresh_seed_leaves_undecided_gets_one_more(tmp_path: Path) -> None:
    """LR 0.01 -> 0.02 gains 0.17 against a seed noise of about 0.015 known on 3 degrees of
    freedom: one fresh seed is short of its bar (t at 0.025%, about 0.25), two pass (at
    0.075%, about 0.09): the rule asks for the second."""
    repo = knob_repo(tmp_path / "r", experiments=1)
    h = harness(repo, quadratic)
    search = h.search("s", ScriptedProposer([{"LR": "0.02"}]))
    search.start()
    assert search.loop().accepted == [1]
    jobs = [j.purpose for j in h.executor.submitted if j.experiment == 1]
    assert jobs == ["measure", "confirm", "confirm"]
    reason = search.experiments[1].decision.reason
    assert "confirmation (2 of at most 2 fresh seeds)" in reason, reason
    assert any("one more fresh seed" in e for e in h.events), h.events


def test_a_confirmation_stopped_between_fresh_seeds_resumes_where_it_was(tmp_path: Path) -> None:
    repo = knob_repo(tmp_path / "r", experiments=1)
    h = harness(repo, quadratic)
    search = h.search("s", ScriptedProposer([{"LR": "0.02"}]))

    def stop_after_one_fresh_seed(s: object) -> None:
        del s
        exp = search.experiments.get(1)
        if exp and sum(m.purpose == "confirm" for m in exp.measurements) == 1:
            search.interrupted = 1

    search.on_tick = stop_after_one_fresh_seed
    search.start()
    assert search.loop().interrupted
    first = [(j.purpose, j.seed) for j in h.executor.submitted if j.experiment == 1]
    assert [p for p, _ in first] == ["measure", "confirm"]

    again = harness(repo, quadratic)
    again.ws.ledger = h.ws.ledger
    resumed = again.search("s", ScriptedProposer([]))
    resumed.resume()
    assert resumed.loop().accepted == [1]
    second = [(j.purpose, j.seed) for j in again.executor.submitted if j.experiment == 1]
    assert (
        len(second) == 1 and second[0][0] == "confirm" and second[0] not in first
    )  # the next fresh seed only


def test_noise_alone_is_never_accepted(tmp_path: Path) -> None:
    repo = knob_repo(tmp_path / "r", experiments=40)
    noise = random.Random(11)

    def pure_noise(store: Store) -> object:
        del store
        return lambda job: 1.0 + noise.gauss(0, 0.05)  # ignores the code and the seed

    h = harness(repo, pure_noise)  # type: ignore[arg-type]
    search = h.search("noise")
    search.start()
    summary = search.loop()
    assert summary.experiments == 40 and summary.accepted == []
    gated = [e for e in search.experiments.values() if e.decision.gate is not None]
    assert all(e.status == "discarded" and "confirmation" in e.decision.reason for e in gated)


def test_min_improvement_refuses_a_real_but_small_gain(tmp_path: Path) -> None:
    repo = knob_repo(tmp_path / "r", experiments=1, min_improvement=0.5, deterministic=True)
    h = harness(repo, lambda store: quadratic(store, noise=0.0))
    search = h.search("small", ScriptedProposer([{"LR": "0.04"}]))  # gains 0.81 - 0.36 = 0.45 < 0.5
    search.start()
    assert search.loop().accepted == []
    exp = search.experiments[1]
    assert exp.status == "discarded" and "needed > 0.5" in exp.decision.reason


def test_a_winner_of_a_stale_parent_is_reapplied_on_the_incumbent(tmp_path: Path) -> None:
    repo = knob_repo(tmp_path / "r", experiments=6, jobs=2)
    # LR's runs take 20 ms, the others' 100 ms: both start against the base, LR is accepted first
    h = harness(repo, quadratic, slots=2, seconds=lambda job: 0.02 if job.experiment == 1 else 0.1)
    settings = [{"LR": "0.1"}, {"MOMENTUM": "0.9"}, {"WIDTH": "16"}, {"WIDTH": "32"}, {"WIDTH": "64"}]
    search = h.search("stale", ScriptedProposer(settings))
    search.start()
    summary = search.loop()
    first, second = search.experiments[1], search.experiments[2]
    assert first.status == "accepted" and second.parent == first.parent == search.base
    assert second.status == "discarded" and "re-applied" in second.decision.reason
    again = search.experiments[second.decision.reapplied_as or 0]
    assert again.parent != search.base and again.decision.reapplied_from == 2
    assert again.status == "accepted" and summary.accepted == [1, again.number]
    assert constants(h.ws.store, again.commit) == {"LR": 0.1, "MOMENTUM": 0.9, "WIDTH": 8.0}


def test_failures_in_a_row_stop_the_search_with_the_last_error(tmp_path: Path) -> None:
    repo = knob_repo(tmp_path / "r", experiments=20)

    def crashes(store: Store) -> object:
        base = store.head()
        return lambda job: 1.0 + job.seed * 1e-3 if job.commit == base else Crash("ZeroDivisionError")

    h = harness(repo, crashes)  # type: ignore[arg-type]
    search = h.search("crash")
    search.start()
    summary = search.loop()
    assert summary.experiments == 3 and all(e.status == "failed" for e in search.experiments.values())
    assert (
        "3 experiments in a row failed" in summary.stop_reason and "ZeroDivisionError" in summary.stop_reason
    )


def test_a_failing_base_stops_before_any_experiment(tmp_path: Path) -> None:
    repo = knob_repo(tmp_path / "r")
    h = harness(repo, lambda store: lambda job: Crash("no data"))
    search = h.search("broken")
    search.start()
    summary = search.loop()
    assert summary.base_failed and summary.experiments == 0 and "the base itself fails" in summary.stop_reason


def test_a_stopped_search_resumes_without_repeating_a_finished_run(tmp_path: Path) -> None:
    repo = knob_repo(tmp_path / "r", experiments=8, jobs=2)
    h = harness(repo, quadratic, slots=2, seconds=0.02)
    search = h.search("night")

    def stop_after_three(s: object) -> None:
        del s
        if search.committed >= 3:
            search.interrupted = 1  # what Ctrl-C does

    search.on_tick = stop_after_three
    search.start()
    first = search.loop()
    assert first.interrupted
    finished = {(j.experiment, j.purpose, j.seed) for j in h.executor.submitted}
    decided = {e.number for e in search.experiments.values() if e.status in ("accepted", "discarded")}

    # a new process: the ledger is rebuilt from git first, as `start --resume` does
    ws = h.ws
    ws.ledger.close()
    ws.ledger = Ledger(tmp_path / "fresh.sqlite")
    sync_from_git(ws.store, ws.ledger)
    again = harness(repo, quadratic, slots=2, seconds=0.02)
    again.ws.ledger = ws.ledger
    resumed = again.search("night")
    resumed.resume()
    second = resumed.loop()
    assert second.experiments == 8 and not second.interrupted
    repeated = [
        j
        for j in again.executor.submitted
        if (j.experiment, j.purpose, j.seed) in finished and j.experiment in decided
    ]
    assert repeated == []
    numbers = [e.number for e in ws.ledger.experiments("night") if e.commit]
    assert len(numbers) == 8 and numbers == sorted(set(numbers))  # 8 committed, none twice


def test_finalize_ablates_through_the_same_recorder(tmp_path: Path) -> None:
    repo = knob_repo(tmp_path / "r", experiments=2)
    h = harness(repo, quadratic)
    search = h.search("fin", ScriptedProposer([{"LR": "0.1"}, {"MOMENTUM": "0.9"}]))
    search.start()
    assert search.loop().accepted == [1, 2]
    ranked = finalize(
        store=h.ws.store, ledger=h.ws.ledger, executor=h.executor, config=h.ws.config, run="fin"
    )
    assert [c.experiment for c in ranked] == [2, 1]  # MOMENTUM is worth 1.6, LR 0.81
    ablations = [j for j in h.executor.submitted if j.purpose == "ablation"]
    assert len(ablations) == 2 * 3 and {m.purpose for m in h.ws.ledger.measurements("fin", 1)} >= {"ablation"}
    row = h.ws.ledger.run("fin")
    assert row is not None and row.status == "finalized"


def seed_shared(store: Store, own: float = 0.0) -> Callable[[Job], float]:
    """The quadratic with its noise (σ 0.05) set by the seed, shared by every commit on that
    seed, plus `own` σ of noise each run draws afresh (its constants and seed hashed, so that
    the test does not hang on commit hashes)."""

    def score(job: Job) -> float:
        k = constants(store, job.commit)
        loss = (k["LR"] - 0.1) ** 2 * 100 + (k["MOMENTUM"] - 0.9) ** 2 * 10
        fresh = random.Random(f"{sorted(k.items())}/{job.seed}").gauss(0, own) if own else 0.0
        return loss + random.Random(job.seed).gauss(0, 0.05) + fresh

    return score


def test_a_small_gain_is_confirmed_on_seeds_its_parent_ran_when_the_seed_is_the_noise(
    tmp_path: Path,
) -> None:
    """MOMENTUM 0.55 -> 0.56 gains 0.069, about 1.4σ of the seed noise: beyond reach of the
    usual test on a few fresh seeds, but the seed's noise is shared by a change and its parent,
    so on a seed its parent ran the difference is the gain itself."""
    settings = [{"LR": "0.1"}, {"MOMENTUM": "0.55"}, {"MOMENTUM": "0.56"}]
    repo = knob_repo(tmp_path / "r", experiments=3)
    h = harness(repo, seed_shared)
    search = h.search("paired", ScriptedProposer(settings))
    search.start()
    assert search.loop().accepted == [1, 2, 3]
    small = search.experiments[3]
    assert "paired on 1 seed(s) its parent ran" in small.decision.reason, small.decision.reason
    parent_seeds = {m.seed for m in search.experiments[2].measurements}
    assert [m.seed for m in small.measurements if m.purpose == "confirm"] == [1]
    assert 1 in parent_seeds

    # the same gain where each run's noise is its own (nothing shared): not confirmed
    again = knob_repo(tmp_path / "q", experiments=3)
    h2 = harness(
        again,
        lambda store: (
            lambda job: (
                seed_shared(store)(job)
                + random.Random(f"{sorted(constants(store, job.commit).items())}{job.seed}").gauss(0, 0.05)
            )
        ),
    )
    unpaired = h2.search("unpaired", ScriptedProposer(settings))
    unpaired.start()
    assert 3 not in unpaired.loop().accepted


def test_a_change_that_does_nothing_is_never_accepted_when_the_seed_is_most_of_the_noise(
    tmp_path: Path,
) -> None:
    """Noise three quarters the seed's (σ 0.05 shared by every commit on a seed, 0.03 each
    run's own): two real gains first, so the noise of a paired difference is known, then forty
    changes of WIDTH, which does nothing. Some pass the (paired) gate and are confirmed with
    the paired test in play; none is accepted."""
    settings = [{"LR": "0.1"}, {"MOMENTUM": "0.9"}] + [{"WIDTH": str(w)} for w in range(9, 49)]
    repo = knob_repo(tmp_path / "r", experiments=len(settings))
    h = harness(repo, lambda store: seed_shared(store, own=0.03))
    search = h.search("noise", ScriptedProposer(settings))
    search.start()
    summary = search.loop()
    assert summary.accepted == [1, 2]
    gated = [e for e in search.experiments.values() if e.number > 2 and e.decision.gate is not None]
    assert gated and search.pair_noise().df >= 2, (len(gated), search.pair_noise())


def test_the_sweep_sees_every_experiment_on_the_seeds_they_all_share(tmp_path: Path) -> None:
    """An accepted change has runs on more seeds than a discarded one; the model is given each
    experiment's value on seed 0, the seed every experiment ran (and the base's on seed 0), so
    a seed's share of the noise is the same in every point it fits."""
    repo = knob_repo(tmp_path / "r", experiments=8)
    h = harness(repo, seed_shared)
    search = h.search("shared")
    search.start()
    search.loop()
    proposer = search.proposer
    assert isinstance(proposer, SweepProposer)
    seen = [value for _, value in proposer.engine.history]
    base = next(m.metrics["loss"] for m in search.baseline if m.seed == 0)
    on_seed_0 = [
        next(m.metrics["loss"] for m in e.measurements if m.seed == 0)
        for e in sorted(search.experiments.values(), key=lambda e: e.number)
    ]
    assert seen == pytest.approx([base, *on_seed_0])
    assert any(len(e.measurements) > 1 for e in search.experiments.values())  # some were confirmed
