"""Bench-only migration modules for `projects`: the real migrations plus one pending AddField.

The package's path covers the real migrations folder too, so the real migrations load from here
unchanged and `0900_bench_field` comes after the latest of them.
"""

from pathlib import Path

import tenant_apps.projects.migrations as _real

__path__ = [*_real.__path__, str(Path(__file__).parent)]


def latest_real_migration() -> str:
    return max(p.stem for p in Path(_real.__path__[0]).glob("[0-9][0-9][0-9][0-9]_*.py"))
