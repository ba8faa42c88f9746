"""The editable half of the demo: hyperparameters, the optimizer set-up, the training loop.

A small character-level GPT (model.py) learns arithmetic ("37+58=95") within the fixed
budget that prepare.py sets, then hands its weights to prepare.py's scorer, which measures
`val_loss` on held-out expressions this script never sees. The hyperparameters below were
"tuned by hand", and some are wrong in the ways real research code is wrong (see README.md
in this folder; try to spot them first).
"""

from __future__ import annotations

import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from model import GPT, VOCAB_SIZE
from prepare import MAX_STEPS, get_batch, report, save, setup

# --- hyperparameters (gitresearch may change this block) ---------------------------------
LEARNING_RATE = 3e-4  # peak learning rate
BETAS = (0.9, 0.999)  # Adam betas
ADAM_EPS = 1e-4  # Adam epsilon
WEIGHT_DECAY = 1.0  # AdamW decoupled weight decay
WARMUP_STEPS = 250  # linear warmup, in steps
MIN_LR_RATIO = 0.1  # the cosine schedule decays to this fraction of the peak
GRAD_CLIP = 1.0  # max gradient norm
DROPOUT = 0.2  # dropout in attention and MLP
# --- end of hyperparameters --------------------------------------------------------------


def configure_optimizer(model: nn.Module) -> torch.optim.Optimizer:
    return torch.optim.AdamW(
        model.parameters(), lr=LEARNING_RATE, betas=BETAS, eps=ADAM_EPS, weight_decay=WEIGHT_DECAY
    )


def lr_at(step: int) -> float:
    if step < WARMUP_STEPS:
        return LEARNING_RATE * (step + 1) / WARMUP_STEPS
    progress = (step - WARMUP_STEPS) / max(1, MAX_STEPS - WARMUP_STEPS)
    return LEARNING_RATE * (MIN_LR_RATIO + (1 - MIN_LR_RATIO) * 0.5 * (1 + math.cos(math.pi * progress)))


def main() -> None:
    started = time.time()
    seed, device = setup()
    model = GPT(DROPOUT).to(device)
    optimizer = configure_optimizer(model)
    gen = torch.Generator().manual_seed(seed)
    for step in range(MAX_STEPS):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step)
        x, y = get_batch(gen, device)
        loss = F.cross_entropy(model(x).reshape(-1, VOCAB_SIZE), y.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        torch.nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)
        optimizer.step()
        report(step + 1, model)  # the curve: `step:` and `val_loss:` lines, for early stopping
    save(
        model,
        started,
        train_loss=round(loss.item(), 4),
        steps=MAX_STEPS,
        device=0 if device.type == "cpu" else 1,
    )


if __name__ == "__main__":
    main()
