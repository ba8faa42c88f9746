"""Line numbers for TOML keys, which `tomllib` does not report.

A light scan of the text good enough to point an error at the right line: table headers
(`[a]`, `[[a]]` with their index), `key =` lines, dotted keys. Keys are reported as
`table.key` or `array[2].key`, the spelling the config loader uses in its messages.
"""

from __future__ import annotations

import re

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]\#]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(
    r"^\s*((?:[A-Za-z0-9_\-]+|\"[^\"]*\"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_\-]+|\"[^\"]*\"|'[^']*'))*)\s*="
)


def _clean(key: str) -> str:
    return ".".join(part.strip().strip("\"'") for part in key.split("."))


def key_lines(text: str) -> dict[str, int]:
    """Map `table.key` (and bare table names) to the 1-based line that defines it."""
    lines: dict[str, int] = {}
    prefix = ""
    counts: dict[str, int] = {}
    in_multiline: str | None = None
    depth = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if in_multiline is not None:
            if in_multiline in raw:
                in_multiline = None
            continue
        if depth > 0:
            depth += raw.count("[") - raw.count("]")
            continue
        header = _HEADER.match(raw)
        if header:
            name = _clean(header.group(2))
            if header.group(1) == "[[":
                index = counts.get(name, 0)
                counts[name] = index + 1
                prefix = f"{name}[{index}]"
            else:
                prefix = name
            lines.setdefault(prefix, number)
            continue
        key = _KEY.match(raw)
        if key:
            full = f"{prefix}.{_clean(key.group(1))}" if prefix else _clean(key.group(1))
            lines.setdefault(full, number)
            rest = raw[key.end() :]
            for quote in ('"""', "'''"):
                if rest.count(quote) == 1:
                    in_multiline = quote
            depth = rest.count("[") - rest.count("]")
            depth = max(depth, 0)
    return lines
