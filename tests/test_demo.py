"""The bundled demo benchmark: training, the weights' hand-off and the scorer, on CPU, in seconds."""

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


def _python(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def _metrics(out: str) -> dict[str, float]:
    metrics = {}
    for line in out.splitlines():
        found = parse_metric_line(line.encode())
        if found:
            metrics[found[0]] = found[1]
    return metrics


def run_demo(seed: int, out: Path, steps: int = 20) -> tuple[str, dict[str, float], dict[str, float]]:
    """Train as gitresearch runs it (weights to $GITRESEARCH_OUTPUT), then score: the training's
    output, its metrics, and the scorer's."""
    env = {
        **os.environ,
        "GITRESEARCH_SEED": str(seed),
        "GITRESEARCH_DEMO_STEPS": str(steps),
        "GITRESEARCH_OUTPUT": str(out),
        "CUDA_VISIBLE_DEVICES": "",
    }
    trained = _python(["bench/nanogpt/train.py"], env)
    assert trained.returncode == 0, trained.stderr[-2000:]
    scored = _python(["bench/nanogpt/prepare.py", "score"], env)
    assert scored.returncode == 0, scored.stderr[-2000:]
    return trained.stdout, _metrics(trained.stdout), _metrics(scored.stdout)


def test_the_demo_trains_writes_plain_weights_and_the_scorer_measures_them(tmp_path: Path) -> None:
    out, metrics, score = run_demo(seed=3, out=tmp_path / "a")
    lines = out.splitlines()
    assert "---" in lines
    curve_part, _, record_part = out.partition("\n---\n")
    assert "val_loss" not in _metrics(record_part)  # the objective is the scorer's alone
    # before it, the curve for early stopping: `step: N` then `val_loss: v`, every step of 20
    steps = [int(line.split()[1]) for line in curve_part.splitlines() if line.startswith("step: ")]
    values = [_metrics(line)["val_loss"] for line in curve_part.splitlines() if line.startswith("val_loss: ")]
    assert steps == list(range(1, 21)) and len(values) == 20 and all(math.isfinite(v) for v in values)
    assert values[-1] < values[0]  # it learns
    assert metrics["steps"] == 20 and "train_seconds" in metrics and "train_loss" in metrics
    assert math.isfinite(score["val_loss"]) and 0.5 < score["val_loss"] < 3.0
    np = pytest.importorskip("numpy")
    with np.load(tmp_path / "a" / "model.npz", allow_pickle=False) as weights:  # arrays, no pickle
        assert "head.weight" in weights.files
    _, _, again = run_demo(seed=3, out=tmp_path / "b")
    assert again["val_loss"] == score["val_loss"]  # same seed, same result on the CPU
    _, _, other = run_demo(seed=4, out=tmp_path / "c")
    assert other["val_loss"] != score["val_loss"]


def test_the_scorer_refuses_weights_that_are_not_the_models(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    env = {**os.environ, "GITRESEARCH_OUTPUT": str(tmp_path), "CUDA_VISIBLE_DEVICES": ""}
    missing = _python(["bench/nanogpt/prepare.py", "score"], env)
    assert missing.returncode != 0 and "no weights" in missing.stderr
    np.savez(tmp_path / "model.npz", head_weight=np.zeros((3, 3), dtype=np.float32))
    wrong = _python(["bench/nanogpt/prepare.py", "score"], env)
    assert wrong.returncode != 0 and "does not hold the model's parameters" in wrong.stderr
    assert "val_loss" not in wrong.stdout


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
    assert {"bench/nanogpt/prepare.py", "bench/nanogpt/model.py"} <= set(doc["protected"])
    assert doc["objective"]["score"] == "python bench/nanogpt/prepare.py score"
    assert doc["hidden"] == ["bench/nanogpt/data/val.txt"]
    labels = {k["label"] for k in doc["search_space"]}
    assert {"LEARNING_RATE", "BETAS[1]", "ADAM_EPS", "WEIGHT_DECAY", "WARMUP_STEPS"} <= labels
