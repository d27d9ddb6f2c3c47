"""Connectors resolved by connection type: the executor asks for a source or a destination of a spec; checks and
discovery (`connection_types`) ask for the connector of one endpoint. Every tenant endpoint is opened within its
organisation's `Reach`: file folders inside the organisation's folder, PostgreSQL anywhere but Syncline's own
databases (refused by `postgres.connect`)."""

from dataclasses import replace
from pathlib import Path
from typing import Any

from syncline_connectors.docstore import DocumentStore
from syncline_connectors.files import FilesConfig, FilesDestination, FilesSource
from syncline_connectors.kafka import KafkaConfig, KafkaDestination
from syncline_connectors.postgres import PostgresConfig, PostgresSource
from syncline_connectors.postgres_dest import PostgresDestination
from syncline_connectors.reach import Reach
from syncline_connectors.spec import DestinationType, Endpoint, KafkaPolicy, SourceType, SyncSpec
from syncline_connectors.sync_rules import active_rules
from syncline_platform.errors import InvalidError

Source = PostgresSource | FilesSource
Destination = PostgresDestination | FilesDestination | KafkaDestination | DocumentStore


def source_for(spec: SyncSpec, config: dict[str, Any], *, reach: Reach, batch_rows: int = 100_000) -> Source:
    """The source connector of `spec` (not yet entered); `config` has its secrets opened. A files source needs
    the folder (`reach.files`) its folder must lie in."""
    source = _source(spec.source.type, config, batch_rows=batch_rows, reach=reach)
    if source is None:
        raise InvalidError(f"no source connector for connection type [{spec.source.type}]")
    return source


def _source(
    endpoint_type: str,
    config: dict[str, Any],
    *,
    reach: Reach,
    batch_rows: int = 100_000,
    timeout_s: float | None = None,
) -> Source | None:
    match endpoint_type:
        case SourceType.POSTGRESQL:
            where = _postgres(config, reach)
            if timeout_s is not None:
                where = replace(where, connect_timeout_s=timeout_s)
            return PostgresSource(where, batch_rows=batch_rows)
        case SourceType.FILES:
            return FilesSource(FilesConfig.from_values(config, root=_files_root(reach)))
    return None


def endpoint_for(
    endpoint: Endpoint, config: dict[str, Any], *, reach: Reach, timeout_s: float | None = None
) -> Source | KafkaDestination:
    """The connector that checks (and, when it reads, discovers) one endpoint, not yet entered: its source, or its
    destination when it cannot be read from. `config` has its secrets opened; `timeout_s` bounds how long opening
    it waits for the other side."""
    if endpoint.type == DestinationType.KAFKA:
        kafka = replace(KafkaConfig.from_values(config), network=reach.network)
        if timeout_s is not None:
            kafka = replace(kafka, timeout_s=timeout_s)
        return KafkaDestination(kafka, policy=KafkaPolicy(topic_policy=1), database="")
    source = _source(endpoint.type, config, reach=reach, timeout_s=timeout_s)
    if source is None:
        raise InvalidError(f"no connector for connection type [{endpoint.type}]")
    return source


def destination_for(
    spec: SyncSpec,
    config: dict[str, Any],
    *,
    run_id: str,
    reach: Reach,
    docstore_dsn: str | None = None,
) -> Destination:
    """The destination connector of `spec` (not yet entered); `config` has its secrets opened. A files
    destination needs the folder (`reach.files`) its folder must lie in; the document store is the one at
    `docstore_dsn` (the executor's), unless the spec addresses one itself."""
    match spec.destination_type:
        case DestinationType.POSTGRESQL:
            return PostgresDestination(
                _postgres(config, reach),
                schema=config.get("schema") or "public",
                new_fields=spec.new_fields,
                record_timestamps=spec.record_timestamps,
                copy_indexes=spec.copy_indexes,
            )
        case DestinationType.FILES:
            return FilesDestination(
                FilesConfig.from_values(config, root=_files_root(reach)),
                file_format=spec.file_format,
                run_id=run_id,
                sync_id=spec.sync_id,
            )
        case DestinationType.KAFKA:
            return KafkaDestination(
                replace(KafkaConfig.from_values(config), network=reach.network),
                policy=spec.kafka or KafkaPolicy(topic_policy=1),
                database=str(spec.source.config.get("database") or spec.source.type),
            )
        case DestinationType.DOCSTORE:
            return DocumentStore(
                dsn=config.get("dsn") or _docstore_dsn(docstore_dsn),
                schema=config["schema"],
                index=config["index"],
                run_id=run_id,
                mode=spec.mode,
                rules=active_rules(config.get("filtering")),
            )
    raise InvalidError(f"no destination connector for connection type [{spec.destination.type}]")


def _docstore_dsn(dsn: str | None) -> str:
    if dsn is None:
        raise InvalidError("the spec writes to the document store, and this process knows none")
    return dsn


def _postgres(config: dict[str, Any], reach: Reach) -> PostgresConfig:
    """A tenant's PostgreSQL endpoint, kept away from Syncline's own databases."""
    return replace(PostgresConfig.from_values(config), own=reach.own, network=reach.network)


def _files_root(reach: Reach) -> Path:
    if reach.files is None:
        raise InvalidError("file connections need a files root (SYNCLINE_FILES__ROOT), and this process has none")
    return reach.files
