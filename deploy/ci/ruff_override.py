"""Mark methods that ruff's ARG002 flags with ``@override`` (typing_extensions; ``typing`` from 3.12).

A method whose signature a framework fixes (Django admin ``has_*_permission(self, request, obj)``,
DRF ``has_permission(self, request, view)``, a view's ``get(self, request, project_id)`` called with URL
kwargs) cannot drop the argument it does not need. ``@override`` says so, ruff's ARG002 honours it, and
mypy checks that a base class really has the method:

    .venv/bin/python deploy/ci/ruff_override.py && .venv/bin/ruff check --fix --select I . && .venv/bin/ruff format .
    .venv/bin/mypy .   # "marked as override, but no base method": not a framework signature; fix by hand

Idempotent: a method already marked is not flagged by ARG002 again.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

IMPORT = "from typing_extensions import override\n"


def main() -> int:
    out = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--select", "ARG002", "--output-format", "json", "."],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    rows: dict[str, set[int]] = {}
    for item in json.loads(out or "[]"):
        rows.setdefault(item["filename"], set()).add(item["location"]["row"])
    marked = 0
    for filename, hits in rows.items():
        path = Path(filename)
        source = path.read_text()
        tree = ast.parse(source)
        methods: dict[int, ast.FunctionDef | ast.AsyncFunctionDef] = {}
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for row in hits:
                if node.lineno <= row <= (node.body[0].lineno - 1 if node.body else node.lineno):
                    methods[node.lineno] = node
        lines = source.splitlines(keepends=True)
        for _, node in sorted(methods.items(), reverse=True):
            top = min([d.lineno for d in node.decorator_list] + [node.lineno])
            lines.insert(top - 1, " " * node.col_offset + "@override\n")
            marked += 1
        text = "".join(lines)
        if methods and IMPORT not in text:
            # after `from __future__ import annotations` when there is one, else before the first import
            future = "from __future__ import annotations\n"
            if future in text:
                text = text.replace(future, future + IMPORT, 1)
            else:
                first = min((n.lineno for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)), default=1)
                parts = text.splitlines(keepends=True)
                parts.insert(first - 1, IMPORT)
                text = "".join(parts)
        path.write_text(text)
    print(f"{marked} methods marked @override")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
