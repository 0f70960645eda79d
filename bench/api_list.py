"""API list under object permissions: `GET /api/v1/projects/?page_size=50` as a plain member.

One tenant with BENCH_API_PROJECTS projects (default 20,000, loaded with COPY) and a member
(role `member`) who holds `view_project` on BENCH_API_VISIBLE of them (default 10,000, a fixed
random sample) through guardian's direct foreign-key table (`ProjectUserObjectPermission`, rows
inserted with one INSERT … SELECT). A by-stander member holds view on every project and the member
holds change on a fifth of hers, so the grant table is not just her rows (32,000 rows by default).
Then `VACUUM ANALYZE` on the two tables, as autovacuum would do after such a load.

- queries_per_request (page_size=50), queries_page_size_1, queries_page_size_100: database queries
  of one warm request, counted in-process (CaptureQueriesContext, Django test client, bearer token).
- filtered_query_ms_*: the permission-filtered queries alone, timed in-process: evaluating the
  selector's queryset the way the list view does (COUNT for the paginator, then one page of 50),
  BENCH_API_QUERY_ITERATIONS times (default 300); filtered_sql_ms_* sends the same two statements as
  raw SQL (no ORM); explain_* keep their EXPLAIN ANALYZE plans. The reference_* keys time the
  previous query shape (EXISTS joined to auth_permission by codename) and the current shape without
  the list-order index (dropped inside a rolled-back transaction).
- list_ms_*, rps: over real HTTP against gunicorn (1 sync worker, as in tenancy_overhead) with the
  member's bearer token; a separate client process (`python -m bench.api_list client`) sends
  requests back to back on one connection (sync gunicorn closes it after every response, so the
  client reconnects each time, as a real client of this server would) and records every latency.

The server's default plan is BENCH_PLAN below (unlimited seats and projects, 10⁹ API requests a
minute), as tests/api does: both throttles still run (one Redis counter each) but never refuse.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench._util import ms, percentile

NAME = "api_list"
ORDER = 40
ROOT = Path(__file__).resolve().parent.parent
PATH = "/api/v1/projects/?page_size=50"
CURSOR_PATH = "/api/v1/projects/?page_size=50&cursor="
BENCH_PLAN = {
    "name": "Bench (unlimited)",
    "limits": {"seats": None, "projects": None, "api_rpm": 1_000_000_000},
    "features": ["projects", "api"],
}


# --- Server side --------------------------------------------------------------------------------


def bench_plan_settings() -> dict[str, Any]:
    from django.conf import settings

    return {"BILLING_PLANS": {**settings.BILLING_PLANS, "bench": BENCH_PLAN}, "BILLING_DEFAULT_PLAN": "bench"}


def wsgi_application() -> Any:
    """gunicorn app factory (`bench.api_list:wsgi_application()`): the project's WSGI application with
    the bench plan as the default plan, so the rate limit never refuses benchmark load."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django
    from django.conf import settings

    django.setup()
    for key, value in bench_plan_settings().items():
        setattr(settings, key, value)
    from django.core.wsgi import get_wsgi_application

    from bench._stages import instrument, stages_app

    stages = os.environ.get("BENCH_STAGES") == "1"
    if stages:
        instrument()
    return stages_app(get_wsgi_application(), stages=stages)


@contextlib.contextmanager
def gunicorn(env: dict[str, str], extra_env: dict[str, str] | None = None) -> Iterator[tuple[int, int]]:
    """One gunicorn master with one sync worker (no request-count recycling); yields (port, worker pid)."""
    from deploy.localstack import free_port, stop_process_group, wait_for_port

    port = free_port()
    child_env = {**os.environ, **env, **(extra_env or {}), "LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            "1",
            "--worker-class",
            "sync",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "--timeout",
            "120",
            "bench.api_list:wsgi_application()",
        ],
        cwd=ROOT,
        env=child_env,
        start_new_session=True,
    )
    try:
        wait_for_port(port, 60, proc, "gunicorn (bench)")
        yield port, _worker_pid(proc.pid)
    finally:
        stop_process_group(proc, "gunicorn")


def _worker_pid(master_pid: int) -> int:
    from bench._cpu import worker_pid

    return worker_pid(master_pid)


def bench_get(port: int, path: str) -> dict[str, Any]:
    """GET one of the bench endpoints of bench._stages (`/__bench__/info`, `/__bench__/stages`)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers={"Host": "localhost"})
        response = conn.getresponse()
        assert response.status == 200, response.status
        return json.loads(response.read())
    finally:
        conn.close()


def proc_status_kb(pid: int, field: str) -> int:
    """A `kB` field of /proc/<pid>/status (VmHWM, VmRSS, RssAnon, ...)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise KeyError(field)


