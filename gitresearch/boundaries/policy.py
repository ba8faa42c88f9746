"""The policy applied to code a patch adds inside a region: a first filter, never the wall.

Editable code must stay a pure change to the experiment, not an escape from the harness:
no new imports (beyond `allow_imports`), no `global`/`nonlocal`, none of the names that
reach the process, the file system or the interpreter, no attribute that leads there
(private `_` names, `.os`, `.system`, `.__self__`, `.__dict__`, frame walking), no walrus
that rebinds a module-level name, no new call in a default argument or a decorator. Names
and attributes are NFKC-normalised first, as Python itself does, so look-alike letters do
not slip past. Anything the original region already used stays allowed, so a region that
legitimately calls `open` or reads `self._cache` can still be edited. Constant regions
(module-level assignments) are held to an allow-list instead: `constant_findings`.
The OS sandbox (execute/sandbox.py) is what contains whatever passes.
"""

from __future__ import annotations

import unicodedata
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
        "__self__",
        "__dict__",
        "__func__",
        "__wrapped__",
        "__getattr__",
        "f_globals",
        "f_locals",
        "f_builtins",
        "f_back",
        "gi_frame",
        "cr_frame",
        "tb_frame",
    ]
)
# Attributes that reach a module with process rights from any object that holds one
# (`random._os` is private anyway; `np.os`, `torch.sys`, `some_module.subprocess` are not).
MODULE_ESCAPES = frozenset(
    [
        "os",
        "sys",
        "system",
        "popen",
        "environ",
        "modules",
        "builtins",
        "subprocess",
        "shutil",
        "socket",
        "importlib",
        "execv",
        "execve",
        "spawnv",
        "fork",
        "kill",
        "killpg",
        "putenv",
    ]
)


def normal(name: str) -> str:
    """A name as Python binds it (identifiers are NFKC-normalised at compile time)."""
    return unicodedata.normalize("NFKC", name)


PolicyRule = Literal[
    "forbidden-import",
    "forbidden-statement",
    "forbidden-name",
    "forbidden-attribute",
    "forbidden-binding",
    "forbidden-call",
    "constant-not-literal",
]


@dataclass(frozen=True)
class Finding:
    node: cst.CSTNode
    rule: PolicyRule
    what: str  # the module, statement or name


class _Collector(cst.CSTVisitor):
    def __init__(self, module: cst.Module) -> None:
        self.module = module
        self.imports: list[tuple[cst.CSTNode, str]] = []
        self.scopes: list[tuple[cst.CSTNode, str]] = []
        self.names: list[tuple[cst.CSTNode, str]] = []
        self.attributes: list[tuple[cst.CSTNode, str]] = []
        self.walrus: list[tuple[cst.CSTNode, str]] = []
        self.calls_in_signatures: list[tuple[cst.CSTNode, str]] = []  # in defaults and decorators
        # `model.eval()` and `f(input=x)` are not the builtins; only ESCAPE_ATTRIBUTES count there.
        self._not_builtin: set[int] = set()

    def visit_Attribute(self, node: cst.Attribute) -> None:
        name = normal(node.attr.value)
        if name in ESCAPE_ATTRIBUTES:
            self.names.append((node.attr, name))
        elif name in MODULE_ESCAPES or (name.startswith("_") and not name.startswith("__")):
            self.attributes.append((node.attr, name))
        self._not_builtin.add(id(node.attr))

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        if isinstance(node.target, cst.Name):
            self.walrus.append((node, normal(node.target.value)))

    def visit_Param(self, node: cst.Param) -> None:
        if node.default is not None:
            self._calls_in(node.default)

    def visit_Decorator(self, node: cst.Decorator) -> None:
        self._calls_in(node.decorator)

    def _calls_in(self, node: cst.CSTNode) -> None:
        finder = _Calls()
        node.visit(finder)
        self.calls_in_signatures += [(c, self.module.code_for_node(c)) for c in finder.calls]

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
            self.names.append((node, normal(node.value)))


class _Calls(cst.CSTVisitor):
    def __init__(self) -> None:
        self.calls: list[cst.Call] = []

    def visit_Call(self, node: cst.Call) -> None:
        self.calls.append(node)


def _dotted(node: cst.BaseExpression) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return f"{_dotted(node.value)}.{node.attr.value}"
    return "?"


