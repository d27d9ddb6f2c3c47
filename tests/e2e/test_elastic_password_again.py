"""An Elastic connector pointed elsewhere needs its password again, as the Polytomic dialect's connections do (one
check for both, `connection_types.check_secrets_given`), with the official `elasticsearch` client: a configuration
update that changes `host`, `port`, `username` or `database` without `password` is a 400
`illegal_argument_exception` and keeps the stored configuration; with the password it is taken, and other changes
keep the stored password."""

from collections.abc import Iterator
from typing import Any

import pytest
from elasticsearch import BadRequestError, Elasticsearch
from tests.support.infra import pg_config, unique
from tests.support.system import System

pytestmark = pytest.mark.e2e


@pytest.fixture
def es(system: System) -> Iterator[Elasticsearch]:
    with Elasticsearch(system.url, api_key=system.key["encoded"], request_timeout=30) as client:
        yield client


def values(**changes: Any) -> dict[str, Any]:
    server = pg_config("postgres")
    found = {
        "host": server["hostname"],
        "port": server["port"],
        "username": server["username"],
        "password": server["password"],
        "database": "postgres",
        "tables": ["*"],
    }
    return {k: v for k, v in (found | changes).items() if v is not None}


@pytest.mark.parametrize(
    "change", [{"host": "localhost"}, {"port": 1}, {"username": "someone_else"}, {"database": "template1"}]
)
def test_a_connector_pointed_elsewhere_needs_its_password_again(es: Elasticsearch, change: dict[str, Any]) -> None:
    connector = unique("again")
    es.connector.put(connector_id=connector, name="Again", index_name=connector, service_type="postgresql")
    es.connector.update_configuration(connector_id=connector, values=values())
    assert es.connector.get(connector_id=connector)["status"] == "connected"

    with pytest.raises(BadRequestError) as caught:
        es.connector.update_configuration(connector_id=connector, values=values(password=None, **change))
    error = caught.value.body["error"]
    assert error["type"] == "illegal_argument_exception", error
    key = next(iter(change))
    assert f"[password] must be given again when [{key}] changes" in error["reason"]
    stored = es.connector.get(connector_id=connector)["configuration"]
    assert stored[key]["value"] == values()[key]  # unchanged

    es.connector.update_configuration(connector_id=connector, values={"tables": ["pg_catalog_none"]})  # no password
    es.connector.update_configuration(connector_id=connector, values=values(**change))  # with it: taken
    assert es.connector.get(connector_id=connector)["configuration"][key]["value"] == change[key]