# --- Client side (separate process) -------------------------------------------------------------


def client_main(config: dict[str, Any]) -> dict[str, Any]:
    """Send GETs back to back. `requests` is a list of [host, token, path]; they are sent in order,
    cycling, for `seconds` (or exactly once each when `seconds` is 0). Returns latencies in ms."""
    port = int(config["port"])
    requests = config["requests"]
    seconds = float(config.get("seconds", 0))
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    started = time.perf_counter()
    deadline = started + seconds
    i = 0
    while True:
        if seconds > 0 and time.perf_counter() >= deadline:
            break
        if seconds <= 0 and i >= len(requests):
            break
        host, token, path = requests[i % len(requests)]
        i += 1
        sent = time.perf_counter()
        try:
            conn.request("GET", path, headers={"Host": host, "Authorization": f"Bearer {token}"})
            response = conn.getresponse()
            response.read()
            status = str(response.status)
            if response.will_close:
                conn.close()
        except (OSError, http.client.HTTPException) as exc:
            status = type(exc).__name__
            conn.close()
        elapsed = time.perf_counter() - sent
        statuses[status] = statuses.get(status, 0) + 1
        if status == "200":
            latencies.append(elapsed * 1000)
    return {"latencies_ms": latencies, "statuses": statuses, "seconds": time.perf_counter() - started}


def run_client(port: int, requests: list[list[str]], seconds: float = 0) -> dict[str, Any]:
    config = json.dumps({"port": port, "requests": requests, "seconds": seconds})
    out = subprocess.run(
        [sys.executable, "-m", "bench.api_list", "client"],
        cwd=ROOT,
        input=config,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)


# --- Data -------------------------------------------------------------------------------------


