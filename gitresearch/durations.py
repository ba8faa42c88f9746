"""Durations as people write them in boundaries.toml ("90s", "10m", "8h", "1h30m").

Kept apart from the config loader because the command line (`--time 2h`) reads them too.
"""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


def parse_duration(text: str | int | float) -> float:
    """Seconds in `text`; a bare number means seconds. Raises ValueError with the reason."""
    if isinstance(text, bool):
        raise ValueError('expected a duration such as "90s", "10m" or "8h", not a boolean')
    if isinstance(text, (int, float)):
        seconds = float(text)
    else:
        compact = text.strip().lower().replace(" ", "")
        if not compact:
            raise ValueError('empty duration; write e.g. "90s", "10m" or "8h"')
        if re.fullmatch(r"\d+(?:\.\d+)?", compact):
            seconds = float(compact)
        else:
            pos, seconds = 0, 0.0
            for match in _PART.finditer(compact):
                if match.start() != pos:
                    break
                seconds += float(match.group(1)) * _UNITS[match.group(2)]
                pos = match.end()
            if pos != len(compact) or pos == 0:
                raise ValueError(
                    f"cannot read duration {text!r}; write a number with a unit: "
                    'ms, s, m, h or d (e.g. "90s", "10m", "1h30m")'
                )
    if seconds <= 0:
        raise ValueError(f"duration {text!r} must be longer than zero")
    return seconds


def format_duration(seconds: float) -> str:
    """A short human form: 45s, 12m30s, 3h05m."""
    total = round(seconds)
    if total < 60:
        return f"{seconds:.0f}s" if seconds >= 1 else f"{seconds * 1000:.0f}ms"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s" if secs else f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
