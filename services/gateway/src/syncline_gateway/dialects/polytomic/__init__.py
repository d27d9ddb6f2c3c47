"""Polytomic's bulk-sync API (`/api/...`), as the official `polytomic` SDK calls it.

Connections, bulk syncs with their schedules and schemas, and the organisation's webhook. Writes become
commands (`syncline.connections.commands.v1`, `syncline.syncs.commands.v1`) answered by their outcome events;
reads come from PostgreSQL. Every answer is wrapped in `{"data": ...}`, every error is Polytomic's
`{status, key, message, metadata}`. Writes honour `Idempotency-Key`; signed webhook deliveries run beside the
routes.
"""

from syncline_gateway.dialects.polytomic import errors
from syncline_gateway.dialects.polytomic.auth import SECURITY, authenticate
from syncline_gateway.dialects.polytomic.deliveries import Deliverer
from syncline_gateway.dialects.polytomic.models import LIMITS
from syncline_gateway.dialects.polytomic.routes import router
from syncline_gateway.dialects.registry import Dialect, IdempotencyRules
from syncline_gateway.service import Gateway
from syncline_gateway.settings import GatewaySettings


def _deliverer(settings: GatewaySettings, gateway: Gateway) -> Deliverer:
    return Deliverer(settings=settings, pool=gateway.pool, sealer=gateway.sealer)


def dialect() -> Dialect:
    """Polytomic's dialect: no product header; idempotency keys on POST, PUT and PATCH."""
    return Dialect(
        name="polytomic",
        prefixes=("/api",),
        router=router,
        authenticate=authenticate,
        security=SECURITY,
        render_error=errors.render,
        limits=LIMITS,
        idempotency=IdempotencyRules(header="Idempotency-Key", methods=frozenset({"POST", "PUT", "PATCH"})),
        workers=(_deliverer,),
    )
