"""The AsyncAPI 3.0 document of Syncline's topics, generated from the registry.

Every schema lives once under `components/schemas` (the messages' payloads, the envelope and every model they
use), so every `$ref` of the document resolves inside it. Each topic is a channel on the `kafka` server; each has
a `send` operation (its producers publish) and a `receive` operation (its consumers read), naming its messages.
"""

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from syncline_contracts.base import Message
from syncline_contracts.envelope import Envelope
from syncline_contracts.tenant import TENANT_TOPICS
from syncline_contracts.topics import TOPICS, Topic, all_messages

SCHEMAS = "#/components/schemas/"
KAFKA_SERVER = {
    "host": "127.0.0.1:19092",
    "protocol": "kafka",
    "description": "The broker of a local installation (`SYNCLINE_KAFKA__BOOTSTRAP_SERVERS`); topics are prefixed "
    "with `SYNCLINE_KAFKA__TOPIC_PREFIX` when it is set.",
}


def _pointer(key: str) -> str:
    """`key` as one JSON pointer segment (RFC 6901)."""
    return key.replace("~", "~0").replace("/", "~1")


def _channel(topic: Topic) -> dict[str, Any]:
    parameters = {"org_id": {"description": "The organisation's id."}} if "{org_id}" in topic.name else {}
    return {
        "address": topic.name,
        **({"parameters": parameters} if parameters else {}),
        "description": topic.description,
        "servers": [{"$ref": "#/servers/kafka"}],
        "messages": {m.__name__: {"$ref": f"#/components/messages/{m.__name__}"} for m in topic.messages},
        "bindings": {"kafka": {"partitions": topic.partitions, "key": {"type": "string"}}},
        "x-producers": list(topic.producers),
        "x-consumers": list(topic.consumers),
    }


def _operations(topic: Topic) -> dict[str, Any]:
    channel = f"#/channels/{_pointer(topic.name)}"
    messages = [{"$ref": f"{channel}/messages/{_pointer(m.__name__)}"} for m in topic.messages]
    return {
        f"{topic.name}.{action}": {
            "action": action,
            "channel": {"$ref": channel},
            "messages": messages,
            "summary": f"{', '.join(services)} {verb} {topic.name}",
            f"x-{'producers' if action == 'send' else 'consumers'}": list(services),
        }
        for action, verb, services in (
            ("send", "publish on", topic.producers),
            ("receive", "consume", topic.consumers),
        )
    }


def _schemas(models: tuple[type[BaseModel], ...]) -> tuple[dict[type[BaseModel], str], dict[str, Any]]:
    """Every model's schema and those they use, one name each: (model → its `$ref`, name → schema)."""
    refs, top = models_json_schema(
        [(m, "validation") for m in models], ref_template=SCHEMAS + "{model}", title="Syncline messages"
    )
    return {m: refs[(m, "validation")]["$ref"] for m in models}, top.get("$defs", {})


def _messages() -> tuple[type[Message], ...]:
    """Every message of the internal and the tenant topics, each wire type once."""
    seen = {m.wire_type(): m for m in all_messages()}
    for topic in TENANT_TOPICS:
        for message in topic.messages:
            seen.setdefault(message.wire_type(), message)
    return tuple(seen.values())


def document() -> dict[str, Any]:
    """The whole AsyncAPI document."""
    messages = _messages()
    topics = (*TOPICS, *TENANT_TOPICS)
    refs, schemas = _schemas((Envelope, *messages))
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Syncline events and commands",
            "version": "1",
            "description": "CloudEvents Kafka binding (binary mode): the envelope travels in headers, the payload "
            "is the JSON body; the key is the aggregate id.",
        },
        "defaultContentType": "application/json",
        "servers": {"kafka": KAFKA_SERVER},
        "channels": {t.name: _channel(t) for t in topics},
        "operations": {name: op for t in topics for name, op in _operations(t).items()},
        "components": {
            "schemas": schemas,
            "messages": {
                m.__name__: {
                    "name": m.wire_type(),
                    "title": m.__name__,
                    "headers": {"$ref": refs[Envelope]},
                    "payload": {"$ref": refs[m]},
                }
                for m in messages
            },
        },
    }
