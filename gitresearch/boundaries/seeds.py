"""Fixed seeds in a benchmark's code, found statically: the lines that make every run alike.

A benchmark that fixes its own seed (`torch.manual_seed(1337)`, `random_state=23`) gives
the same value on every seed gitresearch passes, so the noise it measures is zero and any
change at all looks like progress. `find_fixed_seeds` reads Python files with libcst and
returns each call that seeds a generator with a literal, and each `seed=` /
`random_state=` keyword given a literal, with its line and the one-line change that reads
`GITRESEARCH_SEED` instead. `gitresearch check` and `init` show them; `start` names them
when the base's runs come out identical.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from gitresearch.boundaries.sources import FileSource

# Calls whose first argument seeds a generator, by their dotted name's ending.
SEEDING_CALLS = (
    "manual_seed",
    "manual_seed_all",
    "random.seed",
    "set_seed",
    "seed_everything",
    "PRNGKey",
    "default_rng",
    "RandomState",
    "Random",
)
SEED_KEYWORDS = ("seed", "random_state", "random_seed")


@dataclass(frozen=True)
class FixedSeed:
    path: str
    line: int
    code: str  # the call or keyword as written
    fix: str  # the same, reading the seed gitresearch passes

    def render(self) -> str:
        return f"{self.path}:{self.line}: `{self.code}` fixes the seed; write `{self.fix}`"


def _dotted(node: cst.BaseExpression) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return f"{_dotted(node.value)}.{node.attr.value}"
    return ""


def _literal_int(node: cst.BaseExpression) -> bool:
    if isinstance(node, cst.Integer):
        return True
    return isinstance(node, cst.UnaryOperation) and isinstance(node.expression, cst.Integer)


def _seed_literal(node: cst.BaseExpression) -> cst.BaseExpression | None:
    """The integer literal a seed is made of: the whole argument, or one operand of arithmetic
    with a per-process offset (`1337 + seed_offset`, where the offset is the same every run)."""
    if _literal_int(node):
        return node
    if isinstance(node, cst.BinaryOperation):
        for side in (node.left, node.right):
            if _literal_int(side):
                return side
    return None


ENV_SEED = 'int(os.environ.get("GITRESEARCH_SEED", {value}))'


class _Finder(cst.CSTVisitor):
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, path: str, module: cst.Module) -> None:
        self.path, self.module = path, module
        self.found: list[FixedSeed] = []

    def visit_Call(self, node: cst.Call) -> None:
        name = _dotted(node.func)
        line = self.get_metadata(PositionProvider, node).start.line
        if name and any(name == c or name.endswith("." + c) for c in SEEDING_CALLS):
            args = [a for a in node.args if a.keyword is None]
            literal = _seed_literal(args[0].value) if args else None
            if literal is not None:  # `manual_seed(1337)`, or nanoGPT's `manual_seed(1337 + seed_offset)`
                value = self.module.code_for_node(literal)
                code = self.module.code_for_node(node)
                self.found.append(
                    FixedSeed(self.path, line, code, code.replace(value, ENV_SEED.format(value=value), 1))
                )
                return
        for arg in node.args:
            if arg.keyword is not None and arg.keyword.value in SEED_KEYWORDS and _literal_int(arg.value):
                value = self.module.code_for_node(arg.value)
                code = f"{arg.keyword.value}={value}"
                fix = f"{arg.keyword.value}={ENV_SEED.format(value=value)}"
                self.found.append(FixedSeed(self.path, line, code, fix))


def benchmark_files(command: str, allowed: Iterable[str], files: Iterable[str]) -> list[str]:
    """Where a seed that should vary lives: the scripts the command names and the files that
    may change. Protected files are left out: a fixed seed there usually makes the dataset
    or the evaluation split, which must stay the same on every run."""
    present = set(files)
    named = [t.strip("\"'") for t in command.replace("=", " ").split()]
    picked = {t.removeprefix("./") for t in named if t.endswith(".py")} | set(allowed)
    return sorted(p for p in picked if p in present and p.endswith(".py"))


def find_fixed_seeds(source: FileSource, paths: Iterable[str]) -> list[FixedSeed]:
    """Every literal seed in the given Python files (files that do not parse are skipped)."""
    found: list[FixedSeed] = []
    for path in sorted(set(paths)):
        if not path.endswith(".py"):
            continue
        raw = source.read_bytes(path)
        if raw is None or len(raw) > 2_000_000:
            continue
        try:
            module = cst.parse_module(raw.decode("utf-8"))
        except (UnicodeDecodeError, cst.ParserSyntaxError, RecursionError):
            continue
        finder = _Finder(path, module)
        MetadataWrapper(module, unsafe_skip_copy=True).visit(finder)
        found += finder.found
    return found
