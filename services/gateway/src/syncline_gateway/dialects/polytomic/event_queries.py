"""SQL of Polytomic events and webhook deliveries (`gateway.events`, `gateway.webhook_deliveries`), and the reads
an event needs from policy's syncs and the scheduler's runs (read-only)."""

from datetime import datetime
from typing import Any

from syncline_platform.db import Conn


async def bulk_sync_of_run(conn: Conn, *, sync_id: str, run_id: str) -> dict[str, Any] | None:
    """The Polytomic bulk sync a run belongs to, with the run's trigger; None for other syncs, including another
    organisation's connector that carries the bulk sync's id."""
    row = await conn.fetchrow(
        """
        SELECT s.id, s.org_id, s.name, s.source_connection_id, s.destination_connection_id, r.trigger_method
        FROM scheduler_read.runs r JOIN policy_read.syncs s ON s.org_id = r.org_id AND s.id = r.sync_id
        WHERE r.id = $2 AND r.sync_id = $1 AND s.dialect = 'polytomic'
        """,
        sync_id,
        run_id,
    )
    return dict(row) if row else None


async def add_event(
    conn: Conn, *, event_id: str, org_id: str, kind: str, payload: dict[str, Any], at: datetime
) -> bool:
    """Keep an event; False when it was already kept (a redelivered run event)."""
    added = await conn.fetchval(
        """
        INSERT INTO events (id, org_id, type, payload, created_at) VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (id) DO NOTHING RETURNING 1
        """,
        event_id,
        org_id,
        kind,
        payload,
        at,
    )
    return added is not None


async def add_delivery(conn: Conn, *, event_id: str, org_id: str) -> bool:
    """Queue the event for the organisation's enabled webhook; False when it has none."""
    added = await conn.fetchval(
        """
        INSERT INTO webhook_deliveries (event_id, webhook_id, org_id, endpoint)
        SELECT $1, w.id, w.org_id, w.endpoint FROM webhooks w WHERE w.org_id = $2 AND NOT w.disabled
        ON CONFLICT DO NOTHING RETURNING 1
        """,
        event_id,
        org_id,
    )
    return added is not None


async def claim_due(conn: Conn, *, now: datetime, lease_s: float, limit: int) -> list[dict[str, Any]]:
    """Due deliveries with their event and the webhook's sealed secret, leased to this replica for `lease_s`."""
    rows = await conn.fetch(
        """
        WITH due AS (
            UPDATE webhook_deliveries SET next_attempt_at = $1 + make_interval(secs => $2),
                attempts = attempts + 1
            WHERE (event_id, webhook_id) IN (
                SELECT event_id, webhook_id FROM webhook_deliveries
                WHERE status = 'pending' AND next_attempt_at <= $1
                ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED
            )
            RETURNING *
        )
        SELECT due.*, e.type, e.payload, w.sealed_secret
        FROM due JOIN events e ON e.id = due.event_id JOIN webhooks w ON w.id = due.webhook_id
        """,
        now,
        lease_s,
        limit,
    )
    return [dict(r) for r in rows]


async def settle(
    conn: Conn,
    *,
    event_id: str,
    webhook_id: str,
    status: str,
    last_status: int | None,
    error: str,
    next_attempt_at: datetime | None,
) -> None:
    """Record an attempt's outcome: delivered, failed for good, or pending until `next_attempt_at`."""
    await conn.execute(
        """
        UPDATE webhook_deliveries SET status = $3, last_status = $4, last_error = $5,
            next_attempt_at = coalesce($6, next_attempt_at),
            delivered_at = CASE WHEN $3 = 'delivered' THEN now() ELSE delivered_at END
        WHERE event_id = $1 AND webhook_id = $2
        """,
        event_id,
        webhook_id,
        status,
        last_status,
        error,
        next_attempt_at,
    )


async def purge_events(conn: Conn, *, before: datetime) -> int:
    """Forget events (and their deliveries) older than `before`; returns how many."""
    status: str = await conn.execute("DELETE FROM events WHERE created_at < $1", before)
    return int(status.rsplit(maxsplit=1)[-1])


async def events_page(
    conn: Conn, *, org_id: str | None, kind: str | None, after: datetime | None, before: datetime | None, limit: int
) -> list[dict[str, Any]]:
    """Events in scope, oldest first, between two instants."""
    rows = await conn.fetch(
        """
        SELECT * FROM events
        WHERE ($1::text IS NULL OR org_id = $1) AND ($2::text IS NULL OR type = $2)
          AND ($3::timestamptz IS NULL OR created_at > $3) AND ($4::timestamptz IS NULL OR created_at < $4)
        ORDER BY created_at, id LIMIT $5
        """,
        org_id,
        kind,
        after,
        before,
        limit,
    )
    return [dict(r) for r in rows]
