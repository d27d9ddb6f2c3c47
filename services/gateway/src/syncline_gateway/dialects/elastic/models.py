"""Request bodies of the Elasticsearch connector APIs, parsed strictly (an unknown field is a 400)."""

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from syncline_contracts.status import JobType, TriggerMethod
from syncline_gateway.errors import BadRequestError

M = TypeVar("M", bound="StrictBody")


class StrictBody(BaseModel):
    """Elasticsearch parses with `ignoreUnknownFields=false`."""

    model_config = ConfigDict(extra="forbid")


class ConnectorPut(StrictBody):
    """`PUT /_connector/{id}`, `PUT /_connector`, `POST /_connector`."""

    description: str | None = None
    index_name: str | None = None
    is_native: bool = False
    language: str | None = None
    name: str | None = None
    service_type: str | None = None


class ConnectorConfiguration(StrictBody):
    """`PUT /_connector/{id}/_configuration`: plain `values`, or a full `configuration` of field objects."""

    values: dict[str, Any] | None = None
    configuration: dict[str, Any] | None = None

    def flat_values(self) -> dict[str, Any]:
        """Field → value, whichever form was sent."""
        if self.values is not None:
            return dict(self.values)
        return {
            key: (field.get("value") if isinstance(field, dict) else field)
            for key, field in (self.configuration or {}).items()
        }


class SyncJobPost(StrictBody):
    """`POST /_connector/_sync_job`."""

    id: str | None = None
    job_type: JobType = JobType.FULL
    trigger_method: TriggerMethod = TriggerMethod.ON_DEMAND


def _describe(error: Any, parser: str) -> BadRequestError:
    field = ".".join(str(p) for p in error["loc"]) or "body"
    match error["type"]:
        case "extra_forbidden":
            return BadRequestError(f"[{parser}] unknown field [{field}]")
        case "enum" | "literal_error":
            return BadRequestError(f"[{parser}] failed to parse field [{field}]: {error['msg']}")
        case "missing":
            return BadRequestError(f"Validation Failed: 1: [{field}] is missing;", kind="validation")
    return BadRequestError(f"[{parser}] failed to parse field [{field}]: {error['msg']}")


def parse(raw: bytes, model: type[M], *, parser: str) -> M:
    """The body as `model`, or a BadRequestError worded the way Elasticsearch words it."""
    if not raw.strip():
        raise BadRequestError("request body is required", kind="validation")
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequestError(f"[{parser}] failed to parse request body: {exc}") from exc
    if not isinstance(data, dict):
        raise BadRequestError(f"[{parser}] expected an object, found {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _describe(exc.errors()[0], parser) from exc
