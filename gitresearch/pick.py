"""Taking winners into the user's branch: one rule for what is picked, in which order.

The command line (`gitresearch pick 7 12`, `--top N`) and the review (marks, `p`) both
ask `targets` and then `pick`, so the same choice lands the same way from either:
- a ranked candidate is taken from the candidates branch, anything else from its own branch;
- the order is the candidates' rank (their order on the candidates branch, which keeps
  every change after the ones it builds on), then, for other experiments, their number
  (a child is always numbered after its parent);
- a change already in the branch (the same patch, `git cherry`) is skipped and said so;
- a pick that stops (a conflict) is aborted and the branch is put back where it was, so a
  pick lands whole or not at all and never leaves a cherry-pick in progress.

This is the one place that writes to the user's checkout (promise 1's exception).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gitresearch.errors import UsageError
from gitresearch.runview import RunSummary
from gitresearch.store import Store


@dataclass(frozen=True, kw_only=True)
class Target:
    experiment: int
    commit: str
    hypothesis: str
    rank: int | None  # its candidate rank, when it is a candidate


def targets(summary: RunSummary, numbers: Iterable[int] = (), top: int | None = None) -> list[Target]:
    """What to cherry-pick for these experiment numbers and the `top` best candidates, in order."""
    wanted = set(numbers)
    if top is not None:
        if not summary.candidates:
            raise UsageError(
                f"run {summary.run} has no ranked candidates "
                f"(is it finalized? `gitresearch finalize {summary.run}`)"
            )
        wanted |= {c.experiment for c in summary.candidates[:top]}
    out: list[Target] = []
    for n in wanted:
        cand = summary.candidate(n)
        if cand is not None:
            out.append(Target(experiment=n, commit=cand.commit, hypothesis=cand.hypothesis, rank=cand.rank))
            continue
        exp = summary.experiment(n)
        if exp is None or exp.commit is None:
            was = f"it was {exp.status}" if exp else "there is no such experiment"
            raise UsageError(f"run {summary.run} has no committed experiment #{n:04d} to pick ({was})")
        out.append(Target(experiment=n, commit=exp.commit, hypothesis=exp.hypothesis, rank=None))
    return sorted(out, key=lambda t: (t.rank is None, t.rank or 0, t.experiment))


def require_clean(store: Store) -> None:
    if not store.checkout_is_clean():
        raise UsageError(
            "your checkout has uncommitted changes; commit or stash them (git stash) first, "
            "so a cherry-pick conflict can never mix with your work"
        )


@dataclass(frozen=True, kw_only=True)
class Picked:
    picked: list[Target]
    skipped: list[Target]  # already in the branch
    branch: str

    def describe(self) -> str:
        lines = [
            f"skipped #{t.experiment:04d} (already in {self.branch}): {t.hypothesis}" for t in self.skipped
        ]
        lines += [f"picked #{t.experiment:04d} onto {self.branch}: {t.hypothesis}" for t in self.picked]
        if not self.picked:
            lines.append(f"nothing to pick: {self.branch} already has every change asked for")
        return "\n".join(lines)


def pick(store: Store, chosen: list[Target]) -> Picked:
    """Cherry-pick `chosen` in order onto the current branch, all or nothing (UsageError on a stop)."""
    require_clean(store)
    branch = store.current_branch() or "HEAD"
    start = store.head()
    picked: list[Target] = []
    skipped: list[Target] = []
    for target in chosen:
        if store.already_applied(target.commit):
            skipped.append(target)
            continue
        ok, output = store.cherry_pick_into_checkout([target.commit])
        if not ok:
            store.abort_cherry_pick(start)
            done = ", ".join(f"#{t.experiment:04d}" for t in picked)
            undone = f"; the earlier picks ({done}) were undone too" if picked else ""
            raise UsageError(
                f"#{target.experiment:04d} ({target.hypothesis}) does not apply to {branch}: "
                f"{_first_lines(output)}\nthe cherry-pick was aborted and {branch} is back at "
                f"{start[:12]}{undone}; pick it alone to resolve it by hand "
                f"(`git cherry-pick {target.commit[:12]}`)"
            )
        picked.append(target)
    return Picked(picked=picked, skipped=skipped, branch=branch)


def _first_lines(text: str, n: int = 4) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return "\n".join(lines[:n])
