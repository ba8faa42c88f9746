"""`gitresearch init`: a first boundaries.toml guessed from the repository's code.

It looks for what a researcher would open first: entry scripts (a `__main__` guard, names
like train*.py), blocks of module-level UPPER_SNAKE constants with literal values, and the
functions that read them; it guesses the command and the metric from what the script
prints. The result is a commented file that passes `gitresearch check` as written, so the
user edits a working configuration instead of a template.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import libcst as cst

from gitresearch.boundaries.regions import ParsedModule, SyntaxProblem, parse
from gitresearch.boundaries.sources import FileSource

_UPPER = re.compile(r"^[A-Z][A-Z0-9_]*$")
_PRINTED_METRIC = re.compile(r"""print\(\s*f?["']([A-Za-z_][A-Za-z0-9_]*)\s*[:=]""")
_MAXIMIZE_WORDS = ("acc", "score", "reward", "f1", "bleu", "auc", "precision", "recall", "throughput")


@dataclass
class ScriptGuess:
    path: str
    constants: list[str] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)
    entry: bool = False
    metrics: list[str] = field(default_factory=list)

    @property
    def score(self) -> tuple[int, int, int]:
        name = PurePosixPath(self.path).name
        trainish = int(name.startswith(("train", "bench", "run", "main")))
        return (int(self.entry) + trainish, len(self.constants), len(self.functions))


def _is_tunable(value: cst.BaseExpression) -> bool:
    if isinstance(value, (cst.Integer, cst.Float)):
        return True
    if isinstance(value, cst.Name):
        return value.value in ("True", "False")
    if isinstance(value, cst.UnaryOperation):
        return _is_tunable(value.expression)
    if isinstance(value, cst.Tuple):
        return bool(value.elements) and all(_is_tunable(e.value) for e in value.elements)
    return False


def _constants(parsed: ParsedModule) -> list[str]:
    names = []
    for stmt in parsed.module.body:
        if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1:
            small = stmt.body[0]
            if isinstance(small, cst.Assign) and len(small.targets) == 1:
                target = small.targets[0].target
                if (
                    isinstance(target, cst.Name)
                    and _UPPER.match(target.value)
                    and _is_tunable(small.value)
                    and len(parsed.regions.get(target.value, ())) == 1
                ):
                    names.append(target.value)
    return names


class _Reads(cst.CSTVisitor):
    def __init__(self, names: set[str]) -> None:
        self.names = names
        self.hit = False

    def visit_Name(self, node: cst.Name) -> None:
        if node.value in self.names:
            self.hit = True


def _functions_reading(parsed: ParsedModule, constants: list[str]) -> list[str]:
    wanted = set(constants)
    out = []
    for name, regions in parsed.regions.items():
        if len(regions) != 1 or regions[0].kind not in ("function", "method"):
            continue
        reads = _Reads(wanted)
        regions[0].node.visit(reads)
        if reads.hit and name != "main":
            out.append(name)
    return sorted(out, key=lambda n: parsed.regions[n][0].start)


def scan(source: FileSource) -> list[ScriptGuess]:
    found = []
    for path in source.files():
        name = PurePosixPath(path).name
        if not path.endswith(".py") or name.startswith("test_") or name in ("setup.py", "conftest.py"):
            continue
        if any(part in ("tests", "test", "docs") for part in PurePosixPath(path).parts[:-1]):
            continue
        raw = source.read_bytes(path) or b""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            continue
        parsed = parse(text)
        if isinstance(parsed, SyntaxProblem):
            continue
        constants = _constants(parsed)
        candidate = ScriptGuess(
            path=path,
            constants=constants,
            functions=_functions_reading(parsed, constants) if constants else [],
            entry="__main__" in text,
            metrics=_PRINTED_METRIC.findall(text),
        )
        if candidate.entry or candidate.constants:
            found.append(candidate)
    return sorted(found, key=lambda c: c.score, reverse=True)


def guess_metric(metrics: list[str]) -> str | None:
    for word in ("val", "loss", "acc", "score"):
        for metric in metrics:
            if word in metric.lower():
                return metric
    return metrics[0] if metrics else None


def guess_direction(metric: str) -> str:
    lowered = metric.lower()
    return "maximize" if any(w in lowered for w in _MAXIMIZE_WORDS) else "minimize"


def render(candidates: list[ScriptGuess]) -> str:
    """The text of a commented boundaries.toml for the best candidate (list must be non-empty)."""
    best = candidates[0]
    metric = guess_metric(best.metrics)
    metric_line = (
        f'metric = "{metric}"          # guessed from what {best.path} prints'
        if metric
        else 'metric = "score"          # EDIT: the `name: value` line your benchmark prints'
    )
    direction = guess_direction(metric or "score")
    regions = best.constants + best.functions
    lines = [
        "# boundaries.toml: what gitresearch may change, how it measures, what it may spend.",
        "# Written by `gitresearch init`; check it with `gitresearch check`. Reference: README.md.",
        "",
        "[objective]",
        f'command = "python {best.path}"   # run from the repository root',
        metric_line,
        f'direction = "{direction}"      # or "maximize"/"minimize"',
        'timeout = "10m"             # per run; the whole process group is killed after it',
        "repeats = 1                 # runs per experiment (seeds 0..repeats-1)",
        'seed_env = "SEED"           # the seed is also in GITRESEARCH_SEED',
        "min_improvement = 0.0       # smallest gain worth keeping, in metric units",
        "",
        "[search]",
        'proposer = "auto"           # sweep | llm | hybrid | auto',
        "baseline_runs = 3           # runs of the base to measure the noise",
        "confirm_runs = 2            # fresh-seed reruns before a winner is accepted",
        "",
        "[budget]",
        "experiments = 100",
        'wall_clock = "8h"',
        'gpus = "all"                # "all" | "none" | [0, 1]',
        "max_consecutive_failures = 5",
        "",
        "[[allow]]",
        f'path = "{best.path}"',
    ]
    if regions:
        lines.append("# module-level constants and the functions that read them; trim or extend")
        lines.append("regions = [" + ", ".join(f'"{r}"' for r in regions) + "]")
    else:
        lines.append("# no constant block found: the whole file may change; narrow it with regions = [...]")
    others = [c.path for c in candidates[1:] if c.path != best.path][:5]
    lines += [
        "",
        "[protect]",
        "# files the benchmark depends on that must never change (data, evaluation)",
        "paths = [" + ", ".join(f'"{p}"' for p in others if not p.startswith(best.path)) + "]",
        "",
        '# The LLM agent (proposer "llm", or "hybrid" with the sweep; "auto" uses it when it answers).',
        "# [agent]",
        '# model = "gpt-4.1-mini"               # OpenAI: export OPENAI_API_KEY=...',
        '# base_url = "http://localhost:8000/v1" # or vLLM, Ollama (:11434), llama.cpp (:8080)',
        '# brief = "program.md"                 # what a colleague would tell it',
        "",
    ]
    return "\n".join(lines)
