"""The numeric search space hidden in the allowed regions.

Every tunable literal (int, float, bool, each element of a numeric tuple) found inside a
region becomes a `Knob` with its location, current value, and the range and scale a search
would use. Inside functions and classes only named literals count (assigned to a name,
passed as a keyword, a parameter's default): `0.5 * (1 + cos(x))` is arithmetic, not a
hyperparameter. The ranges are deliberately simple, written so a researcher can predict them:
values in (0, 0.5) and above 1, and ints above 4, are searched on a log scale over a decade
each way; values in [0.5, 1) (momenta, betas, decays) on the log of their distance to 1,
from a tenth of it to a hundred times it (capped at 0.5); small ints linearly up to four
times; booleans both ways. Literals that are plainly not hyperparameters (indices and
slices, 0/1/-1 passed positionally, docstrings) are left out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import libcst as cst

from gitresearch.boundaries.regions import ParsedModule, Region, parse
from gitresearch.boundaries.resolve import Boundaries
from gitresearch.boundaries.sources import FileSource

Scale = Literal["log", "linear", "log1m", "int", "log-int", "bool"]
Value = int | float | bool


@dataclass(frozen=True)
class Knob:
    path: str
    region: str
    label: str  # unique within the file: region, region[i], region.keyword, region#n
    line: int
    value: Value
    low: float
    high: float
    scale: Scale
    start: int  # character span of the literal in the file, for rewriting it
    end: int
    text: str  # the literal as written

    @property
    def kind(self) -> Literal["int", "float", "bool"]:
        if isinstance(self.value, bool):
            return "bool"
        return "int" if isinstance(self.value, int) else "float"

    def describe_range(self) -> str:
        if self.scale == "bool":
            return "{false, true}"
        if self.kind == "int":
            return f"[{int(self.low)}, {int(self.high)}]"
        return f"[{self.low:.4g}, {self.high:.4g}]"

    def render(self, value: Value) -> str:
        """Source text for `value` in the style of the original literal."""
        if isinstance(value, bool) or self.kind == "bool":
            return "True" if value else "False"
        if self.kind == "int":
            return str(round(value))
        return format_float(float(value))


def format_float(value: float) -> str:
    if value == 0:
        return "0.0"
    text = f"{value:.4g}"
    if "e" not in text and "." not in text:
        text += ".0"
    if "e" in text:
        mantissa, exp = text.split("e")
        text = f"{mantissa}e{int(exp)}"
    return text


def space_range(value: Value) -> tuple[float, float, Scale]:
    if isinstance(value, bool):
        return 0.0, 1.0, "bool"
    if isinstance(value, int):
        if value == 0:
            return 0.0, 8.0, "int"
        if value < 0:
            return float(value * 4), float(-value * 4), "int"
        if value <= 4:
            return 1.0, float(value * 4), "int"
        return float(max(1, value // 10)), float(value * 10), "log-int"
    if value == 0.0:
        return 0.0, 1.0, "linear"
    if value < 0:
        return value * 2, -value * 2, "linear"
    if 0.5 <= value < 1.0:
        gap = 1.0 - value
        # asymmetric on purpose: a momentum or beta is far more often too close to 1 than too far
        return 1.0 - min(0.5, gap * 100), 1.0 - gap / 10, "log1m"
    if value < 1.0:
        # a fraction (dropout, a ratio, a rate) rarely makes sense above 1, and often breaks there
        return value / 10, min(value * 10, 1.0), "log"
    return value / 10, value * 10, "log"


class _Finder(cst.CSTVisitor):
    """Collects (literal node, value, naming hint) under one region node."""

    def __init__(self, named_only: bool) -> None:
        self.named_only = named_only
        self.found: list[tuple[cst.CSTNode, Value, str | None]] = []
        self._hint: list[str | None] = [None]
        self._skip_depth = 0

    # Context: which name a literal is assigned to or passed as.
    def visit_Assign(self, node: cst.Assign) -> None:
        target = node.targets[-1].target
        self._hint.append(target.value if isinstance(target, cst.Name) else None)

    def leave_Assign(self, node: cst.Assign) -> None:
        self._hint.pop()

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._hint.append(node.target.value if isinstance(node.target, cst.Name) else None)

    def leave_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._hint.pop()

    def visit_Arg(self, node: cst.Arg) -> None:
        self._hint.append(node.keyword.value if node.keyword is not None else "")

    def leave_Arg(self, node: cst.Arg) -> None:
        self._hint.pop()

    def visit_Param(self, node: cst.Param) -> None:
        self._hint.append(node.name.value)

    def leave_Param(self, node: cst.Param) -> None:
        self._hint.pop()

    def visit_Subscript(self, node: cst.Subscript) -> bool:
        node.value.visit(self)
        return False  # indices and slices are not hyperparameters

    def visit_Annotation(self, node: cst.Annotation) -> bool:
        return False

    def visit_Tuple(self, node: cst.Tuple) -> bool:
        values = [_number(e.value) for e in node.elements]
        if values and all(v is not None for v, _ in values):
            hint = self._hint[-1]
            for index, (value, literal) in enumerate(values):
                assert value is not None and literal is not None
                self.found.append((literal, value, f"{hint}[{index}]" if hint else f"[{index}]"))
            return False
        return True

    def visit_Integer(self, node: cst.Integer) -> None:
        self._add(node, node.evaluated_value)

    def visit_Float(self, node: cst.Float) -> None:
        self._add(node, node.evaluated_value)

    def visit_UnaryOperation(self, node: cst.UnaryOperation) -> bool:
        value, literal = _number(node)
        if value is not None and literal is not None and literal is node:
            self._add(node, value)
            return False
        return True

    def visit_Name(self, node: cst.Name) -> None:
        if node.value in ("True", "False") and self._hint[-1]:
            self._add(node, node.value == "True")

    def _add(self, node: cst.CSTNode, value: Value) -> None:
        hint = self._hint[-1]
        if self.named_only and not hint:
            return  # inside a function, `0.5 * (1 + cos(x))` is arithmetic, not a hyperparameter
        if hint == "" and not isinstance(value, bool) and value in (0, 1, -1):
            return  # positional 0/1/-1: axes, counts, identities
        self.found.append((node, value, hint))


def _number(node: cst.BaseExpression) -> tuple[Value | None, cst.CSTNode | None]:
    if isinstance(node, (cst.Integer, cst.Float)):
        value = node.evaluated_value
        return (value if isinstance(value, (int, float)) else None), node
    if (
        isinstance(node, cst.UnaryOperation)
        and isinstance(node.operator, cst.Minus)
        and isinstance(node.expression, (cst.Integer, cst.Float))
    ):
        inner = node.expression.evaluated_value
        if isinstance(inner, (int, float)):
            return -inner, node
    return None, None


def find_knobs(path: str, parsed: ParsedModule, regions: Sequence[Region]) -> list[Knob]:
    """Every tunable literal inside `regions` of `parsed`, in source order, labels unique."""
    knobs: list[Knob] = []
    used: set[str] = set()
    seen_nodes: set[int] = set()
    for region in regions:
        # In a function or class only named literals count (assigned, keyword, default);
        # in a module-level assignment every literal is the constant itself.
        finder = _Finder(named_only=region.kind != "assignment")
        region.node.visit(finder)
        for node, value, hint in finder.found:
            if id(node) in seen_nodes or (isinstance(value, float) and not math.isfinite(value)):
                continue
            seen_nodes.add(id(node))
            label = _label(region, hint, used)
            low, high, scale = space_range(value)
            rng = parsed.positions[node]
            start = _offset(parsed.source, rng.start.line, rng.start.column)
            end = _offset(parsed.source, rng.end.line, rng.end.column)
            knobs.append(
                Knob(
                    path,
                    region.name,
                    label,
                    rng.start.line,
                    value,
                    low,
                    high,
                    scale,
                    start,
                    end,
                    parsed.source[start:end],
                )
            )
    return knobs


def _label(region: Region, hint: str | None, used: set[str]) -> str:
    if region.kind == "assignment" and (hint == region.name or hint is None):
        base = region.name
    elif hint and hint.startswith("["):
        base = f"{region.name}{hint}"
    elif hint and region.kind == "assignment" and hint.startswith(region.name + "["):
        base = hint
    elif hint:
        base = f"{region.name}.{hint}"
    else:
        base = f"{region.name}#1"
    label, n = base, 1
    while label in used:
        n += 1
        label = f"{base.split('#')[0]}#{n}"
    used.add(label)
    return label


def _offset(source: str, line: int, column: int) -> int:
    pos = 0
    for _ in range(line - 1):
        pos = source.index("\n", pos) + 1
    return pos + column


def boundary_knobs(boundaries: Boundaries, source: FileSource) -> list[Knob]:
    """Every tunable literal in every allowed region of the files `source` holds."""
    by_file: dict[str, list[Region]] = {}
    for allowed, region in boundaries.resolved_regions(source):
        by_file.setdefault(allowed.path, []).append(region)
    knobs: list[Knob] = []
    for path, regions in by_file.items():
        parsed = parse((source.read_bytes(path) or b"").decode("utf-8"))
        if isinstance(parsed, ParsedModule):
            knobs.extend(find_knobs(path, parsed, regions))
    return knobs
