"""The AsyncAPI document is whole: every `$ref` in it resolves (as a JSON pointer into the document), it names its
server, and every topic has a send and a receive operation over its channel and the channel's own messages."""

import json
from typing import Any

import pytest

from syncline_contracts import asyncapi
from syncline_contracts.tenant import TENANT_TOPICS
from syncline_contracts.topics import TOPICS


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    served: dict[str, Any] = json.loads(json.dumps(asyncapi.document()))  # what `/asyncapi.json` serves
    return served


def refs(node: Any) -> list[str]:
    """Every `$ref` value under `node`."""
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for value in node.values() for r in refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in refs(value)]
    return []


def resolve(document: dict[str, Any], ref: str) -> Any:
    """The node a local `$ref` points at (RFC 6901); KeyError when it does not resolve."""
    assert ref.startswith("#/"), f"not a local reference: {ref}"
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_every_ref_resolves(document: dict[str, Any]) -> None:
    found = refs(document)
    assert len(found) > 100
    unresolved = []
    for ref in sorted(set(found)):
        try:
            resolve(document, ref)
        except (KeyError, IndexError, TypeError):
            unresolved.append(ref)
    assert unresolved == []


def test_the_schemas_are_components_and_not_nested_defs(document: dict[str, Any]) -> None:
    assert "$defs" not in json.dumps(document)
    schemas = document["components"]["schemas"]
    assert {"Envelope", "RunCounters", "ReplicationLag"} <= set(schemas)


def test_it_names_its_server(document: dict[str, Any]) -> None:
    assert document["servers"]["kafka"]["protocol"] == "kafka"
    for channel in document["channels"].values():
        assert [resolve(document, s["$ref"]) for s in channel["servers"]] == [document["servers"]["kafka"]]


def test_every_topic_is_sent_and_received(document: dict[str, Any]) -> None:
    operations = document["operations"]
    assert len(operations) == 2 * len(TOPICS + TENANT_TOPICS)
    for topic in TOPICS + TENANT_TOPICS:
        for action in ("send", "receive"):
            operation = operations[f"{topic.name}.{action}"]
            assert operation["action"] == action
            channel = resolve(document, operation["channel"]["$ref"])
            assert channel["address"] == topic.name
            sent = [resolve(document, m["$ref"]) for m in operation["messages"]]
            assert sent == list(channel["messages"].values())  # the channel's own messages, in order
