"""Benchmark settings: the test settings plus one pending AddField on projects.Project."""

from config.settings.test import *  # noqa: F403

MIGRATION_MODULES = {"projects": "bench.pending_migrations"}
