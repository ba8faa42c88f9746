"""`gitresearch init`: a first boundaries.toml guessed from the repository, as a researcher reads it.

A researcher opening an unfamiliar repository reads the README's commands, opens the
training script, finds where the hyperparameters live and what the script prints at the
end. This module does the same, statically:

- **the entry point**: commands in the README, `run.sh`, a Makefile or justfile (`python`,
  `uv run`, `torchrun`, `accelerate launch`), then names (`train*.py` before `main.py`);
  scripts that download or prepare data, sample, plot or evaluate are never the benchmark;
- **the knobs**: UPPER_SNAKE constant blocks, lowercase config blocks (`learning_rate =
  6e-4`), literal dicts, hyperparameter classes (`class Hyperparameters:` with typed
  fields), and argparse defaults inside a function; names that are structural rather than
  tunable (`knobnames.structural`) are left out of the regions, and said so;
- **the metric**: what the script prints with a value in it (`val_loss: {x}`, or a
  progress line such as `step 100: train loss 2.7, val loss 2.8`, read with a
  `metric_pattern`), preferring validation losses and accuracies over labels and counts;
  the direction from the name;
- **what to protect**: the local modules the script imports that load data or evaluate.

Every guess is explained in a comment of the written file, which passes `gitresearch
check` as written. `init --try` (in the command line) then runs the command once and
confirms the metric from real output.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import libcst as cst

from gitresearch.boundaries.knobnames import structural
from gitresearch.boundaries.regions import ParsedModule, SyntaxProblem, call_name, parse
from gitresearch.boundaries.sources import FileSource

_UPPER = re.compile(r"^[A-Z][A-Z0-9_]*$")
_LOWER = re.compile(r"^[a-z][a-z0-9_]*$")
_MINIMIZE = r"loss|err|bpb|bpc|perplex|ppl|nll|mse|mae|rmse|wer|cer|latency|time|fid|regret|distance"
_MAXIMIZE = r"acc|f1|auc|bleu|rouge|score|reward|precision|recall|map|iou|dice|r2|return|throughput|pass"
_HELD_OUT = r"val|valid|test|eval|dev|holdout"
_SKIPPED_DIRS = {
    "tests",
    "test",
    "docs",
    "doc",
    "examples",
    "records",
    "archive",
    "old",
    "legacy",
    "notebooks",
}
# What a script is for, from its name: only a trainer (or an unnamed entry) is a benchmark.
_ROLE = (
    (
        "data",
        r"download|prepare|preprocess|fetch|dataset|tokeni[sz]e|convert|make_data|build_data|cached|^data",
    ),
    ("eval", r"^eval|evaluate|metric|^score"),
    ("other", r"sample|generate|plot|inference|export|demo|visuali[sz]e|configurator|^setup|^utils?$|^bench"),
    ("train", r"train|^main$|^run|fit|experiment|finetune"),
)
_COMMAND = re.compile(
    r"(?:^|[\s`$(])((?:uv run\s+(?:python3?\s+)?|python3?\s+|torchrun\s+|accelerate launch\s+|deepspeed\s+)"
    r"[^\n`|&;#]*?)(?=[`\n|&;#]|$)"
)
_SCRIPT_OF = re.compile(r"(?:^|\s)(-m\s+[\w.]+|[\w./-]+\.py)\b")
_REPORT_CALLS = {"print", "print0", "log", "info", "write", "log_info", "logprint", "print_rank_0"}


@dataclass
class Metric:
    name: str  # the metric's name in boundaries.toml
    pattern: str | None  # a metric_pattern when the line is free-form; None for `name: value`
    line: str  # what the script prints, placeholders as {}

    @property
    def rank(self) -> tuple[int, int, int]:
        low = self.name.lower()
        known = bool(re.search(_MINIMIZE + "|" + _MAXIMIZE, low))
        return (int(known), int(bool(re.search(_HELD_OUT, low))), int(self.pattern is None))


@dataclass
class ScriptGuess:
    path: str
    role: str = "train"
    entry: bool = False
    command: str | None = None  # as the README (or run.sh, Makefile) runs it
    regions: list[str] = field(default_factory=list)
    left_out: list[tuple[str, str]] = field(default_factory=list)  # (name, why) not opened
    functions: list[str] = field(default_factory=list)
    metrics: list[Metric] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)  # local modules it imports
    notes: list[str] = field(default_factory=list)  # what the user should know

    @property
    def score(self) -> tuple[int, int, int, int]:
        named = {"train": 2, "other": -3, "eval": -2, "data": -5}.get(self.role, 0)
        depth = -len(PurePosixPath(self.path).parts)
        return (
            named + 3 * int(self.command is not None) + int(self.entry),
            len(self.regions) > 0,
            depth,
            len(self.regions),
        )


def role_of(path: str) -> str:
    stem = PurePosixPath(path).stem.lower()
    for role, pattern in _ROLE:
        if re.search(pattern, stem):
            return role
    return "unknown"


def direction_of(metric: str) -> str:
    low = metric.lower()
    if re.search(_MINIMIZE, low):
        return "minimize"
    return "maximize" if re.search(_MAXIMIZE, low) else "minimize"


# --- the commands a README runs -------------------------------------------------------------


def documented_commands(source: FileSource) -> dict[str, str]:
    """script path -> the first command that runs it, from the README, run.sh, Makefile, justfile."""
    found: dict[str, str] = {}
    names = sorted(p for p in source.files() if "/" not in p)
    docs = [p for p in names if p.lower().startswith("readme")]
    docs += [p for p in names if p.lower() in ("run.sh", "makefile", "justfile", "train.sh")]
    for doc in docs:
        text = (source.read_bytes(doc) or b"").decode("utf-8", errors="replace")
        for match in _COMMAND.finditer(text):
            command = " ".join(match.group(1).replace("\\\n", " ").split())
            script = _SCRIPT_OF.search(command.split(maxsplit=1)[1] if " " in command else "")
            if script is None:
                continue
            target = script.group(1)
            if target.startswith("-m"):
                module = target[2:].strip().replace(".", "/")
                target = next(
                    (c for c in (f"{module}.py", f"{module}/__main__.py") if c in source.files()), ""
                )
            target = target.removeprefix("./")
            if target and target not in found and target in source.files():
                found[target] = command
    return found


# --- what a script holds ----------------------------------------------------------------------


def _literal(value: cst.BaseExpression, *, strings: bool = True) -> bool:
    if isinstance(value, (cst.Integer, cst.Float)):
        return True
    if isinstance(value, cst.SimpleString):
        return strings
    if isinstance(value, cst.Name):
        return value.value in ("True", "False", "None")
    if isinstance(value, cst.UnaryOperation):
        return _literal(value.expression, strings=False)
    if isinstance(value, cst.BinaryOperation):
        return _literal(value.left, strings=False) and _literal(value.right, strings=False)
    if isinstance(value, (cst.Tuple, cst.List)):
        return bool(value.elements) and all(_literal(e.value) for e in value.elements)
    if isinstance(value, cst.Dict):
        return bool(value.elements) and all(
            isinstance(e, cst.DictElement) and isinstance(e.key, cst.SimpleString) and _literal(e.value)
            for e in value.elements
        )
    return False


def _numeric(value: cst.BaseExpression) -> bool:
    """Whether a literal holds anything a search could move (a number or a boolean)."""
    if isinstance(value, (cst.Integer, cst.Float, cst.UnaryOperation, cst.BinaryOperation)):
        return True
    if isinstance(value, cst.Name):
        return value.value in ("True", "False")
    if isinstance(value, (cst.Tuple, cst.List)):
        return any(_numeric(e.value) for e in value.elements)
    if isinstance(value, cst.Dict):
        return any(isinstance(e, cst.DictElement) and _numeric(e.value) for e in value.elements)
    return False


class _Writes(cst.CSTVisitor):
    """How often each name is bound anywhere in a module (state variables are bound again)."""

    def __init__(self) -> None:
        self.count: dict[str, int] = {}

    def _bind(self, target: cst.BaseExpression) -> None:
        if isinstance(target, cst.Name):
            self.count[target.value] = self.count.get(target.value, 0) + 1
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self._bind(element.value)

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._bind(node.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._bind(node.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._bind(node.target)

    def visit_For(self, node: cst.For) -> None:
        self._bind(node.target)


def _leaves(value: cst.BaseExpression) -> int:
    if isinstance(value, (cst.List, cst.Tuple)):
        return sum(_leaves(e.value) for e in value.elements)
    return 1


def _knob_regions(parsed: ParsedModule) -> tuple[list[str], list[tuple[str, str]], list[str]]:
    """Module-level constants, config variables, literal dicts and hyperparameter classes that
    hold tunable literals; those left out, with why; and notes on opened classes."""
    regions: list[str] = []
    left_out: list[tuple[str, str]] = []
    notes: list[str] = []
    writes = _Writes()
    parsed.module.visit(writes)
    for stmt in parsed.module.body:
        if isinstance(stmt, cst.ClassDef) and re.search(
            r"config|hyper|hparam|args|settings|params", stmt.name.value, re.I
        ):
            fields = [
                s.body[0]
                for s in stmt.body.body
                if isinstance(s, cst.SimpleStatementLine) and isinstance(s.body[0], cst.AnnAssign)
            ]
            numeric = [
                f
                for f in fields
                if isinstance(f, cst.AnnAssign) and f.value is not None and _numeric(f.value)
            ]
            if numeric:
                regions.append(stmt.name.value)
                fixed = [
                    f.target.value
                    for f in numeric
                    if isinstance(f, cst.AnnAssign)
                    and isinstance(f.target, cst.Name)
                    and structural(f.target.value, 0)
                ]
                if fixed:
                    notes.append(
                        f"{stmt.name.value} opens as a whole, with {', '.join(fixed[:6])}: the sweep leaves those "
                        "alone, but an agent could edit them; move them out of the class to keep them fixed"
                    )
            continue
        if not (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1):
            continue
        small = stmt.body[0]
        if not (isinstance(small, cst.Assign) and len(small.targets) == 1):
            continue
        target = small.targets[0].target
        if not isinstance(target, cst.Name) or len(parsed.regions.get(target.value, ())) != 1:
            continue
        name = target.value
        if not (_UPPER.match(name) or _LOWER.match(name)) or not _literal(small.value):
            continue
        if not _numeric(small.value):
            continue  # a path, a dataset name: not something to search
        if writes.count.get(name, 0) > 1:
            continue  # `iter_num = 0`, `best_val_loss = 1e9`: state the script updates, not a setting
        if isinstance(small.value, (cst.List, cst.Tuple)) and _leaves(small.value) > 8:
            left_out.append((name, "a table of values (coefficients, a schedule), not one setting"))
            continue
        why = structural(name, 0)
        if why is not None:
            left_out.append((name, why))
        else:
            regions.append(name)
    return regions, left_out, notes


class _Argparse(cst.CSTVisitor):
    """Where `add_argument(..., default=<literal>)` calls are: the enclosing function, or none."""

    def __init__(self) -> None:
        self.functions: list[str] = []
        self.module_level = 0
        self._stack: list[str] = []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._stack.append(node.name.value)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._stack.pop()

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if not (isinstance(func, cst.Attribute) and func.attr.value == "add_argument"):
            return
        if not any(
            a.keyword is not None and a.keyword.value == "default" and _numeric(a.value) for a in node.args
        ):
            return
        if self._stack:
            if self._stack[0] not in self.functions:
                self.functions.append(self._stack[0])
        else:
            self.module_level += 1


class _Reads(cst.CSTVisitor):
    def __init__(self, names: set[str]) -> None:
        self.names = names
        self.hit = False

    def visit_Name(self, node: cst.Name) -> None:
        if node.value in self.names:
            self.hit = True


def _functions_reading(parsed: ParsedModule, names: list[str]) -> list[str]:
    """Functions that read the knobs and look like optimizer or schedule set-up (at most six)."""
    wanted = set(names)
    out = []
    for name, regions in parsed.regions.items():
        if len(regions) != 1 or regions[0].kind not in ("function", "method") or name in wanted:
            continue
        if not re.search(
            r"lr|learning|sched|optim|decay|warmup|configure|init_weights|param_groups", name, re.I
        ):
            continue
        reads = _Reads(wanted)
        regions[0].node.visit(reads)
        if reads.hit:
            out.append(name)
    return sorted(out, key=lambda n: parsed.regions[n][0].start)[:6]


# --- what a script prints -----------------------------------------------------------------------


def _template(node: cst.BaseExpression) -> str | None:
    """An f-string or plain string's text with `{}` for every value, or None."""
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    if isinstance(node, cst.FormattedString):
        parts = []
        for part in node.parts:
            if isinstance(part, cst.FormattedStringText):
                parts.append(part.value)
            else:
                parts.append("{}")
        return "".join(parts)
    if isinstance(node, cst.ConcatenatedString):
        left, right = _template(node.left), _template(node.right)
        return None if left is None or right is None else left + right
    return None


