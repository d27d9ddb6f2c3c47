"""Connection checks: does a connector's configuration reach a working source? Decides `connected` vs `error`.

The check is the source connector's own `check()` (the one the executor opens for runs): the database answers and
the configured tables exist in the configured schema, as its discovery finds them.
"""

from typing import Any

import structlog

from syncline_connectors.reach import Reach
from syncline_connectors.registry import endpoint_for
from syncline_connectors.spec import Endpoint, SourceType
from syncline_platform.errors import InvalidError, UnavailableError
from syncline_platform.network import ReachRefusedError

log = structlog.get_logger(__name__)
CHECK_TIMEOUT_S = 5.0


async def check_postgresql(values: dict[str, Any], *, password: str, reach: Reach) -> str | None:
    """None when the database answers and the configured tables exist; otherwise why not. One of Syncline's own
    databases, or a host where tenants' connections may not go, is not a failed check but refused
    (ReachRefusedError)."""
    source = endpoint_for(
        Endpoint(type=SourceType.POSTGRESQL, config=values),
        values | {"password": password},
        reach=reach,
        timeout_s=CHECK_TIMEOUT_S,
    )
    try:
        async with source:
            await source.check()
    except ReachRefusedError:
        raise
    except (UnavailableError, InvalidError, OSError) as exc:
        return str(exc)
    return None
