"""One compiler per dialect: a dialect's definition → the data plane's `SyncSpec`, at configuration time.

Each compiler (`polytomic.py`, `elastic.py`) turns a stored definition into one `Compiled` and keeps it in
`policy.sync_specs` through `store`, whenever the definition (or a connection it uses) changes. The scheduler
snapshots that row into every new run: the spec of the run's job type, and what the dialect shows of the
definition; the executor reads only the spec. Secrets stay sealed inside the specs' endpoints.
"""

from dataclasses import dataclass, field
from typing import Any

from syncline_connectors.spec import SyncSpec
from syncline_platform.db import Conn
from syncline_platform.errors import ConflictError
from syncline_policy import sync_repository as repo


@dataclass(frozen=True)
class Compiled:
    """A definition compiled for its runs."""

    dialect: str
    """The dialect that made the definition."""
    definition: dict[str, Any]
    """What a run keeps of the definition for its dialect to show (Elastic's sync-job `connector`)."""
    specs: dict[str, SyncSpec] = field(default_factory=dict)
    """The spec of each job type the executor runs (endpoint secrets sealed inside); empty when Syncline has no
    connector for the definition (an external worker runs it)."""
    sealed_secrets: dict[str, str] = field(default_factory=dict)
    """The definition's own secrets, sealed, as its dialect shows them with a run (Elastic's `is_set`)."""
    error: str | None = None
    """Why the definition does not compile to a spec; its runs fail with it."""


class SyncIdTakenError(ConflictError):
    """The organisation already has a sync of another dialect under this id (an Elastic connector id is chosen
    by the client, and could be the id of one of the organisation's bulk syncs, data integrations or jobs)."""

    def __init__(self, *, sync_id: str, dialect: str) -> None:
        self.sync_id = sync_id
        self.dialect = dialect
        super().__init__(f"the id [{sync_id}] is already taken by another sync of the organisation")


async def store(conn: Conn, *, org_id: str, sync_id: str, compiled: Compiled) -> None:
    """Keep `compiled` as the sync's compiled form, for its next runs; `SyncIdTakenError` when the organisation
    has a sync of another dialect under `sync_id` (the caller's transaction then writes nothing)."""
    stored = await repo.save_compiled(
        conn,
        org_id=org_id,
        sync_id=sync_id,
        dialect=compiled.dialect,
        definition=compiled.definition,
        sealed_secrets=compiled.sealed_secrets,
        specs={job_type: spec.model_dump(mode="json") for job_type, spec in compiled.specs.items()},
        error=compiled.error,
    )
    if not stored:
        raise SyncIdTakenError(sync_id=sync_id, dialect=compiled.dialect)
