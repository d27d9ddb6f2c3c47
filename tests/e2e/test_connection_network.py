"""Where a tenant's PostgreSQL and Kafka connections may point (`SYNCLINE_NETWORK__*`), through two dialects'
official SDKs: a host that is, or resolves to, a link-local or metadata address, or one in a denied network (the
test system denies 203.0.113.0/24), is refused before anything connects, in the dialect's own error format (Polytomic
422, Elastic 400 `illegal_argument_exception`), on create (validated or not), update and test."""

from collections.abc import Iterator
from typing import Any

import pytest
from elasticsearch import BadRequestError, Elasticsearch
from polytomic import Polytomic
from polytomic.core.api_error import ApiError
from tests.e2e.polytomic_support import name, pg_config
from tests.support.infra import unique
from tests.support.system import System

pytestmark = pytest.mark.e2e

REFUSED_HOSTS = {
    "169.254.169.254": "a link-local address",
    "[fe80::1]": "a link-local address",
    "metadata.google.internal": "a metadata service",
    "100.100.100.200": "a metadata address",
    "203.0.113.7": "in a denied network",
}


def refused(caught: pytest.ExceptionInfo[ApiError]) -> str:
    assert caught.value.status_code == 422, caught.value.body
    body = caught.value.body
    return str(body.get("message") if isinstance(body, dict) else getattr(body, "message", body))


def test_polytomic_connections_cannot_point_at_refused_addresses(api: Polytomic) -> None:
    for host, why in REFUSED_HOSTS.items():
        configuration = pg_config("postgres", hostname=host.strip("[]"))
        for validate in (True, False):
            with pytest.raises(ApiError) as created:
                api.connections.create(
                    name=name("net"), type="postgresql", configuration=configuration, validate=validate
                )
            assert why in refused(created), host
        with pytest.raises(ApiError) as tested:
            api.connections.test_connection(type="postgresql", configuration=configuration)
        assert why in refused(tested), host

    kafka: dict[str, Any] = {"bootstrap_servers": "127.0.0.1:9, 203.0.113.7:9092"}
    with pytest.raises(ApiError) as created:
        api.connections.create(name=name("net"), type="kafka", configuration=kafka, validate=True)
    assert "in a denied network" in refused(created)

    fine = api.connections.create(name=name("net"), type="postgresql", configuration=pg_config("postgres")).data
    assert fine is not None
    assert fine.id
    with pytest.raises(ApiError) as updated:
        api.connections.update(
            fine.id,
            name=fine.name or "",
            type="postgresql",
            configuration=pg_config("postgres", hostname="169.254.1.1"),
        )
    assert "a link-local address" in refused(updated)
    stored = api.connections.get(fine.id).data
    assert stored is not None
    assert stored.configuration is not None
    assert stored.configuration["hostname"] == pg_config("postgres")["hostname"]  # unchanged


@pytest.fixture
def es(system: System) -> Iterator[Elasticsearch]:
    with Elasticsearch(system.url, api_key=system.key["encoded"], request_timeout=30) as client:
        yield client


def test_elastic_connectors_cannot_point_at_refused_addresses(es: Elasticsearch) -> None:
    connector = unique("net")
    es.connector.put(connector_id=connector, name="Net", index_name=connector, service_type="postgresql")
    server = pg_config("postgres")
    for host, why in REFUSED_HOSTS.items():
        values = {
            "host": host.strip("[]"),
            "port": server["port"],
            "username": server["username"],
            "password": server["password"],
            "database": "postgres",
            "tables": ["*"],
        }
        with pytest.raises(BadRequestError) as caught:
            es.connector.update_configuration(connector_id=connector, values=values)
        error = caught.value.body["error"]
        assert error["type"] == "illegal_argument_exception", error
        assert why in error["reason"], host
    assert es.connector.get(connector_id=connector)["status"] != "connected"
