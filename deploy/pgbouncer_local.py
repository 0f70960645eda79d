"""Debian's pgbouncer for local runs and tests: find or install it, write a transaction-mode config.

Used by `python -m deploy.localstack test --via-pgbouncer` (the tenancy, identity, API and portal
suites with every connection going through pgbouncer) and by tests/pgbouncer.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
from pathlib import Path

CANDIDATES = ("pgbouncer", "/usr/sbin/pgbouncer", "/usr/bin/pgbouncer")


class PgbouncerUnavailable(RuntimeError):
    pass


def find_pgbouncer() -> str | None:
    for candidate in CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def ensure_pgbouncer() -> str:
    """The pgbouncer binary, installing Debian's package with apt-get when missing (as root)."""
    found = find_pgbouncer()
    if found:
        return found
    if os.geteuid() != 0:
        raise PgbouncerUnavailable(
            "pgbouncer is not installed and this process cannot install it: run `apt-get install -y pgbouncer` as root."
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", "pgbouncer"]
    if subprocess.run(install, env=env, capture_output=True, check=False).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, check=True, capture_output=True)
        subprocess.run(install, env=env, check=True, capture_output=True)
    found = find_pgbouncer()
    if not found:
        raise PgbouncerUnavailable("apt-get installed pgbouncer but no pgbouncer binary was found")
    return found


def run_as_user() -> str | None:
    """pgbouncer refuses to run as root; it drops to this user with -u."""
    if os.geteuid() != 0:
        return None
    for name in ("tenantry-pg", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise PgbouncerUnavailable("running as root and no unprivileged user to run pgbouncer as")


def write_config(
    workdir: Path, *, upstream_host: str, upstream_port: int | str, user: str, listen_port: int, pool_size: int
) -> Path:
    """A transaction-mode pgbouncer.ini in `workdir` (readable by the unprivileged user)."""
    workdir.chmod(0o755)
    userlist = workdir / "userlist.txt"
    userlist.write_text(f'"{user}" ""\n')
    ini = workdir / "pgbouncer.ini"
    ini.write_text(
        "\n".join(
            [
                "[databases]",
                f"* = host={upstream_host} port={upstream_port}",
                "[pgbouncer]",
                "listen_addr = 127.0.0.1",
                f"listen_port = {listen_port}",
                "unix_socket_dir =",
                "auth_type = trust",
                f"auth_file = {userlist}",
                "pool_mode = transaction",
                f"default_pool_size = {pool_size}",
                "min_pool_size = 0",
                "reserve_pool_size = 0",
                f"max_db_connections = {pool_size}",
                "max_client_conn = 200",
                "server_lifetime = 3600",
                "ignore_startup_parameters = extra_float_digits,options",
                f"admin_users = {user}",
                "",
            ]
        )
    )
    for path in (userlist, ini):
        path.chmod(0o644)
    return ini


def command(binary: str, ini: Path) -> list[str]:
    cmd = [binary]
    user = run_as_user()
    if user:
        cmd += ["-u", user]
    return [*cmd, str(ini)]
