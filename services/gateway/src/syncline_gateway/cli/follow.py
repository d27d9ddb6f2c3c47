"""`syncline runs follow`: a run's live progress from the server-sent events of `GET /v1/events?run_id=…` (rows,
objects, rate, change-stream lag), until its terminal event."""

import json
import time
from collections import deque
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from syncline_gateway.cli.client import OPENED, Api, Event

TERMINAL = {"completed": 0, "error": 1, "canceled": 1}
"""A run's final statuses and the exit status of each."""
ENDS = {"run.completed": "completed", "run.failed": "error", "run.canceled": "canceled"}
RATE_WINDOW_S = 5.0
"""The rate shown is over this many seconds of counters."""
OBJECTS_EVERY_S = 2.0
"""How often the objects' counts are read again while the run moves."""


class Board:
    """What the progress line shows."""

    def __init__(self, api: Api, run_id: str) -> None:
        self.api = api
        self.run_id = run_id
        self.rows = 0
        self.read = 0
        self.lag: float | None = None
        self.objects = (0, 0)
        self._samples: deque[tuple[float, int]] = deque()
        """(when, rows written) of the last `RATE_WINDOW_S` seconds: the rate is over that window."""
        self._objects_read = 0.0

    def take(self, counters: dict[str, Any]) -> None:
        """Counters of a progress or terminal event."""
        self.rows = int(counters.get("indexed_document_count") or 0)
        now = time.monotonic()
        self._samples.append((now, self.rows))
        while len(self._samples) > 2 and self._samples[1][0] < now - RATE_WINDOW_S:
            self._samples.popleft()
        self.read = int(counters.get("rows_read") or 0)
        lag = counters.get("replication_lag")
        self.lag = float(lag["seconds"]) if isinstance(lag, dict) else None

    def refresh_objects(self, *, force: bool = False) -> dict[str, Any] | None:
        """Read the run's objects again (at most every `OBJECTS_EVERY_S`); the run as read."""
        if not force and time.monotonic() - self._objects_read < OBJECTS_EVERY_S:
            return None
        self._objects_read = time.monotonic()
        run: dict[str, Any] = self.api.call("GET", f"/v1/runs/{self.run_id}")
        objects = run["objects"]
        self.objects = (sum(1 for o in objects if o["done"] or o["outcome"]), len(objects))
        self.take({"indexed_document_count": run["rows_written"], "rows_read": run["rows_read"]} | self._lag())
        return run

    def _lag(self) -> dict[str, Any]:
        return {"replication_lag": {"seconds": self.lag}} if self.lag is not None else {}

    def line(self) -> str:
        """The progress line."""
        lag = f"{self.lag:.2f} s" if self.lag is not None else "-"
        done, total = self.objects
        return f"rows {self.rows:,}  objects {done}/{total}  rate {self.rate():,.0f} rows/s  lag {lag}"

    def rate(self) -> float:
        """Rows written per second over the last `RATE_WINDOW_S` seconds of counters."""
        if len(self._samples) < 2:
            return 0.0
        (since, first), (until, last) = self._samples[0], self._samples[-1]
        return (last - first) / (until - since) if until > since else 0.0


def follow_run(api: Api, run_id: str, *, as_json: bool, console: Console) -> int:
    """Follow `run_id` until it ends; the exit status (0: completed)."""
    board = Board(api, run_id)
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[line]}"),
        TimeElapsedColumn(),
        console=console,
        disable=as_json,
        transient=False,
    ) as progress:
        task = progress.add_task(f"run {run_id[:8]}", total=None, line=board.line())
        for event in api.events(run_id=run_id):
            if as_json and event.type != OPENED:
                typer.echo(json.dumps(_public(event)))
            status = _step(board, event)
            if status is not None:
                run = board.refresh_objects(force=True)
                progress.update(task, total=1, completed=1, line=board.line())
                progress.stop()
                return _done(run or {"status": status}, as_json=as_json, console=console, board=board)
            progress.update(task, line=board.line())
    return 1


def _step(board: Board, event: Event) -> str | None:
    """Take one event; the run's final status when it ended."""
    if event.type in {OPENED, "stream.reset"}:  # (re)connected, or events were lost: read the run itself
        run = board.refresh_objects(force=True)
        return run["status"] if run and run["status"] in TERMINAL else None
    counters = event.data.get("data", {}).get("counters")
    if isinstance(counters, dict):
        board.take(counters)
    if event.type == "run.progress":
        board.refresh_objects()
    return ENDS.get(event.type)


def _public(event: Event) -> dict[str, Any]:
    return {"id": event.id, "event": event.type, **event.data}


def _done(run: dict[str, Any], *, as_json: bool, console: Console, board: Board) -> int:
    status = str(run["status"])
    if as_json:
        typer.echo(json.dumps(run))
    else:
        colour = "green" if status == "completed" else "red"
        console.print(
            f"[{colour}]{status}[/{colour}]  {board.line()}" + (f"  {run['error']}" if run.get("error") else "")
        )
    return TERMINAL.get(status, 1)
