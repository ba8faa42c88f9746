"""Median time to validate one patch against a 1,000-line Python file.

Target (issue 2): under 100 ms with the original's parse cached. The generated file looks
like research code: a block of constants, then many small functions and a class; each
patch changes one constant inside a region, so every measurement does the full work
(apply, parse the patched file with libcst and CPython, compare outside the regions, run
the policy over every region). Run: `python bench/harness/validate_speed.py [--n 50]`.
"""

from __future__ import annotations

import argparse
import difflib
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from gitresearch.boundaries.resolve import load_boundaries
from gitresearch.boundaries.sources import DirectorySource
from gitresearch.boundaries.validator import Accepted, RegionEdit, Validator


def generate(lines: int) -> str:
    parts = ["import math\n\n", "LEARNING_RATE = 3e-4\nBETAS = (0.9, 0.95)\nWEIGHT_DECAY = 0.1\n\n"]
    i = 0
    while sum(p.count("\n") for p in parts) < lines - 12:
        parts.append(
            f"\ndef block_{i}(x, scale={i + 1}.0):\n    y = x * scale + {i}\n"
            f"    for k in range(4):\n        y = math.tanh(y) * 0.5 + k\n    return y\n\n"
        )
        i += 1
    parts.append("\nclass Model:\n    def forward(self, x):\n        return block_0(x) * LEARNING_RATE\n")
    return "".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50, help="patches to time")
    parser.add_argument("--lines", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        source_text = generate(args.lines)
        (root / "model.py").write_text(source_text)
        regions = ["LEARNING_RATE", "BETAS", "WEIGHT_DECAY", "Model.forward"] + [
            f"block_{i}" for i in range(0, 60, 3)
        ]
        (root / "boundaries.toml").write_text(
            '[objective]\ncommand = "python model.py"\nmetric = "loss"\n\n[[allow]]\npath = "model.py"\n'
            "regions = [" + ", ".join(f'"{r}"' for r in regions) + "]\n"
        )
        subprocess.run(["git", "init", "-q", str(root)], check=True)
        source = DirectorySource(root)
        validator = Validator(load_boundaries(root / "boundaries.toml", root, source), source)
        times = []
        for i in range(args.n):
            edit = RegionEdit("model.py", "LEARNING_RATE", f"LEARNING_RATE = {1e-4 * (i + 2):.6g}\n")
            start = time.perf_counter()
            verdict = validator.judge_edits([edit])
            times.append(time.perf_counter() - start)
            assert isinstance(verdict, Accepted), verdict
        diff_times = []
        for i in range(max(args.n // 5, 3)):
            patched = source_text.replace("WEIGHT_DECAY = 0.1", f"WEIGHT_DECAY = 0.{i + 2}")
            diff = "".join(
                difflib.unified_diff(
                    source_text.splitlines(keepends=True),
                    patched.splitlines(keepends=True),
                    "a/model.py",
                    "b/model.py",
                )
            )
            start = time.perf_counter()
            assert isinstance(validator.judge_diff(diff), Accepted)
            diff_times.append(time.perf_counter() - start)
    print(f"file: {source_text.count(chr(10))} lines, {len(regions)} regions")
    print(
        f"region edit: median {statistics.median(times) * 1000:.1f} ms, "
        f"p90 {sorted(times)[int(len(times) * 0.9) - 1] * 1000:.1f} ms over {len(times)} patches"
    )
    print(
        f"unified diff: median {statistics.median(diff_times) * 1000:.1f} ms over {len(diff_times)} patches"
    )
    print("target: < 100 ms median")


if __name__ == "__main__":
    main()
