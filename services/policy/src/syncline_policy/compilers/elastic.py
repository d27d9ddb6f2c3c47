"""Elastic's compiler: a connector → the data plane's `SyncSpec` of each job type Syncline runs (full and
incremental differ in mode and tracking field), kept in `policy.sync_specs` on every write of the connector
(configuration and secrets, filtering/sync rules, scheduling, index, cursor, …), so the scheduler can snapshot it
for a new run.

The destination is named, not addressed: the document store, the connector's index, in its organisation's schema
(`syncline_connectors.docstore.index_schema`); the executor adds the document store's DSN, its own setting. The
source's password stays sealed. A connector of a service type Syncline has no source for compiles to no spec (an
external worker runs its jobs); one that cannot run (no index) compiles to its error, which its runs fail with.
"""

from typing import Any

from syncline_connectors.elastic import UnsupportedServiceTypeError, elastic_sync_key, spec_from_connector
from syncline_connectors.spec import SyncSpec
from syncline_contracts.status import JobType
from syncline_platform.db import Conn
from syncline_platform.errors import InvalidError
from syncline_policy import repository
from syncline_policy import sync_repository as repo
from syncline_policy.compilers import Compiled, store

DIALECT = "elastic"

JOB_TYPES = (JobType.FULL, JobType.INCREMENTAL)
"""The job types Syncline's executor runs (access-control jobs are refused when they are asked for)."""

_SHOWN = ("id", "configuration", "filtering", "index_name", "language", "service_type", "sync_cursor")
"""What a sync job shows of its connector (Elastic's sync-job `connector`)."""


def _spec(definition: dict[str, Any], *, org_id: str, sealed: dict[str, str], job_type: JobType) -> SyncSpec:
    spec = spec_from_connector(definition, org_id=org_id, sealed_secrets=sealed, job_type=job_type.value)
    # connector ids are chosen by clients and repeat across organisations: state that outlives runs (cursors,
    # replication slots) is keyed by the organisation too
    return spec.model_copy(update={"sync_id": elastic_sync_key(org_id=org_id, connector_id=str(definition["id"]))})


def compile_connector(row: dict[str, Any], *, org_id: str) -> Compiled:
    """A stored connector of the organisation `org_id`, compiled for its runs."""
    definition = {key: row.get(key) for key in _SHOWN}
    sealed = dict(row.get("sealed_secrets") or {})
    compiled = Compiled(dialect=DIALECT, definition=definition, sealed_secrets=sealed)
    try:
        specs = {t.value: _spec(definition, org_id=org_id, sealed=sealed, job_type=t) for t in JOB_TYPES}
    except UnsupportedServiceTypeError:
        return compiled
    except InvalidError as exc:
        return Compiled(dialect=DIALECT, definition=definition, sealed_secrets=sealed, error=str(exc))
    return Compiled(dialect=DIALECT, definition=definition, sealed_secrets=sealed, specs=specs)


async def store_spec(conn: Conn, *, org_id: str, connector_id: str) -> None:
    """Compile the stored connector and keep its specs for its runs (nothing when it is gone)."""
    row = await repository.get_connector(conn, org_id=org_id, connector_id=connector_id)
    if row is not None:
        await store(conn, org_id=org_id, sync_id=connector_id, compiled=compile_connector(row, org_id=org_id))


async def forget(conn: Conn, *, org_id: str, connector_id: str) -> None:
    """A deleted connector's compiled form goes with it."""
    await repo.delete_compiled(conn, org_id=org_id, sync_id=connector_id, dialect=DIALECT)


async def compile_missing(conn: Conn) -> int:
    """Compile the connectors that have no compiled form yet (stored before policy compiled them); how many."""
    rows = await repository.uncompiled_connectors(conn)
    for row in rows:
        await store(
            conn, org_id=row["org_id"], sync_id=row["id"], compiled=compile_connector(row, org_id=row["org_id"])
        )
    return len(rows)
