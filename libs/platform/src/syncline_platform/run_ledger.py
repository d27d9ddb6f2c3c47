"""The run ledger: the one place a run's status changes, and where the workers of a run record what they see.

Runs live in `scheduler.runs`: the scheduler creates, schedules, settles and deletes them and migrates the table.
Their status changes only through `transition`, a guarded UPDATE that moves a run only from a status the
transition table (`syncline_contracts.status`) allows. The scheduler calls it (cancels, failures reported by
external workers, claims for them, the sweep) and so does every executor (claim, finish); `check_in` records
liveness and counters for both. Others read runs through the scheduler's read model `scheduler_read.runs`.

Fencing: every move to `in_progress` (a claim) takes the run's next `claim_seq`. The mover holding that number
passes it as `claim` to its check-ins, its finish and `holds` (in the transaction of every checkpoint), so a mover
whose claim is no longer the run's, because the sweep ended the run or another executor claimed it again, is
refused everywhere and writes nothing more.

Why a library both call, rather than events that the scheduler applies: a claim must be atomic against every other
executor that received the same request (only a guarded UPDATE gives one winner without a lock service), and
an executor must learn at its next check-in that a run was canceled; an event round trip through Kafka would
add its latency to every claim and leave the winner undecided while the event travels.
"""

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from syncline_contracts.status import RunStatus, sources_of
from syncline_platform.db import Conn

_STAMPS = {
    RunStatus.IN_PROGRESS: "started_at",
    RunStatus.CANCELING: "cancelation_requested_at",
    RunStatus.CANCELED: "canceled_at",
    RunStatus.COMPLETED: "completed_at",
    RunStatus.ERROR: "completed_at",
}
"""The timestamp each target status sets (a re-claimed run keeps its first `started_at`)."""

_WRITABLE = frozenset(
    {
        "worker_hostname",
        "error",
        "rows_read",
        "indexed_document_count",
        "deleted_document_count",
        "indexed_document_volume",
        "total_document_count",
    }
)
"""The columns a worker's report may set beside the status."""

_HELD = frozenset({RunStatus.IN_PROGRESS, RunStatus.CANCELING})
"""The statuses in which a claim holds its run (its mover writes)."""


class _Params:
    """Positional parameters of one statement: `add` returns the placeholder of a value."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def add(self, value: Any, cast: str = "") -> str:
        self.values.append(value)
        return f"${len(self.values)}{cast}"


def _assignments(values: Mapping[str, Any], params: _Params) -> list[str]:
    unknown = set(values) - _WRITABLE
    if unknown:
        raise ValueError(f"not a run column a transition may set: {sorted(unknown)}")
    return [f"{name} = {params.add(values[name])}" for name in sorted(values)]


async def transition(
    conn: Conn,
    *,
    run_ids: Sequence[str],
    target: RunStatus,
    now: datetime | None = None,
    only_from: Iterable[RunStatus] | None = None,
    values: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    seen: bool = False,
    claim: int | None = None,
) -> list[dict[str, Any]]:
    """Move the runs to `target` where the transition table allows it (and, with `only_from`, only from those
    statuses; with `claim`, only while that claim holds them), stamping the target's timestamp with `now` (the
    database's clock when None), setting `values`, merging `metadata` and, when a worker reports the move
    (`seen`), its `last_seen`, all in one UPDATE; a move to `in_progress` is a new claim (the next `claim_seq`).
    Returns the rows it moved."""
    allowed = set(sources_of(target))
    if only_from is not None:
        allowed &= set(only_from)
    params = _Params()
    where = (
        f"id = ANY({params.add(list(run_ids), '::text[]')}) AND status = ANY({params.add(sorted(allowed), '::text[]')})"
    )
    if claim is not None:
        where += f" AND claim_seq = {params.add(claim)}"
    sets = [f"status = {params.add(target)}", *_assignments(values or {}, params)]
    if target is RunStatus.IN_PROGRESS:
        sets.append("claim_seq = claim_seq + 1")
    if metadata:
        sets.append(f"metadata = metadata || {params.add(dict(metadata), '::jsonb')}")
    at = f"COALESCE({params.add(now, '::timestamptz')}, now())" if (seen or target in _STAMPS) else ""
    if seen:
        sets.append(f"last_seen = {at}")
    stamp = _STAMPS.get(target)
    if stamp == "started_at":
        sets.append(f"started_at = COALESCE(started_at, {at})")
    elif stamp:
        sets.append(f"{stamp} = {at}")
    rows = await conn.fetch(f"UPDATE scheduler.runs SET {', '.join(sets)} WHERE {where} RETURNING *", *params.values)
    return [dict(r) for r in rows]


async def move(
    conn: Conn,
    *,
    run_id: str,
    target: RunStatus,
    now: datetime | None = None,
    only_from: Iterable[RunStatus] | None = None,
    values: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    seen: bool = False,
    claim: int | None = None,
) -> dict[str, Any] | None:
    """`transition` of one run: its row once moved, None when the table (or `only_from`, or `claim`) forbids the
    move."""
    moved = await transition(
        conn,
        run_ids=[run_id],
        target=target,
        now=now,
        only_from=only_from,
        values=values,
        metadata=metadata,
        seen=seen,
        claim=claim,
    )
    return moved[0] if moved else None


async def check_in(
    conn: Conn,
    *,
    run_id: str,
    now: datetime | None = None,
    values: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    claim: int | None = None,
) -> dict[str, Any] | None:
    """Record a worker's check-in: `last_seen`, its counters (`values`) and stats merged into the metadata. The
    row (its status shows a cancel request) or None when the run is gone or, with `claim`, no longer held by
    that claim (ended, or claimed again)."""
    params = _Params()
    sets = [f"last_seen = COALESCE({params.add(now, '::timestamptz')}, now())", *_assignments(values or {}, params)]
    if metadata:
        sets.append(f"metadata = metadata || {params.add(dict(metadata), '::jsonb')}")
    where = f"id = {params.add(run_id)}"
    if claim is not None:
        where += f" AND claim_seq = {params.add(claim)} AND status = ANY({params.add(sorted(_HELD), '::text[]')})"
    row = await conn.fetchrow(f"UPDATE scheduler.runs SET {', '.join(sets)} WHERE {where} RETURNING *", *params.values)
    return dict(row) if row else None


async def holds(conn: Conn, *, run_id: str, claim: int) -> bool:
    """Does `claim` still hold the run (moving or stopping, not claimed again)? Call it in the transaction of the
    write it fences: the row stays share-locked until that commits, so no sweep or re-claim lands in between."""
    held = await conn.fetchval(
        "SELECT 1 FROM scheduler.runs WHERE id = $1 AND claim_seq = $2 AND status = ANY($3::text[]) FOR SHARE",
        run_id,
        claim,
        sorted(_HELD),
    )
    return held is not None
