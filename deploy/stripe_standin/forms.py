"""Decode Stripe's form encoding (``items[0][price]=x&expand[]=y&metadata[k]=v``) into nested data.

stripe-python always sends indexed arrays (``expand[0]=...``); curl users often send ``expand[]=...``.
Both become Python lists. Every leaf stays a string, as on the wire; callers coerce.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

from deploy.stripe_standin.errors import StripeError

_SEGMENT = re.compile(r"\[([^\[\]]*)\]")
_APPEND = object()


def split_key(key: str) -> list[str]:
    """``"items[0][price]"`` -> ``["items", "0", "price"]``; ``"expand[]"`` -> ``["expand", ""]``."""
    head, sep, _ = key.partition("[")
    if not sep:
        return [key]
    segments = [head]
    pos = len(head)
    for match in _SEGMENT.finditer(key, pos):
        if match.start() != pos:
            break
        segments.append(match.group(1))
        pos = match.end()
    if pos != len(key):
        # Malformed brackets: keep the raw key as a flat name, as most servers do.
        return [key]
    return segments


def decode_pairs(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Build a nested structure from ``(key, value)`` pairs, then turn index-keyed dicts into lists."""
    root: dict[Any, Any] = {}
    append_counter = 0
    for key, value in pairs:
        segments = split_key(key)
        node: dict[Any, Any] = root
        for depth, segment in enumerate(segments):
            name: Any = segment
            if segment == "" and depth > 0:
                append_counter += 1
                name = (_APPEND, append_counter)
            last = depth == len(segments) - 1
            if last:
                if isinstance(node.get(name), dict):
                    raise StripeError(f"Invalid value for {key}: conflicting parameter shapes.", param=key)
                node[name] = value
            else:
                child = node.get(name)
                if child is None:
                    child = {}
                    node[name] = child
                elif not isinstance(child, dict):
                    raise StripeError(f"Invalid value for {key}: conflicting parameter shapes.", param=key)
                node = child
    return _listify(root)


def _is_index(key: Any) -> bool:
    return (isinstance(key, tuple) and key and key[0] is _APPEND) or (isinstance(key, str) and key.isdigit())


def _sort_key(key: Any) -> tuple[int, int]:
    if isinstance(key, tuple):
        return (1, key[1])
    return (0, int(key))


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if node and all(_is_index(k) for k in node):
        return [_listify(node[k]) for k in sorted(node, key=_sort_key)]
    return {k: _listify(v) for k, v in node.items()}


def parse_form(body: str) -> dict[str, Any]:
    """Parse an ``application/x-www-form-urlencoded`` body or a query string."""
    if not body:
        return {}
    return decode_pairs(parse_qsl(body, keep_blank_values=True))
