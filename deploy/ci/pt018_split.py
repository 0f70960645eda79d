"""Split the composite assertions ruff's PT018 unsafe fix leaves (those with a message).

    .venv/bin/ruff check --select PT018 --fix --unsafe-fixes .
    .venv/bin/python deploy/ci/pt018_split.py && .venv/bin/ruff format .

``assert a and b, msg`` on one line becomes ``assert a, msg`` / ``assert b, msg``. Multi-line asserts
are reported and left for a person.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path


def main() -> int:
    out = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--select", "PT018", "--output-format", "json", "."],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    todo: dict[str, list[int]] = defaultdict(list)
    for item in json.loads(out or "[]"):
        todo[item["filename"]].append(item["location"]["row"])
    split = 0
    for filename, rows in todo.items():
        source = Path(filename).read_text()
        text = source.split("\n")
        asserts = {n.lineno: n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Assert)}
        for row in sorted(rows, reverse=True):
            node = asserts.get(row)
            if node is None or node.lineno != node.end_lineno or not isinstance(node.test, ast.BoolOp):
                print(f"left for a person: {filename}:{row}")
                continue
            if not isinstance(node.test.op, ast.And):
                print(f"left for a person: {filename}:{row}")
                continue
            if text[row - 1][node.end_col_offset :].strip():
                print(f"left for a person (text after the assert): {filename}:{row}")
                continue
            indent = text[row - 1][: node.col_offset]
            msg = ast.get_source_segment(source, node.msg) if node.msg else None
            parts = [ast.get_source_segment(source, value) for value in node.test.values]
            text[row - 1 : row] = [f"{indent}assert {part}" + (f", {msg}" if msg else "") for part in parts]
            split += 1
        Path(filename).write_text("\n".join(text))
    print(f"{split} assertions split")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
