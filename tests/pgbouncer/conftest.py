"""pgbouncer in transaction mode, in front of the test PostgreSQL, with a tiny pool.

The server is Debian's pgbouncer (installed here with apt-get when missing and running as root),
started on loopback for the test session and stopped by pid. Tests get Django connections that go
through it (`bouncer_connection`), in either search-path mode of tenants.db.
"""

from __future__ import annotations

import contextlib
import copy
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.db import connections

from tenants.db.base import DatabaseWrapper

POOL_SIZE = 2
PGBOUNCER_CANDIDATES = ("pgbouncer", "/usr/sbin/pgbouncer", "/usr/bin/pgbouncer")


def _find_pgbouncer() -> str | None:
    for candidate in PGBOUNCER_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def ensure_pgbouncer() -> str:
    found = _find_pgbouncer()
    if found:
        return found
    if os.geteuid() != 0:
        pytest.fail(
            "pgbouncer is not installed and this process cannot install it: "
            "run `apt-get install -y pgbouncer` as root (deploy/ci/pgbouncer-job.sh does)."
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", "pgbouncer"]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, check=True, capture_output=True)
        subprocess.run(install, env=env, check=True, capture_output=True)
    found = _find_pgbouncer()
    if not found:
        pytest.fail("apt-get installed pgbouncer but no pgbouncer binary was found")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_as_user() -> str | None:
    """pgbouncer refuses to run as root; it drops to this user with -u."""
    if os.geteuid() != 0:
        return None
    for name in ("tenantry-pg", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    pytest.fail("running as root and no unprivileged user to run pgbouncer as")


@pytest.fixture(scope="session")
def pgbouncer(django_db_setup) -> Iterator[dict[str, object]]:  # type: ignore[no-untyped-def]
    binary = ensure_pgbouncer()
    db = connections["default"].settings_dict
    port = _free_port()
    workdir = Path(tempfile.mkdtemp(prefix="tenantry-pgbouncer-"))
    workdir.chmod(0o755)
    userlist = workdir / "userlist.txt"
    userlist.write_text(f'"{db["USER"]}" ""\n')
    ini = workdir / "pgbouncer.ini"
    ini.write_text(
        "\n".join(
            [
                "[databases]",
                f"* = host={db['HOST'] or '127.0.0.1'} port={db['PORT']}",
                "[pgbouncer]",
                "listen_addr = 127.0.0.1",
                f"listen_port = {port}",
                "unix_socket_dir =",
                "auth_type = trust",
                f"auth_file = {userlist}",
                "pool_mode = transaction",
                f"default_pool_size = {POOL_SIZE}",
                "min_pool_size = 0",
                "reserve_pool_size = 0",
                f"max_db_connections = {POOL_SIZE}",
                "max_client_conn = 200",
                "server_lifetime = 3600",
                "ignore_startup_parameters = extra_float_digits,options",
                f"admin_users = {db['USER']}",
                "",
            ]
        )
    )
    for path in (userlist, ini):
        path.chmod(0o644)
    cmd = [binary]
    user = _run_as_user()
    if user:
        cmd += ["-u", user]
    cmd.append(str(ini))
    log_path = workdir / "pgbouncer.log"
    log = open(log_path, "wb")  # noqa: SIM115 - closed at teardown
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                pytest.fail(f"pgbouncer exited with {proc.returncode}: {log_path.read_text()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
            if time.monotonic() > deadline:
                pytest.fail(f"pgbouncer did not listen on {port}: {log_path.read_text()}")
            time.sleep(0.05)
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
def bouncer_connection(pgbouncer, django_db_blocker) -> Iterator[Callable[[str], DatabaseWrapper]]:  # type: ignore[no-untyped-def]
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


@contextlib.contextmanager
def using_connection(wrapper: DatabaseWrapper) -> Iterator[DatabaseWrapper]:
    """Make `wrapper` this thread's default connection (ORM, atomic, test client) for the block."""
    previous = connections["default"]
    connections["default"] = wrapper
    try:
        yield wrapper
    finally:
        connections["default"] = previous
