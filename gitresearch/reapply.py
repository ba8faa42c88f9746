"""Re-applying one change onto other code, line by line (a cherry-pick without git's merge).

Git's three-way merge calls two edits on adjacent lines a conflict, and research code keeps
its constants in adjacent lines, so ablation and re-ranking would conflict on almost every
pair of sweep changes. Here a change (parent -> child) applies to other text whenever the
lines it replaces are still there, unchanged, wherever they moved: exactly the lines
needed, no context. A change whose lines were edited by the other side does not apply.
"""

from __future__ import annotations

from difflib import SequenceMatcher
from itertools import pairwise


def _unchanged_map(parent: list[str], other: list[str]) -> dict[int, int]:
    """Parent line index -> the same, unchanged line's index in `other`."""
    mapping: dict[int, int] = {}
    for block in SequenceMatcher(None, parent, other, autojunk=False).get_matching_blocks():
        for k in range(block.size):
            mapping[block.a + k] = block.b + k
    return mapping


def apply_change(parent: str, child: str, other: str) -> str | None:
    """`other` with the edit that turns `parent` into `child`, or None when it does not apply."""
    if other == parent:
        return child
    if child == parent:
        return other
    p, c, o = (
        parent.splitlines(keepends=True),
        child.splitlines(keepends=True),
        other.splitlines(keepends=True),
    )
    where = _unchanged_map(p, o)
    edits: list[tuple[int, int, list[str]]] = []  # (start, end) in `other`, replacement lines
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, p, c, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        if i1 < i2:
            spots = [where.get(i) for i in range(i1, i2)]
            if any(s is None for s in spots):
                return None  # the other side edited lines this change replaces
            first = spots[0]
            assert first is not None
            if spots != list(range(first, first + (i2 - i1))):
                return None
            edits.append((first, first + (i2 - i1), c[j1:j2]))
        elif i1 in where:
            edits.append((where[i1], where[i1], c[j1:j2]))
        elif i1 - 1 in where:
            edits.append((where[i1 - 1] + 1, where[i1 - 1] + 1, c[j1:j2]))
        elif i1 == 0:
            edits.append((0, 0, c[j1:j2]))
        else:
            return None
    edits.sort(key=lambda e: (e[0], e[1]))
    for (_, a_end, _), (b_start, _, _) in pairwise(edits):
        if b_start < a_end:
            return None
    out = list(o)
    for start, end, lines in reversed(edits):
        out[start:end] = lines
    return "".join(out)
