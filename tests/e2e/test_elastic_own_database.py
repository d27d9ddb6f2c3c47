"""No Elastic connector reaches Syncline's own databases, with the official `elasticsearch` client only: a
configuration naming the services' database or the document store (by address or as `localhost`) is a 400
`illegal_argument_exception` saying why, whatever the credentials, and names none of Syncline's tables; the
connector keeps its earlier configuration and no sync job of it reads anything."""

from urllib.parse import urlsplit

import pytest
from elasticsearch import BadRequestError, Elasticsearch
from tests.support.infra import unique
from tests.support.system import System

pytestmark = pytest.mark.e2e

SYNCLINE_TABLES = ("api_keys", "connections", "sync_specs", "runs", "outbox")


def test_a_connector_cannot_point_at_syncline_s_own_databases(system: System) -> None:
    org = system.admin("create-org", "elastic reach")
    key = system.admin("create-key", "--org", org["id"])
    es = Elasticsearch(system.url, api_key=key["encoded"], request_timeout=30)
    connector = unique("own")
    es.connector.put(connector_id=connector, name="Own", index_name=connector, service_type="postgresql")
    for dsn in (system.database_url, system.docstore_url):
        server = urlsplit(dsn)
        for host in (server.hostname, "localhost"):
            values = {
                "host": host,
                "port": server.port,
                "username": server.username,
                "password": server.password or "any",  # even the right password
                "database": server.path.lstrip("/"),
                "tables": ["*"],
            }
            with pytest.raises(BadRequestError) as refused:
                es.connector.update_configuration(connector_id=connector, values=values)
            error = refused.value.body["error"]
            assert error["type"] == "illegal_argument_exception"
            assert "Syncline's own database" in error["reason"]
            assert not any(table in str(refused.value.body) for table in SYNCLINE_TABLES)
    stored = es.connector.get(connector_id=connector)
    assert stored["status"] == "created"  # never configured, never connected
    assert not stored["configuration"].get("database", {}).get("value")
