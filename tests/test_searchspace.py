"""The numeric search space found inside regions."""

from __future__ import annotations

import pytest

from gitresearch.boundaries.regions import ParsedModule, parse
from gitresearch.propose.searchspace import Knob, find_knobs, format_float, space_range
from tests.helpers.repos import TRAIN_PY


def knobs_of(source: str, names: list[str]) -> list[Knob]:
    module = parse(source)
    assert isinstance(module, ParsedModule)
    regions = [module.regions[n][0] for n in names]
    return find_knobs("train.py", module, regions)


def test_knobs_in_the_training_script() -> None:
    knobs = knobs_of(
        TRAIN_PY, ["LEARNING_RATE", "BETAS", "WARMUP_STEPS", "USE_BIAS", "configure_optimizer", "GPT.forward"]
    )
    table = {k.label: (k.value, k.scale, k.text) for k in knobs}
    assert table == {
        "LEARNING_RATE": (3e-4, "log", "3e-4"),
        "BETAS[0]": (0.9, "log1m", "0.9"),
        "BETAS[1]": (0.95, "log1m", "0.95"),
        "WARMUP_STEPS": (100, "log-int", "100"),
        "USE_BIAS": (True, "bool", "True"),
        "configure_optimizer.weight_decay": (0.1, "log", "0.1"),
        "configure_optimizer.eps": (1e-8, "log", "1e-8"),
    }
    # the slice index in `h[:, -1]` is not a hyperparameter, nor the `* 2` of `x * 2`
    assert all(k.value not in (-1, 2) for k in knobs)


def test_knob_spans_point_at_the_literal() -> None:
    for knob in knobs_of(TRAIN_PY, ["LEARNING_RATE", "BETAS", "configure_optimizer"]):
        assert TRAIN_PY[knob.start : knob.end] == knob.text
        assert knob.text in TRAIN_PY.splitlines()[knob.line - 1]


def test_negative_and_positional_literals() -> None:
    source = "def f(x, k=3):\n    y = g(x, 0, 1, -1, 7) * 0.5\n    z = -0.5\n    return y + 2 * z\n"
    labels = {k.label: k.value for k in knobs_of(source, ["f"])}
    assert labels == {
        "f.k": 3,
        "f.z": -0.5,
    }  # arithmetic in a function (`y = g(...) * 0.5`) and positional args are not knobs


def test_module_constants_count_whole() -> None:
    source = "SIZES = (1, 2, -1)\nSCALE = 2 ** 10\nSTEPS = (N + 64 - 1) // 64\nN = 5\n"
    knobs = knobs_of(source, ["SIZES", "SCALE", "STEPS"])
    labels = {k.label: k.value for k in knobs}
    # `2 ** 10` is one setting (rewritten whole); the `- 1` of a ceil-division is arithmetic
    assert labels == {"SIZES[0]": 1, "SIZES[1]": 2, "SIZES[2]": -1, "SCALE": 1024, "STEPS": 64, "STEPS#2": 64}
    scale = next(k for k in knobs if k.label == "SCALE")
    assert source[scale.start : scale.end] == "2 ** 10" and scale.render(2048) == "2048"


@pytest.mark.parametrize(
    ("value", "low", "high", "scale"),
    [
        (3e-4, 3e-5, 3e-3, "log"),
        (0.2, 0.02, 1.0, "log"),
        (0.9, 0.5, 0.99, "log1m"),
        (0.999, 0.9, 0.9999, "log1m"),
        (0.0, 0.0, 1.0, "linear"),
        (-2.0, -4.0, 4.0, "linear"),
        (4.0, 0.4, 40.0, "log"),
        (256, 25, 2560, "log-int"),
        (3, 1, 12, "int"),
        (0, 0, 8, "int"),
        (True, 0, 1, "bool"),
    ],
)
def test_ranges(value: float, low: float, high: float, scale: str) -> None:
    lo, hi, sc = space_range(value)
    assert sc == scale
    assert lo == pytest.approx(low) and hi == pytest.approx(high)


def test_format_float_round_trips_as_python() -> None:
    for value in (3e-4, 0.9, 1.0, 123456.0, 1e-8, 0.0):
        assert float(eval(format_float(value))) == pytest.approx(value, rel=1e-3)


