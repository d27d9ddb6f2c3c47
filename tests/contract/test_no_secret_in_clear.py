"""Internal topics never carry a secret in clear: every field of every message (nested models included) that is
named like a secret is a sealed one (`sealed_secrets`, `*_sealed`), and every free-form field (an object whose
keys the dialect chooses) is listed here with the code that takes the secrets out of it before it is published,
so a new one fails until someone has checked it."""

import re
from collections.abc import Iterator
from typing import Any

import pytest

from syncline_contracts.topics import all_messages

SECRET = re.compile(r"pass(word|wd|phrase)?|secret|api_?key|access_?key|token|credential|private_?key|cert_?key", re.I)
SEALED = re.compile(r"(^|_)sealed(_|$)")
NOT_SECRET = {
    "syncline.data_integration.create.client_token": "AWS ClientToken: an idempotency token the client shows",
    "syncline.data_integration.associate.client_token": "AWS ClientToken: an idempotency token the client shows",
}
"""Fields named like a secret that are not one, and why."""

FREE_FORM = {
    "syncline.connection.create.configuration": "gateway polytomic connections._split: type's secret keys sealed",
    "syncline.connection.update.configuration": "gateway polytomic connections._split: type's secret keys sealed",
    "syncline.connector.configure.values": "gateway elastic: config.sensitive_keys sealed into sealed_secrets",
    "syncline.connector.update.changes": "gateway elastic updates: named fields only (ids, never a secret)",
    "syncline.bulk_sync.create.definition.destination_configuration": "connection_types keys: none is secret",
    "syncline.bulk_sync.create.definition.source_configuration": "connection_types keys: none is secret",
    "syncline.bulk_sync.update.definition.destination_configuration": "connection_types keys: none is secret",
    "syncline.bulk_sync.update.definition.source_configuration": "connection_types keys: none is secret",
    "syncline.run.create.options": "start options (schemas, test, fetch and resync modes)",
    "syncline.run.report_stats.metadata": "an external worker's counters",
    "syncline.drs.apply_batch.items[]": "gateway drs routes: every secret field (SECRETS) sealed as <name>_sealed",
    "syncline.drs.batch_applied.results[].details": "per-item results",
    "syncline.data_integration.create.file_configuration.filters": "AWS folder filters (name patterns)",
    "syncline.data_integration.create.object_configuration": "AWS objects and fields",
    "syncline.data_integration.create.object_configuration[]": "AWS objects and fields",
    "syncline.data_integration.associate.object_configuration": "AWS objects and fields",
    "syncline.data_integration.associate.object_configuration[]": "AWS objects and fields",
}
"""Fields whose keys the dialect chooses, and where their secrets are taken out before they travel."""


def fields(
    schema: dict[str, Any], defs: dict[str, Any], path: str, seen: frozenset[str]
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every (path, schema) below `schema`, through references, lists, maps and unions."""
    if "$ref" in schema:
        ref = schema["$ref"].rsplit("/", 1)[-1]
        if ref not in seen:
            yield from fields(defs[ref], defs, path, seen | {ref})
        return
    yield path, schema
    for name, sub in (schema.get("properties") or {}).items():
        yield from fields(sub, defs, f"{path}.{name}", seen)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            yield from fields(schema[key], defs, f"{path}[]", seen)
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, []):
            yield from fields(sub, defs, path, seen)


def every_field() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for message in all_messages():
        schema = message.model_json_schema()
        found += list(fields(schema, schema.get("$defs", {}), message.wire_type(), frozenset()))
    return found


def free_form(schema: dict[str, Any]) -> bool:
    """An object whose keys (and values) anyone chooses: where a secret could hide under any name."""
    if schema == {}:
        return True
    if schema.get("type") != "object" or "properties" in schema:
        return False
    values = schema.get("additionalProperties", True)
    return values is True or (isinstance(values, dict) and values.get("type") not in ("string", "integer", "boolean"))


def test_every_message_is_checked() -> None:
    assert len(all_messages()) > 40
    assert any(path.endswith(".sealed_secrets") for path, _ in every_field())


@pytest.mark.parametrize("message", all_messages(), ids=lambda m: m.wire_type())
def test_a_field_named_like_a_secret_is_sealed(message: Any) -> None:
    schema = message.model_json_schema()
    clear = [
        path
        for path, _ in fields(schema, schema.get("$defs", {}), message.wire_type(), frozenset())
        if SECRET.search(leaf := path.rsplit(".", 1)[-1].rstrip("[]"))
        and not SEALED.search(leaf)
        and ".sealed_secrets" not in path
        and path not in NOT_SECRET
    ]
    assert clear == [], f"{clear}: seal them (as `sealed_secrets` does) or say in NOT_SECRET why they are no secret"


def test_free_form_fields_are_known() -> None:
    found = {path for path, schema in every_field() if free_form(schema)}
    assert found - set(FREE_FORM) == set(), "say in FREE_FORM where their secrets are taken out before they travel"
    assert set(FREE_FORM) - found == set(), "no longer free-form: drop them from FREE_FORM"
