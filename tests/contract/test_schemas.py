"""The contracts as committed: JSON Schema snapshots, the topic registry's naming rules, the AsyncAPI document."""

import re
import typing
from typing import Any, Literal

import pytest
from pydantic import BaseModel

from syncline_contracts import asyncapi, snapshots
from syncline_contracts.base import Message
from syncline_contracts.envelope import Envelope
from syncline_contracts.tenant import TENANT_TOPICS
from syncline_contracts.topics import TOPICS, Topic, all_messages

TOPIC_NAME = re.compile(r"^syncline\.[a-z][a-z_]*\.(commands|events|requests)\.v[1-9][0-9]*$")
REWRITE_HINT = "a model drifted from its committed schema; run `python -m syncline_contracts.snapshots` if deliberate"

MESSAGE_CLASSES: tuple[type[Message], ...] = tuple({m: None for t in TOPICS for m in t.messages})
"""Every distinct message class of the registry (not deduplicated by wire type, so duplicates show)."""


def _committed() -> dict[str, str]:
    return {path.name: path.read_text() for path in sorted(snapshots.SNAPSHOT_DIR.glob("*.json"))}


def _nested_models(model: type[BaseModel]) -> set[type[BaseModel]]:
    found: set[type[BaseModel]] = set()
    for info in model.model_fields.values():
        for arg in (info.annotation, *typing.get_args(info.annotation)):
            if isinstance(arg, type) and issubclass(arg, BaseModel) and arg not in found:
                found |= {arg, *_nested_models(arg)}
    return found


# --- snapshots ---------------------------------------------------------------------------------------------


def test_snapshot_dir_is_the_committed_one() -> None:
    assert snapshots.SNAPSHOT_DIR.is_dir()
    assert snapshots.SNAPSHOT_DIR.parent.name == "contracts"
    assert (snapshots.SNAPSHOT_DIR / "envelope.json").is_file()


def test_snapshot_file_set_matches_the_models() -> None:
    committed = set(_committed())
    current = set(snapshots.current())
    assert committed - current == set(), f"stale snapshots: {sorted(committed - current)}; {REWRITE_HINT}"
    assert current - committed == set(), f"missing snapshots: {sorted(current - committed)}; {REWRITE_HINT}"


def test_snapshot_covers_every_message_and_the_envelope() -> None:
    expected = {f"{m.wire_type()}.json" for m in MESSAGE_CLASSES} | {"envelope.json"}
    assert set(snapshots.current()) == expected


@pytest.mark.parametrize("name", sorted(snapshots.current()))
def test_snapshot_text_matches_the_model(name: str) -> None:
    path = snapshots.SNAPSHOT_DIR / name
    assert path.is_file(), f"{name} is not committed; {REWRITE_HINT}"
    assert path.read_text() == snapshots.current()[name], REWRITE_HINT


# --- topic registry ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("topic", TOPICS, ids=lambda t: t.name)
def test_topic_name_follows_the_pattern(topic: Topic) -> None:
    assert TOPIC_NAME.fullmatch(topic.name), topic.name
    assert topic.dlq() == f"{topic.name}.dlq"
    assert topic.qualified("t1-") == f"t1-{topic.name}"


def test_topic_names_are_unique() -> None:
    names = [t.name for t in TOPICS]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("topic", TOPICS, ids=lambda t: t.name)
def test_topic_is_described_and_owned(topic: Topic) -> None:
    assert topic.messages, "a topic carries at least one message"
    assert topic.producers
    assert topic.consumers
    assert topic.partitions >= 1
    assert topic.description.strip()


@pytest.mark.parametrize("message", MESSAGE_CLASSES, ids=lambda m: m.__name__)
def test_message_is_frozen_and_tolerant(message: type[Message]) -> None:
    assert message.model_config.get("frozen") is True
    assert message.model_config.get("extra") == "ignore"


@pytest.mark.parametrize("message", MESSAGE_CLASSES, ids=lambda m: m.__name__)
def test_message_type_is_a_literal_of_its_default(message: type[Message]) -> None:
    info = message.model_fields["type"]
    assert typing.get_origin(info.annotation) is Literal
    assert typing.get_args(info.annotation) == (info.default,)
    assert isinstance(info.default, str)
    assert info.default.startswith("syncline.")
    assert message.wire_type() == info.default