@pytest.mark.parametrize(
    ("value", "name", "low", "high", "scale"),
    [
        # a learning rate is searched over decades whatever its value (0.5 is not a momentum)
        (0.5, "LEARNING_RATE", 0.05, 5.0, "log"),
        (0.6, "lr", 0.06, 6.0, "log"),
        (0.6, "configure_optimizer.lr", 0.06, 6.0, "log"),
        # a momentum or beta on the log of its gap to 1
        (0.9, "momentum", 0.5, 0.99, "log1m"),
        (0.95, "BETAS[1]", 0.5, 0.995, "log1m"),
        # Adam's epsilon over six decades; a dropout linearly from zero; a weight decay of 0.5 by decades
        (1e-4, "ADAM_EPS", 1e-8, 1e-2, "log"),
        (0.2, "DROPOUT", 0.0, 0.5, "linear"),
        (0.0, "attn_pdrop", 0.0, 0.5, "linear"),
        (0.5, "weight_decay", 0.05, 5.0, "log"),
        # an unnamed fraction keeps the value's rule
        (0.6, "ratio", 0.5, 0.96, "log1m"),
    ],
)
def test_ranges_follow_the_name(value: float, name: str, low: float, high: float, scale: str) -> None:
    lo, hi, sc = space_range(value, name)
    assert sc == scale
    assert lo == pytest.approx(low) and hi == pytest.approx(high)


def test_dict_entries_are_named_by_key_and_argparse_defaults_by_option() -> None:
    source = (
        "CONFIG = {'learning_rate': 0.1, 'n_estimators': 300, 'max_depth': 6, 'random_state': 23,\n"
        "          'optim': {'betas': (0.9, 0.99)}}\n"
        "def get_args():\n"
        "    p = argparse.ArgumentParser()\n"
        "    p.add_argument('--lr', type=float, default=3e-4, help='peak')\n"
        "    p.add_argument('-n', '--n-layer', type=int, default=6, nargs=1)\n"
        "    p.add_argument('--seed', type=int, default=1337)\n"
        "    return p.parse_args()\n"
    )
    knobs = {k.label: k for k in knobs_of(source, ["CONFIG", "get_args"])}
    assert {label: k.value for label, k in knobs.items() if k.skip is None} == {
        "CONFIG.learning_rate": 0.1,
        "CONFIG.n_estimators": 300,
        "CONFIG.max_depth": 6,
        "CONFIG.betas[0]": 0.9,
        "CONFIG.betas[1]": 0.99,
        "get_args.lr": 3e-4,
        "get_args.n_layer": 6,
    }
    assert knobs["CONFIG.random_state"].skip and "seed" in knobs["CONFIG.random_state"].skip
    assert knobs["get_args.seed"].skip and knobs["get_args.seed"].value == 1337
    assert knobs["CONFIG.learning_rate"].scale == "log"


STRUCTURAL_SOURCE = """\
VOCAB_SIZE = 50304
BLOCK_SIZE = 1024
MAX_ITERS = 5000
EVAL_ITERS = 200
PEAK_FLOPS = 989e12
ACTIVATION = "gelu"
WARMUP_STEPS = 100
BASELINE_TPUT = 312e12
def report(n):
    print(f"speed-up {n / BASELINE_TPUT:.2f}")
def attend(q, k, v):
    y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=0.1)
    y = y.transpose(dim0=1, dim1=2).softmax(dim=-1)
    opt = torch.optim.AdamW(params, lr=6e-4, fused=True)
    return y
"""


def test_structural_literals_are_found_but_not_searched() -> None:
    regions = [
        "VOCAB_SIZE",
        "BLOCK_SIZE",
        "MAX_ITERS",
        "EVAL_ITERS",
        "PEAK_FLOPS",
        "ACTIVATION",
        "WARMUP_STEPS",
        "BASELINE_TPUT",
        "attend",
    ]
    knobs = {k.label: k for k in knobs_of(STRUCTURAL_SOURCE, regions)}
    searched = {label for label, k in knobs.items() if k.skip is None}
    assert searched == {"WARMUP_STEPS", "attend.dropout_p", "attend.lr"}
    why = {label: k.skip or "" for label, k in knobs.items()}
    assert "vocabulary" in why["VOCAB_SIZE"]
    assert "context length" in why["BLOCK_SIZE"]
    assert "budget" in why["MAX_ITERS"]
    assert "evaluates" in why["EVAL_ITERS"]
    assert "hardware" in why["PEAK_FLOPS"]
    assert "only printed" in why["BASELINE_TPUT"]
    assert "choices" in why["ACTIVATION"]
    # a constant the metric line computes with is a knob, printed or not
    metric_line = knobs_of('LR = 0.01\nprint(f"loss: {(LR - 0.1) ** 2:.4f}")\n', ["LR"])
    assert [k.skip for k in metric_line] == [None]
    computed = knobs_of("import math\nM = 0.5\nloss = math.log(1 - M)\nprint(loss)\n", ["M"])
    assert [k.skip for k in computed] == [None]  # math.log is arithmetic, not a log line
    assert "causality" in why["attend.is_causal"]
    assert "dimension" in why["attend.dim0"] and "dimension" in why["attend.dim"]
    assert "wiring" in why["attend.fused"]
