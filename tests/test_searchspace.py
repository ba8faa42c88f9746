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
        "configure_optimizer.decay": (2, "int", "2"),
        "configure_optimizer.eps": (1e-8, "log", "1e-8"),
        "GPT.forward.h": (2, "int", "2"),
    }
    # the slice index in `h[:, -1]` is not a hyperparameter
    assert all(k.value != -1 for k in knobs)


def test_knob_spans_point_at_the_literal() -> None:
    for knob in knobs_of(TRAIN_PY, ["LEARNING_RATE", "BETAS", "configure_optimizer"]):
        assert TRAIN_PY[knob.start : knob.end] == knob.text
        assert knob.text in TRAIN_PY.splitlines()[knob.line - 1]


def test_negative_and_positional_literals() -> None:
    source = "def f(x, k=3):\n    y = g(x, 0, 1, -1, 7) * 0.5\n    z = -0.5\n    return y + 2 * z\n"
    labels = {k.label: k.value for k in knobs_of(source, ["f"])}
    assert labels == {
        "f.k": 3,
        "f.y": 0.5,
        "f.z": -0.5,
    }  # unnamed arithmetic and positional args are not knobs


def test_module_constants_count_whole() -> None:
    source = "SIZES = (1, 2, -1)\nSCALE = 2 ** 10\n"
    labels = {k.label: k.value for k in knobs_of(source, ["SIZES", "SCALE"])}
    assert labels == {"SIZES[0]": 1, "SIZES[1]": 2, "SIZES[2]": -1, "SCALE": 2, "SCALE#2": 10}


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