class _Prints(cst.CSTVisitor):
    def __init__(self) -> None:
        self.lines: list[str] = []

    def visit_Call(self, node: cst.Call) -> None:
        if call_name(node) not in _REPORT_CALLS or not node.args:
            return
        pieces = []
        for arg in node.args:
            if arg.keyword is not None:
                continue
            text = _template(arg.value)
            pieces.append(text if text is not None else "{}")
        self.lines.append(" ".join(pieces))


_NAMED_VALUE = re.compile(r"([A-Za-z][A-Za-z0-9_]*(?:[ _][A-Za-z][A-Za-z0-9_]*){0,2})\s*([:=])?\s*\{\}")
_NUMBER = "([-+]?[0-9.]+(?:[eE][-+]?[0-9]+)?|nan|inf)"


def metrics_printed(lines: list[str]) -> list[Metric]:
    """The metrics a script's print calls can show, best guess first."""
    found: dict[str, Metric] = {}
    for line in lines:
        exact = re.fullmatch(r"\s*([A-Za-z_][A-Za-z0-9_.]*)\s*[:=]\s*\{\}\s*", line)
        if exact:
            found.setdefault(exact.group(1), Metric(exact.group(1), None, line))
            continue
        for match in _NAMED_VALUE.finditer(line):
            words, sep = match.group(1).strip(), match.group(2) or ""
            if words.lower() in ("step", "iter", "epoch", "it", "time", "dt", "lr") or not re.search(
                _MINIMIZE + "|" + _MAXIMIZE, words.lower()
            ):
                continue
            tail = words.split(" ")
            # keep the words that name the value ("val loss" of "step 100: train loss 2.7, val loss 2.8")
            words = " ".join(tail[-2:]) if len(tail) > 1 else words
            name = re.sub(r"[^A-Za-z0-9_]+", "_", words).strip("_").lower()
            literal = re.sub(r"\s+", " ", words + sep).replace(".", r"\.")
            pattern = literal.replace(" ", r"\s*") + r"\s*" + _NUMBER
            found.setdefault(name, Metric(name, pattern, line))
    return sorted(found.values(), key=lambda m: m.rank, reverse=True)


