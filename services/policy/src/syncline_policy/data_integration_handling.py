"""Which rule each data integration command runs, and where each of its events goes: schedules to
`syncline.syncs.events.v1` (the scheduler's), everything else to `syncline.data_integrations.events.v1`."""

from syncline_contracts.base import Message
from syncline_contracts.data_integrations import (
    CreateDataIntegration,
    CreateDataIntegrationAssociation,
    DataIntegrationCommand,
    DeleteDataIntegration,
    TagDataIntegration,
    UntagDataIntegration,
    UpdateDataIntegration,
    UpdateDataIntegrationAssociation,
)
from syncline_contracts.schedules import SchedulesConfigured
from syncline_contracts.topics import DATA_INTEGRATION_EVENTS, SYNC_EVENTS, Topic
from syncline_platform.db import Conn
from syncline_policy import data_integrations as rules


async def _events(conn: Conn, *, org_id: str, command: DataIntegrationCommand) -> list[Message]:  # noqa: PLR0911
    match command:
        case CreateDataIntegration():
            return await rules.create_integration(conn, org_id=org_id, cmd=command)
        case UpdateDataIntegration():
            return await rules.update_integration(conn, org_id=org_id, cmd=command)
        case DeleteDataIntegration():
            return await rules.delete_integration(conn, org_id=org_id, cmd=command)
        case TagDataIntegration():
            return await rules.tag_integration(conn, org_id=org_id, cmd=command)
        case UntagDataIntegration():
            return await rules.untag_integration(conn, org_id=org_id, cmd=command)
        case CreateDataIntegrationAssociation():
            return await rules.create_association(conn, org_id=org_id, cmd=command)
        case UpdateDataIntegrationAssociation():
            return await rules.update_association(conn, org_id=org_id, cmd=command)


async def apply(conn: Conn, *, org_id: str, command: DataIntegrationCommand) -> list[tuple[Topic, Message]]:
    """The command's events, each with its topic (the answer first)."""
    events = await _events(conn, org_id=org_id, command=command)
    return [(SYNC_EVENTS if isinstance(e, SchedulesConfigured) else DATA_INTEGRATION_EVENTS, e) for e in events]
