"""Production settings: `check --deploy` is clean with a realistic environment, and missing
required variables stop the process at start-up with a clear message."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def production_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "TENANT_SEARCH"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
            "DATABASE_URL": "postgres://tenantry:pw@db.internal:5432/tenantry",
            "REDIS_URL": "redis://redis.internal:6379/0",
            "DJANGO_ALLOWED_HOSTS": ".tenantry.example,tenantry.example",
            "METRICS_TOKEN": secrets.token_urlsafe(32),
            "STRIPE_API_KEY": "sk_live_" + secrets.token_hex(12),
            "STRIPE_WEBHOOK_SECRET": "whsec_" + secrets.token_hex(16),
        }
    )
    env.update(overrides)
    return env


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("mode", ["session", "transaction"])
def test_check_deploy_is_clean(mode: str) -> None:
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env(TENANT_SEARCH_PATH_MODE=mode))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL", "DJANGO_ALLOWED_HOSTS"])
def test_missing_required_variable_fails_fast(missing: str) -> None:
    env = production_env()
    del env[missing]
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"Missing required environment variable(s) for production: {missing}" in result.stderr


def test_empty_secret_counts_as_missing() -> None:
    result = manage("check", env=production_env(DJANGO_SECRET_KEY="  "))
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_production_security_settings() -> None:
    code = (
        "from django.conf import settings as s;"
        "import json;"
        "print(json.dumps([s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT,"
        " s.SECURE_HSTS_SECONDS, list(s.SECURE_PROXY_SSL_HEADER), s.PASSWORD_HASHERS[0],"
        " s.DATABASES['default']['ENGINE'], s.DATABASES['default'].get('DISABLE_SERVER_SIDE_CURSORS', False)]))"
    )
    env = production_env(TENANT_SEARCH_PATH_MODE="transaction")
    result = subprocess.run(
        [sys.executable, "-c", f"import django;django.setup();{code}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    import json

    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values == [
        False,
        True,
        True,
        True,
        31_536_000,
        ["HTTP_X_FORWARDED_PROTO", "https"],
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "tenants.db",
        True,
    ]
