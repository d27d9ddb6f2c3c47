"""The AsyncAPI 3.0 document of Syncline's topics, generated from the registry."""

from typing import Any

from syncline_contracts.envelope import Envelope
from syncline_contracts.topics import TOPICS, Topic, all_messages


def _channel(topic: Topic) -> dict[str, Any]:
    return {
        "address": topic.name,
        "description": topic.description,
        "messages": {m.__name__: {"$ref": f"#/components/messages/{m.__name__}"} for m in topic.messages},
        "bindings": {"kafka": {"partitions": topic.partitions, "key": {"type": "string"}}},
        "x-producers": list(topic.producers),
        "x-consumers": list(topic.consumers),
    }


def document() -> dict[str, Any]:
    """The whole AsyncAPI document."""
    messages = all_messages()
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Syncline events and commands",
            "version": "1",
            "description": "CloudEvents Kafka binding (binary mode); the key is the aggregate id.",
        },
        "defaultContentType": "application/json",
        "channels": {t.name: _channel(t) for t in TOPICS},
        "components": {
            "messages": {
                m.__name__: {
                    "name": m.wire_type(),
                    "headers": Envelope.model_json_schema(),
                    "payload": m.model_json_schema(),
                }
                for m in messages
            }
        },
    }
