"""Named regions of a Python file, found with libcst.

A region is what `boundaries.toml` may open for editing: a module-level assignment target
(`LEARNING_RATE`), a function, a whole class, or a method (`GPT.forward`). Each resolves to
its libcst node and a character span of the source so that the validator can compare
everything outside the spans byte for byte. Spans are whole lines (decorators and a
trailing comment included), except for a statement that shares its line with others
(`A = 1; B = 2`), whose span is the statement alone so that opening `A` never opens `B`.

Why two parsers: libcst gives the lossless tree the validator and the search rewrite, and
CPython's `ast` is both the arbiter of what will actually run and a fast source of
positions (libcst's PositionProvider costs about twice the parse itself, so it is only
computed on demand, for line numbers of findings and literals).
"""

from __future__ import annotations

import ast
import gc
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Literal

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

RegionKind = Literal["assignment", "function", "class", "method"]


@dataclass(frozen=True)
class Region:
    name: str
    kind: RegionKind
    start_line: int  # 1-based, inclusive
    end_line: int  # 1-based, inclusive
    start: int  # character offset into the source, inclusive
    end: int  # character offset, exclusive
    indent: str  # the indentation of the region's first line
    node: cst.CSTNode = field(compare=False, repr=False, hash=False)

    def text(self, source: str) -> str:
        return source[self.start : self.end]


@dataclass(frozen=True)
class SyntaxProblem:
    line: int
    column: int
    message: str
    text: str  # the offending source line

    def render(self) -> str:
        caret = " " * max(self.column - 1, 0) + "^"
        return f"{self.message}\n    {self.text.rstrip()}\n    {caret}"


@dataclass(frozen=True)
class ParsedModule:
    """A parsed file and every region it defines (a name may occur more than once)."""

    source: str
    module: cst.Module
    regions: Mapping[str, tuple[Region, ...]]

    def region(self, name: str) -> Region | None:
        found = self.regions.get(name, ())
        return found[0] if len(found) == 1 else None

    @cached_property
    def positions(self) -> Mapping[cst.CSTNode, CodeRange]:
        return MetadataWrapper(self.module, unsafe_skip_copy=True).resolve(PositionProvider)

    def line_of(self, node: cst.CSTNode) -> int:
        return self.positions[node].start.line


