"""Judging a patch against the boundaries: accepted (with the patched files) or violations.

Two input forms meet in one judge: a unified diff (what a human or `git diff` writes) and a
set of region replacements (what proposers write). Both become "the new full text of each
touched file", and `judge_files` applies DESIGN.md's rules to that. Nothing here raises on
a bad patch; every problem is a `Violation` with path:line, a rule from a closed set, and a
message written to be pasted back to an LLM verbatim.
"""

from __future__ import annotations

import difflib
import itertools
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import libcst as cst

from gitresearch.boundaries.diffparse import FilePatch, apply_hunks, parse_diff
from gitresearch.boundaries.policy import Finding, PolicyRule, constant_findings, findings, normal
from gitresearch.boundaries.regions import ParsedModule, Region, SyntaxProblem, parse
from gitresearch.boundaries.resolve import AllowedFile, Boundaries
from gitresearch.boundaries.sources import FileSource, normalize_relpath

Rule = (
    PolicyRule
    | Literal[
        "malformed-diff",
        "does-not-apply",
        "outside-repo",
        "protected",
        "not-allowed",
        "new-file",
        "deleted-file",
        "renamed-file",
        "binary-file",
        "mode-change",
        "not-text",
        "syntax-error",
        "region-missing",
        "region-duplicated",
        "outside-region",
        "unknown-region",
        "overlapping-edits",
        "empty-patch",
        "too-large",
        "too-complex",
    ]
)


