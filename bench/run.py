"""Benchmark runner: `python -m bench.run [names...]` (or `make bench BENCH="names"`).

Starts its own PostgreSQL and Valkey in a temporary folder (deploy.localstack) unless DATABASE_URL
and REDIS_URL are set, migrates the public schema, then runs each benchmark module and writes
`bench/results/<name>.json` with machine information.

A benchmark is a module `bench/<name>.py` with `NAME: str` and `run(env: dict) -> dict`. `env`
holds DATABASE_URL, REDIS_URL and the settings module; Django is already set up in this process
(test settings: fast hashing, no automatic pool refill) against those servers. By default every
such module in bench/ runs, ordered by its optional `ORDER` (default 50), then by name.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
SETTINGS = "config.settings.test"


def discover() -> dict[str, ModuleType]:
    found: dict[str, ModuleType] = {}
    for path in sorted((ROOT / "bench").glob("*.py")):
        if path.stem.startswith("_") or path.stem == "run":
            continue
        source = path.read_text()
        if "def run(" not in source or "NAME" not in source:
            continue
        module = importlib.import_module(f"bench.{path.stem}")
        if callable(getattr(module, "run", None)) and isinstance(getattr(module, "NAME", None), str):
            found[module.NAME] = module
    return dict(sorted(found.items(), key=lambda item: (getattr(item[1], "ORDER", 50), item[0])))


def machine_info() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = ""
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "ram_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date_utc": dt.datetime.now(tz=dt.UTC).isoformat(timespec="seconds"),
        "git_commit": commit,
    }


def _django_setup(env: dict[str, str]) -> None:
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)


def main(argv: list[str] | None = None) -> int:
    names = list(sys.argv[1:] if argv is None else argv)
    available = discover()
    unknown = [n for n in names if n not in available]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(available)}")
        return 2
    selected = names or list(available)
    RESULTS.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        env: dict[str, str] = {"DJANGO_SETTINGS_MODULE": SETTINGS}
        if os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"):
            env["DATABASE_URL"] = os.environ["DATABASE_URL"]
            env["REDIS_URL"] = os.environ["REDIS_URL"]
        else:
            from deploy.localstack import free_port, servers

            tmp = Path(tempfile.mkdtemp(prefix="tenantry-bench-"))
            if os.geteuid() == 0:
                tmp.chmod(0o755)
            stack.callback(shutil.rmtree, tmp, True)
            # Benchmarks over two clusters (NEEDS_SHARDS) get a second one, its URL in SHARD_URLS.
            shards = 2 if any(getattr(available[n], "NEEDS_SHARDS", False) for n in selected) else 1
            env.update(
                stack.enter_context(
                    servers(tmp, fast=True, persist=False, pg_port=free_port(), redis_port=free_port(), shards=shards)
                )
            )
        _django_setup(env)
        failures = 0
        for name in selected:
            print(f"== {name}", flush=True)
            started = time.perf_counter()
            try:
                result = available[name].run(dict(env))
            except Exception as exc:  # keep going: one broken benchmark should not hide the others
                import traceback

                traceback.print_exc()
                print(f"!! {name} failed: {exc}")
                failures += 1
                continue
            payload = {
                "name": name,
                "machine": machine_info(),
                "duration_s": round(time.perf_counter() - started, 1),
                "results": result,
            }
            (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
            print(json.dumps(result, indent=2, sort_keys=True), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
