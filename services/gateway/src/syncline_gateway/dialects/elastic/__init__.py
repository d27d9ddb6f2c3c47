"""Elasticsearch connector and sync-job APIs (`/_connector/...`), as the official client calls them."""

from types import MappingProxyType

from syncline_gateway.dialects.elastic import errors
from syncline_gateway.dialects.elastic.auth import SECURITY, authenticate
from syncline_gateway.dialects.elastic.errors import PRODUCT_HEADER
from syncline_gateway.dialects.elastic.models import LIMITS
from syncline_gateway.dialects.elastic.routes import router
from syncline_gateway.dialects.registry import Dialect

__all__ = ["PRODUCT_HEADER", "dialect"]


def dialect() -> Dialect:
    """Elasticsearch's dialect: no idempotency keys (its connector APIs have none)."""
    return Dialect(
        name="elastic",
        prefixes=("/_connector",),
        router=router,
        authenticate=authenticate,
        security=SECURITY,
        render_error=errors.render,
        headers=MappingProxyType(PRODUCT_HEADER),
        limits=LIMITS,
    )
