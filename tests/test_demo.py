"""The bundled demo benchmark: its output contract, on CPU, in a few seconds."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gitresearch.execute.runner import parse_metric_line

ROOT = Path(__file__).resolve().parent.parent
pytest.importorskip("torch")


def run_demo(seed: int, steps: int = 20) -> tuple[str, dict[str, float]]:
    env = {
        **os.environ,
        "GITRESEARCH_SEED": str(seed),
        "GITRESEARCH_DEMO_STEPS": str(steps),
        "CUDA_VISIBLE_DEVICES": "",
    }
    done = subprocess.run(
        [sys.executable, "bench/nanogpt/train.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    metrics = {}
    for line in done.stdout.splitlines():
        found = parse_metric_line(line.encode())
        if found:
            metrics[found[0]] = found[1]
    return done.stdout, metrics


def test_demo_prints_the_metric_contract_and_is_reproducible() -> None:
    out, metrics = run_demo(seed=3)
    lines = out.splitlines()
    assert "---" in lines
    after = lines[lines.index("---") + 1 :]
    assert after[0].startswith("val_loss: ")
    assert math.isfinite(metrics["val_loss"]) and 0.5 < metrics["val_loss"] < 3.0
    assert metrics["steps"] == 20 and "train_seconds" in metrics and "train_loss" in metrics
    _, again = run_demo(seed=3)
    assert again["val_loss"] == metrics["val_loss"]  # same seed, same result on the CPU
    _, other = run_demo(seed=4)
    assert other["val_loss"] != metrics["val_loss"]


def test_the_repository_boundaries_point_at_the_demo() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gitresearch", "check", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    names = {r["name"] for r in doc["regions"]}
    assert {"LEARNING_RATE", "ADAM_EPS", "WEIGHT_DECAY", "WARMUP_STEPS", "configure_optimizer"} <= names
    assert "bench/nanogpt/prepare.py" in doc["protected"]
    labels = {k["label"] for k in doc["search_space"]}
    assert {"LEARNING_RATE", "BETAS[1]", "ADAM_EPS", "WEIGHT_DECAY", "WARMUP_STEPS"} <= labels
