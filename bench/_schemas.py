"""Fast bulk tenant schemas for the benchmarks that need hundreds or thousands of them: one migrated
template schema dumped to SQL once (`pg_dump`, bundled with the embedded PostgreSQL), replayed per
new schema on a couple of connections in parallel."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

# Rows a migrated schema holds before any tenant data.
MIGRATION_TABLES = ("django_migrations", "django_content_type", "auth_permission")


def pg_dump() -> str:
    from deploy.localstack import _pg_bin

    bundled = _pg_bin() / "pg_dump"
    return str(bundled) if bundled.exists() else "pg_dump"


def dump_template(database_url: str, schema_name: str, data_tables: Sequence[str] = MIGRATION_TABLES) -> str:
    """The template schema (structure, plus the rows of `data_tables`) as one SQL script, with
    `{schema}` where its name was (other braces doubled, ready for str.format)."""
    common = [pg_dump(), "--dbname", database_url, "--schema", schema_name, "--no-owner", "--no-privileges"]
    ddl = subprocess.run([*common, "--schema-only"], capture_output=True, text=True, check=True).stdout
    tables = [arg for t in data_tables for arg in ("--table", f"{schema_name}.{t}")]
    data = subprocess.run([*common, "--data-only", "--inserts", *tables], capture_output=True, text=True, check=True)
    lines = [
        line
        for line in (ddl + "\n" + data.stdout).splitlines()
        if not line.startswith("\\") and not line.startswith("--")  # psql meta-commands, comments
    ]
    script = "\n".join(lines).replace("{", "{{").replace("}", "}}")
    return re.sub(rf"\b{re.escape(schema_name)}\b", "{schema}", script)


def run_scripts(database_url: str, scripts: Sequence[str], workers: int = 2) -> None:
    """Each script in its own transaction, spread over `workers` autocommit connections."""
    import psycopg

    def work(chunk: Sequence[str]) -> None:
        with psycopg.connect(database_url, autocommit=True) as conn:
            for script in chunk:
                with conn.transaction():
                    conn.execute(script.encode())

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(work, [scripts[i::workers] for i in range(workers)]))