# --- the scan -------------------------------------------------------------------------------------


def _local_imports(parsed: ParsedModule, path: str, files: set[str]) -> list[str]:
    here = PurePosixPath(path).parent
    out = []
    for stmt in parsed.module.body:
        small = stmt.body[0] if isinstance(stmt, cst.SimpleStatementLine) and stmt.body else None
        modules: list[str] = []
        if isinstance(small, cst.ImportFrom) and small.module is not None and not small.relative:
            modules.append(cst.Module([]).code_for_node(small.module))
        elif isinstance(small, cst.Import):
            modules += [cst.Module([]).code_for_node(a.name) for a in small.names]
        for module in modules:
            rel = module.replace(".", "/") + ".py"
            for candidate in (str(here / rel) if str(here) != "." else rel, rel):
                if candidate in files and candidate not in out:
                    out.append(candidate)
    return out


def scan(source: FileSource) -> list[ScriptGuess]:
    """Every Python script that could be the benchmark, the most likely first."""
    files = set(source.files())
    commands = documented_commands(source)
    found = []
    for path in sorted(files):
        parts = PurePosixPath(path).parts
        name = parts[-1]
        if not path.endswith(".py") or name.startswith("test_") or name in ("setup.py", "conftest.py"):
            continue
        if (
            any(part.lower() in _SKIPPED_DIRS or part.startswith(".") for part in parts[:-1])
            and path not in commands
        ):
            continue
        try:
            text = (source.read_bytes(path) or b"").decode("utf-8")
        except UnicodeDecodeError:
            continue
        parsed = parse(text)
        if isinstance(parsed, SyntaxProblem):
            continue
        regions, left_out, notes = _knob_regions(parsed)
        argparse = _Argparse()
        parsed.module.visit(argparse)
        guess = ScriptGuess(
            path=path,
            role=role_of(path),
            entry="__main__" in text,
            command=commands.get(path),
            regions=regions + [f for f in argparse.functions if f not in regions],
            left_out=left_out,
            imports=_local_imports(parsed, path, files),
            notes=notes,
        )
        guess.functions = [f for f in _functions_reading(parsed, regions) if f not in guess.regions]
        if argparse.module_level:
            guess.notes.append(
                f"{path} sets {argparse.module_level} argparse default(s) at module level, which cannot be a "
                "region: move the parser into a function (def get_args(): ...) and add it to regions, or put "
                "the values you want searched in the command"
            )
        prints = _Prints()
        parsed.module.visit(prints)
        guess.metrics = metrics_printed(prints.lines)
        if guess.entry or guess.regions or guess.command:
            found.append(guess)
    ranked = sorted(found, key=lambda c: c.score, reverse=True)
    if ranked:  # the benchmark may print through a module it imports (a `report` in prepare.py)
        best = ranked[0]
        for other in found:
            if other.path in best.imports and other is not best:
                best.metrics = sorted(best.metrics + other.metrics, key=lambda m: m.rank, reverse=True)
    return ranked


