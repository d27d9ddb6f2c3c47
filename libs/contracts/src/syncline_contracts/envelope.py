"""The message envelope: CloudEvents Kafka binding (binary mode) headers plus Syncline's own."""

import uuid
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

SPEC_VERSION = "1.0"


def _now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    """A fresh message id."""
    return str(uuid.uuid4())


class Envelope(BaseModel):
    """Everything about a message that is not its payload; travels as Kafka headers."""

    model_config = ConfigDict(frozen=True, extra="ignore", use_attribute_docstrings=True)

    ce_id: str = Field(default_factory=new_id)
    """Unique message id; consumers dedupe on it."""
    ce_type: str
    """The message type, e.g. `syncline.run.completed`."""
    ce_source: str
    """The producing service, e.g. `/syncline/executor`."""
    ce_time: datetime = Field(default_factory=_now)
    """When the message was produced (UTC)."""
    ce_specversion: str = SPEC_VERSION
    """CloudEvents spec version."""
    org_id: str = ""
    """The organisation (tenant) the message belongs to."""
    correlation_id: str = ""
    """The HTTP request (or schedule tick) that started the chain."""
    causation_id: str = ""
    """The `ce_id` of the message that caused this one."""
    traceparent: str = ""
    """W3C trace context."""

    @model_validator(mode="after")
    def _root_correlates_to_itself(self) -> "Envelope":
        # the first message of a chain is its own correlation; later ones inherit it through `caused()`
        if not self.correlation_id:
            object.__setattr__(self, "correlation_id", self.ce_id)
        return self

    def to_headers(self) -> dict[str, str]:
        """Kafka headers (binary content mode)."""
        headers = self.model_dump(mode="json")
        headers["content-type"] = "application/json"
        return {k: str(v) for k, v in headers.items() if v != ""}

    @classmethod
    def from_headers(cls, headers: dict[str, str]) -> "Envelope":
        """Rebuild the envelope from Kafka headers."""
        return cls.model_validate(headers)

    def caused(self, *, ce_type: str, ce_source: str) -> "Envelope":
        """The envelope of a message caused by this one: same tenant and correlation, new id."""
        return Envelope(
            ce_type=ce_type,
            ce_source=ce_source,
            org_id=self.org_id,
            correlation_id=self.correlation_id,
            causation_id=self.ce_id,
            traceparent=self.traceparent,
        )
