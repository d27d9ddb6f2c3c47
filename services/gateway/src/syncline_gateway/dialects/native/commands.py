"""The commands of Syncline's own interface over the one sync model, built once for the native API (`/v1`) and the
tenant Kafka interface (`kafka.bridge`): each checks the resource is the organisation's, then names the
internal topic and message to send."""

from dataclasses import dataclass
from typing import Any

from syncline_contracts.base import Message
from syncline_contracts.runs import CancelRun, CreateSyncJob
from syncline_contracts.status import JobType
from syncline_contracts.syncs import BulkSyncDefinition, CreateBulkSync, DeleteBulkSync, UpdateBulkSync
from syncline_contracts.topics import RUN_COMMANDS, SYNC_COMMANDS, Topic
from syncline_gateway.dialects.native import reads
from syncline_gateway.errors import BadRequestError, ResourceNotFoundError
from syncline_platform.db import Conn


@dataclass(frozen=True)
class Command:
    """An internal command ready to send, and what it concerns."""

    topic: Topic
    message: Message
    resource_id: str
    sync_id: str | None


async def sync_or_404(conn: Conn, *, org_id: str, sync_id: str) -> dict[str, Any]:
    """A sync of the organisation (of any dialect), or `ResourceNotFoundError`."""
    found = await reads.syncs(conn, org_id=org_id, sync_id=sync_id)
    if not found:
        raise ResourceNotFoundError(kind="sync", resource_id=sync_id, message=f"sync {sync_id} not found")
    return found[0]


async def run_or_404(conn: Conn, *, org_id: str, run_id: str) -> dict[str, Any]:
    """A run of the organisation, or `ResourceNotFoundError`."""
    row = await reads.run(conn, org_id=org_id, run_id=run_id)
    if row is None:
        raise ResourceNotFoundError(kind="run", resource_id=run_id, message=f"run {run_id} not found")
    return row


async def start_run(conn: Conn, *, org_id: str, sync_id: str, job_type: JobType, run_id: str) -> Command:
    """Start a run of a sync now; refused while another run of it is going (`exclusive`)."""
    sync = await sync_or_404(conn, org_id=org_id, sync_id=sync_id)
    if sync["job_types"] and job_type.value not in sync["job_types"]:
        raise BadRequestError(f"sync {sync_id} has no {job_type.value} runs")
    message = CreateSyncJob(run_id=run_id, sync_id=sync_id, job_type=job_type, exclusive=True)
    return Command(topic=RUN_COMMANDS, message=message, resource_id=run_id, sync_id=sync_id)


async def cancel_run(conn: Conn, *, org_id: str, run_id: str) -> Command:
    """Cancel a run of the organisation."""
    run = await run_or_404(conn, org_id=org_id, run_id=run_id)
    return Command(topic=RUN_COMMANDS, message=CancelRun(run_id=run_id), resource_id=run_id, sync_id=run["sync_id"])


def create_sync(*, definition: BulkSyncDefinition, sync_id: str, actor: str) -> Command:
    """Create a sync (policy checks the connections are the organisation's, the name unique)."""
    message = CreateBulkSync(sync_id=sync_id, definition=definition, actor=actor)
    return Command(topic=SYNC_COMMANDS, message=message, resource_id=sync_id, sync_id=sync_id)


async def update_sync(conn: Conn, *, org_id: str, sync_id: str, definition: BulkSyncDefinition, actor: str) -> Command:
    """Replace a sync's definition."""
    await sync_or_404(conn, org_id=org_id, sync_id=sync_id)
    message = UpdateBulkSync(sync_id=sync_id, definition=definition, actor=actor)
    return Command(topic=SYNC_COMMANDS, message=message, resource_id=sync_id, sync_id=sync_id)


async def delete_sync(conn: Conn, *, org_id: str, sync_id: str) -> Command:
    """Delete a sync and its runs."""
    await sync_or_404(conn, org_id=org_id, sync_id=sync_id)
    return Command(topic=SYNC_COMMANDS, message=DeleteBulkSync(sync_id=sync_id), resource_id=sync_id, sync_id=sync_id)