def _collect(node: cst.CSTNode, module: cst.Module) -> _Collector:
    collector = _Collector(module)
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
    *,
    old_module: cst.Module | None = None,
    new_module: cst.Module | None = None,
    module_names: frozenset[str] = frozenset(),
) -> Iterator[Finding]:
    """What `patched` introduces that policy forbids, compared with `original`.

    `module_names` are the names bound at the top of the file: a walrus may not rebind one."""
    empty = cst.Module(body=[])
    before = _collect(original, old_module or (original if isinstance(original, cst.Module) else empty))
    after = _collect(patched, new_module or (patched if isinstance(patched, cst.Module) else empty))
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
    known_attributes = {a for _, a in before.attributes}
    for node, name in after.attributes:
        if name not in known_attributes:
            yield Finding(node, "forbidden-attribute", name)
    known_walrus = {w for _, w in before.walrus}
    for node, name in after.walrus:
        if name in module_names and name not in known_walrus:
            yield Finding(node, "forbidden-binding", name)
    known_calls = {code for _, code in before.calls_in_signatures}
    for node, code in after.calls_in_signatures:
        if code not in known_calls:
            yield Finding(node, "forbidden-call", code[:80])


# -- constant regions: an allow-list ---------------------------------------------------------

_LITERALS = (cst.Integer, cst.Float, cst.Imaginary, cst.SimpleString, cst.ConcatenatedString)
_CONSTANT_NAMES = frozenset({"True", "False", "None"})


def constant_findings(original: cst.CSTNode, patched: cst.CSTNode, module: cst.Module) -> Iterator[Finding]:
    """A module-level assignment may hold literals only: numbers, strings, True/False/None,
    tuples, lists, sets and dicts of them, signs and arithmetic on them (what the sweep
    writes), plus any name, attribute or call the original value already had."""
    known = {module_code for module_code in _parts(original)}
    for value in _values(patched):
        yield from _not_literal(value, known, module)


def _values(node: cst.CSTNode) -> list[cst.BaseExpression]:
    found: list[cst.BaseExpression] = []

    class Values(cst.CSTVisitor):
        def visit_Assign(self, n: cst.Assign) -> None:
            found.append(n.value)

        def visit_AnnAssign(self, n: cst.AnnAssign) -> None:
            if n.value is not None:
                found.append(n.value)

        def visit_AugAssign(self, n: cst.AugAssign) -> None:
            found.append(n.value)

    node.visit(Values())
    return found


def _parts(node: cst.CSTNode) -> set[str]:
    """The code of every name, attribute and call in the original value(s)."""
    parts: set[str] = set()
    empty = cst.Module(body=[])

    class Parts(cst.CSTVisitor):
        def visit_Name(self, n: cst.Name) -> None:
            parts.add(normal(n.value))

        def visit_Attribute(self, n: cst.Attribute) -> None:
            parts.add(normal(empty.code_for_node(n)))

        def visit_Call(self, n: cst.Call) -> None:
            parts.add(normal(empty.code_for_node(n.func)))

    for value in _values(node):
        value.visit(Parts())
    return parts


def _not_literal(node: cst.BaseExpression, known: set[str], module: cst.Module) -> Iterator[Finding]:
    if isinstance(node, _LITERALS):
        return
    if isinstance(node, cst.Name):
        if node.value in _CONSTANT_NAMES or normal(node.value) in known:
            return
    elif isinstance(node, cst.UnaryOperation):
        yield from _not_literal(node.expression, known, module)
        return
    elif isinstance(node, cst.BinaryOperation):
        yield from _not_literal(node.left, known, module)
        yield from _not_literal(node.right, known, module)
        return
    elif isinstance(node, (cst.Tuple, cst.List, cst.Set)):
        for element in node.elements:
            if isinstance(element, cst.StarredElement):
                yield Finding(element, "constant-not-literal", module.code_for_node(element)[:80])
            else:
                yield from _not_literal(element.value, known, module)
        return
    elif isinstance(node, cst.Dict):
        for item in node.elements:
            if isinstance(item, cst.DictElement):
                yield from _not_literal(item.key, known, module)
                yield from _not_literal(item.value, known, module)
            else:
                yield Finding(item, "constant-not-literal", module.code_for_node(item)[:80])
        return
    elif isinstance(node, cst.Attribute):
        if normal(module.code_for_node(node)) in known:
            return
    elif isinstance(node, cst.Call) and normal(module.code_for_node(node.func)) in known:
        for arg in node.args:
            yield from _not_literal(arg.value, known, module)
        return
    yield Finding(node, "constant-not-literal", module.code_for_node(node)[:80])
