"""Breaking-change check for /api/v1/ (D66 in docs/decisions.md): compare the committed schema copy
(docs/openapi/v1.json) with the live one. A change is breaking when a client built from the old
schema can fail against the new server:

- a path or an operation is gone, or a success status it returned is gone;
- a request gets a new required parameter or body field, an optional one becomes required, a
  request field or parameter's type changes or loses enum values;
- a response field is gone, no longer always present, becomes nullable, changes type or gains enum
  values (a strict client cannot decode it).

Update the copy in the same change: `make openapi` (writes docs/openapi/v1.json).
"""

from __future__ import annotations

from typing import Any

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def _resolve(doc: dict[str, Any], node: Any, depth: int = 0) -> Any:
    while isinstance(node, dict) and "$ref" in node and depth < 50:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = doc.get("components", {}).get("schemas", {}).get(name, {})
        depth += 1
    if isinstance(node, dict) and "allOf" in node and len(node["allOf"]) == 1:
        merged = {**_resolve(doc, node["allOf"][0], depth + 1), **{k: v for k, v in node.items() if k != "allOf"}}
        return merged
    return node


def _type(schema: dict[str, Any]) -> Any:
    return schema.get("type"), schema.get("format")


def _compare_schema(
    old_doc: dict, new_doc: dict, old: Any, new: Any, where: str, *, request: bool, out: list[str], depth: int = 0
) -> None:
    if depth > 12:
        return
    old, new = _resolve(old_doc, old), _resolve(new_doc, new)
    if not isinstance(old, dict) or not isinstance(new, dict):
        return
    if old.get("type") and new.get("type") and _type(old) != _type(new):
        out.append(f"{where}: type {_type(old)} -> {_type(new)}")
        return
    old_enum, new_enum = set(map(str, old.get("enum") or [])), set(map(str, new.get("enum") or []))
    if old_enum and new_enum:
        if request and old_enum - new_enum:
            out.append(f"{where}: enum values removed {sorted(old_enum - new_enum)}")
        if not request and new_enum - old_enum:
            out.append(f"{where}: new enum values in a response {sorted(new_enum - old_enum)}")
    if not request and new.get("nullable") and not old.get("nullable"):
        out.append(f"{where}: response value may now be null")
    if request and old.get("nullable") and not new.get("nullable"):
        out.append(f"{where}: request value may no longer be null")
    old_props, new_props = old.get("properties") or {}, new.get("properties") or {}
    old_req, new_req = set(old.get("required") or []), set(new.get("required") or [])
    if request:
        for name in sorted(new_req - old_req):
            out.append(
                f"{where}.{name}: new required request field"
                if name not in old_props
                else f"{where}.{name}: request field became required"
            )
    else:
        for name in sorted(old_props):
            if name not in new_props:
                out.append(f"{where}.{name}: response field removed")
            elif name in old_req and name not in new_req:
                out.append(f"{where}.{name}: response field no longer always present")
    for name in sorted(set(old_props) & set(new_props)):
        _compare_schema(
            old_doc,
            new_doc,
            old_props[name],
            new_props[name],
            f"{where}.{name}",
            request=request,
            out=out,
            depth=depth + 1,
        )
    if "items" in old and "items" in new:
        _compare_schema(
            old_doc, new_doc, old["items"], new["items"], f"{where}[]", request=request, out=out, depth=depth + 1
        )


def breaking_changes(old: dict[str, Any], new: dict[str, Any], prefix: str = "/api/v1/") -> list[str]:
    out: list[str] = []
    for path, old_item in sorted(old.get("paths", {}).items()):
        if not path.startswith(prefix):
            continue
        new_item = new.get("paths", {}).get(path)
        if new_item is None:
            out.append(f"{path}: path removed")
            continue
        for method in METHODS:
            if method not in old_item:
                continue
            op_old, op_new = old_item[method], new_item.get(method)
            where = f"{method.upper()} {path}"
            if op_new is None:
                out.append(f"{where}: operation removed")
                continue
            old_params = {(p["in"], p["name"]): p for p in op_old.get("parameters", [])}
            new_params = {(p["in"], p["name"]): p for p in op_new.get("parameters", [])}
            for key, param in sorted(new_params.items()):
                if param.get("required") and (key not in old_params or not old_params[key].get("required")):
                    out.append(f"{where}: parameter {key[1]} ({key[0]}) is now required")
                if key in old_params:
                    _compare_schema(
                        old,
                        new,
                        old_params[key].get("schema", {}),
                        param.get("schema", {}),
                        f"{where} param {key[1]}",
                        request=True,
                        out=out,
                    )
            old_body = (op_old.get("requestBody") or {}).get("content", {}).get("application/json", {}).get("schema")
            new_body_obj = op_new.get("requestBody") or {}
            new_body = new_body_obj.get("content", {}).get("application/json", {}).get("schema")
            if new_body_obj.get("required") and not (op_old.get("requestBody") or {}).get("required"):
                out.append(f"{where}: request body is now required")
            if old_body is not None and new_body is not None:
                _compare_schema(old, new, old_body, new_body, f"{where} body", request=True, out=out)
            elif new_body is not None and old_body is None:
                required = (
                    _resolve(new, new_body).get("required") if isinstance(_resolve(new, new_body), dict) else None
                )
                if required:
                    out.append(f"{where}: new request body with required fields {sorted(required)}")
            for status, old_resp in sorted(op_old.get("responses", {}).items()):
                new_resp = op_new.get("responses", {}).get(status)
                if new_resp is None:
                    if status.startswith("2"):
                        out.append(f"{where}: response {status} removed")
                    continue
                old_schema = (old_resp.get("content") or {}).get("application/json", {}).get("schema")
                new_schema = (new_resp.get("content") or {}).get("application/json", {}).get("schema")
                if old_schema is not None and new_schema is None and status.startswith("2"):
                    out.append(f"{where}: response {status} no longer has a JSON body")
                elif old_schema is not None and new_schema is not None:
                    _compare_schema(old, new, old_schema, new_schema, f"{where} {status}", request=False, out=out)
    return out
