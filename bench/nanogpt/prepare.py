"""The fixed half of the demo: the data, the training budget, the weights' hand-off and the scorer.

gitresearch protects this file and `model.py` (boundaries.toml), so no experiment can make
the task easier, the budget larger or the evaluation kinder. The data is character-level
arithmetic, lines like "37+58=95" and "7*12=84", in `data/` (no download): `train.txt` for
training, `val.txt` held out, with expressions disjoint from the training ones.

The evaluation is not the experiment's to run. `train.py` ends by writing its weights as a
numpy archive (never a pickle) to `$GITRESEARCH_OUTPUT`; gitresearch then runs
`python bench/nanogpt/prepare.py score` in a fresh process and a clean checkout, which
rebuilds the protected model from those arrays and prints `val_loss` on `data/val.txt`.
`boundaries.toml` lists `val.txt` under `[protect] hidden`: the experiment's sandbox shows it
as an empty file, so no experiment can read the answers it is scored on.

By hand: `python bench/nanogpt/train.py && python bench/nanogpt/prepare.py score`
(the weights go to bench/nanogpt/out/ when $GITRESEARCH_OUTPUT is not set).
"""

from __future__ import annotations

import math
import os
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from model import BLOCK_SIZE, GPT, VOCAB

HERE = Path(__file__).resolve().parent
STOI = {ch: i for i, ch in enumerate(VOCAB)}

# The training budget is part of the harness: every experiment gets exactly this much.
# (GITRESEARCH_DEMO_STEPS shortens it for the test suite's smoke test only.)
MAX_STEPS = int(os.environ.get("GITRESEARCH_DEMO_STEPS", "300"))
BATCH_SIZE = 32
EVAL_WINDOWS = 256
WEIGHTS = "model.npz"
MAX_WEIGHTS_BYTES = 16 << 20  # the model is about 0.5 MB; anything far larger is refused unread


def _encode(text: str) -> torch.Tensor:
    return torch.tensor([STOI[c] for c in text], dtype=torch.long)


TRAIN = _encode((HERE / "data" / "train.txt").read_text())


def output_dir() -> Path:
    """Where the weights go: the harness's output folder, or bench/nanogpt/out/ by hand."""
    folder = Path(os.environ.get("GITRESEARCH_OUTPUT") or HERE / "out")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def setup() -> tuple[int, torch.device]:
    """Seed everything from the experiment's seed; pick CUDA when present. Returns (seed, device)."""
    seed = int(os.environ.get("GITRESEARCH_SEED", os.environ.get("SEED", "0")))
    random.seed(seed)
    torch.manual_seed(seed)
    if not torch.cuda.is_available():
        torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "1")))  # parallel CPU jobs share cores
    return seed, torch.device("cuda" if torch.cuda.is_available() else "cpu")


def get_batch(generator: torch.Generator, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    starts = torch.randint(0, len(TRAIN) - BLOCK_SIZE - 1, (BATCH_SIZE,), generator=generator)
    x = torch.stack([TRAIN[s : s + BLOCK_SIZE] for s in starts.tolist()])
    y = torch.stack([TRAIN[s + 1 : s + BLOCK_SIZE + 1] for s in starts.tolist()])
    return x.to(device), y.to(device)


def _train_answers() -> torch.Tensor:
    return _answer_mask((HERE / "data" / "train.txt").read_text())


def save(model: torch.nn.Module, started: float, **record: float) -> None:
    """Hand the trained weights to the scorer (numpy arrays, no pickle) and print the
    metrics gitresearch records: a `---` line, then `key: value` lines."""
    arrays = {name: t.detach().float().cpu().numpy() for name, t in model.state_dict().items()}
    np.savez(output_dir() / WEIGHTS, **arrays)
    print("---")
    print(f"train_seconds: {time.time() - started:.2f}")
    for key, value in record.items():
        print(f"{key}: {value}")


REPORT_EVERY = max(1, MAX_STEPS // 12)  # how often `report` measures the curve
REPORT_WINDOWS = 64


@torch.no_grad()
def report(step: int, model: torch.nn.Module) -> None:
    """The run's curve for early stopping: every REPORT_EVERY steps, a `step: N` line and a
    `val_loss:` line measured like the scorer's (answer characters only) on fixed windows of
    the *training* text, since the held-out answers are the scorer's alone. It is the
    experiment's own estimate: gitresearch only uses it to stop a run that is clearly losing
    (a forged curve can only get its own run stopped); the objective is still the scorer's."""
    if step % REPORT_EVERY and step != MAX_STEPS:
        return
    was_training = model.training
    model.eval()
    gen = torch.Generator().manual_seed(1)
    starts = torch.randint(0, len(TRAIN) - BLOCK_SIZE - 1, (REPORT_WINDOWS,), generator=gen).tolist()
    device = next(model.parameters()).device
    x = torch.stack([TRAIN[s : s + BLOCK_SIZE] for s in starts]).to(device)
    y = torch.stack([TRAIN[s + 1 : s + BLOCK_SIZE + 1] for s in starts]).to(device)
    mask = torch.stack([TRAIN_ANSWERS[s + 1 : s + BLOCK_SIZE + 1] for s in starts]).reshape(-1).to(device)
    logits = model(x)
    losses = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1), reduction="none")
    model.train(was_training)
    print(f"step: {step}\nval_loss: {float(losses[mask].mean()):.6f}", flush=True)


