"""What a literal's name says about it: the knowledge behind ranges, exclusions and `init`.

A researcher reads `LEARNING_RATE`, `betas`, `dropout`, `vocab_size` or `max_iters` and knows
how each should be searched, or that it should not be. These tables are that reading, in
one place: the search space (`propose/searchspace.py`) uses them for ranges and default
exclusions, and `init` uses them to leave structural names out of the regions it opens.
"""

from __future__ import annotations

import re

Value = int | float | bool | str


def words(name: str | None) -> str:
    """`configure_optimizer.weight_decay` -> `weight_decay`; `BETAS[1]` -> `betas`."""
    if not name:
        return ""
    last = re.split(r"[.#]", name.lower())
    word = next((w for w in reversed(last) if w and not w.isdigit()), "")
    return re.sub(r"\[\d+\]$", "", word).lstrip("-")


def matches(word: str, pattern: str) -> bool:
    return re.search(pattern, word) is not None


LEARNING_RATE = r"(^|_)(lr|learning_rate|eta|lrate)($|_)|learning_rate"
MOMENTUM = r"(^|_)(momentum|betas?\d?|beta_\d|ema|ema_decay|rho|gamma|lr_decay|decay_rate)$"
WEIGHT_DECAY = r"(^|_)(weight_decay|wd|l2|l2_reg|weight_decay_rate)$"
DROPOUT = r"drop(out)?($|_)|(^|_)p?drop|pdrop|dropout"
EPSILON = r"(^|_)(eps|epsilon|adam_eps)$"


# Literals that are found but not searched by default, by the name they sit under. Each
# changes what is measured or how the model is wired rather than how well it learns.
STRUCTURAL: tuple[tuple[str, str], ...] = (
    (r"^(dim|dims|axis|axes|dim\d|start_dim|end_dim|keepdims?)$", "a dimension argument"),
    (r"causal|mask", "switches a mask or causality: flipping it can leak the answers"),
    (
        r"^(vocab_size|n_vocab|vocab|num_classes|n_classes|num_labels|n_labels|num_tokens|padded_vocab_size)$",
        "the size of the vocabulary or label set, fixed by the data",
    ),
    (
        r"^(block_size|seq_len|max_seq_len|context_length|sequence_length|max_length|ctx_len|n_ctx|seq_length)$",
        "the context length: changing it changes what the metric measures",
    ),
    (
        r"^((max|num|n|total|train)_?(iters?|steps|epochs|iterations|updates)|epochs|iterations|iters|steps|"
        r"time_budget|max_time|budget|train_time|max_tokens|num_train_epochs)$",
        "the training budget: more of it always looks better",
    ),
    (
        r"^(gradient_accumulation_steps|grad_accum(_steps)?|accum_steps|accumulation_steps)$",
        "the training budget (data per step): more of it always looks better",
    ),
    (
        r"^(eval|log|save|print|checkpoint|ckpt|val|sample)_?(iters?|interval|every|freq|frequency|steps|batches)$",
        "how often or how much it evaluates or logs, not how it learns",
    ),
    (r"(^|_)seed$|^random_state$|^rng$", "a seed: gitresearch varies the seed itself"),
    (
        r"^(num_workers|world_size|rank|local_rank|device|devices|gpu|gpus|n_gpu|num_gpus|port|num_threads|"
        r"nproc|nodes|num_nodes|compile|fused|foreach|capturable|pin_memory|persistent_workers|"
        r"non_blocking|inplace|batch_first|bias|affine|elementwise_affine|track_running_stats|"
        r"bidirectional|verbose|debug|flash|use_flash|wandb_log|wandb|log|enabled)$",
        "a machine or wiring setting, not a hyperparameter",
    ),
    (r"flops|mfu|^peak_", "a hardware figure used for reporting"),
    (r"(^|_)(id|idx|index|token|token_id|pad|eos|bos)$", "an identifier or token id, fixed by the data"),
    (
        r"(^|_)(save|checkpoint|ckpt|resume|eval_only|wandb|tensorboard|logging|profile|profiler|backend|init_from)($|_)",
        "how it saves, logs or resumes, not how it learns",
    ),
    (
        r"^(test_size|val_size|train_size|val_split|validation_split|test_split|holdout|val_fraction|test_fraction)$",
        "the evaluation split: changing it changes what is measured",
    ),
)


def structural(name: str | None, value: Value) -> str | None:
    """Why a literal named `name` is not searched by default; None when it is."""
    word = words(name)
    if isinstance(value, str):
        return "a string: give its `choices` in a [[knob]] to search it"
    for pattern, reason in STRUCTURAL:
        if matches(word, pattern):
            return reason
    return None