class _Lines:
    """Offsets of line starts, and CPython's UTF-8 byte columns turned into characters."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.ascii = source.isascii()
        self.starts = [0]
        index = source.find("\n")
        while index != -1:
            self.starts.append(index + 1)
            index = source.find("\n", index + 1)

    def offset(self, line: int, byte_col: int) -> int:
        start = self.starts[line - 1]
        if self.ascii:
            return start + byte_col
        end = self.starts[line] if line < len(self.starts) else len(self.source)
        prefix = self.source[start:end].encode("utf-8")[:byte_col]
        return start + len(prefix.decode("utf-8", errors="ignore"))

    def line_end(self, line: int) -> int:
        return self.starts[line] if line < len(self.starts) else len(self.source)


@lru_cache(maxsize=16)
def parse(source: str) -> ParsedModule | SyntaxProblem:
    """Parse once per distinct source text (the original of a file is parsed for every patch)."""
    # A libcst parse allocates hundreds of thousands of acyclic nodes; letting the cyclic
    # collector run in the middle of that burst tripled the tail latency of validation.
    paused = gc.isenabled()
    gc.disable()
    try:
        return _parse(source)
    finally:
        if paused:
            gc.enable()


def _parse(source: str) -> ParsedModule | SyntaxProblem:
    try:
        with warnings.catch_warnings():  # a patch's "1if x" must not print warnings to the user
            warnings.simplefilter("ignore")
            tree = ast.parse(source)
            # Compiling catches what the grammar allows but CPython refuses (`return` at module level).
            compile(tree, "<patched>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError) as err:
        return _syntax_problem(source, err)
    try:
        module = cst.parse_module(source)
    except (cst.ParserSyntaxError, RecursionError) as err:
        return _syntax_problem(source, err)
    lines = _Lines(source)
    found: dict[str, list[Region]] = {}
    for name, region in _walk(module.body, tree.body, lines, None):
        found.setdefault(name, []).append(region)
    return ParsedModule(source, module, {k: tuple(v) for k, v in found.items()})


def _syntax_problem(source: str, err: BaseException) -> SyntaxProblem:
    if isinstance(err, SyntaxError):
        line = err.lineno or 1
        lines = source.splitlines()
        text = err.text if err.text else (lines[line - 1] if line <= len(lines) else "")
        return SyntaxProblem(line, err.offset or 1, err.msg, text)
    if isinstance(err, cst.ParserSyntaxError):
        return SyntaxProblem(err.raw_line, err.raw_column + 1, err.message, "")
    return SyntaxProblem(1, 1, f"cannot parse: {err}", "")


def _pair(
    body: Sequence[cst.BaseStatement], stmts: Sequence[ast.stmt]
) -> Iterator[tuple[cst.BaseStatement, list[ast.stmt]]]:
    """libcst statements with their CPython counterparts (`A = 1; B = 2` is one line, two stmts)."""
    index = 0
    for node in body:
        count = len(node.body) if isinstance(node, cst.SimpleStatementLine) else 1
        yield node, list(stmts[index : index + count])
        index += count


def _walk(
    body: Sequence[cst.BaseStatement], stmts: Sequence[ast.stmt], lines: _Lines, cls: str | None
) -> Iterator[tuple[str, Region]]:
    for node, twins in _pair(body, stmts):
        if isinstance(node, cst.SimpleStatementLine):
            if cls is not None:
                continue
            alone = len(node.body) == 1
            for small, twin in zip(node.body, twins):
                for target in _assigned_names(small):
                    span_node: cst.CSTNode = node if alone else small
                    yield target, _span(target, "assignment", span_node, twin, lines, alone)
        elif isinstance(node, cst.FunctionDef) and twins:
            name = node.name.value if cls is None else f"{cls}.{node.name.value}"
            yield name, _span(name, "function" if cls is None else "method", node, twins[0], lines, True)
        elif isinstance(node, cst.ClassDef) and cls is None and twins:
            twin = twins[0]
            assert isinstance(twin, ast.ClassDef)
            yield node.name.value, _span(node.name.value, "class", node, twin, lines, True)
            if isinstance(node.body, cst.IndentedBlock):
                yield from _walk(node.body.body, twin.body, lines, node.name.value)


def _assigned_names(small: cst.BaseSmallStatement) -> Iterator[str]:
    if isinstance(small, cst.Assign):
        for target in small.targets:
            yield from _names_in_target(target.target)
    elif isinstance(small, (cst.AnnAssign, cst.AugAssign)):
        yield from _names_in_target(small.target)


def _names_in_target(target: cst.BaseExpression) -> Iterator[str]:
    if isinstance(target, cst.Name):
        yield target.value
    elif isinstance(target, (cst.Tuple, cst.List)):
        for element in target.elements:
            yield from _names_in_target(element.value)


def _span(
    name: str, kind: RegionKind, node: cst.CSTNode, twin: ast.stmt, lines: _Lines, whole_lines: bool
) -> Region:
    first_line, first_col = twin.lineno, twin.col_offset
    decorators = getattr(twin, "decorator_list", None)
    if decorators:
        first_line = decorators[0].lineno
        first_col = max(decorators[0].col_offset - 1, 0)  # the "@"
    end_line = twin.end_lineno or twin.lineno
    end_col = twin.end_col_offset or 0
    start_offset = lines.offset(first_line, first_col)
    if whole_lines:
        start, end = lines.starts[first_line - 1], lines.line_end(end_line)
        indent = lines.source[start:start_offset]
    else:
        start, end = start_offset, lines.offset(end_line, end_col)
        indent = ""
    return Region(name, kind, first_line, end_line, start, end, indent, node)


def call_name(node: cst.Call) -> str:
    """The called name: `print` of `print(...)`, `add_argument` of `parser.add_argument(...)`."""
    func = node.func
    if isinstance(func, cst.Attribute):
        return func.attr.value
    return func.value if isinstance(func, cst.Name) else ""
