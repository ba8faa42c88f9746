"""The search space hidden in the allowed regions: knobs, their names, ranges and exclusions.

Every tunable literal (int, float, bool, each element of a numeric tuple, each value of a
dict) found inside a region becomes a `Knob` with its location, current value, and the
range and scale a search would use. Inside functions and classes only named literals count
(assigned to a name, passed as a keyword, a parameter's default, an argparse `default=`):
`0.5 * (1 + cos(x))` is arithmetic, not a hyperparameter.

Names come from where a literal sits: `CONFIG.learning_rate` for a dict entry,
`configure_optimizer.eps` for a keyword, `BETAS[1]` for a tuple element, `args.lr` for an
argparse option. Ranges come from the name first, then the value, written so a researcher
can predict them (`space_range`): a learning rate is searched on a log scale a decade each
way whatever its value, a momentum or beta on the log of its distance to 1, an epsilon over
six decades, a dropout linearly from zero. Literals that are structural rather than tunable
(dimension arguments, causal masks, vocabulary sizes, the training budget, seeds, values
only printed) are found but not searched: `check` lists them with the reason, and a
`[[knob]]` entry in boundaries.toml opts one in, excludes another, or sets a range, scale
or choices (`apply_rules`).
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import libcst as cst

from gitresearch.boundaries.config import KnobRule
from gitresearch.boundaries.knobnames import (
    DROPOUT,
    EPSILON,
    LEARNING_RATE,
    MOMENTUM,
    WEIGHT_DECAY,
    matches,
    structural,
    words,
)
from gitresearch.boundaries.regions import ParsedModule, Region, call_name, parse
from gitresearch.boundaries.resolve import Boundaries
from gitresearch.boundaries.sources import FileSource
from gitresearch.errors import ConfigError

Scale = Literal["log", "linear", "log1m", "int", "log-int", "bool", "choice"]
Value = int | float | bool | str


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
    choices: tuple[Value, ...] = ()  # a `choice` knob's values
    integer: bool = False  # searched as whole numbers (an int literal, or `integer = true`)
    skip: str | None = None  # why it is not searched (None: it is)

    @property
    def kind(self) -> Literal["int", "float", "bool", "choice", "str"]:
        if self.choices:
            return "choice"
        if isinstance(self.value, bool):
            return "bool"
        if isinstance(self.value, str):
            return "str"
        return "int" if self.integer or isinstance(self.value, int) else "float"

    def describe_range(self) -> str:
        if self.choices:
            return "{" + ", ".join(_show(c) for c in self.choices) + "}"
        if self.scale == "bool":
            return "{false, true}"
        if self.kind == "str":
            return "-"
        if self.kind == "int":
            return f"[{int(self.low)}, {int(self.high)}]"
        return f"[{self.low:.4g}, {self.high:.4g}]"

    def render(self, value: Value) -> str:
        """Source text for `value` in the style of the original literal."""
        if isinstance(value, str):
            quote = self.text[-1:] if self.text[-1:] in ("'", '"') else '"'
            return repr(value) if quote == "'" else json.dumps(value)
        if isinstance(value, bool) or isinstance(self.value, bool):
            return "True" if value else "False"
        if self.kind == "int" or (self.kind == "choice" and isinstance(value, int)):
            return str(round(value))
        return format_float(float(value))


def _show(value: Value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return format_float(value)
    return json.dumps(value) if isinstance(value, str) else str(value)


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


def space_range(value: Value, name: str | None = None) -> tuple[float, float, Scale]:
    """The range and scale a search uses for a literal of `value` named `name` (see the docstring)."""
    if isinstance(value, bool):
        return 0.0, 1.0, "bool"
    if isinstance(value, str):
        return 0.0, 0.0, "choice"
    word = words(name)
    if isinstance(value, float) and value > 0:
        if matches(word, LEARNING_RATE) or matches(word, WEIGHT_DECAY):
            return value / 10, value * 10, "log"  # decades, even for a learning rate of 0.5
        if matches(word, EPSILON):
            return value / 1e4, value * 100, "log"  # Adam's epsilon matters over decades
        if matches(word, DROPOUT) and value < 1:
            return 0.0, max(0.5, min(0.9, value * 2)), "linear"
        if matches(word, MOMENTUM) and value < 1:
            gap = 1.0 - value
            # from a tenth of the gap to a hundred times it; a momentum below 0.5 may go to 0
            reach = min(0.5, gap * 100) if value >= 0.5 else min(0.99, gap * 2)
            return max(0.0, 1.0 - reach), 1.0 - gap / 10, "log1m"
    if isinstance(value, float) and value == 0.0:
        if matches(word, DROPOUT):
            return 0.0, 0.5, "linear"
        if matches(word, WEIGHT_DECAY):
            return 0.0, 0.1, "linear"
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
        self._arith = 0  # inside arithmetic that mixes literals with names
        self._mixed: list[bool] = []  # per open BinaryOperation: did it count in _arith

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

    def visit_DictElement(self, node: cst.DictElement) -> bool:
        key = node.key
        if isinstance(key, cst.SimpleString) and isinstance(key.evaluated_value, str):
            self._hint.append(key.evaluated_value)
            node.value.visit(self)
            self._hint.pop()
        return False  # computed keys are not named, and keys are never knobs

    def visit_Call(self, node: cst.Call) -> bool:
        """`parser.add_argument("--lr", type=float, default=3e-4)`: the default, named by the option."""
        if call_name(node) != "add_argument":
            return True
        options = [
            a.value.evaluated_value
            for a in node.args
            if a.keyword is None
            and isinstance(a.value, cst.SimpleString)
            and isinstance(a.value.evaluated_value, str)
        ]
        option = max(options, key=len, default="").lstrip("-").replace("-", "_")
        for arg in node.args:
            if arg.keyword is not None and arg.keyword.value == "default" and option:
                self._hint.append(option)
                arg.value.visit(self)
                self._hint.pop()
        return False  # nargs=, choices= and the rest describe the option, not a setting

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

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> bool:
        value = _literal_arithmetic(node)
        self._mixed.append(value is None)  # leave_ is called either way: it pops what visit_ pushed
        if value is not None:  # `2 ** 19`, `3 * 1e-4`: one setting, rewritten whole
            self._add(node, value)
            return False
        self._arith += 1
        return True

    def leave_BinaryOperation(self, original_node: cst.BinaryOperation) -> None:
        if self._mixed.pop():
            self._arith -= 1

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

    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        value = node.evaluated_value
        # Strings are settings only as a constant's or a dict entry's value (`ACTIVATION = "gelu"`),
        # found so that a [[knob]] can give their choices; never searched on their own.
        if not self.named_only and self._hint[-1] and isinstance(value, str) and len(value) <= 40:
            self.found.append((node, value, self._hint[-1]))

    def visit_FormattedString(self, node: cst.FormattedString) -> bool:
        return False

    def visit_ConcatenatedString(self, node: cst.ConcatenatedString) -> bool:
        return False

    def _add(self, node: cst.CSTNode, value: Value) -> None:
        hint = self._hint[-1]
        if self.named_only and not hint:
            return  # inside a function, `0.5 * (1 + cos(x))` is arithmetic, not a hyperparameter
        if hint == "" and not isinstance(value, bool) and value in (0, 1, -1):
            return  # positional 0/1/-1: axes, counts, identities
        if self._arith and self.named_only:
            return  # `coeff = 0.5 * (1.0 + cos(x))` in a function: a formula, not a setting
        if self._arith and isinstance(value, int) and not isinstance(value, bool) and -1 <= value <= 2:
            return  # the `- 1` of a ceil-division, the `2 *` of a size: arithmetic, not a setting
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


def _literal_arithmetic(node: cst.BaseExpression) -> int | float | None:
    """The value of arithmetic made of numeric literals alone (`2 ** 19`), else None."""
    if isinstance(node, (cst.Integer, cst.Float)):
        value = node.evaluated_value
        return value if isinstance(value, (int, float)) else None
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, (cst.Minus, cst.Plus)):
        inner = _literal_arithmetic(node.expression)
        return None if inner is None else (-inner if isinstance(node.operator, cst.Minus) else inner)
    if not isinstance(node, cst.BinaryOperation):
        return None
    left, right = _literal_arithmetic(node.left), _literal_arithmetic(node.right)
    if left is None or right is None:
        return None
    try:
        match node.operator:
            case cst.Add():
                return left + right
            case cst.Subtract():
                return left - right
            case cst.Multiply():
                return left * right
            case cst.Divide():
                return left / right
            case cst.FloorDivide():
                return left // right
            case cst.Power() if abs(right) <= 64 and abs(left) < 1e6:
                result = left**right
                return result if isinstance(result, (int, float)) else None
    except (ZeroDivisionError, OverflowError):
        return None
    return None


def find_knobs(path: str, parsed: ParsedModule, regions: Sequence[Region]) -> list[Knob]:
    """Every literal a search could move inside `regions` of `parsed`, in source order, labels
    unique; those left out by default carry the reason in `skip`."""
    knobs: list[Knob] = []
    used: set[str] = set()
    seen_nodes: set[int] = set()
    printed = _printed_only(parsed.module)
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
            low, high, scale = space_range(value, hint or region.name)
            skip = structural(hint or region.name, value)
            if skip is None and region.kind == "assignment" and region.name in printed:
                skip = "only printed or logged: it never reaches the result"
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
                    skip=skip,
                )
            )
    return knobs


_REPORTING = {
    "print",
    "log",
    "info",
    "debug",
    "warning",
    "write",
    "set_description",
    "set_postfix",
    "add_scalar",
}


class _Uses(cst.CSTVisitor):
    """How often each module-level name is read, and how often only inside a print or log call."""

    def __init__(self) -> None:
        self.reads: dict[str, int] = {}
        self.printed: dict[str, int] = {}
        self._reporting = 0

    def visit_Call(self, node: cst.Call) -> None:
        if _reports(node):
            self._reporting += 1

    def leave_Call(self, original_node: cst.Call) -> None:
        if _reports(original_node):
            self._reporting -= 1

    def visit_Assign(self, node: cst.Assign) -> bool:
        node.value.visit(self)  # the targets are writes, not reads
        return False

    def visit_Name(self, node: cst.Name) -> None:
        self.reads[node.value] = self.reads.get(node.value, 0) + 1
        if self._reporting:
            self.printed[node.value] = self.printed.get(node.value, 0) + 1


def _reports(node: cst.Call) -> bool:
    """A print or log call that only reports: not one that prints a `name: value` metric line
    (`print(f"loss: {(log10(LR) + 1) ** 2}")` computes the metric from LR)."""
    name = call_name(node)
    if name not in _REPORTING:
        return False
    func = node.func
    if name == "log" and isinstance(func, cst.Attribute):
        receiver = cst.Module([]).code_for_node(func.value).lower()
        if not re.search(r"log|wandb|writer|tracker|run|experiment|self", receiver):
            return False  # math.log, np.log, torch.log: arithmetic, not a log line
    for arg in node.args:
        value = arg.value
        if isinstance(value, cst.SimpleString) and str(value.evaluated_value).rstrip().endswith((":", "=")):
            return False
        if isinstance(value, cst.FormattedString):
            parts = value.parts
            for before, after in itertools.pairwise(parts):
                if (
                    isinstance(before, cst.FormattedStringText)
                    and before.value.rstrip().endswith((":", "="))
                    and isinstance(after, cst.FormattedStringExpression)
                ):
                    return False
    return True


def _printed_only(module: cst.Module) -> set[str]:
    """Names the file reads only inside print/log calls (a peak-FLOPs constant for an MFU line)."""
    uses = _Uses()
    module.visit(uses)
    return {name for name, n in uses.printed.items() if n == uses.reads.get(name)}


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


def knob_space(boundaries: Boundaries, source: FileSource) -> list[Knob]:
    """Every literal in every allowed region of the files `source` holds, with the [[knob]]
    rules of boundaries.toml applied; `skip` says which are left out of the search and why."""
    by_file: dict[str, list[Region]] = {}
    for allowed, region in boundaries.resolved_regions(source):
        by_file.setdefault(allowed.path, []).append(region)
    knobs: list[Knob] = []
    for path, regions in by_file.items():
        parsed = parse((source.read_bytes(path) or b"").decode("utf-8"))
        if isinstance(parsed, ParsedModule):
            knobs.extend(find_knobs(path, parsed, regions))
    return apply_rules(knobs, boundaries.config.knobs, boundaries.config.path)


def boundary_knobs(boundaries: Boundaries, source: FileSource) -> list[Knob]:
    """The knobs the search moves: `knob_space` without those it leaves out."""
    return [k for k in knob_space(boundaries, source) if k.skip is None]


def apply_rules(knobs: list[Knob], rules: Sequence[KnobRule], config_path: Path) -> list[Knob]:
    """`knobs` with each [[knob]] rule applied; a rule that names no knob is a ConfigError."""
    out = list(knobs)
    for rule in rules:
        hits = [i for i, k in enumerate(out) if k.label == rule.name and rule.path in (None, k.path)]
        if not hits:
            close = difflib.get_close_matches(rule.name, [k.label for k in knobs], n=1, cutoff=0.5)
            raise ConfigError(
                config_path,
                f'[[knob]] "{rule.name}" matches no literal in the allowed regions'
                + (f" of {rule.path}" if rule.path else ""),
                key="knob.name",
                line=rule.line,
                hint=f'did you mean "{close[0]}"?'
                if close
                else "`gitresearch check` lists every knob by name",
            )
        if len(hits) > 1 and rule.path is None:
            paths = ", ".join(sorted({out[i].path for i in hits}))
            raise ConfigError(
                config_path,
                f'[[knob]] "{rule.name}" names a knob in several files ({paths})',
                key="knob.path",
                line=rule.line,
                hint='add path = "..." to say which',
            )
        for i in hits:
            out[i] = _ruled(out[i], rule, config_path)
    return out


def _ruled(knob: Knob, rule: KnobRule, config_path: Path) -> Knob:
    def error(message: str, hint: str | None = None) -> ConfigError:
        return ConfigError(
            config_path, f'[[knob]] "{rule.name}": {message}', key="knob", line=rule.line, hint=hint
        )

    if rule.exclude:
        return dataclasses.replace(knob, skip="excluded in boundaries.toml")
    changed = dataclasses.replace(knob, skip=None)
    if rule.choices:
        choices = rule.choices if knob.value in rule.choices else (knob.value, *rule.choices)
        if {isinstance(c, str) for c in choices} != {isinstance(knob.value, str)}:
            raise error(
                f"its value {knob.text} and the choices must be of one kind (numbers, true/false or strings)"
            )
        return dataclasses.replace(
            changed, choices=choices, scale="choice", low=0.0, high=float(len(choices) - 1)
        )
    if isinstance(knob.value, str):
        raise error("a string is searched only over `choices`", 'add choices = ["...", "..."]')
    if isinstance(knob.value, bool):
        if rule.low is not None or rule.scale is not None:
            raise error("true/false has no range")
        return changed
    integer = rule.integer if rule.integer is not None else changed.integer
    scale: Scale = rule.scale or changed.scale
    if rule.scale is None and integer and scale in ("log", "linear"):
        scale = "log-int" if scale == "log" else "int"
    low = rule.low if rule.low is not None else changed.low
    high = rule.high if rule.high is not None else changed.high
    if scale in ("log", "log-int") and low <= 0:
        raise error(
            f'a "{scale}" scale needs a range above zero, not from {low:g}',
            'add range = [low, high] or scale = "linear"',
        )
    if scale == "log1m" and not (0 <= low < high < 1):
        raise error(
            '`scale = "log1m"` (momenta, betas) needs a range inside [0, 1)', "add range = [0.8, 0.999]"
        )
    return dataclasses.replace(
        changed, low=low, high=high, scale=scale, integer=integer or scale in ("int", "log-int")
    )
