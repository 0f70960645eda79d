"""What `docker build -f deploy/Dockerfile .` sends as its build context, evaluated without Docker.

The Dockerfile copies the whole context (`COPY . .`), so the context *is* the image's source tree.
deploy/Dockerfile.dockerignore allow-lists it. The rules are evaluated here the way BuildKit does
(moby/patternmatcher): patterns are anchored at the context root, `*` and `?` stop at `/`, `**` spans
directories, a pattern that matches a directory matches everything below it, `!` re-includes, and the
last matching pattern wins. The Stripe stand-in is a development tool: none of it may be in the image.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERIGNORE = ROOT / "deploy" / "Dockerfile.dockerignore"


@dataclass(frozen=True)
class _Rule:
    regex: re.Pattern[str]
    include: bool  # a `!` line
    prefix: str  # the literal part before the first wildcard (to decide which directories to walk)


def _compile(pattern: str) -> re.Pattern[str]:
    """moby/patternmatcher's translation of one pattern to a regular expression."""
    out = "^"
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            if pattern[i + 1 : i + 2] == "*":
                i += 1
                if pattern[i + 1 : i + 2] == "/":
                    i += 1
                out += ".*" if i + 1 >= len(pattern) else "(.*/)?"
            else:
                out += "[^/]*"
        elif ch == "?":
            out += "[^/]"
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            out += re.escape(pattern[i])
        elif ch == "[":
            end = pattern.find("]", i + 1)
            out += pattern[i : end + 1] if end > i else re.escape(ch)
            i = end if end > i else i
        else:
            out += re.escape(ch)
        i += 1
    return re.compile(out + "$")


def _rules(text: str) -> list[_Rule]:
    rules = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        include = line.startswith("!")
        pattern = os.path.normpath(line[1:].strip() if include else line).lstrip("/")
        prefix = re.split(r"[*?\[\\]", pattern, maxsplit=1)[0]
        rules.append(_Rule(_compile(pattern), include, prefix))
    return rules


def _excluded(rules: list[_Rule], path: str) -> bool:
    """True when `path` (relative, `/`-separated) is left out of the context."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for rule in rules:
        if any(rule.regex.match(c) for c in candidates):
            excluded = not rule.include
    return excluded


def build_context(root: Path, dockerignore_text: str) -> set[str]:
    """Every file the build context holds, as paths relative to `root`."""
    rules = _rules(dockerignore_text)
    reincludes = [r.prefix for r in rules if r.include]
    files: set[str] = set()
    for current, dirs, names in os.walk(root):
        rel_dir = os.path.relpath(current, root).replace(os.sep, "/")
        rel_dir = "" if rel_dir == "." else rel_dir + "/"
        # Like BuildKit: an excluded directory is walked only if a `!` rule could re-include below it.
        dirs[:] = [
            d
            for d in dirs
            if d != ".git"
            and (
                not _excluded(rules, rel_dir + d)
                or any(not p or p.startswith(rel_dir + d + "/") or (rel_dir + d).startswith(p) for p in reincludes)
            )
        ]
        files.update(rel_dir + n for n in names if not _excluded(rules, rel_dir + n))
    return files


@pytest.fixture(scope="module")
def context() -> set[str]:
    return build_context(ROOT, DOCKERIGNORE.read_text())


def test_the_evaluator_follows_dockerignore_semantics(tmp_path: Path) -> None:
    for rel in ("app/a.py", "app/__pycache__/a.pyc", "app/sub/b.py", "tools/x.py", "tools/keep.py", "Dockerfile"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("")
    rules = "# comment\n**\n!app/**\n!/tools/keep.py\n**/__pycache__\nDockerfile\n"
    assert build_context(tmp_path, rules) == {"app/a.py", "app/sub/b.py", "tools/keep.py"}
    # `*` does not cross a directory; a pattern matching a directory excludes what is below it.
    assert build_context(tmp_path, "app/*.py\ntools\n") == {"app/__pycache__/a.pyc", "app/sub/b.py", "Dockerfile"}


def test_the_image_gets_the_application_and_not_the_dev_tools(context: set[str]) -> None:
    for needed in ("manage.py", "config/settings/production.py", "billing/gateway.py", "deploy/gunicorn.conf.py"):
        assert needed in context, f"{needed} is missing from the build context"
    for path in context:
        assert not path.startswith(("tests/", "bench/", "docs/", ".venv/", "deploy/k8s/")), path
        assert "__pycache__/" not in path, path
    assert "deploy/localstack.py" not in context


def test_the_image_holds_no_stripe_standin(context: set[str]) -> None:
    spec = find_spec("deploy.stripe_standin")
    assert spec is not None
    assert spec.submodule_search_locations
    package = Path(next(iter(spec.submodule_search_locations))).relative_to(ROOT).as_posix() + "/"
    shipped = sorted(p for p in context if p.startswith(package))
    assert shipped == [], f"stand-in files in the production image: {shipped}"
    # Wherever it lives, nothing the image holds defines or starts the stand-in.
    for path in sorted(p for p in context if p.endswith(".py")):
        text = (ROOT / path).read_text(encoding="utf-8")
        assert "class StandinServer" not in text, path
        assert "stripe_standin" not in text, path
