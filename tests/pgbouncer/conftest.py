"""pgbouncer in transaction mode, in front of the test PostgreSQL, with a tiny pool.

The server is Debian's pgbouncer (installed here with apt-get when missing and running as root),
started on loopback for the test session and stopped by pid. Tests get Django connections that go
through it (`bouncer_connection`), in either search-path mode of tenants.db.
"""

from __future__ import annotations

import contextlib
import copy
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.db import connections

from deploy.localstack import free_port, wait_for_port
from deploy.pgbouncer_local import PgbouncerUnavailable, command, ensure_pgbouncer, write_config
from tenants.db.base import DatabaseWrapper
from tests.pgbouncer.support import POOL_SIZE


@pytest.fixture(scope="session")
def pgbouncer(django_db_setup) -> Iterator[dict[str, object]]:  # noqa: ARG001 - requested for its side effect (usefixtures does not apply to fixtures)
    try:
        binary = ensure_pgbouncer()
    except PgbouncerUnavailable as exc:
        pytest.fail(str(exc))
    db = connections["default"].settings_dict
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="tenantry-pgbouncer-"))
    ini = write_config(
        workdir,
        upstream_host=db["HOST"] or "127.0.0.1",
        upstream_port=db["PORT"],
        user=db["USER"],
        listen_port=port,
        pool_size=POOL_SIZE,
    )
    cmd = command(binary, ini)
    log_path = workdir / "pgbouncer.log"
    log = open(log_path, "wb")  # noqa: SIM115 - closed at teardown
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        try:
            wait_for_port(port, 20, proc, "pgbouncer")
        except (RuntimeError, TimeoutError) as exc:
            pytest.fail(f"{exc}: {log_path.read_text()}")
        yield {"port": port, "pid": proc.pid, "log": log_path, "database": db["NAME"]}
    finally:
        # Stop our pgbouncer by its pid: SIGINT is its "safe shutdown" (waits for clients to finish).
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def bouncer_connection(pgbouncer, django_db_blocker) -> Iterator[Callable[[str], DatabaseWrapper]]:
    """make(mode) -> a new Django connection (tenants.db backend) that goes through pgbouncer."""
    made: list[DatabaseWrapper] = []

    def make(mode: str) -> DatabaseWrapper:
        settings_dict = copy.deepcopy(connections["default"].settings_dict)
        settings_dict.update(HOST="127.0.0.1", PORT=str(pgbouncer["port"]), SEARCH_PATH_MODE=mode, CONN_MAX_AGE=None)
        settings_dict["DISABLE_SERVER_SIDE_CURSORS"] = True
        wrapper = DatabaseWrapper(settings_dict, alias="default")
        made.append(wrapper)
        return wrapper

    with django_db_blocker.unblock():
        yield make
        for wrapper in made:
            with contextlib.suppress(Exception):
                wrapper.close()
