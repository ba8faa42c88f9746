"""Unified diffs as `git diff` (or plain `diff -u`) writes them, parsed and applied strictly.

Parsing never raises: a malformed diff is reported as `DiffProblem`s with the diff's own
line number, because the validator must turn any input, however broken, into a verdict.
Applying a hunk requires its context and removed lines to match exactly where the header
says; there is no fuzz, so what is validated is exactly what would be committed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_GIT_HEADER = re.compile(r"^diff --git (\"(?:[^\"\\]|\\.)*\"|\S+) (\"(?:[^\"\\]|\\.)*\"|\S+)$")


@dataclass(frozen=True)
class Hunk:
    old_start: int
    old_len: int
    new_start: int
    new_len: int
    lines: tuple[tuple[str, str], ...]  # (" " | "-" | "+", text with its newline, if any)
    diff_line: int  # where the hunk header is in the diff


@dataclass
class FilePatch:
    old_path: str | None  # None: /dev/null (a new file)
    new_path: str | None  # None: /dev/null (a deleted file)
    diff_line: int
    hunks: list[Hunk] = field(default_factory=list)
    binary: bool = False
    new_file: bool = False
    deleted_file: bool = False
    renamed: bool = False
    copied: bool = False
    mode_change: str | None = None

    @property
    def path(self) -> str:
        return self.new_path or self.old_path or "?"


@dataclass(frozen=True)
class DiffProblem:
    diff_line: int
    message: str
    path: str | None = None


def _unquote(token: str) -> str:
    if len(token) >= 2 and token[0] == token[-1] == '"':
        body = token[1:-1]
        raw = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), body)
        raw = raw.replace('\\"', '"').replace("\\t", "\t").replace("\\n", "\n").replace("\\\\", "\\")
        try:
            return raw.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            return raw
    return token


def _strip_prefix(token: str) -> str | None:
    token = _unquote(token.split("\t")[0].rstrip())
    if token == "/dev/null":
        return None
    if token.startswith(("a/", "b/")):
        return token[2:]
    return token


def parse_diff(text: str) -> tuple[list[FilePatch], list[DiffProblem]]:
    lines = text.splitlines(keepends=True)
    patches: list[FilePatch] = []
    problems: list[DiffProblem] = []
    current: FilePatch | None = None
    i = 0
    while i < len(lines):
        raw = lines[i]
        line = raw.rstrip("\r\n")
        number = i + 1
        header = _GIT_HEADER.match(line)
        if header:
            current = FilePatch(_strip_prefix(header.group(1)), _strip_prefix(header.group(2)), number)
            patches.append(current)
            i += 1
            continue
        if line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            old, new = _strip_prefix(line[4:]), _strip_prefix(lines[i + 1].rstrip("\r\n")[4:])
            if current is None or current.hunks or current.binary:
                current = FilePatch(old, new, number)
                patches.append(current)
            else:
                current.old_path, current.new_path = old, new
            current.new_file = current.new_file or old is None
            current.deleted_file = current.deleted_file or new is None
            i += 2
            continue
        if line.startswith("@@"):
            if current is None:
                problems.append(DiffProblem(number, "hunk header before any file header (--- / +++)"))
                return patches, problems
            hunk, i, problem = _read_hunk(lines, i)
            if problem is not None:
                problems.append(DiffProblem(problem.diff_line, problem.message, current.path))
                return patches, problems
            assert hunk is not None
            current.hunks.append(hunk)
            continue
        if current is not None and not current.hunks:
            _extended_header(current, line)
        elif current is not None and line and not line.startswith("-- "):
            # Text after a file's hunks that is not the next file: a truncated or edited diff.
            if not (line.startswith("index ") or line.strip() == ""):
                problems.append(
                    DiffProblem(number, f"unexpected line after a hunk: {line[:80]!r}", current.path)
                )
                return patches, problems
        elif current is not None and line.startswith("-- "):
            # A format-patch signature ends the diff, but `git apply` reads on past it: a file
            # diff hidden after the signature would be applied without being judged.
            for j in range(i + 1, len(lines)):
                rest = lines[j].rstrip("\r\n")
                if _GIT_HEADER.match(rest) or rest.startswith(("--- ", "+++ ", "@@")):
                    problems.append(
                        DiffProblem(
                            j + 1,
                            "diff content after the `-- ` signature line (git apply would apply it "
                            "unjudged); remove the signature or what follows it",
                        )
                    )
                    return patches, problems
            break
        i += 1
    for patch in patches:
        if not patch.hunks and not (
            patch.binary
            or patch.new_file
            or patch.deleted_file
            or patch.renamed
            or patch.copied
            or patch.mode_change
        ):
            problems.append(DiffProblem(patch.diff_line, "file header without any hunk", patch.path))
    return patches, problems


def _extended_header(patch: FilePatch, line: str) -> None:
    if line.startswith("new file mode"):
        patch.new_file = True
    elif line.startswith("deleted file mode"):
        patch.deleted_file = True
    elif line.startswith(("rename from", "rename to")):
        patch.renamed = True
    elif line.startswith(("copy from", "copy to")):
        patch.copied = True
    elif line.startswith("new mode"):
        patch.mode_change = line[len("new mode ") :].strip()
    elif line.startswith("Binary files") or line.startswith("GIT binary patch"):
        patch.binary = True


def _read_hunk(lines: list[str], i: int) -> tuple[Hunk | None, int, DiffProblem | None]:
    header_line = i + 1
    match = _HUNK.match(lines[i])
    if not match:
        return None, i, DiffProblem(header_line, f"malformed hunk header: {lines[i].rstrip()[:80]!r}")
    old_start, new_start = int(match.group(1)), int(match.group(3))
    old_len = int(match.group(2)) if match.group(2) is not None else 1
    new_len = int(match.group(4)) if match.group(4) is not None else 1
    body: list[tuple[str, str]] = []
    old_seen = new_seen = 0
    i += 1
    while old_seen < old_len or new_seen < new_len:
        if i >= len(lines):
            return (
                None,
                i,
                DiffProblem(
                    header_line,
                    f"hunk ends early: header promises {old_len} old and "
                    f"{new_len} new lines, found {old_seen} and {new_seen}",
                ),
            )
        raw = lines[i]
        tag, text = (raw[0], raw[1:]) if raw not in ("\n", "\r\n") else (" ", raw)
        if tag == "\\":
            _strip_newline(body)
            i += 1
            continue
        if tag not in " -+":
            return (
                None,
                i,
                DiffProblem(
                    i + 1, f"line in hunk does not start with ' ', '-' or '+': {raw.rstrip()[:80]!r}"
                ),
            )
        body.append((tag, text))
        old_seen += tag in " -"
        new_seen += tag in " +"
        i += 1
        if old_seen > old_len or new_seen > new_len:
            return None, i, DiffProblem(header_line, "hunk is longer than its header says")
    # "\ No newline at end of file" refers to the line just before it.
    while i < len(lines) and lines[i].startswith("\\"):
        _strip_newline(body)
        i += 1
    return Hunk(old_start, old_len, new_start, new_len, tuple(body), header_line), i, None


def _strip_newline(body: list[tuple[str, str]]) -> None:
    """`\\ No newline at end of file` says the line before it has no newline."""
    if body:
        tag, text = body[-1]
        body[-1] = (tag, text[:-2] if text.endswith("\r\n") else text.rstrip("\n"))


def apply_hunks(original: str, hunks: list[Hunk]) -> tuple[str | None, DiffProblem | None]:
    """The patched text, or the first hunk that does not match the original exactly."""
    old_lines = original.splitlines(keepends=True)
    out: list[str] = []
    cursor = 0  # index into old_lines
    for hunk in hunks:
        start = hunk.old_start - 1 if hunk.old_len > 0 else hunk.old_start
        if start < cursor or start > len(old_lines):
            return None, DiffProblem(
                hunk.diff_line,
                f"hunk at old line {hunk.old_start} is out of order or beyond the end of the file",
            )
        out.extend(old_lines[cursor:start])
        cursor = start
        for tag, text in hunk.lines:
            if tag in " -":
                actual = old_lines[cursor] if cursor < len(old_lines) else None
                if actual != text:
                    want = text.rstrip("\n")
                    got = "end of file" if actual is None else repr(actual.rstrip("\n"))
                    return None, DiffProblem(
                        hunk.diff_line,
                        f"does not apply: at line {cursor + 1} the "
                        f"patch expects {want!r} but the file has {got}",
                    )
                cursor += 1
            if tag in " +":
                out.append(text)
    out.extend(old_lines[cursor:])
    return "".join(out), None
