"""Bounded JSON: nesting depth checked before parsing, text PostgreSQL cannot store found and replaced.

Python's json module recurses once per nesting level, so a 2 kB body of `[[[[…` raises RecursionError
(a 500) instead of a parse error. Every JSON body the platform parses from outside (the API's parser,
Stripe webhooks) goes through `loads_bounded`, which measures the depth first with a regular expression
that skips string literals (no recursion, linear time) and refuses anything deeper than the limit.

PostgreSQL's text and jsonb refuse U+0000 and psycopg cannot encode an unpaired surrogate
(`"\\ud800"` is valid JSON), so `unstorable_paths` finds such strings (keys too) and `jsonb_safe`
returns a copy with each offending character replaced by U+FFFD.

This module imports nothing from the project: every layer may use it.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

DEFAULT_MAX_DEPTH = 64  # a Stripe event nests < 10 levels; API bodies 2-3

# A string literal or a bracket; anything else is skipped. Possessive quantifiers and an optional closing
# quote (an unterminated string runs to the end) keep it linear on hostile input such as `"\"\"\"…`.
_TOKENS = re.compile(r'"[^"\\]*+(?:\\.?[^"\\]*+)*+"?|[\[\]{}]', re.DOTALL)
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_REPLACEMENT = "\ufffd"


class JSONTooDeepError(ValueError):
    def __init__(self, max_depth: int) -> None:
        super().__init__(f"JSON nested deeper than {max_depth} levels")
        self.max_depth = max_depth


def json_depth(text: str, *, stop_after: int | None = None) -> int:
    """Deepest nesting of arrays/objects in `text` (0 for a scalar). Stops counting once `stop_after`
    is exceeded. Unbalanced or invalid text gives some number; json.loads reports the syntax error."""
    depth = deepest = 0
    for match in _TOKENS.finditer(text):
        char = match.group()
        if char in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if stop_after is not None and deepest > stop_after:
                    return deepest
        elif char in "]}":
            depth = max(0, depth - 1)
    return deepest


def _strict_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400: json.dumps would write `Infinity`, which jsonb refuses
        raise ValueError(f"number out of range: {text[:20]}")
    return value


def loads_bounded(text: str | bytes, *, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """json.loads as RFC 8259 has it (no NaN/Infinity, no number that overflows a float), refusing
    documents nested deeper than `max_depth` (JSONTooDeepError) before parsing. Bytes must be UTF-8
    (UnicodeDecodeError otherwise); anything else invalid raises ValueError (json.JSONDecodeError)."""
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("utf-8")
    if json_depth(text, stop_after=max_depth) > max_depth:
        raise JSONTooDeepError(max_depth)
    return json.loads(text, parse_constant=_strict_constant, parse_float=_finite_float)


def prune_deep(text: str, *, max_depth: int = DEFAULT_MAX_DEPTH) -> tuple[str, int]:
    """Replace every array/object that starts below `max_depth` levels with `null`.

    Returns the new text and how many subtrees were cut. The result nests at most `max_depth` deep, so
    json.loads can parse it; what was cut is not parsed at all (the raw text stays the record)."""
    pieces: list[str] = []
    cut = depth = 0
    kept_from = 0
    cut_start: int | None = None
    for match in _TOKENS.finditer(text):
        char = match.group()
        if char in "[{":
            depth += 1
            if depth == max_depth + 1 and cut_start is None:
                cut_start = match.start()
        elif char in "]}":
            depth = max(0, depth - 1)
            if depth == max_depth and cut_start is not None:
                pieces.append(text[kept_from:cut_start])
                pieces.append("null")
                kept_from = match.end()
                cut_start = None
                cut += 1
    if cut_start is not None:  # never closed: cut to the end (json.loads reports what is left)
        pieces.append(text[kept_from:cut_start])
        pieces.append("null")
        kept_from = len(text)
        cut += 1
    pieces.append(text[kept_from:])
    return "".join(pieces), cut


def _path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


def unstorable_paths(value: Any, *, _at: str = "") -> list[str]:
    """Dotted paths of the strings (or keys) holding U+0000 or an unpaired surrogate.
    Recursive: call it on parsed, depth-bounded data only."""
    found: list[str] = []
    if isinstance(value, str):
        if _UNSTORABLE.search(value):
            found.append(_at or "$")
    elif isinstance(value, dict):
        for key, item in value.items():
            here = _path(_at, _UNSTORABLE.sub(_REPLACEMENT, key))
            if _UNSTORABLE.search(key):
                found.append(here)
            found.extend(unstorable_paths(item, _at=here))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(unstorable_paths(item, _at=_path(_at, index)))
    return found


def jsonb_safe(value: Any) -> Any:
    """A copy of `value` with U+0000 and unpaired surrogates replaced by U+FFFD in keys and strings."""
    if isinstance(value, str):
        return _UNSTORABLE.sub(_REPLACEMENT, value)
    if isinstance(value, dict):
        return {_UNSTORABLE.sub(_REPLACEMENT, k): jsonb_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonb_safe(v) for v in value]
    return value
