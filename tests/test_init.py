"""`gitresearch init` on the layouts research code comes in, then `check` and a short `start`.

Each fixture is a small repository written here in the layout of a real one (real public
repositories are for trying, not for copying): a nanoGPT-style trainer with a lowercase
config block and a config file passed on the command line, an argparse driver, a
scikit-learn-style script with dict configs in config.py, and an UPPER_SNAKE block run
with `uv run`. A "correct first search" is the right command, metric and direction, at
least one real knob, and no dangerous knob searched, with no hand edit.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.helpers.repos import GitRepo, make_repo

NANOGPT_TRAIN = """\
import math, os, random
# default config values
out_dir = 'out'
eval_interval = 2000
log_interval = 1
eval_iters = 200
always_save_checkpoint = True
dataset = 'openwebtext'
gradient_accumulation_steps = 5 * 8
batch_size = 12
block_size = 1024
n_layer = 12
dropout = 0.0
bias = False
learning_rate = 6e-4
max_iters = 600000
weight_decay = 1e-1
beta2 = 0.95
warmup_iters = 2000
compile = True
exec(open('configurator.py').read())
iter_num = 0
best_val_loss = 1e9
random.seed(int(os.environ.get("GITRESEARCH_SEED", 0)))

def get_lr(it):
    if it < warmup_iters:
        return learning_rate * (it + 1) / (warmup_iters + 1)
    return learning_rate

while iter_num < 30:
    lr = get_lr(iter_num)
    iter_num += 1
loss = (math.log10(learning_rate) + 2.5) ** 2 + weight_decay + random.gauss(0, 0.01)
print(f"step {iter_num}: train loss {loss + 0.1:.4f}, val loss {loss:.4f}")
best_val_loss = min(best_val_loss, loss)
"""

CONFIGURATOR = """\
import sys
for arg in sys.argv[1:]:
    if arg.endswith('.py'):
        exec(open(arg).read())
"""

NANOGPT_PREPARE = """\
import os, requests
if __name__ == '__main__':
    print(f"vocab size: {65:,}")
    data = requests.get('https://example.invalid/input.txt').text
"""

NANOGPT_README = """\
# nanoGPT-like
```sh
python data/shakespeare_char/prepare.py
python train.py config/train_small.py
```
"""

NANOGPT_CONFIG = """\
out_dir = 'out-small'
eval_iters = 20
learning_rate = 1e-3
max_iters = 5000
"""


def nanogpt(root: Path) -> GitRepo:
    return make_repo(
        root,
        {
            "train.py": NANOGPT_TRAIN,
            "configurator.py": CONFIGURATOR,
            "data/shakespeare_char/prepare.py": NANOGPT_PREPARE,
            "config/train_small.py": NANOGPT_CONFIG,
            "README.md": NANOGPT_README,
        },
    )


ARGPARSE_MAIN = """\
import argparse, math, os, random

def get_args():
    p = argparse.ArgumentParser()
    p.add_argument('--learning-rate', '-l', type=float, default=5e-4)
    p.add_argument('--weight-decay', type=float, default=0.01)
    p.add_argument('--seed', type=int, default=3407)
    p.add_argument('--steps', type=int, default=-1)
    return p.parse_args()

if __name__ == '__main__':
    args = get_args()
    random.seed(int(os.environ.get("GITRESEARCH_SEED", 0)))
    print("vocabulary:")
    print(f"number of examples: {32033}")
    loss = (math.log10(args.learning_rate) + 2.5) ** 2 + random.gauss(0, 0.01)
    print(f"step {args.steps} | loss {loss + 0.2:.4f} | step time 10.0ms")
    print(f"step {args.steps} train loss: {loss + 0.1} test loss: {loss}")
"""

SKLEARN_CONFIG = """\
RANDOM_FOREST_CONFIG = {"n_estimators": 100, "max_depth": 6, "random_state": 23}
GRADIENT_BOOSTING_CONFIG = {"learning_rate": 0.1, "n_estimators": 200, "subsample": 0.8}
"""

SKLEARN_TRAIN = """\
import os, random
from config import GRADIENT_BOOSTING_CONFIG, RANDOM_FOREST_CONFIG
random.seed(int(os.environ.get("GITRESEARCH_SEED", 0)))
n = 20
print(f"Features: {n}")
acc = 0.9 - abs(GRADIENT_BOOSTING_CONFIG["learning_rate"] - 0.05) + random.gauss(0, 0.005)
print(f"accuracy: {acc:.4f}")
"""

SKLEARN_DOWNLOAD = """\
import urllib.request
if __name__ == "__main__":
    urllib.request.urlretrieve("https://example.invalid/data.csv", "data.csv")
"""

UPPER_TRAIN = """\
import math, os, random
LEARNING_RATE = 0.5
MOMENTUM = 0.9
NUM_EPOCHS = 10
VOCAB_SIZE = 256
random.seed(int(os.environ.get("GITRESEARCH_SEED", 0)))
def main():
    bpb = (LEARNING_RATE - 0.1) ** 2 + (1 - MOMENTUM) + random.gauss(0, 0.01)
    print(f"val_bpb: {bpb:.5f}")
