"""Syncline's own API (`/v1`), for what the vendor dialects do not give, over the one sync model.

Syncs and runs of every dialect in one list, run detail with per-object stats and errors, run start and cancel
(commands on `syncline.runs.commands.v1`), key pairs (list, create, revoke), connections (secrets never shown),
and the organisation's live run events as server-sent events (`GET /v1/events`, fanned out by a worker that
tails `syncline.runs.events.v1`); and the same commands over Kafka (`kafka`: each organisation's commands and
events topics, with broker credentials made and removed with its keys). Auth is `Authorization: Bearer
base64(id:secret)`; errors are `{"error": {"status", "code", "message"}}`; the `syncline` command line speaks it.
"""

from fastapi import APIRouter

from syncline_gateway.dialects.native import errors, routes
from syncline_gateway.dialects.native import events as live
from syncline_gateway.dialects.native.auth import SECURITY, authenticate
from syncline_gateway.dialects.native.kafka import make_interface
from syncline_gateway.dialects.registry import Dialect, IdempotencyRules


def dialect() -> Dialect:
    """The native dialect: no product header; `Idempotency-Key` on a run's start (`POST /v1/runs`)."""
    router = APIRouter()
    router.include_router(routes.router)
    router.include_router(live.router)
    return Dialect(
        name="native",
        prefixes=("/v1",),
        router=router,
        authenticate=authenticate,
        security=SECURITY,
        render_error=errors.render,
        idempotency=IdempotencyRules(header="Idempotency-Key", methods=frozenset({"POST"})),
        workers=(live.make_hub, make_interface),
    )
