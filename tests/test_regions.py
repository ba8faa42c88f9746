"""Region resolution with libcst: names, kinds, line ranges and spans."""

from __future__ import annotations

import pytest

from gitresearch.boundaries.regions import ParsedModule, SyntaxProblem, parse

SOURCE = '''\
# header
import torch

LR = 3e-4  # comment
A = 1; B = 2
X: int = 5
C, D = 1, 2


@decorator
def f(x):
    return x


class Model:
    """doc"""

    @staticmethod
    def forward(x):
        return x

    async def step(self): return 1


async def g():
    pass
'''


def parsed() -> ParsedModule:
    result = parse(SOURCE)
    assert isinstance(result, ParsedModule)
    return result


@pytest.mark.parametrize(
    ("name", "kind", "lines", "text"),
    [
        ("LR", "assignment", (4, 4), "LR = 3e-4  # comment\n"),
        ("A", "assignment", (5, 5), "A = 1"),
        ("B", "assignment", (5, 5), "B = 2"),
        ("X", "assignment", (6, 6), "X: int = 5\n"),
        ("C", "assignment", (7, 7), "C, D = 1, 2\n"),
        ("f", "function", (10, 12), "@decorator\ndef f(x):\n    return x\n"),
        ("Model.forward", "method", (18, 20), "    @staticmethod\n    def forward(x):\n        return x\n"),
        ("Model.step", "method", (22, 22), "    async def step(self): return 1\n"),
        ("g", "function", (25, 26), "async def g():\n    pass\n"),
    ],
)
def test_region_kinds_and_spans(name: str, kind: str, lines: tuple[int, int], text: str) -> None:
    module = parsed()
    region = module.region(name)
    assert region is not None
    assert region.kind == kind
    assert (region.start_line, region.end_line) == lines
    assert region.text(SOURCE) == text


def test_class_region_covers_the_whole_class() -> None:
    region = parsed().region("Model")
    assert region is not None and region.kind == "class"
    assert (region.start_line, region.end_line) == (15, 22)


def test_imports_and_locals_are_not_regions() -> None:
    names = set(parsed().regions)
    assert "torch" not in names and "x" not in names
    assert names >= {"LR", "A", "B", "X", "C", "D", "f", "Model", "Model.forward", "Model.step", "g"}


def test_duplicates_are_kept_for_the_caller_to_judge() -> None:
    module = parse("def h():\n    pass\n\n\ndef h():\n    pass\n")
    assert isinstance(module, ParsedModule)
    assert len(module.regions["h"]) == 2
    assert module.region("h") is None


def test_non_ascii_columns_are_characters() -> None:
    source = 'NAME = "café"; RATE = 0.5\n'
    module = parse(source)
    assert isinstance(module, ParsedModule)
    rate = module.region("RATE")
    assert rate is not None and rate.text(source) == "RATE = 0.5"


@pytest.mark.parametrize(
    ("source", "line"),
    [("def f(:\n    pass\n", 1), ("x = 1\ny = (\n", 2), ("return 5\n", 1), ("a = 1\n  b = 2\n", 2)],
)
def test_syntax_errors_have_a_line_and_caret(source: str, line: int) -> None:
    problem = parse(source)
    assert isinstance(problem, SyntaxProblem)
    assert problem.line == line
    assert "^" in problem.render()


def test_parse_is_cached_per_text() -> None:
    assert parse(SOURCE) is parse(SOURCE)
