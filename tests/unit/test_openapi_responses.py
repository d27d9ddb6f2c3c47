"""The gateway's OpenAPI document says what every route of the Polytomic, Elastic, Huawei DRS and native dialects
answers: each success with the JSON Schema of its body (a 204 has none), and the errors in the dialect's own error
body, never FastAPI's `HTTPValidationError` (the gateway answers a bad request in the dialect's words, as a 400).
The error bodies each dialect renders, and the Polytomic and Elastic renderings of their resources, match the models
the document declares for them, strictly (no coercion, no key the model does not declare)."""

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from tests.unit.test_elastic_models import _connector_row as connector_row
from tests.unit.test_elastic_models import _run as elastic_run
from tests.unit.test_polytomic_run_spec import run as polytomic_run
from tests.unit.test_polytomic_schedules import SYNC_ROW
from tests.unit.test_polytomic_schedules import _row as schedule_row

from syncline_gateway.dialects.drs import errors as drs
from syncline_gateway.dialects.drs.models import DrsError
from syncline_gateway.dialects.elastic import documents
from syncline_gateway.dialects.elastic import errors as elastic
from syncline_gateway.dialects.elastic.models import Connector, ElasticError, SyncJob
from syncline_gateway.dialects.native import errors as native
from syncline_gateway.dialects.native.models import ErrorOut
from syncline_gateway.dialects.polytomic import errors as polytomic
from syncline_gateway.dialects.polytomic import rendering
from syncline_gateway.dialects.polytomic.execution_rendering import execution
from syncline_gateway.dialects.polytomic.models import ApiScheduleOut, BulkSyncOut, ExecutionOut, PolytomicError
from syncline_gateway.errors import AuthenticationError, BadRequestError, ResourceNotFoundError
from syncline_gateway.main import build_app
from syncline_gateway.settings import GatewaySettings
from syncline_platform.errors import UnavailableError

DIALECTS = {"/api": "polytomic", "/_connector": "elastic", "/v3": "drs", "/v1": "native"}
"""The dialects described here, by path prefix (the AWS dialect's routes are outside the document)."""
ERROR_MODELS: dict[str, type[BaseModel]] = {
    "polytomic": PolytomicError,
    "elastic": ElasticError,
    "drs": DrsError,
    "native": ErrorOut,
}
"""Each dialect's error body (by its name among the document's schemas)."""
SCHEDULES = [
    schedule_row("d", is_default=True, frequency="daily", hour="3", minute="0"),
    schedule_row("w", is_default=False, frequency="weekly", day_of_week="sunday", hour="4", selective_mode="none"),
]
"""A bulk sync's schedules, as policy's read model has them."""


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return build_app(GatewaySettings()).openapi()


def operations(document: dict[str, Any]) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(dialect, method, path, operation) of every operation of the dialects described here."""
    found = []
    for path, item in document["paths"].items():
        prefix = next((p for p in DIALECTS if path == p or path.startswith(p + "/")), None)
        if prefix is not None:
            found += [(DIALECTS[prefix], method.upper(), path, op) for method, op in item.items()]
    return found


def json_schema(response: dict[str, Any]) -> dict[str, Any] | None:
    return (response.get("content") or {}).get("application/json", {}).get("schema") or None


def test_the_document_holds_every_dialect(document: dict[str, Any]) -> None:
    assert {dialect for dialect, *_ in operations(document)} == set(DIALECTS.values())


def test_every_success_has_a_json_schema(document: dict[str, Any]) -> None:
    missing = []
    for _, method, path, op in operations(document):
        successes = {status: r for status, r in op["responses"].items() if status.startswith("2")}
        if not successes:
            missing.append(f"{method} {path}: no success answer")
        missing += [
            f"{method} {path} {status}: no JSON Schema"
            for status, response in successes.items()
            if status != "204" and json_schema(response) is None
        ]
        missing += [
            f"{method} {path} 204: a body" for status, r in successes.items() if status == "204" and "content" in r
        ]
    assert not missing, "\n".join(missing)


def test_every_operation_declares_its_dialect_s_errors(document: dict[str, Any]) -> None:
    wrong = []
    for dialect, method, path, op in operations(document):
        errors = {status: r for status, r in op["responses"].items() if status[0] in "45" or status == "default"}
        if not any(status.startswith("4") for status in errors):
            wrong.append(f"{method} {path}: no error answer")
        expected = {"$ref": f"#/components/schemas/{ERROR_MODELS[dialect].__name__}"}
        wrong += [
            f"{method} {path} {status}: {json_schema(response)}"
            for status, response in errors.items()
            if json_schema(response) != expected
        ]
    assert not wrong, "\n".join(wrong)


def test_no_operation_promises_fastapi_s_own_validation_error(document: dict[str, Any]) -> None:
    text = json.dumps([op for *_, op in operations(document)])
    assert "HTTPValidationError" not in text


def request(path: str, *, authorization: str | None = "Bearer x") -> Request:
    headers = [(b"authorization", authorization.encode())] if authorization else []
    return Request({"type": "http", "method": "GET", "path": path, "headers": headers, "query_string": b""})


ERRORS: list[Exception] = [
    BadRequestError("[name] is required"),
    AuthenticationError("unknown key"),
    ResourceNotFoundError(kind="thing", resource_id="t1", message="thing t1 not found"),
    UnavailableError(dependency="database", detail="not answering"),
]
RENDERERS = {
    "polytomic": ("/api/connections", polytomic.render),
    "elastic": ("/_connector/c1", elastic.render),
    "drs": ("/v3/p1/jobs", drs.render),
    "native": ("/v1/runs", native.render),
}


@pytest.mark.parametrize("dialect", sorted(RENDERERS))
@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_each_dialect_s_errors_match_the_document(dialect: str, error: Exception) -> None:
    path, render = RENDERERS[dialect]
    answer = render(error, request(path))
    assert isinstance(answer, JSONResponse)
    conforms(ERROR_MODELS[dialect], json.loads(bytes(answer.body)))


def conforms(model: type[BaseModel], rendered: Any) -> None:
    """`rendered`, as its route sends it, is what `model` declares (strictly: no coercion, no unknown key)."""
    model.model_validate_json(json.dumps(rendered), strict=True)


def test_polytomic_renderings_match_their_models() -> None:
    single, multi = SCHEDULES[:1], SCHEDULES
    for version, schedules in (("2024-02-08", single), ("2024-02-08", multi), ("2025-09-18", multi)):
        conforms(BulkSyncOut, rendering.bulk_sync(SYNC_ROW, schedules, version=version))
    checkpoint = {"done": True, "rows_written": 4, "updated_at": datetime(2025, 1, 2, 3, 5, tzinfo=UTC)}
    conforms(ExecutionOut, execution(polytomic_run(), {"public.users": checkpoint}))
    conforms(ExecutionOut, execution(polytomic_run(status="error", error="boom")))
    conforms(ApiScheduleOut, rendering.api_schedule(SCHEDULES[1], sync_id="sync-1"))


def test_elastic_documents_match_their_models() -> None:
    conforms(Connector, documents.connector(connector_row(), None))
    conforms(Connector, documents.connector(connector_row(), elastic_run()))
    conforms(SyncJob, documents.sync_job(elastic_run()))
