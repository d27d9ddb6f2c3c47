"""Request and response bodies of the AppIntegrations operations Syncline serves, as botocore's model
(`appintegrations/2020-07-29`) shapes them: member names, lengths and patterns (which botocore does not check on
the client side, so they are checked here). An unknown member, a wrong type or a broken constraint is an
`InvalidRequestException`."""

from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic_core import ErrorDetails

from syncline_contracts.data_integrations import ExecutionConfig, FileConfig, ObjectConfiguration, ScheduleConfig
from syncline_gateway import routing
from syncline_gateway.bodies import BodyLimits
from syncline_gateway.errors import BadRequestError

M = TypeVar("M", bound="Body")

LIMITS = BodyLimits(max_bytes=1024 * 1024, max_depth=16)
"""The dialect's body limits (its deepest shape, `ObjectConfiguration`, nests 3 levels)."""

URI_PATTERN = r"^((\w+\:\/\/[\w.-]+[\w/!@#+=.-]+)|(\w+\:\/\/[\w.-]+[\w/!@#+=.-]+[\w/!@#+=.-]+[\w/!@#+=.,-]+))$"

NameText = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^[a-zA-Z0-9\/\._\-]+$")]
NonBlank = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r".*\S.*")]
NonBlankLong = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r".*\S.*")]
DescriptionText = Annotated[str, StringConstraints(max_length=1000)]
Uri = Annotated[str, StringConstraints(min_length=1, max_length=1000, pattern=URI_PATTERN)]
FieldName = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^[a-zA-Z0-9\/\._\-]+$")]
TagKey = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^(?!aws:)[a-zA-Z+-=._:/]+$")]
TagValue = Annotated[str, StringConstraints(max_length=256)]
Token = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
TagMap = Annotated[dict[TagKey, TagValue], Field(min_length=1, max_length=200)]
FieldList = Annotated[list[FieldName], Field(min_length=1, max_length=2048)]
Objects = dict[NonBlank, dict[NonBlank, FieldList]]


class Body(BaseModel):
    """A request body: members as AWS names them, nothing else."""

    model_config = ConfigDict(extra="forbid", regex_engine="python-re")


class ScheduleIn(Body):
    ScheduleExpression: NonBlank
    FirstExecutionFrom: NonBlank | None = None
    Object: NameText | None = None

    def part(self) -> ScheduleConfig:
        return ScheduleConfig(
            schedule_expression=self.ScheduleExpression,
            first_execution_from=self.FirstExecutionFrom,
            object=self.Object,
        )


class FileConfigurationIn(Body):
    Folders: Annotated[list[NonBlankLong], Field(min_length=1, max_length=10)]
    Filters: dict[str, FieldList] | None = None

    def part(self) -> FileConfig:
        filters = {k: tuple(v) for k, v in self.Filters.items()} if self.Filters is not None else None
        return FileConfig(folders=tuple(self.Folders), filters=filters)


class OnDemandIn(Body):
    StartTime: NonBlank
    EndTime: NonBlank | None = None


class ExecutionIn(Body):
    ExecutionMode: Literal["ON_DEMAND", "SCHEDULED"]
    OnDemandConfiguration: OnDemandIn | None = None
    ScheduleConfiguration: ScheduleIn | None = None

    def part(self) -> ExecutionConfig:
        on_demand = self.OnDemandConfiguration
        return ExecutionConfig(
            execution_mode=self.ExecutionMode,
            start_time=on_demand.StartTime if on_demand else None,
            end_time=on_demand.EndTime if on_demand else None,
            schedule=self.ScheduleConfiguration.part() if self.ScheduleConfiguration else None,
        )


def objects(value: Objects | None) -> ObjectConfiguration | None:
    """An `ObjectConfiguration` as the command carries it."""
    if value is None:
        return None
    return {name: {key: tuple(fields) for key, fields in entry.items()} for name, entry in value.items()}


class CreateDataIntegrationIn(Body):
    Name: NameText
    KmsKey: NonBlank
    Description: DescriptionText | None = None
    SourceURI: Uri | None = None
    ScheduleConfig: ScheduleIn | None = None
    Tags: TagMap | None = None
    ClientToken: Token | None = None
    FileConfiguration: FileConfigurationIn | None = None
    ObjectConfiguration: Objects | None = None


class UpdateDataIntegrationIn(Body):
    Name: NameText | None = None
    Description: DescriptionText | None = None


class CreateAssociationIn(Body):
    ClientId: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None
    ObjectConfiguration: Objects | None = None
    DestinationURI: Uri | None = None
    ClientAssociationMetadata: dict[NonBlank, NonBlank] | None = None
    ClientToken: Token | None = None
    ExecutionConfiguration: ExecutionIn | None = None


class UpdateAssociationIn(Body):
    ExecutionConfiguration: ExecutionIn


class TagResourceIn(Body):
    tags: TagMap


def _where(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) or "body"


class Wording:
    """AWS's words for a body's problems (`routing.Wording`)."""

    def empty(self) -> BadRequestError:
        return BadRequestError("The request body is required")

    def unparseable(self, exc: Exception) -> BadRequestError:
        return BadRequestError(f"The request body is not valid JSON: {exc}")

    def not_an_object(self, data: object) -> BadRequestError:
        return BadRequestError(f"The request body must be a JSON object, not {type(data).__name__}")

    def invalid(self, error: ErrorDetails) -> BadRequestError:
        where = _where(error["loc"])
        if error["type"] == "extra_forbidden":
            return BadRequestError(f"Unknown member [{where}] in the request")
        return BadRequestError(
            f"1 validation error detected: Value at '{where}' failed to satisfy constraint: {error['msg']}"
        )


def parse(raw: bytes, model: type[M], *, empty_ok: bool = False) -> M:
    """The body as `model`, or a `BadRequestError` in AWS's words."""
    if empty_ok and not raw.strip():
        raw = b"{}"
    return routing.parse(raw, model, wording=Wording(), limits=LIMITS)


def drop_none(value: dict[str, Any]) -> dict[str, Any]:
    """A response shape without its absent members (botocore reads a missing member as absent)."""
    return {k: v for k, v in value.items() if v is not None}
