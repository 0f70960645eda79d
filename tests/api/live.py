"""A real multi-process API server (gunicorn, 2 workers x 8 threads, test settings, the test database)
and committed rows for it, for the concurrency and restart tests."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django_tenants.utils import schema_context

from deploy.localstack import free_port, wait_for_port
from shared_apps.accounts.models import User
from tenant_apps.audit.models import AuditEvent
from tenant_apps.projects.models import Project
from tenant_apps.tokens.models import ApiToken
from tenant_apps.tokens.services import api_token_create
from tenants.base.actor import Actor
from tenants.base.api.models import IdempotencyKey
from tenants.models import Tenant

ROOT = Path(__file__).resolve().parents[2]


class Gunicorn:
    def __init__(self, log: Path) -> None:
        db = settings.DATABASES["default"]
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "config.settings.test",
                "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
                "CACHE_KEY_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
                "BILLING_DEFAULT_PLAN": "business",
            }
        )
        self.log = log
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "config.wsgi:application",
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "--workers",
                    "2",
                    "--threads",
                    "8",
                    "--worker-class",
                    "gthread",
                    "--log-level",
                    "warning",
                ],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_for_port(self.port, 60, self.proc, "gunicorn")
        except (RuntimeError, TimeoutError) as exc:
            self.stop()
            raise AssertionError(f"{exc}: {log.read_text()[-3000:]}") from exc

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def request(
        self, method: str, path: str, *, host: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            payload = json.dumps(body).encode() if body is not None else None
            all_headers = {"Host": host, "Content-Type": "application/json", **(headers or {})}
            conn.request(method, path, body=payload, headers=all_headers)
            resp = conn.getresponse()
            raw = resp.read()
            data = json.loads(raw) if raw else None
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()


@dataclass
class Committed:
    tenant: Tenant
    user: User
    token: str
    token_id: int
    audit_floor: int
    project_floor: int


def committed_token(tenant: Tenant, user: User, scopes: list[str] | None = None) -> Committed:
    with schema_context(tenant.schema_name):
        audit_floor = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        project_floor = Project.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        token, raw = api_token_create(actor=Actor(user=user), user=user, name="live", scopes=scopes)
    return Committed(tenant, user, raw, token.pk, audit_floor, project_floor)


def committed_cleanup(c: Committed) -> None:
    with schema_context(c.tenant.schema_name):
        Project.objects.filter(pk__gt=c.project_floor).delete()
        ApiToken.objects.filter(pk=c.token_id).delete()
        AuditEvent.objects.filter(pk__gt=c.audit_floor).delete()
    IdempotencyKey.objects.filter(tenant_id=c.tenant.pk).delete()
