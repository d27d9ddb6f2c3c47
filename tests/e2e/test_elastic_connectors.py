"""The Elasticsearch connector APIs with the official client: create, read, list, every update endpoint, delete,
and their errors."""

import pytest
from elasticsearch import BadRequestError, Elasticsearch, NotFoundError
from tests.support.system import System

pytestmark = pytest.mark.e2e


@pytest.fixture
def es(system: System) -> Elasticsearch:
    return Elasticsearch(system.url, api_key=system.key["encoded"], request_timeout=30)


def test_create_read_list_and_delete(es: Elasticsearch) -> None:
    created = es.connector.put(connector_id="crud-a", name="Alpha", index_name="crud-a", service_type="postgresql")
    assert dict(created) == {"result": "created", "id": "crud-a"}
    again = es.connector.put(connector_id="crud-a", description="described")
    assert again["result"] == "updated"
    generated = es.connector.post(name="Beta", index_name="crud-b", service_type="postgresql")
    assert generated["result"] == "created"
    assert len(generated["id"]) == 20
    put_generated = es.connector.put(name="Gamma", index_name="crud-c", service_type="github")
    assert put_generated["result"] == "created"

    alpha = es.connector.get(connector_id="crud-a")
    assert alpha["name"] == "Alpha"
    assert alpha["description"] == "described"  # fields left out keep their value
    assert alpha["status"] == "created"
    assert alpha["scheduling"]["full"] == {"enabled": False, "interval": "0 0 0 * * ?"}

    by_index = es.connector.list(index_name="crud-b")
    assert [c["id"] for c in by_index["results"]] == [generated["id"]]
    by_type = es.connector.list(service_type="github")
    assert [c["name"] for c in by_type["results"]] == ["Gamma"]
    by_query = es.connector.list(query="Alph")
    assert [c["id"] for c in by_query["results"]] == ["crud-a"]
    page = es.connector.list(from_=1, size=1)
    assert page["count"] >= 3
    assert len(page["results"]) == 1

    assert es.connector.delete(connector_id=generated["id"])["acknowledged"] is True
    with pytest.raises(NotFoundError):
        es.connector.get(connector_id=generated["id"])
    with pytest.raises(NotFoundError):
        es.connector.delete(connector_id=generated["id"])


def test_every_update_endpoint(es: Elasticsearch) -> None:
    es.connector.put(connector_id="upd", name="Before", index_name="upd", service_type="postgresql")
    assert es.connector.update_name(connector_id="upd", name="After", description="d")["result"] == "updated"
    es.connector.update_index_name(connector_id="upd", index_name="upd-2")
    es.connector.update_service_type(connector_id="upd", service_type="postgresql")
    es.connector.update_native(connector_id="upd", is_native=True)
    es.connector.update_pipeline(
        connector_id="upd",
        pipeline={"extract_binary_content": True, "name": "p", "reduce_whitespace": True, "run_ml_inference": False},
    )
    es.connector.update_features(connector_id="upd", features={"incremental_sync": {"enabled": True}})
    es.connector.update_api_key_id(connector_id="upd", api_key_id="k1", api_key_secret_id="s1")
    es.connector.update_scheduling(
        connector_id="upd", scheduling={"full": {"enabled": True, "interval": "0 0 * * * ?"}}
    )
    es.connector.update_scheduling(
        connector_id="upd", scheduling={"incremental": {"enabled": False, "interval": "0 */5 * * * ?"}}
    )
    es.connector.update_filtering(
        connector_id="upd",
        rules=[{"id": "r1", "order": 0, "policy": "exclude", "field": "status", "rule": "equals", "value": "x"}],
    )
    es.connector.check_in(connector_id="upd")
    es.connector.last_sync(connector_id="upd", last_sync_status="completed", last_indexed_document_count=7)

    doc = es.connector.get(connector_id="upd")
    assert doc["name"] == "After"
    assert doc["description"] == "d"
    assert doc["index_name"] == "upd-2"
    assert doc["is_native"] is True
    assert doc["pipeline"]["name"] == "p"
    assert doc["features"] == {"incremental_sync": {"enabled": True}}
    assert (doc["api_key_id"], doc["api_key_secret_id"]) == ("k1", "s1")
    assert doc["scheduling"]["full"] == {"enabled": True, "interval": "0 0 * * * ?"}
    assert doc["scheduling"]["incremental"] == {"enabled": False, "interval": "0 */5 * * * ?"}  # merged, not replaced
    rules = doc["filtering"][0]["active"]["rules"]
    assert [r["id"] for r in rules] == ["r1", "DEFAULT"]
    assert doc["filtering"][0]["active"]["validation"]["state"] == "valid"
    assert doc["last_seen"] is not None
    assert doc["last_sync_status"] == "completed"
    assert doc["last_indexed_document_count"] == 7

    es.connector.update_error(connector_id="upd", error="source is down")
    errored = es.connector.get(connector_id="upd")
    assert errored["error"] == "source is down"
    assert errored["status"] == "error"
    es.connector.update_error(connector_id="upd", body={"error": None})
    cleared = es.connector.get(connector_id="upd")
    assert cleared["error"] is None
    assert cleared["status"] == "connected"