@pytest.mark.parametrize("message", MESSAGE_CLASSES, ids=lambda m: m.__name__)
def test_message_key_field_exists(message: type[Message]) -> None:
    assert message.key_field in message.model_fields


def test_message_types_are_unique() -> None:
    wire_types = [m.wire_type() for m in MESSAGE_CLASSES]
    duplicates = sorted({w for w in wire_types if wire_types.count(w) > 1})
    assert duplicates == []
    assert len(all_messages()) == len(MESSAGE_CLASSES)


def test_message_class_names_are_unique() -> None:
    names = [m.__name__ for m in MESSAGE_CLASSES]
    assert len(names) == len(set(names))


@pytest.mark.parametrize(
    "model",
    sorted({*MESSAGE_CLASSES, Envelope, *(n for m in MESSAGE_CLASSES for n in _nested_models(m))}, key=str),
    ids=lambda m: m.__name__,
)
def test_every_field_has_a_docstring(model: type[BaseModel]) -> None:
    undocumented = [name for name, info in model.model_fields.items() if not (info.description or "").strip()]
    assert undocumented == []
    assert (model.__doc__ or "").strip()


def _topic_messages(kind: str) -> list[tuple[Topic, type[Message]]]:
    return [(t, m) for t in TOPICS if f".{kind}." in t.name for m in t.messages]


@pytest.mark.parametrize(
    ("topic", "message"), _topic_messages("commands"), ids=lambda x: getattr(x, "__name__", getattr(x, "name", ""))
)
def test_commands_are_imperative(topic: Topic, message: type[Message]) -> None:
    assert not message.__name__.endswith("ed"), f"{message.__name__} on {topic.name} reads like an event"


@pytest.mark.parametrize(
    ("topic", "message"), _topic_messages("events"), ids=lambda x: getattr(x, "__name__", getattr(x, "name", ""))
)
def test_events_are_past_tense(topic: Topic, message: type[Message]) -> None:
    assert message.__name__.endswith("ed"), f"{message.__name__} on {topic.name} does not read like an event"


def test_every_topic_kind_is_represented() -> None:
    kinds = {TOPIC_NAME.fullmatch(t.name).group(1) for t in TOPICS}  # type: ignore[union-attr]
    assert kinds == {"commands", "events", "requests"}
    assert _topic_messages("commands")
    assert _topic_messages("events")


# --- AsyncAPI ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return asyncapi.document()


def test_asyncapi_version(document: dict[str, Any]) -> None:
    assert document["asyncapi"].startswith("3.")


def test_asyncapi_lists_every_topic_as_a_channel(document: dict[str, Any]) -> None:
    assert set(document["channels"]) == {t.name for t in TOPICS + TENANT_TOPICS}
    for topic in TOPICS + TENANT_TOPICS:
        channel = document["channels"][topic.name]
        assert channel["address"] == topic.name
        assert set(channel["messages"]) == {m.__name__ for m in topic.messages}
        assert channel["bindings"]["kafka"]["partitions"] == topic.partitions


def test_asyncapi_lists_every_message_under_components(document: dict[str, Any]) -> None:
    components = document["components"]["messages"]
    tenant = {m for t in TENANT_TOPICS for m in t.messages}
    assert set(components) == {m.__name__ for m in MESSAGE_CLASSES} | {m.__name__ for m in tenant}
    for message in (*MESSAGE_CLASSES, *tenant):
        component = components[message.__name__]
        assert component["name"] == message.wire_type()
        schemas = document["components"]["schemas"]
        payload = schemas[component["payload"]["$ref"].rsplit("/", 1)[1]]
        assert payload["properties"].keys() == message.model_json_schema()["properties"].keys()
        headers = schemas[component["headers"]["$ref"].rsplit("/", 1)[1]]
        assert headers["properties"].keys() == Envelope.model_json_schema()["properties"].keys()


def test_asyncapi_channel_refs_resolve(document: dict[str, Any]) -> None:
    components = document["components"]["messages"]
    for channel in document["channels"].values():
        for ref in channel["messages"].values():
            prefix = "#/components/messages/"
            assert ref["$ref"].startswith(prefix)
            assert ref["$ref"].removeprefix(prefix) in components