def _answer_mask(text: str) -> torch.Tensor:
    """True where a character is part of an answer (after "=", through the newline)."""
    mask, inside = [], False
    for ch in text:
        mask.append(inside)
        if ch == "=":
            inside = True
        elif ch == "\n":
            inside = False
    return torch.tensor(mask, dtype=torch.bool)


def load(path: Path) -> GPT:
    """The protected model with the arrays at `path`: exactly its parameter names and shapes."""
    if not path.is_file():
        raise SystemExit(
            f"score: no weights at {path}: train.py must end by calling prepare.save(model, ...)"
        )
    if path.stat().st_size > MAX_WEIGHTS_BYTES:
        raise SystemExit(f"score: {path} is {path.stat().st_size} bytes, far more than the model's weights")
    model = GPT()
    expected = model.state_dict()
    state = {}
    with np.load(path, allow_pickle=False) as archive:
        if set(archive.files) != set(expected):
            raise SystemExit(
                f"score: {path} does not hold the model's parameters ({sorted(archive.files)[:5]}...)"
            )
        for name, like in expected.items():
            array = archive[name]
            if tuple(array.shape) != tuple(like.shape) or array.dtype != np.float32:
                raise SystemExit(
                    f"score: {name} in {path} is {array.dtype}{list(array.shape)}, not the model's"
                )
            state[name] = torch.from_numpy(array)
    model.load_state_dict(state)
    return model


@torch.no_grad()
def evaluate(model: torch.nn.Module) -> float:
    """Mean cross-entropy of the answer characters over fixed held-out windows (the same every run)."""
    text = (HERE / "data" / "val.txt").read_text()
    if not text:
        raise SystemExit(
            "score: data/val.txt is empty here (the experiment's sandbox hides it; run the scorer)"
        )
    val, answer = _encode(text), _answer_mask(text)  # the operands are random; only answers can be learned
    model.eval()
    gen = torch.Generator().manual_seed(0)
    starts = torch.randint(0, len(val) - BLOCK_SIZE - 1, (EVAL_WINDOWS,), generator=gen).tolist()
    total, count = 0.0, 0
    for i in range(0, len(starts), 64):
        chunk = starts[i : i + 64]
        x = torch.stack([val[s : s + BLOCK_SIZE] for s in chunk])
        y = torch.stack([val[s + 1 : s + BLOCK_SIZE + 1] for s in chunk])
        scored = torch.stack([answer[s + 1 : s + BLOCK_SIZE + 1] for s in chunk])
        logits = model(x)
        losses = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1), reduction="none")
        total += float(losses[scored.reshape(-1)].sum())
        count += int(scored.sum())
    value = total / count
    return value if math.isfinite(value) else float("nan")


def score() -> None:
    """The objective, from the weights alone: `val_loss: <value>`."""
    torch.set_num_threads(1)
    print(f"val_loss: {evaluate(load(output_dir() / WEIGHTS)):.6f}")


TRAIN_ANSWERS = _train_answers()


if __name__ == "__main__":
    if sys.argv[1:] != ["score"]:
        raise SystemExit(
            "usage: python bench/nanogpt/prepare.py score   (after train.py has written its weights)"
        )
    score()
