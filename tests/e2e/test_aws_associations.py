"""AWS AppIntegrations associations moving real data, driven by boto3 alone (the connections their URIs name are
made with the Polytomic SDK, as any dialect's connections may be): an on-demand window copied PostgreSQL →
PostgreSQL and compared row by row and by checksum; a second window moving only its rows; a scheduled association
firing by itself; a folder and a Kafka destination; the run events every dialect's runs emit."""

import json
import time
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from polytomic import Polytomic
from tests.e2e.aws_support import (
    BASE_MS,
    HOUR_MS,
    checksum,
    client,
    integration,
    last_status,
    rows_of,
    seed_events,
    wait_status,
    window,
)
from tests.e2e.polytomic_support import connection, name
from tests.support.infra import kafka_destination, read_topic, unique
from tests.support.system import System

pytestmark = pytest.mark.e2e


@pytest.fixture
def aws(system: System) -> Any:
    return client(system)


async def test_on_demand_windows_copy_exactly_their_rows(
    aws: Any, api: Polytomic, source_db: tuple[str, str], target_db: tuple[str, str], system: System
) -> None:
    source_name, source_dsn = source_db
    target_name, target_dsn = target_db
    await seed_events(source_dsn, rows=range(1, 11))
    source, target = connection(api, source_name, "source"), connection(api, target_name, "destination")
    created = integration(aws, source)
    association = aws.create_data_integration_association(
        DataIntegrationIdentifier=created["Id"],
        DestinationURI=f"postgresql://Syncline/{target}",
        ClientAssociationMetadata={"schema": "copy"},
        ExecutionConfiguration=window(1, 10),
    )
    assert association["DataIntegrationArn"] == created["Arn"]
    status = wait_status(aws, created["Id"])
    assert status == {"ExecutionStatus": "COMPLETED"}
    assert await rows_of(target_dsn, "copy.events") == await rows_of(source_dsn, "events")
    assert await checksum(target_dsn, "copy.events") == await checksum(source_dsn, "events")
    assert len(await rows_of(target_dsn, "copy.events")) == 10

    # rows 11-20 arrive; the second window holds 13-15 only, and only those move
    await seed_events(source_dsn, rows=range(11, 21))
    aws.update_data_integration_association(
        DataIntegrationIdentifier=created["Arn"],
        DataIntegrationAssociationIdentifier=association["DataIntegrationAssociationId"],
        ExecutionConfiguration=window(13, 15),
    )
    status = wait_status(aws, created["Id"])
    assert status == {"ExecutionStatus": "COMPLETED"}
    copied = [r["id"] for r in await rows_of(target_dsn, "copy.events")]
    assert copied == [*range(1, 11), 13, 14, 15]
    listed = aws.list_data_integration_associations(DataIntegrationIdentifier=created["Id"])
    item = listed["DataIntegrationAssociations"][0]
    assert item["ExecutionConfiguration"] == window(13, 15)
    assert item["DestinationURI"] == f"postgresql://Syncline/{target}"
    assert item["DataIntegrationAssociationArn"].endswith(
        f"data-integration-association/{created['Id']}/{association['DataIntegrationAssociationId']}"
    )
    assert "DataIntegrationAssociationId" not in item


async def test_runs_emit_the_run_events_of_every_dialect(
    aws: Any, api: Polytomic, source_db: tuple[str, str], target_db: tuple[str, str], system: System
) -> None:
    source_name, source_dsn = source_db
    target_name, _ = target_db
    await seed_events(source_dsn, rows=range(1, 4))
    source, target = connection(api, source_name, "source"), connection(api, target_name, "destination")
    created = integration(aws, source)
    association = aws.create_data_integration_association(
        DataIntegrationIdentifier=created["Id"],
        DestinationURI=f"postgresql://Syncline/{target}",
        ExecutionConfiguration=window(0, 5),
    )
    assert wait_status(aws, created["Id"])["ExecutionStatus"] == "COMPLETED"
    sync_id = association["DataIntegrationAssociationId"]

    def types(records: list[Any]) -> list[str]:
        return [r.headers.get("ce_type", "") for r in records if json.loads(r.value).get("sync_id") == sync_id]

    records = await read_topic(
        system.topic("syncline.runs.events.v1"), until=lambda rs: "syncline.run.completed" in types(rs)
    )
    seen = types(records)
    assert seen[0] == "syncline.run.created"
    assert "syncline.run.started" in seen
    assert seen.count("syncline.run.completed") == 1


