"""Remove the `# type: ignore[...]` comments that mypy reports as unused.

Driven by mypy's own output (``warn_unused_ignores = true``), so it only touches the lines mypy names:

    .venv/bin/python deploy/ci/mypy_unused_ignores.py            # runs `mypy .` itself
    .venv/bin/mypy . > /tmp/mypy.txt; .venv/bin/python deploy/ci/mypy_unused_ignores.py /tmp/mypy.txt

For each ``file:line: error: Unused "type: ignore..." comment  [unused-ignore]``:

* ``Unused "type: ignore" comment``: the whole ignore comment goes;
* ``Unused "type: ignore[a, b]" comment``: only those codes go (the comment goes when none is left);
* ``..., use narrower [x] instead of [y] code``: the code ``y`` becomes ``x``.

Any other comment on the line (``# noqa``, an explanation after the ignore) is kept. Run it again after
a merge, then `ruff format .` (a shorter line may now fit on one); it is idempotent.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

LINE = re.compile(
    r'^(?P<path>[^:\s]+\.pyi?):(?P<line>\d+): error: Unused "type: ignore(?:\[(?P<codes>[^\]]*)\])?" comment'
)
NARROWER = re.compile(r"use narrower \[(?P<new>[^\]]+)\] instead of \[(?P<old>[^\]]+)\]")
IGNORE = re.compile(r"\s*#\s*type:\s*ignore(?:\[(?P<codes>[^\]]*)\])?")


def _fix_line(text: str, *, unused: set[str] | None, narrower: tuple[str, str] | None) -> str:
    match = IGNORE.search(text)
    if match is None:
        return text
    codes = [c.strip() for c in (match.group("codes") or "").split(",") if c.strip()]
    if narrower is not None:
        new, old = narrower
        codes = list(dict.fromkeys(new if c == old else c for c in codes))
    elif unused is None:
        codes = []
    else:
        codes = [c for c in codes if c not in unused]
    rest = text[match.end() :]
    if codes:
        replacement = f"  # type: ignore[{', '.join(codes)}]"
    else:
        replacement = ""
        # keep a following comment: "x  # type: ignore[a]  # why" -> "x  # why"
        stripped_rest = rest.lstrip()
        if stripped_rest.startswith("#"):
            rest = "  " + stripped_rest
    return (text[: match.start()] + replacement + rest).rstrip() + ("\n" if text.endswith("\n") else "")


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        output = Path(argv[1]).read_text()
    else:
        output = subprocess.run([sys.executable, "-m", "mypy", "."], capture_output=True, text=True, check=False).stdout
    todo: dict[str, dict[int, tuple[set[str] | None, tuple[str, str] | None]]] = defaultdict(dict)
    for raw in output.splitlines():
        found = LINE.match(raw)
        if found is None or "[unused-ignore]" not in raw:
            continue
        codes = found.group("codes")
        unused = {c.strip() for c in codes.split(",")} if codes else None
        narrow = NARROWER.search(raw)
        todo[found.group("path")][int(found.group("line"))] = (
            unused,
            (narrow.group("new"), narrow.group("old")) if narrow else None,
        )
    changed = 0
    for path, lines in sorted(todo.items()):
        file = Path(path)
        content = file.read_text().splitlines(keepends=True)
        for number, (unused, narrower) in lines.items():
            before = content[number - 1]
            content[number - 1] = _fix_line(before, unused=unused, narrower=narrower)
            changed += content[number - 1] != before
        file.write_text("".join(content))
    print(f"{changed} unused type: ignore comments fixed in {len(todo)} files")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
