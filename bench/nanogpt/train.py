"""The editable half of the demo: hyperparameters, the optimizer set-up, the model, the loop.

A small character-level GPT learns arithmetic ("37+58=95") within the fixed budget that
prepare.py sets. The hyperparameters below were "tuned by hand", and some are wrong in the
ways real research code is wrong (see README.md in this folder; try to spot them first).
"""

from __future__ import annotations

import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from prepare import BLOCK_SIZE, MAX_STEPS, VOCAB_SIZE, evaluate, get_batch, report, setup

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

N_LAYER = 2
N_HEAD = 4
N_EMBD = 64


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(N_EMBD)
        self.attn = nn.MultiheadAttention(N_EMBD, N_HEAD, dropout=DROPOUT, batch_first=True)
        self.ln2 = nn.LayerNorm(N_EMBD)
        self.mlp = nn.Sequential(
            nn.Linear(N_EMBD, 4 * N_EMBD), nn.GELU(), nn.Linear(4 * N_EMBD, N_EMBD), nn.Dropout(DROPOUT)
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.ln1(x)
        attended: torch.Tensor = self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
        x = x + attended
        out: torch.Tensor = x + self.mlp(self.ln2(x))
        return out


class GPT(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.tok = nn.Embedding(VOCAB_SIZE, N_EMBD)
        self.pos = nn.Embedding(BLOCK_SIZE, N_EMBD)
        self.blocks = nn.ModuleList(Block() for _ in range(N_LAYER))
        self.ln_f = nn.LayerNorm(N_EMBD)
        self.head = nn.Linear(N_EMBD, VOCAB_SIZE, bias=False)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        t = idx.size(1)
        mask = torch.triu(torch.ones(t, t, dtype=torch.bool, device=idx.device), diagonal=1)
        x = self.tok(idx) + self.pos(torch.arange(t, device=idx.device))
        for block in self.blocks:
            x = block(x, mask)
        logits: torch.Tensor = self.head(self.ln_f(x))
        return logits


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
    model = GPT().to(device)
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
    report(
        evaluate(model, device),
        started,
        train_loss=round(loss.item(), 4),
        steps=MAX_STEPS,
        device=0 if device.type == "cpu" else 1,
    )


if __name__ == "__main__":
    main()
