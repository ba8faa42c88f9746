"""The progress chart as plain text lines: pure, so it is tested without a screen."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from gitresearch.runview import CurveLine, RunSummary


def chart(view: RunSummary, width: int, height: int) -> list[str]:
    """Every measured experiment's mean in order (·), the incumbent over time (━, ● where an
    experiment was accepted), the base (┈)."""
    points = [
        (r.number, r.mean, r.status)
        for r in sorted(view.experiments, key=lambda r: r.number)
        if r.mean is not None and math.isfinite(r.mean)
    ]
    width, height = max(20, width), max(5, height)
    if not points:
        return ["(no measured experiment yet)"]
    values = [v for _, v, _ in points]
    if view.base_mean is not None:
        values.append(view.base_mean)
    lo, hi = min(values), max(values)
    if hi == lo:
        hi = lo + 1.0
    label_w = max(len(f"{lo:.4g}"), len(f"{hi:.4g}")) + 1
    plot_w = width - label_w - 1
    grid = [[" "] * plot_w for _ in range(height)]

    def y_of(v: float) -> int:
        return height - 1 - round((v - lo) / (hi - lo) * (height - 1))

    def x_of(i: int) -> int:
        return 0 if len(points) == 1 else round(i / (len(points) - 1) * (plot_w - 1))

    if view.base_mean is not None:
        yb = y_of(view.base_mean)
        grid[yb] = ["┈"] * plot_w
    best: float | None = view.base_mean
    bests: list[float | None] = []
    for _, v, status in points:
        if status == "accepted":
            best = v
        bests.append(best)
    i = 0
    for x in range(plot_w):  # the incumbent as a step line across the whole width
        while i + 1 < len(points) and x_of(i + 1) <= x:
            i += 1
        level = bests[i] if x_of(i) <= x else view.base_mean
        if level is not None:
            grid[y_of(level)][x] = "━"
    for i, (_, v, status) in enumerate(points):
        x, y = x_of(i), y_of(v)
        if status == "accepted":
            grid[y][x] = "●"
        elif grid[y][x] != "●":
            grid[y][x] = "·"
    lines = []
    for k, cells in enumerate(grid):
        label = f"{hi:.4g}" if k == 0 else (f"{lo:.4g}" if k == height - 1 else "")
        lines.append(label.rjust(label_w) + "│" + "".join(cells))
    first, last = points[0][0], points[-1][0]
    axis = " " * label_w + "└" + "─" * plot_w
    ticks = f"#{first}".ljust(plot_w - len(f"#{last}")) + f"#{last}"
    lines += [axis, " " * (label_w + 1) + ticks]
    return lines


def curve_chart(lines: Sequence[CurveLine], width: int, height: int, metric: str = "") -> list[str]:
    """An experiment's curves of intermediate values (•, joined by ─ between reports) over its
    parent's on the same seeds (·): value against step, with the legend."""
    drawn = [line for line in lines if line.points]
    if not drawn:
        return ["(no curve: the benchmark reports no intermediate values; see docs/deciding.md)"]
    width, height = max(24, width), max(5, height)
    steps = [s for line in drawn for s, _ in line.points]
    values = [v for line in drawn for _, v in line.points if math.isfinite(v)]
    if not values:
        return ["(no finite value in the curves)"]
    lo, hi = min(values), max(values)
    if hi == lo:
        hi = lo + 1.0
    first, last = min(steps), max(steps)
    label_w = max(len(f"{lo:.4g}"), len(f"{hi:.4g}")) + 1
    plot_w = width - label_w - 1
    grid = [[" "] * plot_w for _ in range(height)]

    def cell(step: float, value: float) -> tuple[int, int]:
        x = 0 if last == first else round((step - first) / (last - first) * (plot_w - 1))
        y = height - 1 - round((value - lo) / (hi - lo) * (height - 1))
        return x, y

    for own in (False, True):  # the parent's first, so the experiment's are drawn over them
        for line in drawn:
            if line.own != own:
                continue
            glyph = "•" if own else "·"
            points = [cell(s, v) for s, v in line.points if math.isfinite(v)]
            for (x0, y0), (x1, _) in itertools.pairwise(points):
                for x in range(x0 + 1, x1):
                    if grid[y0][x] == " ":
                        grid[y0][x] = "─" if own else " "
            for x, y in points:
                if own or grid[y][x] == " ":
                    grid[y][x] = glyph
    out = []
    for k, cells in enumerate(grid):
        label = f"{hi:.4g}" if k == 0 else (f"{lo:.4g}" if k == height - 1 else "")
        out.append(label.rjust(label_w) + "│" + "".join(cells))
    ticks = f"step {first:g}".ljust(plot_w - len(f"{last:g}")) + f"{last:g}"
    out += [" " * label_w + "└" + "─" * plot_w, " " * (label_w + 1) + ticks]
    own_labels = ", ".join(line.label for line in drawn if line.own)
    parents = ", ".join(line.label for line in drawn if not line.own)
    out.append(f"• {metric + ' ' if metric else ''}{own_labels}" + (f"   · {parents}" if parents else ""))
    return out
