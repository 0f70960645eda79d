"""JSON parsing that refuses oversized bodies (413) before reading them, nesting deeper than
API_JSON_MAX_DEPTH (400 `json_too_deep`) before parsing them, and text PostgreSQL cannot store
(400 `invalid`, the offending fields named in `fields`) before any view sees it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from rest_framework import exceptions, status
from rest_framework.exceptions import ErrorDetail
from rest_framework.parsers import JSONParser
from typing_extensions import override

from tenants.base import jsonlimits
from tenants.base.api.exceptions import PayloadTooLarge

API_JSON_MAX_DEPTH = 32  # request bodies nest 2-3 levels; anything deeper is refused unparsed


class JSONTooDeep(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = f"The request body nests deeper than {API_JSON_MAX_DEPTH} levels."
    default_code = "json_too_deep"


def _charset(parser_context: Mapping[str, Any]) -> str:
    return str(parser_context.get("encoding") or settings.DEFAULT_CHARSET)  # the request's charset, as DRF


class LimitedJSONParser(JSONParser):
    @override
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        parser_context = parser_context or {}
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        request = parser_context.get("request")
        if limit is not None and request is not None:
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > limit:
                raise PayloadTooLarge()
        raw = stream.read() if stream is not None else b""
        try:
            text = raw.decode(_charset(parser_context))
            data = jsonlimits.loads_bounded(text, max_depth=API_JSON_MAX_DEPTH)
        except jsonlimits.JSONTooDeepError as exc:
            raise JSONTooDeep() from exc
        except (LookupError, ValueError) as exc:  # unknown charset, undecodable bytes, bad JSON
            raise exceptions.ParseError(f"JSON parse error - {exc}") from exc
        paths = jsonlimits.unstorable_paths(data)
        if paths:  # a field error, like DRF's own check for NUL in a CharField: code `invalid`, fields by path
            message = "Text may not contain NUL characters (U+0000) or unpaired surrogates."
            raise exceptions.ValidationError(
                {path[:100]: [ErrorDetail(message, code="invalid_characters")] for path in paths[:10]}
            )
        return data