def guess_metric(metrics: list[Metric]) -> Metric | None:
    known = [m for m in metrics if m.rank[0]]
    return known[0] if known else None


def guess_command(best: ScriptGuess, source: FileSource) -> tuple[str, str]:
    """The command and why it was chosen."""
    if best.command is not None:
        return best.command, "as the repository's README (or run script) runs it"
    if "uv.lock" in source.files():
        return f"uv run python {best.path}", "uv.lock is present: the project runs through uv"
    return f"python {best.path}", "the most likely training script (no documented command found)"


def _toml_list(items: list[str]) -> str:
    return "[" + ", ".join(f'"{i}"' for i in items) + "]"


def render(
    candidates: list[ScriptGuess],
    source: FileSource | None = None,
    metric: Metric | None = None,
    links: list[str] | None = None,
) -> str:
    """The text of a commented boundaries.toml for the best candidate (list must be non-empty);
    `metric` overrides the static guess (`init --try` found it in real output)."""
    best = candidates[0]
    chosen = metric or guess_metric(best.metrics)
    command, why_command = guess_command(best, source) if source is not None else (f"python {best.path}", "")
    lines = [
        "# boundaries.toml: what gitresearch may change, how it measures, what it may spend.",
        "# Written by `gitresearch init`; check it with `gitresearch check`. Reference: docs/boundaries.md.",
        "",
        "[objective]",
        f"# {best.path}: {why_command or 'the most likely training script'}",
        f"command = {_toml_string(command)}",
    ]
    if chosen is None:
        lines += [
            "# EDIT: no metric found in what the script prints; print `val_loss: <value>` at the end, or",
            "# set metric_pattern to a regex whose one group is the number (see docs/boundaries.md)",
            'metric = "score"',
        ]
    else:
        lines.append(f"# the script prints: {chosen.line.strip()[:90]}")
        lines.append(f'metric = "{chosen.name}"')
        if chosen.pattern is not None:
            lines.append(
                f"metric_pattern = '{chosen.pattern}'   # the value in that line (the last one printed counts)"
            )
    direction = direction_of(chosen.name if chosen else "score")
    lines += [
        f'direction = "{direction}"   # from the metric\'s name',
        'timeout = "10m"             # per run; the whole process group is killed after it',
        "min_improvement = 0.0       # smallest gain worth keeping, in metric units",
        *_link_lines(links),
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
    overrides = _config_arguments(command, best, candidates)
    overridden = {name for c in overrides for name in c.regions}
    regions = [r for r in best.regions if r not in overridden] + best.functions
    if overridden & set(best.regions):
        lines.append(
            f"# {', '.join(sorted(overridden & set(best.regions))[:8])}: set again by "
            f"{', '.join(c.path for c in overrides)} (the command passes it), so searched there"
        )
    if regions:
        lines.append(
            "# the hyperparameters found (constants, config variables, dicts, argparse set-up), and the"
        )
        lines.append("# optimizer/schedule functions that read them; trim or extend")
        lines.append(f"regions = {_toml_list(regions)}")
    else:
        lines.append(
            "# no hyperparameter block found: the whole file may change; narrow it with regions = [...]"
        )
    for name, why in best.left_out[:12]:
        lines.append(f"# not opened: {name} ({why})")
    for note in best.notes:
        lines.append(f"# note: {note}")
    for config in overrides:
        lines += [
            "",
            "[[allow]]",
            f"# settings {best.path} reads from this file (the command passes it, or the script imports it)",
            f'path = "{config.path}"',
            f"regions = {_toml_list(config.regions)}",
        ]
        for name, why in config.left_out[:12]:
            lines.append(f"# not opened: {name} ({why})")
    protect = [
        p
        for p in best.imports
        if p != best.path and role_of(p) in ("data", "eval", "unknown") and not _holds_knobs(p, candidates)
    ]
    protect += [c.path for c in candidates[1:] if c.role in ("data", "eval") and c.path not in protect]
    protect = [p for p in protect if p not in {c.path for c in overrides}]
    lines += [
        "",
        "[protect]",
        "# the data and evaluation code the benchmark depends on: never changed, hash-checked after each run",
        f"paths = {_toml_list(protect[:8])}",
        "",
        '# The LLM agent (proposer "llm", or "hybrid" with the sweep; "auto" uses it when it answers).',
        "# [agent]",
        '# model = "gpt-4.1-mini"               # OpenAI: export OPENAI_API_KEY=...',
        '# base_url = "http://localhost:8000/v1" # or vLLM, Ollama (:11434), llama.cpp (:8080)',
        '# brief = "program.md"                 # what a colleague would tell it',
        "",
    ]
    return "\n".join(lines)


def _link_lines(links: list[str] | None) -> list[str]:
    if links:
        return [
            "# untracked data found in your checkout (ignored by git), linked read-only into each experiment",
            f"link = {_toml_list(links)}",
        ]
    return [
        '# link = ["data/*.bin"]    # untracked data the benchmark reads (prepared files), linked read-only'
    ]


def _config_arguments(command: str, best: ScriptGuess, candidates: list[ScriptGuess]) -> list[ScriptGuess]:
    """Python files the command passes to the script that hold settings (nanoGPT's
    `python train.py config/train_shakespeare_char.py`)."""
    args = command.split()
    by_path = {c.path: c for c in candidates}
    found = [
        by_path[a]
        for a in args
        if a.endswith(".py") and a != best.path and a in by_path and by_path[a].regions
    ]
    # a settings module the script imports (`from config import TRAIN_CONFIG`)
    found += [
        by_path[m]
        for m in best.imports
        if m in by_path
        and by_path[m].regions
        and by_path[m] not in found
        and re.search(r"config|hparam|hyper|settings|params|options", PurePosixPath(m).stem, re.I)
    ]
    return found


def _holds_knobs(path: str, candidates: list[ScriptGuess]) -> bool:
    return any(c.path == path and c.regions for c in candidates)


def _toml_string(text: str) -> str:
    return "'" + text + "'" if '"' in text and "'" not in text else '"' + text.replace('"', '\\"') + '"'


_DATA_SUFFIXES = (
    ".bin",
    ".npy",
    ".npz",
    ".pkl",
    ".csv",
    ".tsv",
    ".parquet",
    ".arrow",
    ".jsonl",
    ".txt",
    ".h5",
    ".idx",
)
_NOT_DATA_DIRS = {
    ".git",
    ".venv",
    "venv",
    "env",
    "node_modules",
    "__pycache__",
    ".mypy_cache",
    ".pytest_cache",
    "wandb",
}


def untracked_data(root: Path, tracked: set[str], limit: int = 8) -> list[str]:
    """Globs for the data files in the checkout that git does not track (prepared or
    downloaded data): what a worktree will lack and the benchmark needs, as `link` entries."""
    globs: list[str] = []
    for folder, dirs, files in os.walk(root):
        rel = Path(folder).relative_to(root)
        dirs[:] = [d for d in dirs if d not in _NOT_DATA_DIRS and not d.startswith((".", "out"))]
        if len(rel.parts) > 4:
            dirs[:] = []
            continue
        for name in files:
            path = (rel / name).as_posix()
            suffix = PurePosixPath(name).suffix
            if suffix not in _DATA_SUFFIXES or path in tracked:
                continue
            pattern = (rel / f"*{suffix}").as_posix() if rel.parts else f"*{suffix}"
            if pattern not in globs:
                globs.append(pattern)
    return sorted(globs)[:limit]
