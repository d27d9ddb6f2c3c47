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

ARN_PATTERN = (
    r"^arn:aws:[A-Za-z0-9][A-Za-z0-9_/.-]{0,62}:[A-Za-z0-9_/.-]{0,63}:[A-Za-z0-9_/.-]{0,63}:"
    r"[A-Za-z0-9][A-Za-z0-9:_/+=,@.-]{0,1023}$"
)
"""botocore's `Arn` (`resourceArn` of the tag operations)."""
URI_PATTERN = r"^((\w+\:\/\/[\w.-]+[\w/!@#+=.-]+)|(\w+\:\/\/[\w.-]+[\w/!@#+=.-]+[\w/!@#+=.-]+[\w/!@#+=.,-]+))$"

NameText = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^[a-zA-Z0-9\/\._\-]+$")]
NonBlank = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r".*\S.*")]
NonBlankLong = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r".*\S.*")]
DescriptionText = Annotated[str, StringConstraints(max_length=1000)]
Uri = Annotated[str, StringConstraints(min_length=1, max_length=1000, pattern=URI_PATTERN)]
FieldName = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^[a-zA-Z0-9\/\._\-]+$")]
TagKey = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^(?!aws:)[a-zA-Z+-=._:/]+$")]
TagKeyText = Annotated[str, StringConstraints(min_length=1, max_length=128)]
"""botocore's `TagKey`, as `UntagResource`'s `tagKeys` query takes it."""
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


# --- answers ---------------------------------------------------------------------------------------------------


class Out(BaseModel):
    """An answer: members as botocore's output shape names them, absent rather than null (`answer` drops None),
    nothing else. Constraints are the output shapes' types and enums, not the input patterns: what was stored is
    sent back as it was accepted."""

    model_config = ConfigDict(extra="forbid")


class ScheduleConfigurationOut(Out):
    ScheduleExpression: str
    FirstExecutionFrom: str | None = None
    Object: str | None = None


class FileConfigurationOut(Out):
    Folders: list[str]
    Filters: dict[str, list[str]] | None = None


class DataIntegrationOut(Out):
    """`GetDataIntegrationResponse` (and `CreateDataIntegrationResponse`, which adds `ClientToken`)."""

    Arn: str
    Id: str
    Name: str
    Description: str | None = None
    KmsKey: str
    SourceURI: str | None = None
    ScheduleConfiguration: ScheduleConfigurationOut | None = None
    Tags: dict[str, str] | None = None
    FileConfiguration: FileConfigurationOut | None = None
    ObjectConfiguration: dict[str, dict[str, list[str]]] | None = None


class CreatedDataIntegrationOut(DataIntegrationOut):
    ClientToken: str | None = None


class DataIntegrationSummaryOut(Out):
    Arn: str
    Name: str
    SourceURI: str | None = None


class DataIntegrationsOut(Out):
    DataIntegrations: list[DataIntegrationSummaryOut]
    NextToken: str | None = None


class OnDemandConfigurationOut(Out):
    StartTime: str
    EndTime: str | None = None


class ExecutionConfigurationOut(Out):
    ExecutionMode: Literal["ON_DEMAND", "SCHEDULED"]
    OnDemandConfiguration: OnDemandConfigurationOut | None = None
    ScheduleConfiguration: ScheduleConfigurationOut | None = None


class LastExecutionOut(Out):
    ExecutionStatus: Literal["COMPLETED", "IN_PROGRESS", "FAILED"]
    StatusMessage: str | None = None


class AssociationSummaryOut(Out):
    DataIntegrationAssociationArn: str
    DataIntegrationArn: str
    ClientId: str | None = None
    DestinationURI: str | None = None
    LastExecutionStatus: LastExecutionOut | None = None
    ExecutionConfiguration: ExecutionConfigurationOut | None = None


class AssociationsOut(Out):
    DataIntegrationAssociations: list[AssociationSummaryOut]
    NextToken: str | None = None


class CreatedAssociationOut(Out):
    DataIntegrationAssociationId: str
    DataIntegrationArn: str


class AwsTagsOut(Out):
    tags: dict[str, str]


class AwsEmptyOut(Out):
    """The answer of the operations whose output shape has no member."""


class AwsErrorOut(BaseModel):
    """Every error's body (its code also in the `x-amzn-ErrorType` header); botocore reads `Message`."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    type: str = Field(alias="__type", description="The error code, e.g. `ResourceNotFoundException`")
    message: str
    Message: str


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
