"""The deny-list applied to code a patch adds inside a region.

Editable code must stay a pure change to the experiment, not an escape from the harness:
no new imports (beyond `allow_imports`), no `global`/`nonlocal`, none of the names that
reach the process, the file system or the interpreter. Anything the original region
already used stays allowed, so a region that legitimately calls `open` can still be edited.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import libcst as cst

DEFAULT_FORBIDDEN = frozenset(
    [
        "eval",
        "exec",
        "compile",
        "open",
        "__import__",
        "globals",
        "locals",
        "vars",
        "setattr",
        "delattr",
        "breakpoint",
        "input",
        "os",
        "sys",
        "subprocess",
        "shutil",
        "socket",
        "importlib",
        "builtins",
        "__builtins__",
    ]
)

# Attribute names that lead from any object back to the interpreter's internals; plain
# attributes (`model.eval`) are not the builtins and stay allowed.
ESCAPE_ATTRIBUTES = frozenset(
    [
        "__subclasses__",
        "__globals__",
        "__builtins__",
        "__import__",
        "__code__",
        "__closure__",
        "__loader__",
        "__spec__",
        "__bases__",
        "__base__",
        "__mro__",
        "__getattribute__",
        "__reduce__",
        "__reduce_ex__",
    ]
)

PolicyRule = Literal["forbidden-import", "forbidden-statement", "forbidden-name"]


@dataclass(frozen=True)
class Finding:
    node: cst.CSTNode
    rule: PolicyRule
    what: str  # the module, statement or name


class _Collector(cst.CSTVisitor):
    def __init__(self) -> None:
        self.imports: list[tuple[cst.CSTNode, str]] = []
        self.scopes: list[tuple[cst.CSTNode, str]] = []
        self.names: list[tuple[cst.CSTNode, str]] = []
        # `model.eval()` and `f(input=x)` are not the builtins; only ESCAPE_ATTRIBUTES count there.
        self._not_builtin: set[int] = set()

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if node.attr.value in ESCAPE_ATTRIBUTES:
            self.names.append((node.attr, node.attr.value))
        self._not_builtin.add(id(node.attr))

    def visit_Arg(self, node: cst.Arg) -> None:
        if node.keyword is not None:
            self._not_builtin.add(id(node.keyword))

    def visit_Import(self, node: cst.Import) -> bool:
        for alias in node.names:
            self.imports.append((node, _dotted(alias.name)))
        return False  # the imported names are judged as an import, not again as names

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        module = _dotted(node.module) if node.module is not None else ""
        dots = "." * len(node.relative)
        self.imports.append((node, dots + module))
        return False

    def visit_Global(self, node: cst.Global) -> None:
        self.scopes.extend((node, "global " + n.name.value) for n in node.names)

    def visit_Nonlocal(self, node: cst.Nonlocal) -> None:
        self.scopes.extend((node, "nonlocal " + n.name.value) for n in node.names)

    def visit_Name(self, node: cst.Name) -> None:
        if id(node) not in self._not_builtin:
            self.names.append((node, node.value))


def _dotted(node: cst.BaseExpression) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return f"{_dotted(node.value)}.{node.attr.value}"
    return "?"


def _collect(node: cst.CSTNode) -> _Collector:
    collector = _Collector()
    node.visit(collector)
    return collector


def _import_allowed(module: str, allowed: frozenset[str]) -> bool:
    parts = module.split(".")
    return any(".".join(parts[: i + 1]) in allowed for i in range(len(parts)))


def findings(
    original: cst.CSTNode,
    patched: cst.CSTNode,
    allow_imports: tuple[str, ...] = (),
    forbid_names: tuple[str, ...] = (),
) -> Iterator[Finding]:
    """What `patched` introduces that policy forbids, compared with `original`."""
    before, after = _collect(original), _collect(patched)
    allowed_imports = frozenset(allow_imports) | {m for _, m in before.imports}
    for node, module in after.imports:
        if not _import_allowed(module, allowed_imports):
            yield Finding(node, "forbidden-import", module)
    old_scopes = {s for _, s in before.scopes}
    for node, scope in after.scopes:
        if scope not in old_scopes:
            yield Finding(node, "forbidden-statement", scope)
    denied = (DEFAULT_FORBIDDEN | ESCAPE_ATTRIBUTES | frozenset(forbid_names)) - {n for _, n in before.names}
    for node, name in after.names:
        if name in denied:
            yield Finding(node, "forbidden-name", name)
