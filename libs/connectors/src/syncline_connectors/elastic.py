"""An Elastic connector as a `SyncSpec` (policy's Elastic compiler builds its specs with it): PostgreSQL tables into
a document-store index in the organisation's own schema.

A full job upserts every row as a document and deletes the documents whose rows are gone; an incremental job
upserts what changed since the sync's last position (every row when the sync has no tracking field) and deletes
nothing. A tracking field may come from the connector's `sync_cursor` (`{"tracking_field": "<column>"}`).
"""

from typing import Any

from syncline_connectors.docstore import index_schema
from syncline_connectors.spec import (
    Discover,
    Endpoint,
    Mode,
    NormalizeNames,
    ObjectSpec,
    SyncSpec,
)
from syncline_platform.errors import InvalidError

SOURCE_KEYS = ("host", "port", "username", "database", "schema", "tables", "ssl_enabled")


class UnsupportedServiceTypeError(InvalidError):
    """The connector's service type has no source in Syncline."""

    def __init__(self, service_type: str | None) -> None:
        self.service_type = service_type
        super().__init__(f"no source connector for service type [{service_type}]")


def elastic_sync_key(*, org_id: str, connector_id: str) -> str:
    """The key of an Elastic connector's lasting sync state (cursors, slots): connector ids repeat across
    organisations, so the organisation is part of it."""
    return f"{org_id}/{connector_id}"


def spec_from_connector(
    connector: dict[str, Any],
    *,
    org_id: str,
    sealed_secrets: dict[str, str],
    job_type: str,
    docstore_dsn: str | None = None,
) -> SyncSpec:
    """The spec of one Elastic sync job of the organisation `org_id` (whose schema holds the index). Without
    `docstore_dsn` the destination names the document store without addressing it (policy compiles it so): the
    executor that runs the spec adds its own."""
    if connector.get("service_type") != "postgresql":
        raise UnsupportedServiceTypeError(connector.get("service_type"))
    if not connector.get("index_name"):
        raise InvalidError(f"connector [{connector.get('id')}] has no index_name")
    values = connector.get("configuration") or {}
    schema = values.get("schema") or "public"
    tables = values.get("tables") or "*"
    cursor = connector.get("sync_cursor")
    cursor = cursor if isinstance(cursor, dict) else {}
    tracking = (values.get("tracking_field") or cursor.get("tracking_field")) if job_type == "incremental" else None
    everything = tables in ("*", ["*"])
    objects = (
        () if everything else tuple(ObjectSpec(name=t, schema_name=schema, tracking_field=tracking) for t in tables)
    )
    return SyncSpec(
        sync_id=str(connector.get("id")),
        source=Endpoint(
            type="postgresql",
            config={k: values[k] for k in SOURCE_KEYS if k in values} | {"schema": schema},
            sealed_secrets={k: v for k, v in sealed_secrets.items() if k == "password"},
        ),
        destination=Endpoint(
            type="docstore",
            config={
                "schema": index_schema(org_id),
                "index": connector["index_name"],
                "filtering": connector.get("filtering") or [],  # Elastic's sync rules, applied before indexing
            }
            | ({"dsn": docstore_dsn} if docstore_dsn else {}),
        ),
        objects=objects,
        mode=Mode.INCREMENTAL if job_type == "incremental" else Mode.FULL_WITH_DELETES,
        new_objects=Discover.ALL if everything else Discover.NONE,
        normalize_names=NormalizeNames.DISABLED,
    )
