"""Do the decision table tests catch a broken rule? Sixteen mutations of the rule, each run.

Each mutation edits a copy of the package (never this checkout) in one place and runs
tests/test_decide.py against the copy; a mutation is *caught* when at least one test
fails. Printed: one line per mutation with the tests that caught it.
Run: `python bench/harness/decide_mutations.py`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# (name, file, the exact text, its replacement)
MUTATIONS = [
    (
        "confirmation at t90 instead of t99.9",
        "decide.py",
        "CONFIRM_ALPHA = 0.001",
        "CONFIRM_ALPHA = 0.1",
    ),
    (
        "min_improvement ignored",
        "decide.py",
        "e.noise, rule.min_improvement, alpha)",
        "e.noise, 0.0, alpha)",
    ),
    ("the gate at 50% instead of 90%", "decide.py", "GATE_ALPHA = 0.10", "GATE_ALPHA = 0.5"),
    ("> becomes >=", "stats.py", "passed = gain > threshold", "passed = gain >= threshold"),
    ("stale parent ignored", "decide.py", "    if e.stale:\n", "    if False:\n"),
    (
        "the float-resolution floor ignored",
        "stats.py",
        "max(min_improvement, noise_bar, resolution_floor(parent, candidate))",
        "max(min_improvement, noise_bar)",
    ),
    (
        "fresh seeds and gate runs pooled",
        "decide.py",
        "test = _compare(rule, e, e.confirmed, alpha, simpler, extra)",
        "test = _compare(rule, e, [*e.measured, *e.confirmed], alpha, simpler, extra)",
    ),
    (
        "the error not spent over the looks",
        "decide.py",
        "return CONFIRM_ALPHA * ((k / looks) ** 2 - ((k - 1) / looks) ** 2)",
        "return CONFIRM_ALPHA",
    ),
    ("no stopping for futility", "decide.py", "FUTILITY = 0.5", "FUTILITY = 0.0"),
    (
        "constraints ignored at the confirmation",
        "decide.py",
        "checks = [judge(c.constraint, c.base, c.confirmed, c.noise, alpha) for c in e.constraints]",
        "checks = []",
    ),
    (
        "a constraint held on average is enough",
        "constraints.py",
        "holds = margin > threshold or",
        "holds = margin > 0 or",
    ),
    (
        "simplicity without its non-inferiority margin",
        "decide.py",
        "threshold = -bar if gate else bar - margin",
        "threshold = -bar if gate else bar",
    ),
    ("added lines cost nothing under simplicity", "decide.py", "LINE_COST = 0.05", "LINE_COST = 0.0"),
    (
        "the base's uncertainty ignored in a relative bound",
        "constraints.py",
        "var = 1 / len(runs) + ((c.scale**2) / len(base) if c.relative else 0.0)",
        "var = 1 / len(runs)",
    ),
    (
        "paired and unpaired tests each at the full level (no union bound)",
        "decide.py",
        "alpha, final_alpha = alpha / 2, final_alpha / 2",
        "alpha, final_alpha = alpha, final_alpha",
    ),
    (
        "a change's own spread of paired differences ignored",
        "stats.py",
        "sigma = max(noise.sigma, own)",
        "sigma = noise.sigma",
    ),
]


def main() -> None:
    caught_all = True
    for name, file, old, new in MUTATIONS:
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / "gitresearch"
            shutil.copytree(ROOT / "gitresearch", copy)
            path = copy / file
            text = path.read_text()
            if old not in text:
                print(f"{name}: the text to mutate is gone from {file}; update this script")
                caught_all = False
                continue
            path.write_text(text.replace(old, new, 1))
            # Run the table from the copy's folder, so that the copy is what it imports.
            shutil.copy(ROOT / "tests" / "test_decide.py", Path(tmp) / "test_decide.py")
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pytest",
                    "-q",
                    "-p",
                    "no:cacheprovider",
                    "-c",
                    os.devnull,
                    "test_decide.py",
                ],
                cwd=tmp,
                env={**os.environ, "PYTHONPATH": tmp},
                capture_output=True,
                text=True,
            )
            failed = [
                param or test
                for test, param in re.findall(r"^FAILED \S*?::(\w+)(?:\[([^\]]+)\])?", done.stdout, re.M)
            ]
            if done.returncode == 0:
                caught_all = False
                print(f"SURVIVED  {name}")
            else:
                print(f"caught    {name}: {len(failed)} failing, e.g. {'; '.join(failed[:3])}")
    print("every mutation caught" if caught_all else "some mutation survived: the table needs a row")


if __name__ == "__main__":
    main()
