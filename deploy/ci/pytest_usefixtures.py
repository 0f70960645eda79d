"""Move fixtures a test requests only for their side effect into ``@pytest.mark.usefixtures(...)``.

Driven by ruff's ARG001 (unused function argument) on ``test_*`` functions under ``tests/``:

    .venv/bin/python deploy/ci/pytest_usefixtures.py && .venv/bin/ruff check --fix --select I tests \
        && .venv/bin/ruff format tests

A test whose unused argument is a parametrize name, or that has defaults, ``*args``/``**kwargs`` or
keyword-only arguments, is left alone (reported). Fixtures themselves are not touched: ``usefixtures``
has no effect on a fixture, so a fixture needing another one for its side effect keeps the argument.
Idempotent: a second run finds nothing to do.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path


def _unused() -> dict[str, dict[int, set[str]]]:
    out = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--select", "ARG001", "--output-format", "json", "tests"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    found: dict[str, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    for item in json.loads(out or "[]"):
        name = item["message"].split("`")[1]
        found[item["filename"]][item["location"]["row"]].add(name)
    return found


def _function_at(tree: ast.AST, row: int) -> ast.FunctionDef | None:
    best: ast.FunctionDef | None = None
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef) or not node.lineno <= row <= (node.end_lineno or node.lineno):
            continue
        if best is None or node.lineno >= best.lineno:
            best = node
    return best


def main() -> int:
    moved = 0
    for filename, rows in _unused().items():
        path = Path(filename)
        source = path.read_text()
        tree = ast.parse(source)
        lines = source.splitlines(keepends=True)
        edits: list[tuple[ast.FunctionDef, set[str]]] = []
        for row, names in rows.items():
            fn = _function_at(tree, row)
            if fn is None or not fn.name.startswith("test_"):
                continue
            args = fn.args
            decorators = " ".join(ast.unparse(d) for d in fn.decorator_list)
            if args.defaults or args.vararg or args.kwarg or args.kwonlyargs or args.posonlyargs:
                print(f"skipped {filename}:{fn.lineno} {fn.name}: unusual signature")
                continue
            if any(f"'{n}'" in decorators or f'"{n}"' in decorators or f"{n}," in decorators for n in names):
                print(f"skipped {filename}:{fn.lineno} {fn.name}: parametrize name")
                continue
            edits.append((fn, names))
        # bottom-up, so earlier line numbers stay valid
        for fn, names in sorted(edits, key=lambda e: -e[0].lineno):
            kept = [a for a in fn.args.args if a.arg not in names]
            first, last = fn.args.args[0], fn.args.args[-1]
            start = (first.lineno, first.col_offset)
            end_node = last.annotation or last
            end = (end_node.end_lineno or end_node.lineno, end_node.end_col_offset or 0)
            text = "".join(lines)
            offsets = [0]
            for line in lines:
                offsets.append(offsets[-1] + len(line))
            a = offsets[start[0] - 1] + start[1]
            b = offsets[end[0] - 1] + end[1]
            new_args = ", ".join(ast.get_source_segment(source, x) or x.arg for x in kept)
            # a trailing comma after the last argument would be left on its own: drop it too
            rest = text[b:]
            if not kept and rest.lstrip().startswith(","):
                b += len(rest) - len(rest.lstrip()) + 1
            text = text[:a] + new_args + text[b:]
            lines = text.splitlines(keepends=True)
            top = min([d.lineno for d in fn.decorator_list] + [fn.lineno])
            indent = " " * fn.col_offset
            ordered = [a.arg for a in fn.args.args if a.arg in names]
            decorator = f"{indent}@pytest.mark.usefixtures({', '.join(repr(n) for n in ordered)})\n"
            lines.insert(top - 1, decorator.replace("'", '"'))
            moved += len(names)
        if edits:
            text = "".join(lines)
            if not any(line.startswith("import pytest") for line in lines):
                text = text.replace("\nimport ", "\nimport pytest\nimport ", 1)
            path.write_text(text)
    print(f"{moved} fixture arguments moved to @pytest.mark.usefixtures")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