async def test_a_scheduled_association_fires_by_itself(
    aws: Any, api: Polytomic, source_db: tuple[str, str], target_db: tuple[str, str]
) -> None:
    source_name, source_dsn = source_db
    target_name, target_dsn = target_db
    await seed_events(source_dsn, rows=range(1, 6))
    source, target = connection(api, source_name, "source"), connection(api, target_name, "destination")
    created = integration(aws, source)
    aws.create_data_integration_association(
        DataIntegrationIdentifier=created["Id"],
        DestinationURI=f"postgresql://Syncline/{target}",
        ExecutionConfiguration={
            "ExecutionMode": "SCHEDULED",
            "ScheduleConfiguration": {"ScheduleExpression": "cron(* * * * ? *)", "Object": "events"},
        },
    )
    assert last_status(aws, created["Id"]) is None  # nothing ran on creation: the schedule decides
    status = wait_status(aws, created["Id"], timeout_s=150)
    assert status == {"ExecutionStatus": "COMPLETED"}
    assert [r["id"] for r in await rows_of(target_dsn, "public.events")] == [1, 2, 3, 4, 5]


async def test_integration_schedule_with_first_execution_from(
    aws: Any, api: Polytomic, source_db: tuple[str, str], target_db: tuple[str, str]
) -> None:
    """No ExecutionConfiguration: the integration's ScheduleConfig applies, FirstExecutionFrom bounding the first
    run's rows from below."""
    source_name, source_dsn = source_db
    target_name, target_dsn = target_db
    await seed_events(source_dsn, rows=range(1, 8))
    source, target = connection(api, source_name, "source"), connection(api, target_name, "destination")
    created = integration(
        aws,
        source,
        ScheduleConfig={"ScheduleExpression": "rate(1 minute)", "FirstExecutionFrom": str(BASE_MS + 4 * HOUR_MS)},
    )
    assert created["ScheduleConfiguration"]["ScheduleExpression"] == "rate(1 minute)"
    aws.create_data_integration_association(
        DataIntegrationIdentifier=created["Id"], DestinationURI=f"postgresql://Syncline/{target}"
    )
    status = wait_status(aws, created["Id"], timeout_s=150)
    assert status == {"ExecutionStatus": "COMPLETED"}
    assert [r["id"] for r in await rows_of(target_dsn, "public.events")] == [4, 5, 6, 7]


async def test_folder_destination(aws: Any, api: Polytomic, source_db: tuple[str, str], org_dir: Path) -> None:
    source_name, source_dsn = source_db
    await seed_events(source_dsn, rows=range(1, 6))
    source = connection(api, source_name, "source")
    folder = api.connections.create(name=name("folder"), type="file", configuration={"path": str(org_dir)}).data
    assert folder is not None
    created = integration(aws, source)
    aws.create_data_integration_association(
        DataIntegrationIdentifier=created["Id"],
        DestinationURI=f"file://Syncline/{folder.id}",
        ClientAssociationMetadata={"path": "out", "format": "jsonl"},
        ExecutionConfiguration=window(2, 4),
    )
    assert wait_status(aws, created["Id"]) == {"ExecutionStatus": "COMPLETED"}
    written = sorted((org_dir / "out").rglob("*.jsonl"))
    assert len(written) == 1, written
    lines = [json.loads(line) for line in written[0].read_text().splitlines()]
    assert sorted(line["id"] for line in lines) == [2, 3, 4]
    assert {line["name"] for line in lines} == {"event 2", "event 3", "event 4"}


