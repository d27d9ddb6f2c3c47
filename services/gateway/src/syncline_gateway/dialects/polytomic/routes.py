"""Every Polytomic route, in one router for the app to include."""

from fastapi import APIRouter

from syncline_gateway.dialects.polytomic import (
    bulk_syncs,
    connections,
    errors,
    events,
    executions,
    logs,
    statuses,
    sync_parts,
    webhooks,
)

router = APIRouter(responses=errors.ANSWERS)
router.include_router(connections.router)
router.include_router(sync_parts.router)
router.include_router(statuses.router)  # before bulk_syncs: `/api/bulk/syncs/{sync_id}` would capture "status"
router.include_router(bulk_syncs.router)
router.include_router(executions.router)
router.include_router(logs.router)
router.include_router(webhooks.router)
router.include_router(events.router)
