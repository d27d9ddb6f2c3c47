"""Input that cannot be kept is answered 400/422 in each dialect's own format, through the whole system, and never
dead-lettered after a success answer: a filtering rule's `"order": "x"` (Elastic), a 5,000-character name (both
dialects), `concurrency_limit: 3000000000` (Polytomic), a CSV header over the csv module's 128 KiB field limit
(discovery of a file connection, and a bulk sync made from it). Policy's own handling of what gets past the
gateway's bounds is `tests/integration/test_policy_invalid_input.py`."""

import uuid
from collections.abc import Iterator

import pytest
from elasticsearch import BadRequestError as ElasticBadRequest
from elasticsearch import Elasticsearch
from polytomic import BulkSyncDefaultScheduleRequest, Polytomic
from polytomic.core.api_error import ApiError
from tests.e2e.polytomic_support import NO_RETRY, name, pg_config, polytomic, wait_for_policy
from tests.support.infra import Record, read_topic
from tests.support.system import System

from syncline_contracts.topics import CONNECTION_COMMANDS, CONNECTOR_COMMANDS, SYNC_COMMANDS

pytestmark = pytest.mark.e2e


def long_name(marker: str) -> str:
    """5,000 characters that do not compress (so a unique index cannot hold them), starting with `marker`."""
    text = marker
    while len(text) < 5000:
        text += uuid.uuid4().hex
    return text[:5000]


def refused(caught: pytest.ExceptionInfo[ApiError]) -> tuple[int | None, str]:
    """A Polytomic error's status and message (the SDK raises its own class for the statuses a route declares,
    a plain ApiError for the others), checked to be in Polytomic's shape."""
    body = caught.value.body
    body = body if isinstance(body, dict) else body.dict()
    assert set(body) >= {"status", "key", "message"}, body
    assert body["status"] == caught.value.status_code
    return caught.value.status_code, str(body["message"])


async def dead_letters(system: System, marker: str) -> list[Record]:
    """Records of policy's command DLQs that carry `marker`."""
    found: list[Record] = []
    for topic in (CONNECTOR_COMMANDS, CONNECTION_COMMANDS, SYNC_COMMANDS):
        records = await read_topic(topic.dlq(system.topic_prefix), until=lambda _: False, timeout_s=3)
        found += [r for r in records if marker.encode() in r.value]
    return found


@pytest.fixture
def es(system: System) -> Elasticsearch:
    return Elasticsearch(system.url, api_key=system.key["encoded"], request_timeout=30, max_retries=0)


@pytest.fixture
def own(system: System) -> Iterator[Polytomic]:
    org = system.admin("create-org", "invalid input")
    key = system.admin("create-key", "--org", org["id"])
    with polytomic(system, token=key["encoded"]) as sdk:
        wait_for_policy(sdk)
        yield sdk


async def test_elastic_answers_400_and_dead_letters_nothing(system: System, es: Elasticsearch) -> None:
    marker = f"bad-{uuid.uuid4().hex[:12]}"
    es.connector.put(connector_id=marker, name="Orders", index_name=marker, service_type="postgresql")
    rule = {"id": "r1", "order": "x", "policy": "exclude", "field": "status", "rule": "equals", "value": "x"}
    with pytest.raises(ElasticBadRequest) as ordered:
        es.connector.update_filtering(connector_id=marker, rules=[rule])
    assert (ordered.value.status_code, ordered.value.error) == (400, "illegal_argument_exception")
    assert "order" in str(ordered.value.info)

    for update in (
        lambda: es.connector.update_name(connector_id=marker, name=long_name(marker)),
        lambda: es.connector.put(connector_id=f"{marker}-2", name=long_name(marker), index_name=marker),
    ):
        with pytest.raises(ElasticBadRequest) as named:
            update()
        assert named.value.status_code == 400
        assert named.value.body["error"]["root_cause"][0]["type"] == "action_request_validation_exception"

    assert es.connector.get(connector_id=marker)["name"] == "Orders"
    assert await dead_letters(system, marker) == []


async def test_polytomic_answers_400_or_422_and_dead_letters_nothing(
    system: System, own: Polytomic, source_db: tuple[str, str]
) -> None:
    database, _ = source_db
    marker = f"bad{uuid.uuid4().hex[:12]}"
    with pytest.raises(ApiError) as named:
        own.connections.create(
            name=long_name(marker), type="postgresql", configuration=pg_config(database), request_options=NO_RETRY
        )
    status, message = refused(named)
    assert (status, "[name]" in message) == (400, True)

    source = own.connections.create(name=name("src"), type="postgresql", configuration=pg_config(database)).data
    assert source is not None
    assert source.id
    sync = {
        "name": name(marker),
        "source_connection_id": source.id,
        "destination_connection_id": source.id,
        "destination_configuration": {"schema": "copy"},
        "default_schedule": BulkSyncDefaultScheduleRequest(frequency="manual"),
        "request_options": NO_RETRY,
    }
    for changes in ({"concurrency_limit": 3_000_000_000}, {"resync_concurrency_limit": -3_000_000_000}):
        with pytest.raises(ApiError) as limited:
            own.bulk_sync.create(**(sync | changes))
        status, message = refused(limited)
        assert (status, "concurrency_limit" in message) == (400, True)
    with pytest.raises(ApiError) as long_sync:
        own.bulk_sync.create(**(sync | {"name": long_name(marker)}))
    assert refused(long_sync)[0] == 400
    with pytest.raises(ApiError) as below:
        own.bulk_sync.create(**(sync | {"concurrency_limit": 0}))  # in range, against policy's rule: 422
    assert refused(below)[0] == 422

    assert [s for s in own.bulk_sync.list().data or [] if marker in (s.name or "")] == []
    assert [c for c in own.connections.list().data or [] if marker in (c.name or "")] == []
    assert await dead_letters(system, marker) == []


async def test_a_csv_header_over_the_field_limit_is_422(
    system: System, own: Polytomic, source_db: tuple[str, str]
) -> None:
    database, _ = source_db
    folder = own.connections.create(name=name("wide"), type="file", configuration={"path": "wide"}).data
    assert folder is not None
    assert folder.id
    wide = system.org_root(folder.organization_id) / "wide"  # the path is relative to the organisation's folder
    wide.mkdir()
    (wide / "a.csv").write_text("id," + "h" * 200_000 + "\n1,2\n")
    with pytest.raises(ApiError) as discovered:
        own.bulk_sync.get_source(folder.id, include_fields=True, request_options=NO_RETRY)
    status, message = refused(discovered)
    assert status == 422
    assert "[a.csv]" in message
    assert "longer than" in message

    target = own.connections.create(name=name("dst"), type="postgresql", configuration=pg_config(database)).data
    assert target is not None
    assert target.id
    with pytest.raises(ApiError) as synced:
        own.bulk_sync.create(
            name=name("wide sync"),
            source_connection_id=folder.id,
            destination_connection_id=target.id,
            destination_configuration={"schema": "copy"},
            default_schedule=BulkSyncDefaultScheduleRequest(frequency="manual"),
            request_options=NO_RETRY,
        )
    status, message = refused(synced)
    assert status == 422
    assert "[a.csv]" in message
