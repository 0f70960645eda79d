"""Issue #18 moved every tenant resource onto DRF viewsets and a router, and added teams. The schema of
/api/v1/ before that change (tests/api/openapi_v1_baseline.json, the committed docs/openapi/v1.json of
the commit before it) must survive word for word: the same paths, operations, operation ids,
parameters, request and response shapes, descriptions and components. Only additions are allowed."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from django.core.management import call_command

BASELINE = Path(__file__).with_name("openapi_v1_baseline.json")


def _changes(old: Any, new: Any, where: str, out: list[str]) -> None:
    """Every place where `new` removes or alters something of `old` (added keys are fine)."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key, value in old.items():
            if key not in new:
                out.append(f"{where}/{key}: removed")
            else:
                _changes(value, new[key], f"{where}/{key}", out)
    elif old != new:
        out.append(f"{where}: {json.dumps(old)[:160]} -> {json.dumps(new)[:160]}")


def _live_schema() -> dict[str, Any]:
    out = io.StringIO()
    call_command("spectacular", "--format", "openapi-json", stdout=out)
    return json.loads(out.getvalue())


def test_the_viewsets_change_nothing_in_the_published_schema_and_only_add_teams():
    old = json.loads(BASELINE.read_text())
    new = _live_schema()
    changes: list[str] = []
    _changes(old, new, "", changes)
    assert changes == [], "\n".join(changes)
    added = sorted(set(new["paths"]) - set(old["paths"]))
    assert added == [
        "/api/v1/projects/{project_id}/team-permissions/",
        "/api/v1/teams/",
        "/api/v1/teams/{team_id}/",
        "/api/v1/teams/{team_id}/members/",
        "/api/v1/teams/{team_id}/members/{user_id}/",
    ]


def test_the_comparison_catches_a_changed_operation():
    """The check above can fail: a renamed operation id or a dropped field is reported."""
    old = json.loads(BASELINE.read_text())
    new = json.loads(BASELINE.read_text())
    new["paths"]["/api/v1/projects/"]["get"]["operationId"] = "projects_index"
    del new["components"]["schemas"]["ProjectOutput"]["properties"]["archived"]
    changes: list[str] = []
    _changes(old, new, "", changes)
    assert any("operationId" in c for c in changes), changes
    assert any("archived" in c for c in changes), changes