if __name__ == "__main__":
    main()
"""


def read_config(repo: GitRepo) -> str:
    done = repo.gitresearch("init")
    assert done.returncode == 0, done.stderr
    return repo.read("boundaries.toml")


def searched(repo: GitRepo) -> tuple[set[str], set[str]]:
    done = repo.gitresearch("check", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    return {k["label"] for k in doc["search_space"]}, {k["label"] for k in doc["not_searched"]}


def test_nanogpt_layout(tmp_path: Path) -> None:
    repo = nanogpt(tmp_path / "r")
    text = read_config(repo)
    assert (
        'command = "python train.py config/train_small.py"' in text
    )  # as the README runs it, not prepare.py
    assert 'metric = "val_loss"' in text and 'direction = "minimize"' in text
    assert "metric_pattern = 'val\\s*loss" in text
    assert 'path = "config/train_small.py"' in text  # the values that count are set there
    assert '"data/shakespeare_char/prepare.py"' in text.split("[protect]")[1]
    for fixed in (
        "max_iters",
        "eval_iters",
        "block_size",
        "gradient_accumulation_steps",
        "iter_num",
        "compile",
    ):
        assert f'"{fixed}"' not in text.split("[protect]")[0], fixed
    knobs, _ = searched(repo)
    assert {"learning_rate", "weight_decay", "beta2", "dropout"} <= knobs
    assert not knobs & {"max_iters", "block_size", "iter_num", "best_val_loss", "compile", "bias"}
    repo.git("add", "boundaries.toml")
    repo.git("commit", "-qm", "boundaries")
    done = repo.gitresearch("start", "--name", "first", "--experiments", "3", "--gpus", "none")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "base: val_loss" in done.stderr


def test_argparse_layout(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "r",
        {"main.py": ARGPARSE_MAIN, "README.md": "Run it:\n\n    uv run main.py --steps 50\n", "uv.lock": ""},
    )
    text = read_config(repo)
    assert 'command = "uv run main.py --steps 50"' in text
    assert (
        'metric = "test_loss"' in text and 'direction = "minimize"' in text
    )  # not "vocabulary", not a count
    assert 'regions = ["get_args"]' in text
    knobs, skipped = searched(repo)
    assert {"get_args.learning_rate", "get_args.weight_decay"} <= knobs
    assert "get_args.seed" in skipped and "get_args.steps" in skipped


def test_sklearn_layout(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "r",
        {"train.py": SKLEARN_TRAIN, "config.py": SKLEARN_CONFIG, "download_data.py": SKLEARN_DOWNLOAD},
    )
    text = read_config(repo)
    assert 'command = "python train.py"' in text  # not the download script
    assert 'metric = "accuracy"' in text and 'direction = "maximize"' in text  # not "Features"
    assert 'path = "config.py"' in text  # the file that holds every hyperparameter is allowed, not protected
    protect = text.split("[protect]")[1]
    assert '"config.py"' not in protect and '"download_data.py"' in protect
    knobs, skipped = searched(repo)
    assert "GRADIENT_BOOSTING_CONFIG.learning_rate" in knobs  # named by key
    assert "RANDOM_FOREST_CONFIG.random_state" in skipped
    repo.git("add", "boundaries.toml")
    repo.git("commit", "-qm", "boundaries")
    done = repo.gitresearch("start", "--name", "first", "--experiments", "3", "--gpus", "none")
    assert done.returncode == 0, done.stderr[-3000:]


def test_upper_snake_layout_with_uv_lock(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"train.py": UPPER_TRAIN, "uv.lock": ""})
    text = read_config(repo)
    assert 'command = "uv run python train.py"' in text
    assert 'metric = "val_bpb"' in text and 'direction = "minimize"' in text
    knobs, skipped = searched(repo)
    assert knobs == {"LEARNING_RATE", "MOMENTUM"}
    assert "not opened: NUM_EPOCHS" in text and "not opened: VOCAB_SIZE" in text
    assert not skipped  # left out of the regions, so not even listed


def test_init_try_confirms_the_metric_from_real_output(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"main.py": ARGPARSE_MAIN.replace("default=-1", "default=5")})
    done = repo.gitresearch("init", "--try", "--print")
    assert done.returncode == 0, done.stderr
    assert re.search(r"found test_loss = [0-9.]+ \(1 value", done.stderr)
    assert 'metric = "test_loss"' in done.stdout


@pytest.mark.parametrize("name", ["prepare.py", "download.py", "data_utils.py"])
def test_a_data_script_is_never_the_benchmark(tmp_path: Path, name: str) -> None:
    repo = make_repo(
        tmp_path / "r",
        {name: "X = 1\nif __name__ == '__main__':\n    print(f'loss: {1.0}')\n", "model.py": UPPER_TRAIN},
    )
    assert 'command = "python model.py"' in read_config(repo)
