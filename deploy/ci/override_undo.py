"""Remove the ``@override`` that mypy says overrides nothing (after deploy/ci/ruff_override.py).

    .venv/bin/mypy . > /tmp/mypy.txt; .venv/bin/python deploy/ci/override_undo.py /tmp/mypy.txt

For each ``file:line: error: Method "x" is marked as an override, but no base method was found``, the
``@override`` line in that method's decorator block goes (and the import when none is left). Such a
method (a DRF action, a custom view method) is no framework override: its unused argument needs a
real fix, an underscore, or the per-file reason in pyproject.toml.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

IMPORT = "from typing_extensions import override\n"


def main(argv: list[str]) -> int:
    todo: dict[str, list[int]] = defaultdict(list)
    for line in Path(argv[1]).read_text().splitlines():
        if "is marked as an override, but no base method was found" in line:
            filename, row_text, *_ = line.split(":")
            todo[filename].append(int(row_text))
    removed = 0
    for filename, rows in todo.items():
        lines = Path(filename).read_text().split("\n")
        drop: set[int] = set()
        for row in rows:
            k = row - 1
            while not lines[k].lstrip().startswith(("def ", "async def ")):
                k += 1
            indent = lines[k][: len(lines[k]) - len(lines[k].lstrip())]
            j = k - 1
            while j >= 0 and lines[j].strip() and not lines[j].lstrip().startswith("class "):
                if lines[j] == indent + "@override":
                    drop.add(j)
                    break
                j -= 1
        text = "\n".join(x for n, x in enumerate(lines) if n not in drop)
        if "@override" not in text:
            text = text.replace(IMPORT, "")
        Path(filename).write_text(text)
        removed += len(drop)
    print(f"{removed} @override removed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
