"""The progress chart as plain text lines: pure, so it is tested without a screen."""

from __future__ import annotations

import math

from gitresearch.runview import RunSummary


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
