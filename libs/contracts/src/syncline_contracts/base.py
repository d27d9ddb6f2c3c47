"""The base every Kafka message derives from."""

from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class Message(BaseModel):
    """A Kafka message body: frozen, tolerant of fields added by newer producers."""

    model_config = ConfigDict(frozen=True, extra="ignore", use_attribute_docstrings=True)

    key_field: ClassVar[str]
    """The field whose value is the Kafka key (the aggregate id)."""

    @property
    def key(self) -> str:
        """The Kafka key: the aggregate id, so one aggregate's messages stay in order."""
        return str(getattr(self, self.key_field))

    @classmethod
    def wire_type(cls) -> str:
        """The CloudEvents `type` of this message (the default of its `type` field)."""
        return str(cls.model_fields["type"].default)