async def test_kafka_destination(aws: Any, api: Polytomic, source_db: tuple[str, str], system: System) -> None:
    source_name, source_dsn = source_db
    await seed_events(source_dsn, rows=range(1, 5))
    source = connection(api, source_name, "source")
    broker = api.connections.create(name=name("kafka"), type="kafka", configuration=kafka_destination()).data
    assert broker is not None
    topic = unique("aws_events")
    created = integration(aws, source)
    aws.create_data_integration_association(
        DataIntegrationIdentifier=created["Id"],
        DestinationURI=f"kafka://Syncline/{broker.id}",
        ClientAssociationMetadata={"topic": topic},
        ExecutionConfiguration=window(0, 10),
    )
    assert wait_status(aws, created["Id"]) == {"ExecutionStatus": "COMPLETED"}
    records = await read_topic(topic, until=lambda rs: len(rs) >= 4)
    messages = [json.loads(r.value) for r in records]  # DRS's Kafka message shape: the row in `data`
    assert sorted(int(m["data"][0]["id"]) for m in messages) == [1, 2, 3, 4]
    assert {m["data"][0]["name"] for m in messages} == {"event 1", "event 2", "event 3", "event 4"}


async def test_a_rerun_waits_for_the_running_run(
    aws: Any, api: Polytomic, source_db: tuple[str, str], target_db: tuple[str, str], system: System
) -> None:
    """UpdateDataIntegrationAssociation while the on-demand run still moves rows: the rerun is queued behind it,
    never run beside it, and then runs with the new window."""
    source_name, source_dsn = source_db
    target_name, target_dsn = target_db
    conn = await asyncpg.connect(source_dsn)
    try:
        await conn.execute(
            "CREATE TABLE big (id bigint PRIMARY KEY, payload text, at timestamptz NOT NULL);"
            " INSERT INTO big SELECT g, repeat(md5(g::text), 8), to_timestamp(1767225600 + g)"
            " FROM generate_series(1, 400000) g"
        )
    finally:
        await conn.close()
    source, target = connection(api, source_name, "source"), connection(api, target_name, "destination")
    created = integration(aws, source, ObjectConfiguration={"public.big": {"tracking_field": ["at"]}})
    association = aws.create_data_integration_association(
        DataIntegrationIdentifier=created["Id"],
        DestinationURI=f"postgresql://Syncline/{target}",
        ExecutionConfiguration=window(0, 400_000 // 3600 + 1),  # every row (one per second)
    )
    assert last_status(aws, created["Id"]) == {"ExecutionStatus": "IN_PROGRESS"}
    second = {"ExecutionMode": "ON_DEMAND", "OnDemandConfiguration": {"StartTime": str(BASE_MS)}}
    aws.update_data_integration_association(
        DataIntegrationIdentifier=created["Id"],
        DataIntegrationAssociationIdentifier=association["DataIntegrationAssociationId"],
        ExecutionConfiguration=second,
    )
    assert last_status(aws, created["Id"]) == {"ExecutionStatus": "IN_PROGRESS"}
    deadline = time.monotonic() + 180
    runs: list[dict[str, Any]] = []
    while len(runs) < 2 or any(r["status"] != "completed" for r in runs):
        assert time.monotonic() < deadline, runs
        time.sleep(0.3)
        db = await asyncpg.connect(system.database_url)
        try:
            found = await db.fetch(
                "SELECT status, started_at, completed_at FROM scheduler_read.runs WHERE sync_id = $1"
                " ORDER BY created_at",
                association["DataIntegrationAssociationId"],
            )
        finally:
            await db.close()
        runs = [dict(r) for r in found]
        assert len(runs) <= 2, runs
    first, rerun = runs
    assert rerun["started_at"] >= first["completed_at"]  # one after the other, never side by side
    assert wait_status(aws, created["Id"]) == {"ExecutionStatus": "COMPLETED"}
    conn = await asyncpg.connect(target_dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM public.big") == 400_000
    finally:
        await conn.close()


async def test_a_failed_run_is_failed_with_its_message(
    aws: Any, api: Polytomic, source_db: tuple[str, str], target_db: tuple[str, str]
) -> None:
    source_name, source_dsn = source_db
    await seed_events(source_dsn, rows=range(1, 3))
    source, target = connection(api, source_name, "source"), connection(api, target_db[0], "destination")
    created = integration(aws, source, ObjectConfiguration={"public.missing": {"tracking_field": ["at"]}})
    aws.create_data_integration_association(
        DataIntegrationIdentifier=created["Id"],
        DestinationURI=f"postgresql://Syncline/{target}",
        ExecutionConfiguration=window(0, 5),
    )
    status = wait_status(aws, created["Id"])
    assert status["ExecutionStatus"] == "FAILED"
    assert "missing" in status["StatusMessage"]