def _load_data(schema_name: str, *, owner_id: int, member_id: int, bystander_id: int, total: int, visible: int) -> None:
    """Projects by COPY; grants by INSERT … SELECT over the loaded ids (no per-row service calls)."""
    import datetime as dt

    from django.db import connection
    from django.utils import timezone
    from django_tenants.utils import schema_context

    rng = random.Random(3)  # reproducible bench data
    now = timezone.now()
    with schema_context(schema_name), connection.cursor() as cursor:
        columns = "name, description, created_by_id, created_at, updated_at"
        with cursor.copy(f"COPY projects_project ({columns}) FROM STDIN") as copy:
            for i in range(total):
                created = now - dt.timedelta(minutes=total - i, seconds=rng.randint(0, 59))
                description = f"Bench project {i}: " + "lorem ipsum " * rng.randint(0, 8)
                copy.write_row((f"Project {i:05d}", description, owner_id, created, created))
        cursor.execute("SELECT id FROM projects_project ORDER BY id")
        ids = [row[0] for row in cursor.fetchall()]
        seen = sorted(rng.sample(ids, visible))
        changeable = sorted(rng.sample(seen, visible // 5))
        cursor.execute(
            "SELECT codename, p.id FROM auth_permission p JOIN django_content_type c ON c.id = p.content_type_id "
            "WHERE c.app_label = 'projects' AND c.model = 'project'"
        )
        perm = dict(cursor.fetchall())
        grant = (
            "INSERT INTO projects_projectuserobjectpermission (user_id, permission_id, content_object_id) "
            "SELECT %s, %s, unnest(%s::bigint[])"
        )
        cursor.execute(grant, [member_id, perm["view_project"], seen])
        cursor.execute(grant, [member_id, perm["change_project"], changeable])
        cursor.execute(grant, [bystander_id, perm["view_project"], ids])
        cursor.execute("VACUUM ANALYZE projects_project")
        cursor.execute("VACUUM ANALYZE projects_projectuserobjectpermission")


# --- In-process measurements ----------------------------------------------------------------------


def _count_queries(host: str, token: str, page_size: int) -> tuple[int, list[str], dict[str, Any]]:
    import logging

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST=host, HTTP_AUTHORIZATION=f"Bearer {token}")
    path = f"/api/v1/projects/?page_size={page_size}"
    access_log = logging.getLogger("tenantry.request")
    level = access_log.level
    access_log.setLevel(logging.WARNING)  # no access-log line per in-process request in the output
    try:
        assert client.get(path).status_code == 200  # warm (token touch, resolution, throttles)
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(path)
    finally:
        access_log.setLevel(level)
    assert response.status_code == 200, response.content[:500]
    body = response.json()
    return len(ctx.captured_queries), [q["sql"][:160] for q in ctx.captured_queries], body


def _time_queryset(make: Callable[[], Any], iterations: int) -> dict[str, list[float]]:
    """What the list view asks of the filtered queryset: a COUNT for the paginator, then one page."""
    for _ in range(10):
        qs = make()
        qs.count()
        list(qs[:50])
    count_s: list[float] = []
    page_s: list[float] = []
    total_s: list[float] = []
    for _ in range(iterations):
        qs = make()
        t0 = time.perf_counter()
        qs.count()
        t1 = time.perf_counter()
        list(qs[:50])
        t2 = time.perf_counter()
        count_s.append(t1 - t0)
        page_s.append(t2 - t1)
        total_s.append(t2 - t0)
    return {"count": count_s, "page": page_s, "total": total_s}


def _list_sql(qs: Any) -> tuple[tuple[str, Any], tuple[str, Any]]:
    """The two statements the list view sends for `qs`, as (sql, params): the COUNT, then page one."""
    inner, params = qs.order_by().values("pk").query.sql_with_params()
    return (f"SELECT COUNT(*) FROM ({inner}) AS visible", params), qs[:50].query.sql_with_params()


def _time_sql(statements: tuple[tuple[str, Any], ...], iterations: int) -> list[float]:
    """The same statements sent as raw SQL: database round trip, planning and execution, no ORM."""
    from django.db import connection

    totals: list[float] = []
    with connection.cursor() as cursor:
        for i in range(iterations + 10):
            t0 = time.perf_counter()
            for sql, params in statements:
                cursor.execute(sql, params)
                cursor.fetchall()
            if i >= 10:
                totals.append(time.perf_counter() - t0)
    return totals


def _explain(sql: str, params: Any) -> list[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, COSTS OFF) {sql}", params)
        return [row[0].rstrip() for row in cursor.fetchall()]


def _filtered_query_timings(schema_name: str, member: Any, iterations: int) -> dict[str, Any]:
    from django.db import connection, transaction
    from django.db.models import Exists, OuterRef
    from django_tenants.utils import schema_context

    from tenant_apps.projects.models import Project, ProjectUserObjectPermission
    from tenant_apps.projects.selectors import project_list_visible

    def current() -> Any:
        return project_list_visible(user=member, role="member")

    def previous_shape() -> Any:  # the selector before this benchmark: EXISTS joined to auth_permission
        can_view = ProjectUserObjectPermission.objects.filter(
            content_object=OuterRef("pk"), user_id=member.pk, permission__codename="view_project"
        )
        return Project.objects.filter(Exists(can_view))

    out: dict[str, Any] = {}
    with schema_context(schema_name):
        assert current().count() == previous_shape().count()
        now = _time_queryset(current, iterations)
        out["filtered_query_ms_p50"] = ms(percentile(now["total"], 50))
        out["filtered_query_ms_p99"] = ms(percentile(now["total"], 99))
        out["filtered_count_ms_p50"] = ms(percentile(now["count"], 50))
        out["filtered_page_ms_p50"] = ms(percentile(now["page"], 50))
        count_sql, page_sql = _list_sql(current())
        raw = _time_sql((count_sql, page_sql), iterations)
        out["filtered_sql_ms_p50"] = ms(percentile(raw, 50))
        out["filtered_sql_ms_p99"] = ms(percentile(raw, 99))
        out["explain_count"] = _explain(*count_sql)
        out["explain_page"] = _explain(*page_sql)
        old = _time_queryset(previous_shape, max(30, iterations // 5))
        out["reference_previous_shape_query_ms_p50"] = ms(percentile(old["total"], 50))
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT 1 FROM pg_indexes WHERE schemaname = current_schema() "
                    "AND indexname = 'projects_list_order_idx'"
                )
                has_index = cursor.fetchone() is not None
                cursor.execute("DROP INDEX IF EXISTS projects_list_order_idx")
            no_index = _time_queryset(current, max(30, iterations // 5))
            transaction.set_rollback(True)
        out["list_order_index_present"] = has_index
        out["reference_no_list_order_index_query_ms_p50"] = ms(percentile(no_index["total"], 50))
    return out


def _cursor_timings(schema_name: str, member: Any, iterations: int, page_size: int = 50) -> dict[str, Any]:
    """Keyset (`?cursor=`) pages timed in-process through the API's own paginator: cursor decode, the
    filtered page query with its keyset condition, 50 rows, next/previous cursors; no COUNT. As for
    filtered_query_ms, the selector's queryset is built before the clock starts. Pages 1, 50, 100 and
    200 of the member's 10,000 visible projects are timed round-robin, so a load spike on the shared
    machine hits all of them alike."""
    from urllib.parse import unquote

    from django_tenants.utils import schema_context
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from tenant_apps.projects.selectors import project_list_visible
    from tenants.base.api.pagination import ApiPagination

    factory = APIRequestFactory()

    def request_for(cursor: str) -> Request:
        return Request(
            factory.get("/api/v1/projects/", {"page_size": str(page_size), "cursor": cursor}, HTTP_HOST="localhost")
        )

    def page(request: Request, qs: Any) -> tuple[list[Any], str | None]:
        paginator = ApiPagination()
        rows = paginator.paginate_queryset(qs, request)
        nxt = paginator._next_url
        return rows or [], (unquote(nxt.split("cursor=", 1)[1].split("&", 1)[0]) if nxt else None)

    out: dict[str, Any] = {}
    with schema_context(schema_name):
        cursors: dict[int, str] = {}
        token: str | None = ""
        seen = 0
        number = 1
        while token is not None:
            cursors[number] = token
            rows, token = page(request_for(token), project_list_visible(user=member, role="member"))
            seen += len(rows)
            number += 1
        out["cursor_walk_rows"] = seen
        out["cursor_pages"] = number - 1
        measured = [n for n in (1, 50, 100, 200) if n in cursors]
        requests = {f"cursor_page_{n}": request_for(cursors[n]) for n in measured}
        # The alternative a client has today, interleaved in the same loop so that load hits both
        # alike: page numbers (COUNT + OFFSET page) at page 1 and page 200.
        for n in (1, 200):
            requests[f"page_number_page_{n}"] = Request(
                factory.get("/api/v1/projects/", {"page_size": str(page_size), "page": str(n)}, HTTP_HOST="localhost")
            )
        times: dict[str, list[float]] = {name: [] for name in requests}
        for i in range(iterations + 10):
            for name, request in requests.items():
                qs = project_list_visible(user=member, role="member")
                t0 = time.perf_counter()
                if name.startswith("cursor"):
                    page(request, qs)
                else:
                    ApiPagination().paginate_queryset(qs, request)
                if i >= 10:
                    times[name].append(time.perf_counter() - t0)
        p50s = {}
        for name in requests:
            out[f"{name}_ms_p50"] = ms(percentile(times[name], 50))
            out[f"{name}_ms_p99"] = ms(percentile(times[name], 99))
            if name.startswith("cursor"):
                p50s[name] = out[f"{name}_ms_p50"]
        if "cursor_page_1" in p50s:
            out["cursor_vs_page_number_page_1"] = round(p50s["cursor_page_1"] / out["page_number_page_1_ms_p50"], 3)
        if "cursor_page_200" in p50s:
            out["cursor_vs_page_number_page_200"] = round(
                p50s["cursor_page_200"] / out["page_number_page_200_ms_p50"], 3
            )
        out["cursor_flat"] = bool(p50s) and max(p50s.values()) <= 1.25 * min(p50s.values())
        out["cursor_tokens"] = {str(n): cursors[n] for n in (1, 200) if n in cursors}
    return out


def _cursor_explain(schema_name: str, member: Any, token: str) -> list[str]:
    """EXPLAIN ANALYZE of the page-200 keyset query, as the paginator builds it."""

    from django.db import connection
    from django_tenants.utils import schema_context
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from tenant_apps.projects.selectors import project_list_visible
    from tenants.base.api.pagination import ApiPagination

    with schema_context(schema_name):
        request = Request(
            APIRequestFactory().get("/api/v1/projects/", {"page_size": "50", "cursor": token}, HTTP_HOST="localhost")
        )
        paginator = ApiPagination()
        paginator.paginate_queryset(project_list_visible(user=member, role="member"), request)
        sql, params = paginator.page_queryset.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, COSTS OFF) {sql}", params)
            return [row[0].rstrip() for row in cursor.fetchall()]


def _cursor_queries(host: str, token: str, cursor: str) -> int:
    import logging
    from urllib.parse import quote

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST=host, HTTP_AUTHORIZATION=f"Bearer {token}")
    path = f"/api/v1/projects/?page_size=50&cursor={quote(cursor)}"
    access_log = logging.getLogger("tenantry.request")
    level = access_log.level
    access_log.setLevel(logging.WARNING)
    try:
        assert client.get(path).status_code == 200
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(path)
    finally:
        access_log.setLevel(level)
    assert response.status_code == 200, response.content[:500]
    assert "count" not in response.json()
    return len(ctx.captured_queries)


# --- Teams case (issue #18): half of a member's grants come through her 5 teams ----------------------


def _teams_case(
    schema_name: str, *, tenant: Any, host: str, visible: int, iterations: int, direct_member: Any
) -> dict[str, Any]:
    """A second member sees `visible` projects: half through her own grants, half through the groups
    of the 5 teams she is in (guardian group object permissions, `ProjectGroupObjectPermission`); each
    team also has a by-stander member. Same measurements as the direct case, keys prefixed `teams_`."""
    from django.db import transaction
    from django.test.utils import override_settings
    from django_tenants.utils import schema_context

    from shared_apps.accounts.models import Role
    from shared_apps.accounts.services import membership_add, user_create
    from tenant_apps.members.services import team_create, team_member_add
    from tenant_apps.projects.selectors import project_list_visible
    from tenant_apps.tokens.services import api_token_create
    from tenants.base.actor import Actor
    from tenants.conn import connection

    rng = random.Random(5)
    slug = tenant.slug
    member = user_create(email=f"teammate@{slug}.test", password=None)
    membership_add(user=member, tenant_id=tenant.pk, role=Role.MEMBER)
    other = user_create(email=f"teammate2@{slug}.test", password=None)
    membership_add(user=other, tenant_id=tenant.pk, role=Role.MEMBER)
    with schema_context(schema_name):
        with transaction.atomic():
            teams = [team_create(actor=Actor(user=None), name=f"Bench team {i}") for i in range(5)]
            for team in teams:
                team_member_add(actor=Actor(user=None), tenant=tenant, team=team, user_id=member.pk)
                team_member_add(actor=Actor(user=None), tenant=tenant, team=team, user_id=other.pk)
        with connection.cursor() as cursor:
            cursor.execute("SELECT id FROM projects_project ORDER BY id")
            ids = [row[0] for row in cursor.fetchall()]
            seen = rng.sample(ids, visible)
            own, via_teams = sorted(seen[: visible // 2]), seen[visible // 2 :]
            cursor.execute(
                "SELECT p.id FROM auth_permission p JOIN django_content_type c ON c.id = p.content_type_id "
                "WHERE c.app_label = 'projects' AND c.model = 'project' AND p.codename = 'view_project'"
            )
            view = cursor.fetchone()[0]
            cursor.execute(
                "INSERT INTO projects_projectuserobjectpermission (user_id, permission_id, content_object_id) "
                "SELECT %s, %s, unnest(%s::bigint[])",
                [member.pk, view, own],
            )
            share = len(via_teams) // len(teams)
            for i, team in enumerate(teams):
                cursor.execute(
                    "INSERT INTO projects_projectgroupobjectpermission (group_id, permission_id, content_object_id) "
                    "SELECT %s, %s, unnest(%s::bigint[])",
                    [team.group_id, view, sorted(via_teams[i * share : (i + 1) * share])],
                )
            cursor.execute("VACUUM ANALYZE projects_projectuserobjectpermission")
            cursor.execute("VACUUM ANALYZE projects_projectgroupobjectpermission")
            cursor.execute("VACUUM ANALYZE members_teammember")
        _, token = api_token_create(actor=Actor(user=member), user=member, name="bench-teams")
    connection.set_schema_to_public()
    out: dict[str, Any] = {"teams_member_teams": len(teams), "teams_grants_via_teams": share * len(teams)}
    with override_settings(**bench_plan_settings()):
        counts = {}
        for size in (1, 50, 100):
            # Twice, keeping the lower count: a per-minute bookkeeping write (the token's last use) or an
            # expiring cache entry landing in the measured request is not the list's cost.
            n, sql, body = min((_count_queries(host, token, size) for _ in range(2)), key=lambda r: r[0])
            assert body["count"] == visible, body["count"]
            counts[size] = n
            if size == 50:
                out["teams_queries_sql"] = sql
    connection.set_schema_to_public()
    out["teams_queries_per_request"] = counts[50]
    out["teams_queries_page_size_1"] = counts[1]
    out["teams_queries_page_size_100"] = counts[100]
    out["teams_queries_flat"] = counts[1] == counts[50] == counts[100]
    with schema_context(schema_name):
        timed = _time_queryset(lambda: project_list_visible(user=member, role="member"), iterations)
        out["teams_filtered_query_ms_p50"] = ms(percentile(timed["total"], 50))
        out["teams_filtered_query_ms_p99"] = ms(percentile(timed["total"], 99))
        out["teams_filtered_count_ms_p50"] = ms(percentile(timed["count"], 50))
        out["teams_filtered_page_ms_p50"] = ms(percentile(timed["page"], 50))
        count_sql, page_sql = _list_sql(project_list_visible(user=member, role="member"))
        out["teams_explain_count"] = _explain(*count_sql)
        out["teams_explain_page"] = _explain(*page_sql)
        # Side by side, same data, same moment: the direct-grant member through today's selector, the
        # selector's shape before teams (one EXISTS), and guardian's get_objects_for_user (D97, D98).
        direct = direct_member
        shapes = {
            "reference_direct_member_current": lambda: project_list_visible(user=direct, role="member"),
            "reference_direct_member_before_teams": lambda: _before_teams_shape(direct),
            "reference_direct_member_guardian_get_objects_for_user": lambda: _guardian_shape(direct),
        }
        for key, make in shapes.items():
            timed = _time_queryset(make, max(30, iterations // 3))
            out[f"{key}_query_ms_p50"] = ms(percentile(timed["total"], 50))
        count_sql, page_sql = _list_sql(_guardian_shape(direct))
        out["reference_guardian_explain_page"] = _explain(*page_sql)
    connection.set_schema_to_public()
    return out


def _before_teams_shape(user: Any) -> Any:
    from django.contrib.auth.models import Permission
    from django.db.models import Exists, OuterRef, Subquery

    from tenant_apps.projects.models import Project, ProjectUserObjectPermission

    view = Permission.objects.filter(
        content_type__app_label="projects", content_type__model="project", codename="view_project"
    ).values("pk")[:1]
    can_view = ProjectUserObjectPermission.objects.filter(
        content_object=OuterRef("pk"), user_id=user.pk, permission_id=Subquery(view)
    )
    return Project.objects.filter(Exists(can_view))


def _guardian_shape(user: Any) -> Any:
    from guardian.shortcuts import get_objects_for_user

    from tenant_apps.projects.models import Project

    return get_objects_for_user(
        user,
        "projects.view_project",
        Project.objects.all(),
        with_superuser=False,
        accept_global_perms=False,
        use_groups=False,
    )


# --- The benchmark --------------------------------------------------------------------------------


def run(env: dict[str, str]) -> dict[str, Any]:
    from django.conf import settings
    from django.test.utils import override_settings
    from django_tenants.utils import schema_context

    from shared_apps.accounts.models import Role
    from shared_apps.accounts.services import membership_add, organization_provision, user_create
    from tenant_apps.tokens.services import api_token_create
    from tenants.base.actor import Actor
    from tenants.conn import connection
    from tenants.services import schema_pool_refill

    total = int(os.environ.get("BENCH_API_PROJECTS", "20000"))
    visible = int(os.environ.get("BENCH_API_VISIBLE", "10000"))
    iterations = int(os.environ.get("BENCH_API_QUERY_ITERATIONS", "300"))
    rounds = int(os.environ.get("BENCH_API_ROUNDS", "6"))
    seconds = float(os.environ.get("BENCH_API_SECONDS", "4"))

    slug = f"apilist-{int(time.time())}"
    started = time.perf_counter()
    schema_pool_refill(size=1)
    tenant = organization_provision(slug=slug, name="API list", owner_email=f"owner@{slug}.test")
    owner = tenant.memberships.get(role=Role.OWNER).user
    member = user_create(email=f"member@{slug}.test", password=None)
    membership_add(user=member, tenant_id=tenant.pk, role=Role.MEMBER)
    bystander = user_create(email=f"bystander@{slug}.test", password=None)
    membership_add(user=bystander, tenant_id=tenant.pk, role=Role.MEMBER)
    load_started = time.perf_counter()
    _load_data(
        tenant.schema_name,
        owner_id=owner.pk,
        member_id=member.pk,
        bystander_id=bystander.pk,
        total=total,
        visible=visible,
    )
    load_s = time.perf_counter() - load_started
    with schema_context(tenant.schema_name):
        _, token = api_token_create(actor=Actor(user=member), user=member, name="bench")
    setup_s = time.perf_counter() - started
    host = f"{slug}.{settings.TENANT_BASE_DOMAIN}"

    result: dict[str, Any] = {
        "projects": total,
        "visible_to_member": visible,
        "page_size": 50,
        "setup_s": round(setup_s, 1),
        "data_load_s": round(load_s, 2),
    }
    with override_settings(**bench_plan_settings()):
        counts = {}
        for size in (1, 50, 100):
            n, sql, body = _count_queries(host, token, size)
            assert body["count"] == visible, body["count"]
            assert len(body["results"]) == min(size, visible)
            counts[size] = n
            if size == 50:
                result["queries_sql"] = sql
    connection.set_schema_to_public()
    result["queries_per_request"] = counts[50]
    result["queries_page_size_1"] = counts[1]
    result["queries_page_size_100"] = counts[100]
    result["queries_flat"] = counts[1] == counts[50] == counts[100]

    # BENCH_API_HTTP_ONLY=1 skips the in-process query timings (a quicker loop while profiling).
    if os.environ.get("BENCH_API_HTTP_ONLY") != "1":
        result.update(_filtered_query_timings(tenant.schema_name, member, iterations))
        connection.set_schema_to_public()
        cursor_result = _cursor_timings(tenant.schema_name, member, iterations)
        tokens = cursor_result.pop("cursor_tokens")
        result.update(cursor_result)
        connection.set_schema_to_public()
        if "200" in tokens:
            result["explain_cursor_page_200"] = _cursor_explain(tenant.schema_name, member, tokens["200"])
            connection.set_schema_to_public()
            with override_settings(**bench_plan_settings()):
                result["queries_cursor_page_1"] = _cursor_queries(host, token, tokens["1"])
                result["queries_cursor_page_200"] = _cursor_queries(host, token, tokens["200"])
            connection.set_schema_to_public()
            result["queries_cursor_flat"] = result["queries_cursor_page_1"] == result["queries_cursor_page_200"]

    if os.environ.get("BENCH_API_TEAMS", "1") == "1":  # the teams case, in the same run (issue #18)
        result.update(
            _teams_case(
                tenant.schema_name,
                tenant=tenant,
                host=host,
                visible=visible,
                iterations=iterations,
                direct_member=member,
            )
        )
        result["goal_teams_filtered_query_ms_p50"] = 5

    requests = [[host, token, PATH]]
    result.update(http_case(env, requests, rounds=rounds, seconds=seconds))
    result["stages"] = stage_case(env, requests, seconds=float(os.environ.get("BENCH_API_STAGE_SECONDS", "8")))
    # The same first page with keyset pagination (`?cursor=`): no COUNT over the 10,000 visible rows,
    # so the difference to list_ms_p50 is what the page-number COUNT costs over HTTP.
    cursor_case = http_case(env, [[host, token, CURSOR_PATH]], rounds=max(1, rounds // 2), seconds=seconds)
    result["cursor_first_page"] = {
        k: cursor_case[k]
        for k in ("list_ms_p50", "list_ms_p90", "list_ms_p99", "rps", "requests", "cpu_us_per_request")
    }
    result.update(
        {
            "server": "gunicorn 1 sync worker (config.settings.test, DEBUG off, log level WARNING), "
            "bearer token; client: http.client in a separate process, one request at a time",
            "goal_filtered_query_ms_p50": 5,
            "goal_cursor_page_ms_p50": 1.5,
            "goal_list_ms_p50": 5,
            "goal_queries_flat": True,
        }
    )
    return result


# --- Over HTTP: latency, CPU per request by process, CPU per request by stage -----------------------


def http_case(env: dict[str, str], requests: list[list[str]], *, rounds: int, seconds: float) -> dict[str, Any]:
    """Latency over HTTP against an uninstrumented server, and the CPU each request costs the web
    worker, its PostgreSQL backend and Valkey (process CPU time over all rounds / requests served).
    A second case (another user, another grant shape) calls this with its own `requests`."""
    from bench._cpu import proc_cpu_or_none, valkey_cpu_s

    with gunicorn(env) as (port, worker_pid):
        warm = run_client(port, requests, 2.0)
        assert warm["statuses"].get("200"), warm["statuses"]
        backend_pid = bench_get(port, "/__bench__/info")["pg_backend_pid"]
        latencies: list[float] = []
        round_p50: list[float] = []
        ok = 0
        elapsed = 0.0
        statuses: dict[str, int] = {}
        cpu_before = (proc_cpu_or_none(worker_pid), proc_cpu_or_none(backend_pid), valkey_cpu_s(env["REDIS_URL"]))
        for _ in range(rounds):
            measured = run_client(port, requests, seconds)
            latencies.extend(measured["latencies_ms"])
            round_p50.append(round(statistics.median(measured["latencies_ms"]), 2))
            ok += len(measured["latencies_ms"])
            elapsed += measured["seconds"]
            for status, n in measured["statuses"].items():
                statuses[status] = statuses.get(status, 0) + n
        cpu_after = (proc_cpu_or_none(worker_pid), proc_cpu_or_none(backend_pid), valkey_cpu_s(env["REDIS_URL"]))
        same_backend = bench_get(port, "/__bench__/info")["pg_backend_pid"] == backend_pid
        worker_rss_mb = round(proc_status_kb(worker_pid, "VmHWM") / 1024, 1)
    sent = sum(statuses.values())

    def per_request(i: int) -> float | None:
        before, after = cpu_before[i], cpu_after[i]
        if before is None or after is None or not sent or (i == 1 and not same_backend):
            return None
        return round((after - before) / sent * 1e6, 1)

    cpu = {"web_worker": per_request(0), "postgres_backend": per_request(1), "valkey": per_request(2)}
    known = [v for v in cpu.values() if v is not None]
    return {
        "list_ms_p50": round(percentile(latencies, 50), 2),
        "list_ms_p90": round(percentile(latencies, 90), 2),
        "list_ms_p99": round(percentile(latencies, 99), 2),
        "list_ms_p50_rounds": round_p50,
        "rps": round(ok / elapsed, 1),
        "requests": ok,
        "statuses": statuses,
        "rounds": rounds,
        "seconds_per_round": seconds,
        "worker_rss_mb": worker_rss_mb,
        "cpu_us_per_request": {**cpu, "total": round(sum(known), 1) if len(known) == len(cpu) else None},
    }


def stage_case(env: dict[str, str], requests: list[list[str]], *, seconds: float) -> dict[str, Any]:
    """CPU and wall time per request by stage, from a second server whose request path is wrapped by
    bench._stages (exclusive time of the innermost stage; `framework` is what remains of the WSGI
    call: Django's middleware chain, URL routing, DRF's dispatch). `outside_wsgi` is the worker's
    process CPU not spent inside the WSGI call (gunicorn's HTTP parsing and socket work)."""
    from bench._cpu import proc_cpu_or_none

    with gunicorn(env, {"BENCH_STAGES": "1"}) as (port, worker_pid):
        warm = run_client(port, requests, 1.0)
        assert warm["statuses"].get("200"), warm["statuses"]
        bench_get(port, "/__bench__/stages?reset=1")
        cpu_before = proc_cpu_or_none(worker_pid)
        measured = run_client(port, requests, seconds)
        cpu_after = proc_cpu_or_none(worker_pid)
        snap = bench_get(port, "/__bench__/stages?reset=1")
    n = snap["requests"]
    assert n, (measured["statuses"], n)
    assert measured["statuses"].get("200") == n, (measured["statuses"], n)
    cpu_us = {k: round(v / n * 1e6, 1) for k, v in sorted(snap["cpu_s"].items(), key=lambda kv: -kv[1])}
    wall_us = {k: round(v / n * 1e6, 1) for k, v in sorted(snap["wall_s"].items(), key=lambda kv: -kv[1])}
    inside = sum(snap["cpu_s"].values())
    out: dict[str, Any] = {
        "requests": n,
        "cpu_us_per_request": cpu_us,
        "wall_us_per_request": wall_us,
        "cpu_us_inside_wsgi": round(inside / n * 1e6, 1),
        "wall_us_inside_wsgi": round(sum(snap["wall_s"].values()) / n * 1e6, 1),
        "calls_per_request": {k: round(v / n, 2) for k, v in sorted(snap["calls"].items())},
        "latency_ms_p50_instrumented": round(percentile(measured["latencies_ms"], 50), 2),
    }
    if cpu_before is not None and cpu_after is not None:
        process_us = (cpu_after - cpu_before) / n * 1e6
        out["cpu_us_process"] = round(process_us, 1)
        out["cpu_us_outside_wsgi"] = round(process_us - inside / n * 1e6, 1)
    return out


if __name__ == "__main__" and sys.argv[1:] == ["client"]:
    print(json.dumps(client_main(json.loads(sys.stdin.read()))))
