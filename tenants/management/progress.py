"""Progress bars for long management commands (rich), shared by tenant, reconcile_billing,
replay_webhooks and sync_plans.

The bar goes to standard error and only when standard error is a terminal (rich's own test, so
`FORCE_COLOR=1` / `TTY_COMPATIBLE=1` force it and `TTY_COMPATIBLE=0` turns it off), never with
`--no-progress`. Standard output keeps only the results and the summary line, so pipes, scripts and
`call_command` in tests get clean output.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def add_progress_argument(parser: CommandParser) -> None:
    parser.add_argument(
        "--no-progress",
        action="store_true",
        default=False,
        help="No progress bar (it is shown on standard error, only when that is a terminal).",
    )


class CommandProgress:
    """One bar: `planned(total)` once the amount of work is known, then `step(label)` per item."""

    def __init__(self, progress: Progress, label: str) -> None:
        self._progress = progress
        self._label = label
        self._task: Any = None

    def planned(self, total: int) -> None:
        self._task = self._progress.add_task(self._label, total=total, current="")

    def step(self, current: str = "") -> None:
        if self._task is None:
            self._task = self._progress.add_task(self._label, total=None, current="")
        self._progress.update(self._task, advance=1, current=current)

    @property
    def shown(self) -> bool:
        return not self._progress.disable


@contextmanager
def command_progress(command: BaseCommand, label: str, *, options: dict[str, Any]) -> Iterator[CommandProgress]:
    stream: Any = getattr(command.stderr, "_out", command.stderr)
    console = Console(file=stream, highlight=False)
    disabled = bool(options.get("no_progress")) or int(options.get("verbosity", 1)) < 1 or not console.is_terminal
    progress = Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[current]}"),
        console=console,
        disable=disabled,
        transient=False,
    )
    with progress:
        yield CommandProgress(progress, label)