@dataclass(frozen=True)
class Violation:
    path: str
    line: int | None
    rule: Rule
    message: str

    def render(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: [{self.rule}] {self.message}"


@dataclass(frozen=True)
class FileChange:
    path: str
    original: str
    patched: str


@dataclass(frozen=True)
class Accepted:
    changes: tuple[FileChange, ...]

    @property
    def ok(self) -> Literal[True]:
        return True


@dataclass(frozen=True)
class Rejected:
    violations: tuple[Violation, ...]

    @property
    def ok(self) -> Literal[False]:
        return False

    def feedback(self) -> str:
        """The whole rejection as text for a human or a model."""
        head = f"The patch was rejected ({len(self.violations)} problem"
        head += "s):" if len(self.violations) != 1 else "):"
        return "\n".join([head, *("- " + v.render() for v in self.violations)])


Verdict = Accepted | Rejected


@dataclass(frozen=True)
class RegionEdit:
    """Replace region `region` of `path` with `source` (indentation is adjusted to fit)."""

    path: str
    region: str
    source: str


MAX_PATCH_CHARS = 2_000_000  # a proposal larger than this is refused unread


def _guarded(size: int, judge: Callable[[], Verdict]) -> Verdict:
    """Any input yields a verdict: too large, too deep or too big to parse is a rejection."""
    if size > MAX_PATCH_CHARS:
        return Rejected(
            (
                Violation(
                    "<patch>",
                    None,
                    "too-large",
                    f"the patch holds {size:,} characters, more than the {MAX_PATCH_CHARS:,} allowed; "
                    "propose a smaller change",
                ),
            )
        )
    try:
        return judge()
    except (MemoryError, RecursionError) as exc:
        return Rejected(
            (
                Violation(
                    "<patch>",
                    None,
                    "too-complex",
                    f"the patch could not be judged ({type(exc).__name__}): an expression is too large "
                    "or too deeply nested; write it plainly",
                ),
            )
        )


class Validator:
    def __init__(self, boundaries: Boundaries, source: FileSource) -> None:
        self.boundaries = boundaries
        self.source = source

    # -- entry points ---------------------------------------------------------------------

    def judge_diff(self, diff: str) -> Verdict:
        return _guarded(len(diff), lambda: self._judge_diff(diff))

    def judge_edits(self, edits: Sequence[RegionEdit]) -> Verdict:
        size = sum(len(e.source) + len(e.path) + len(e.region) for e in edits)
        return _guarded(size, lambda: self._judge_edits(edits))

    def judge_files(self, patched: Mapping[str, str]) -> Verdict:
        return _guarded(sum(len(t) for t in patched.values()), lambda: self._judge_files(patched))

    def _judge_diff(self, diff: str) -> Verdict:
        patches, problems = parse_diff(diff)
        if problems:
            return Rejected(
                tuple(
                    Violation(
                        p.path or "<patch>",
                        None,
                        "malformed-diff",
                        f"patch line {p.diff_line}: {p.message}; send a complete unified diff",
                    )
                    for p in problems
                )
            )
        if not patches:
            return Rejected(
                (Violation("<patch>", None, "empty-patch", "the patch contains no file changes"),)
            )
        violations: list[Violation] = []
        patched: dict[str, str] = {}
        for fp in patches:
            problem = self._file_header_problem(fp)
            if problem is not None:
                violations.append(problem)
                continue
            path = normalize_relpath(fp.path) or fp.path
            if path in patched:
                violations.append(
                    Violation(
                        path, None, "malformed-diff", "the file appears twice in the patch; merge its hunks"
                    )
                )
                continue
            original = self._read(path, violations)
            if original is None:
                continue
            text, applied = apply_hunks(original, fp.hunks)
            if applied is not None or text is None:
                message = applied.message if applied is not None else "does not apply"
                violations.append(
                    Violation(
                        path,
                        None,
                        "does-not-apply",
                        f"{message} (patch line {applied.diff_line if applied else '?'}); "
                        "make the diff against the current code",
                    )
                )
                continue
            patched[path] = text
        if violations:
            return Rejected(tuple(violations))
        return self._judge_files(patched)

    def _judge_edits(self, edits: Sequence[RegionEdit]) -> Verdict:
        if not edits:
            return Rejected((Violation("<patch>", None, "empty-patch", "no region edits were given"),))
        violations: list[Violation] = []
        by_path: dict[str, list[RegionEdit]] = {}
        for edit in edits:
            path = normalize_relpath(edit.path)
            if path is None:
                violations.append(
                    Violation(
                        edit.path, None, "outside-repo", "the path is absolute or leaves the repository"
                    )
                )
                continue
            by_path.setdefault(path, []).append(edit)
        patched: dict[str, str] = {}
        for path, group in by_path.items():
            text = self._apply_edits(path, group, violations)
            if text is not None:
                patched[path] = text
        if violations:
            return Rejected(tuple(violations))
        return self._judge_files(patched)

    def _judge_files(self, patched: Mapping[str, str]) -> Verdict:
        violations: list[Violation] = []
        changes: list[FileChange] = []
        for path, new_text in patched.items():
            allowed = self._allowed(path, violations)
            if allowed is None:
                continue
            original = self._read(path, violations)
            if original is None or original == new_text:
                continue
            if allowed.is_python:
                violations.extend(self._judge_python(allowed, original, new_text))
            changes.append(FileChange(path, original, new_text))
        if violations:
            return Rejected(tuple(_dedupe(violations)))
        if not changes:
            return Rejected(
                (
                    Violation(
                        "<patch>", None, "empty-patch", "the patch changes nothing; propose a real change"
                    ),
                )
            )
        return Accepted(tuple(changes))

    # -- files ----------------------------------------------------------------------------

    def _file_header_problem(self, fp: FilePatch) -> Violation | None:
        for raw in (fp.old_path, fp.new_path):
            if raw is not None and normalize_relpath(raw) is None:
                return Violation(raw, None, "outside-repo", "the path is absolute or leaves the repository")
        path = normalize_relpath(fp.path) or fp.path
        if self.boundaries.protected(path) or (fp.old_path and self.boundaries.protected(fp.old_path)):
            return Violation(path, None, "protected", "this file is protected and may never change")
        checks: list[tuple[bool, Rule, str]] = [
            (fp.new_file, "new-file", "patches may not create files; edit the allowed regions instead"),
            (fp.deleted_file, "deleted-file", "patches may not delete files"),
            (
                fp.renamed or fp.copied or (fp.old_path != fp.new_path),
                "renamed-file",
                "patches may not rename or copy files",
            ),
            (fp.binary, "binary-file", "binary changes are not allowed"),
            (fp.mode_change is not None, "mode-change", "patches may not change file modes"),
        ]
        for failed, rule, message in checks:
            if failed:
                return Violation(path, None, rule, message)
        return None

    def _allowed(self, path: str, violations: list[Violation]) -> AllowedFile | None:
        if self.boundaries.protected(path):
            violations.append(
                Violation(path, None, "protected", "this file is protected and may never change")
            )
            return None
        allowed = self.boundaries.allowed(path)
        if allowed is None:
            editable = ", ".join(sorted(self.boundaries.files)) or "none"
            violations.append(
                Violation(path, None, "not-allowed", f"this file may not change; allowed files: {editable}")
            )
        return allowed

    def _read(self, path: str, violations: list[Violation]) -> str | None:
        raw = self.source.read_bytes(path)
        if raw is None:
            violations.append(
                Violation(
                    path, None, "new-file", "the file does not exist; patches may only modify existing files"
                )
            )
            return None
        if b"\0" in raw:
            violations.append(Violation(path, None, "binary-file", "binary files may not change"))
            return None
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            violations.append(Violation(path, None, "not-text", "the file is not UTF-8 text"))
            return None

    # -- region edits ---------------------------------------------------------------------

    def _apply_edits(self, path: str, edits: list[RegionEdit], violations: list[Violation]) -> str | None:
        allowed = self._allowed(path, violations)
        if allowed is None:
            return None
        original = self._read(path, violations)
        if original is None:
            return None
        parsed = parse(original)
        if not allowed.is_python or isinstance(parsed, SyntaxProblem):
            violations.append(
                Violation(path, None, "unknown-region", "region edits apply only to Python files that parse")
            )
            return None
        editable = list(allowed.regions) if allowed.regions is not None else sorted(parsed.regions)
        spans: list[tuple[Region, str]] = []
        for edit in edits:
            region = parsed.region(edit.region) if edit.region in editable else None
            if region is None:
                close = difflib.get_close_matches(edit.region, editable, n=1, cutoff=0.6)
                hint = f' Did you mean "{close[0]}"?' if close else ""
                violations.append(
                    Violation(
                        path,
                        None,
                        "unknown-region",
                        f'"{edit.region}" is not an editable region of {path}.{hint} '
                        f"Editable regions: {', '.join(editable)}",
                    )
                )
                continue
            spans.append((region, _fit(edit.source, region, original)))
        spans.sort(key=lambda item: item[0].start)
        for (a, _), (b, _) in itertools.pairwise(spans):
            if b.start < a.end:
                violations.append(
                    Violation(
                        path,
                        b.start_line,
                        "overlapping-edits",
                        f'edits of "{a.name}" and "{b.name}" overlap; edit the enclosing region once',
                    )
                )
                return None
        if len(spans) != len(edits):
            return None
        text = original
        for region, new in reversed(spans):
            text = text[: region.start] + new + text[region.end :]
        return text

    # -- Python files ---------------------------------------------------------------------

    def _judge_python(self, allowed: AllowedFile, original: str, patched: str) -> list[Violation]:
        path = allowed.path
        new = parse(patched)
        if isinstance(new, SyntaxProblem):
            return [
                Violation(path, new.line, "syntax-error", f"the patched file does not parse: {new.render()}")
            ]
        old = parse(original)
        old_module = None if isinstance(old, SyntaxProblem) else old
        policy = self.boundaries.config.policy
        if allowed.regions is None:
            if old_module is None:
                return []
            return [
                _policy_violation(path, new, f)
                for f in findings(
                    old_module.module,
                    new.module,
                    policy.allow_imports,
                    policy.forbid_names,
                    module_names=_module_names(old_module.module),
                )
            ]
        assert old_module is not None, "allowed regions were resolved in a file that parses"
        problems = _presence(path, allowed.regions, new)
        if problems:
            return problems
        problems = _outside(path, allowed.regions, old_module, new)
        for name in allowed.regions:
            before, after = old_module.regions[name][0], new.regions[name][0]
            if before.text(original) == after.text(patched):
                continue  # an untouched region adds nothing; skipping it keeps big files fast
            found = list(
                findings(
                    before.node,
                    after.node,
                    policy.allow_imports,
                    policy.forbid_names,
                    old_module=old_module.module,
                    new_module=new.module,
                    module_names=_module_names(old_module.module),
                )
            )
            if before.kind == "assignment":
                found += constant_findings(before.node, after.node, new.module)
            problems.extend(_policy_violation(path, new, f) for f in found)
        return problems


def _fit(source: str, region: Region, original: str) -> str:
    """Re-indent a replacement to the region's indentation and match its line ending."""
    body = textwrap.dedent(source.expandtabs(4) if "\t" in source and not region.indent else source)
    body = body.strip("\n")
    if region.indent:
        body = textwrap.indent(body, region.indent)
    if original[region.start : region.end].endswith("\n"):
        body += "\n"
    return body


def _presence(path: str, names: tuple[str, ...], new: ParsedModule) -> list[Violation]:
    problems = []
    for name in names:
        found = new.regions.get(name, ())
        if not found:
            problems.append(
                Violation(
                    path,
                    None,
                    "region-missing",
                    f'region "{name}" is gone (removed or renamed); it must still be '
                    "defined exactly once under that name",
                )
            )
        elif len(found) > 1:
            lines = ", ".join(str(r.start_line) for r in found)
            problems.append(
                Violation(
                    path,
                    found[1].start_line,
                    "region-duplicated",
                    f'region "{name}" is now defined {len(found)} times (lines {lines}); '
                    "define it exactly once",
                )
            )
    return problems


def _outer(names: tuple[str, ...], module: ParsedModule) -> list[str]:
    """The allowed regions not nested in another allowed region, in source order."""
    regions = sorted((module.regions[n][0] for n in names), key=lambda r: (r.start, -r.end))
    outer: list[Region] = []
    for region in regions:
        if outer and region.start >= outer[-1].start and region.end <= outer[-1].end:
            continue
        outer.append(region)
    return [r.name for r in outer]


def _outside(path: str, names: tuple[str, ...], old: ParsedModule, new: ParsedModule) -> list[Violation]:
    order = _outer(names, old)
    old_spans = [old.regions[n][0] for n in order]
    new_spans = [new.regions[n][0] for n in order]
    for a, b in itertools.pairwise(new_spans):
        if b.start < a.end:
            return [
                Violation(
                    path,
                    b.start_line,
                    "outside-region",
                    f'regions "{a.name}" and "{b.name}" were moved or merged; keep every region where it was',
                )
            ]
    old_gaps = _gaps(old.source, old_spans)
    new_gaps = _gaps(new.source, new_spans)
    editable = ", ".join(names)
    problems = []
    for (old_start, old_gap), (new_start, new_gap) in zip(old_gaps, new_gaps):
        if old_gap == new_gap:
            continue
        at = _first_difference(old_gap, new_gap)
        old_line = old.source.count("\n", 0, old_start + at) + 1
        new_line = new.source.count("\n", 0, new_start + at) + 1
        was = _line_at(old.source, old_start + at)
        now = _line_at(new.source, new_start + at)
        problems.append(
            Violation(
                path,
                new_line,
                "outside-region",
                f"this change is outside the editable regions ({editable}); code outside them must stay "
                f"byte-identical. Original line {old_line}: {was!r}; patched: {now!r}. "
                "Change only the code inside the regions.",
            )
        )
    return problems


def _gaps(source: str, spans: list[Region]) -> list[tuple[int, str]]:
    gaps, cursor = [], 0
    for region in spans:
        gaps.append((cursor, source[cursor : region.start]))
        cursor = region.end
    gaps.append((cursor, source[cursor:]))
    return gaps


def _first_difference(a: str, b: str) -> int:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def _line_at(source: str, offset: int) -> str:
    if offset >= len(source):
        return "<end of file>"
    start = source.rfind("\n", 0, offset) + 1
    end = source.find("\n", offset)
    return source[start : end if end != -1 else len(source)]


def _module_names(module: cst.Module) -> frozenset[str]:
    """Names bound at the top of a file: its constants, functions, classes and imports."""
    names: set[str] = set()
    for stmt in module.body:
        if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            names.add(normal(stmt.name.value))
        elif isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                targets: list[cst.BaseExpression] = []
                if isinstance(small, cst.Assign):
                    targets = [t.target for t in small.targets]
                elif isinstance(small, (cst.AnnAssign, cst.AugAssign)):
                    targets = [small.target]
                elif isinstance(small, (cst.Import, cst.ImportFrom)) and not isinstance(
                    small.names, cst.ImportStar
                ):
                    for alias in small.names:
                        bound = alias.asname.name if alias.asname else alias.name
                        if isinstance(bound, cst.Name):
                            names.add(normal(bound.value))
                        elif isinstance(bound, cst.Attribute):
                            names.add(normal(_root(bound)))
                for target in targets:
                    if isinstance(target, cst.Name):
                        names.add(normal(target.value))
    return frozenset(names)


def _root(node: cst.BaseExpression) -> str:
    while isinstance(node, cst.Attribute):
        node = node.value
    return node.value if isinstance(node, cst.Name) else ""


def _policy_violation(path: str, module: ParsedModule, finding: Finding) -> Violation:
    line = module.line_of(finding.node)
    if finding.rule == "forbidden-attribute":
        message = (
            f"the attribute `.{finding.what}` is not allowed in edited code (private names and "
            "attributes that lead to the process or the interpreter); use the public API"
        )
    elif finding.rule == "forbidden-binding":
        message = (
            f"`{finding.what} := ...` rebinds a module-level name; change the value where it is "
            "defined instead"
        )
    elif finding.rule == "forbidden-call":
        message = (
            f"the call `{finding.what}` in a default argument or a decorator is new; "
            "compute values in the function body"
        )
    elif finding.rule == "constant-not-literal":
        message = (
            f"`{finding.what}` is not a literal; a constant may hold numbers, strings, "
            "True/False/None, tuples, lists and dicts of them, and arithmetic on them"
        )
    elif finding.rule == "forbidden-import":
        message = (
            f'new import of "{finding.what}" is not allowed; use what the file already imports '
            "(or ask for the module in [policy] allow_imports)"
        )
    elif finding.rule == "forbidden-statement":
        message = f"`{finding.what}` is not allowed in edited code; pass values explicitly instead"
    else:
        message = (
            f"the name `{finding.what}` is not allowed in edited code (it reaches outside the "
            "experiment); remove it"
        )
    return Violation(path, line, finding.rule, message)


def _dedupe(violations: list[Violation]) -> list[Violation]:
    seen: set[Violation] = set()
    out = []
    for v in violations:
        if v not in seen:
            seen.add(v)
            out.append(v)
    return out
