"""The README's fenced code blocks, with where they start and how the README test treats them.

A block is run unless the line just above its opening fence is a marker naming why not::

    <!-- readme-test: skip: the install itself (CI's .ci/run runs it) -->

Blocks without a language (trees, tables, output) are what the README *shows*; the test compares
some of them with what the blocks before them produced.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
_FENCE = re.compile(r"^```(\w*)\s*$")
_MARKER = re.compile(r"^<!--\s*readme-test:\s*skip:\s*(.+?)\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    language: str  # "python", "bash", or "" for shown output
    code: str
    line: int  # 1-based line of the first line of code (after the opening fence)
    section: str  # the nearest "## " heading above
    skip: str | None  # the marker's reason, if the block is not run


def read_blocks(path: Path = README) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    section = ""
    i = 0
    while i < len(lines):
        if lines[i].startswith("## "):
            section = lines[i][3:].strip()
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        end = i + 1
        while end < len(lines) and lines[end].rstrip() != "```":
            end += 1
        if end == len(lines):
            raise ValueError(f"{path.name}:{i + 1}: a code block that is never closed")
        marker = _MARKER.match(lines[i - 1]) if i > 0 else None
        blocks.append(Block(opening.group(1), "\n".join(lines[i + 1:end]) + "\n", i + 2, section,
                            marker.group(1) if marker else None))
        i = end + 1
    return blocks