def test_invalid_updates_are_400_and_change_nothing(es: Elasticsearch) -> None:
    es.connector.put(connector_id="strict", name="S", index_name="strict", service_type="postgresql")
    cases = [
        lambda: es.connector.update_index_name(connector_id="strict", index_name="Has Upper"),
        lambda: es.connector.update_status(connector_id="strict", status="sleeping"),
        lambda: es.connector.update_scheduling(
            connector_id="strict", scheduling={"full": {"enabled": True, "interval": "every day"}}
        ),
        lambda: es.connector.update_scheduling(connector_id="strict", scheduling={"weekly": {"enabled": True}}),
        lambda: es.connector.update_filtering(
            connector_id="strict", rules=[{"id": "r", "policy": "maybe", "field": "f", "rule": "equals", "value": "v"}]
        ),
        lambda: es.connector.update_filtering(
            connector_id="strict", rules=[{"id": "r", "policy": "include", "field": "f", "rule": "regex", "value": "("}]
        ),
        lambda: es.connector.put(connector_id="strict-2", index_name="_bad", service_type="postgresql"),
    ]
    for case in cases:
        with pytest.raises(BadRequestError) as bad:
            case()
        assert bad.value.meta.status == 400
        assert bad.value.body["error"]["reason"]
    unchanged = es.connector.get(connector_id="strict")
    assert unchanged["index_name"] == "strict"
    assert unchanged["status"] == "created"
    assert unchanged["scheduling"]["full"]["enabled"] is False
    with pytest.raises(NotFoundError):
        es.connector.get(connector_id="strict-2")
    with pytest.raises(NotFoundError):
        es.connector.update_name(connector_id="ghost", name="x")
    with pytest.raises(BadRequestError):
        es.perform_request(
            "PUT",
            "/_connector/strict/_name",
            body={"name": "x", "extra": True},
            headers={"content-type": "application/json", "accept": "application/json"},
        )


def test_a_sync_rule_regex_without_a_linear_time_match_is_400(es: Elasticsearch) -> None:
    """Sync-rule regexes run on RE2: a pattern it cannot run is refused when the rule is set, and nothing changes."""
    es.connector.put(connector_id="re2", name="R", index_name="re2", service_type="postgresql")
    before = es.connector.get(connector_id="re2")["filtering"]

    def set_rule(pattern: str) -> None:
        rule = {"id": "r", "policy": "exclude", "field": "f", "rule": "regex", "value": pattern}
        es.connector.update_filtering(connector_id="re2", rules=[rule])

    refused = {
        r"(\w+)\1": r"invalid regex [(\w+)\1]: backreferences (\1) are not supported",
        r"^(?!test).*": "invalid regex [^(?!test).*]: lookahead and lookbehind ((?!) are not supported",
    }
    for pattern, reason in refused.items():
        with pytest.raises(BadRequestError) as bad:
            set_rule(pattern)
        assert bad.value.meta.status == 400
        assert bad.value.body["status"] == 400
        assert reason in bad.value.body["error"]["reason"]
        assert "RE2" in bad.value.body["error"]["reason"]
    assert es.connector.get(connector_id="re2")["filtering"] == before
    # what RE2 can run is accepted, patterns that backtrack catastrophically elsewhere included
    set_rule("(a+)+$")
    assert es.connector.get(connector_id="re2")["filtering"][0]["active"]["rules"][0]["value"] == "(a+)+$"
