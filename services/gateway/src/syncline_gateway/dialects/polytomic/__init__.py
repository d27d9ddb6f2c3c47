"""Polytomic's bulk-sync API (`/api/...`), as the official `polytomic` SDK calls it.

Connections, bulk syncs with their schedules and schemas, and the organisation's webhook. Writes become
commands (`syncline.connections.commands.v1`, `syncline.syncs.commands.v1`) answered by their outcome events;
reads come from PostgreSQL. Every answer is wrapped in `{"data": ...}`, every error is Polytomic's
`{status, key, message, metadata}`.
"""
