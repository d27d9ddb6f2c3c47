"""The inbox: a consumer records each message id in the transaction that handles it, so redeliveries are no-ops."""

from syncline_platform.db import Conn


async def claim(conn: Conn, *, consumer: str, message_id: str) -> bool:
    """True the first time this consumer sees `message_id`; call inside the handling transaction."""
    row = await conn.fetchval(
        "INSERT INTO inbox (consumer, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1",
        consumer,
        message_id,
    )
    return row is not None
