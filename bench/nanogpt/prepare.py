"""The fixed half of the demo: data, the training budget, evaluation and the metric lines.

gitresearch protects this file (boundaries.toml), so no experiment can make the task easier,
the budget larger or the evaluation kinder. The data is generated here, never downloaded:
character-level arithmetic, lines like "37+58=95" and "7*12=84", from a fixed seed, with the
validation expressions disjoint from the training ones.
"""

from __future__ import annotations

import math
import os
import random
import time

import torch
import torch.nn.functional as F

VOCAB = "0123456789+*=\n"
VOCAB_SIZE = len(VOCAB)
STOI = {ch: i for i, ch in enumerate(VOCAB)}

# The training budget is part of the harness: every experiment gets exactly this much.
# (GITRESEARCH_DEMO_STEPS shortens it for the test suite's smoke test only.)
MAX_STEPS = int(os.environ.get("GITRESEARCH_DEMO_STEPS", "300"))
BATCH_SIZE = 32
BLOCK_SIZE = 32
EVAL_WINDOWS = 256


def _expressions() -> tuple[list[str], list[str]]:
    rng = random.Random(1234)
    pairs = [
        (a, b, op) for a in range(100) for b in range(100) for op in "+*" if op == "+" or (a < 30 and b < 30)
    ]
    rng.shuffle(pairs)
    lines = [f"{a}{op}{b}={a + b if op == '+' else a * b}\n" for a, b, op in pairs]
    cut = len(lines) // 10
    return lines[cut:], lines[:cut]


def _encode(text: str) -> torch.Tensor:
    return torch.tensor([STOI[c] for c in text], dtype=torch.long)


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


_train_lines, _val_lines = _expressions()
TRAIN = _encode("".join(_train_lines))
VAL = _encode("".join(_val_lines))
VAL_ANSWER = _answer_mask("".join(_val_lines))  # the operands are random; only answers can be learned


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


@torch.no_grad()
def evaluate(model: torch.nn.Module, device: torch.device) -> float:
    """Mean cross-entropy of the answer characters over fixed validation windows (the same every run)."""
    was_training = model.training
    model.eval()
    gen = torch.Generator().manual_seed(0)
    starts = torch.randint(0, len(VAL) - BLOCK_SIZE - 1, (EVAL_WINDOWS,), generator=gen).tolist()
    total, count = 0.0, 0
    for i in range(0, len(starts), 64):
        chunk = starts[i : i + 64]
        x = torch.stack([VAL[s : s + BLOCK_SIZE] for s in chunk]).to(device)
        y = torch.stack([VAL[s + 1 : s + BLOCK_SIZE + 1] for s in chunk]).to(device)
        scored = torch.stack([VAL_ANSWER[s + 1 : s + BLOCK_SIZE + 1] for s in chunk]).to(device)
        logits = model(x)
        losses = F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), y.reshape(-1), reduction="none")
        total += float(losses[scored.reshape(-1)].sum())
        count += int(scored.sum())
    model.train(was_training)
    value = total / count
    return value if math.isfinite(value) else float("nan")


def report(val_loss: float, started: float, **extra: float) -> None:
    """The metric contract: a `---` line, then `key: value` lines."""
    print("---")
    print(f"val_loss: {val_loss:.6f}")
    print(f"train_seconds: {time.time() - started:.2f}")
    for key, value in extra.items():
        print(f"{key}: {value}")
