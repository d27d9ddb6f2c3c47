"""What the Polytomic dialect puts on the wire parses with the official SDK's own models, errors included;
idempotency fingerprints and keys."""

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from polytomic.types import (
    ApiError,
    BulkBulkSyncSchedule,
    BulkSchema,
    BulkSchemaListItem,
    BulkSyncDest,
    BulkSyncSource,
    ConnectionResponseSchema,
    ConnectionType,
    Webhook,
)

from syncline_connectors.capabilities import Column, ObjectInfo
from syncline_connectors.connection_types import CONNECTION_TYPES
from syncline_gateway import idempotency
from syncline_gateway.dialects.polytomic import errors, rendering
from syncline_gateway.errors import AuthenticationError, BadRequestError, ForbiddenError, RejectedError
from syncline_platform.errors import ConflictError, InvalidError, NotFoundError, UnavailableError

NOW = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)


def test_connections_never_carry_secrets_and_parse() -> None:
    row: dict[str, Any] = {
        "id": "c1",
        "org_id": "o1",
        "name": "pg",
        "type": "postgresql",
        "configuration": {"hostname": "h", "port": 5432, "password": "leak?"},
        "status": "healthy",
        "status_error": "",
        "healthcheck_interval": None,
        "policies": [],
        "created_at": NOW,
        "created_by": "SLKEY",
        "updated_at": NOW,
        "updated_by": "SLKEY",
    }
    body = rendering.connection(row)
    assert "password" not in body["configuration"]
    parsed = ConnectionResponseSchema.model_validate(body)
    assert parsed.type is not None
    assert parsed.type.operations == ["bulksync_source", "bulksync_target"]
    assert parsed.created_at == NOW
    for kind in CONNECTION_TYPES.values():
        ConnectionType.model_validate(rendering.connection_type(kind))
        BulkSyncDest.model_validate(rendering.target(kind))
    assert "password" in CONNECTION_TYPES["postgresql"].secret_keys


def test_schedules_schemas_sources_and_webhooks_parse() -> None:
    schedule = {
        "id": "s1",
        "is_default": False,
        "spec": {"frequency": "weekly", "day_of_week": "monday", "hour": "1", "selective_mode": "none"},
        "created_at": NOW,
        "created_by": "SLKEY",
        "updated_at": NOW,
        "updated_by": "SLKEY",
    }
    parsed = BulkBulkSyncSchedule.model_validate(rendering.api_schedule(schedule, sync_id="x"))
    assert (parsed.day_of_week, parsed.sync_id, parsed.created_by, parsed.is_default) == ("monday", "x", "SLKEY", False)

    obj = {
        "id": "public.users",
        "enabled": True,
        "output_name": "users",
        "user_output_name": "",
        "partition_key": "",
        "tracking_field": "updated_at",
        "data_cutoff_timestamp": NOW,
        "disable_data_cutoff": False,
        "history_enabled": False,
        "fields": [
            {"id": "email", "enabled": False, "obfuscated": True, "output_name": "email", "user_output_name": ""}
        ],
        "filters": [{"field_id": "id", "function": "GreaterThan", "value": 3}],
    }
    full = BulkSchema.model_validate(rendering.schema(obj))
    assert full.fields is not None
    assert full.fields[0].obfuscated is True
    listed = rendering.schema_item(obj)
    assert "fields" not in listed
    BulkSchemaListItem.model_validate(listed)

    found = [
        ObjectInfo(
            schema="public", name="users", columns=(Column("id", "integer", native_type="int4"),), primary_key=("id",)
        )
    ]
    source = BulkSyncSource.model_validate(rendering.source(CONNECTION_TYPES["postgresql"], found, include_fields=True))
    assert source.schemas is not None
    assert source.schemas[0].fields is not None
    assert source.schemas[0].fields[0].is_primary_key is True

    hook = {
        "id": "w",
        "org_id": "o",
        "endpoint": "https://x.test",
        "disabled": True,
        "disabled_at": NOW,
        "disabled_reason": "r",
        "created_at": NOW,
    }
    assert Webhook.model_validate(rendering.webhook(hook, secret="s")).disabled_at == NOW


@pytest.mark.parametrize(
    ("error", "status", "key"),
    [
        (AuthenticationError("no"), 401, "unauthorized"),
        (ForbiddenError("no"), 403, "forbidden"),
        (BadRequestError("no"), 400, "bad_request"),
        (NotFoundError(kind="bulk sync", resource_id="x"), 404, "not_found"),
        (ConflictError("no"), 409, "conflict"),
        (idempotency.InFlightError("k"), 409, "conflict"),
        (idempotency.KeyReusedError("k"), 422, "unprocessable_entity"),
        (InvalidError("no"), 422, "unprocessable_entity"),
        (RejectedError(code="invalid", reason="no"), 422, "unprocessable_entity"),
        (RejectedError(code="not_found", reason="no"), 404, "not_found"),
        (RejectedError(code="conflict", reason="no"), 409, "conflict"),
        (UnavailableError(dependency="kafka", detail="down"), 503, "service_unavailable"),
        (RuntimeError("internal detail"), 500, "internal_server_error"),
    ],
)
def test_every_error_is_polytomic_shaped(error: Exception, status: int, key: str) -> None:
    response = errors.render(error)
    body = json.loads(bytes(response.body))
    assert response.status_code == status
    parsed = ApiError.model_validate(body)
    assert (parsed.status, parsed.key, parsed.metadata) == (status, key, {})
    assert "internal detail" not in (parsed.message or "")


def test_fingerprints_ignore_json_spacing_and_order_only() -> None:
    base = idempotency.fingerprint(method="POST", path="/api/x", query="", body=b'{"a":1,"b":[1,2]}')
    assert base == idempotency.fingerprint(method="POST", path="/api/x", query="", body=b'{ "b": [1, 2], "a": 1 }')
    assert base != idempotency.fingerprint(method="POST", path="/api/x", query="", body=b'{"a":1,"b":[2,1]}')
    assert base != idempotency.fingerprint(method="PUT", path="/api/x", query="", body=b'{"a":1,"b":[1,2]}')
    assert base != idempotency.fingerprint(method="POST", path="/api/y", query="", body=b'{"a":1,"b":[1,2]}')
    assert idempotency.fingerprint(method="POST", path="/p", query="", body=b"not json")


@pytest.mark.parametrize("key", ["abcdefgh", "A-b_9" * 2, "x" * 255])
def test_good_keys(key: str) -> None:
    assert idempotency.check_key(key) == key


@pytest.mark.parametrize("key", ["short", "x" * 256, "has space1", "dots.are.bad", "ünïcode-key"])
def test_bad_keys(key: str) -> None:
    with pytest.raises(BadRequestError):
        idempotency.check_key(key)
