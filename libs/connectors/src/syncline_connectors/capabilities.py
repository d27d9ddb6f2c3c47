"""The narrow capabilities connectors offer; the executor asks for the one it needs by connection type."""

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Document:
    """One document on its way to an index: its id and its JSON source (already serialised)."""

    id: str
    source: str


@dataclass
class WriteStats:
    """What a writer did."""

    written: int = 0
    deleted: int = 0
    bytes: int = 0
    total: int | None = None
    by_object: dict[str, int] = field(default_factory=dict)


class Checkable(Protocol):
    """Can tell whether its configuration reaches a working endpoint."""

    async def check(self) -> None:
        """Raise when the endpoint cannot be used."""


class DocumentReader(Protocol):
    """Reads a source as documents, in bounded batches."""

    def documents(self, *, batch_size: int) -> AsyncIterator[list[Document]]:
        """Every document of the selected objects, batch by batch."""
        ...


class DocumentWriter(Protocol):
    """Writes documents to an index idempotently (upsert by id), and removes what the source no longer has."""

    async def write(self, batch: list[Document]) -> int:
        """Upsert a batch; returns the bytes written."""
        ...

    async def delete_unseen(self) -> int:
        """Delete documents not written by this run; returns how many."""
        ...

    async def count(self) -> int:
        """Documents in the index now."""
        ...


def describe(value: Any) -> str:
    """A short, safe description of a value for errors."""
    text = repr(value)
    return text if len(text) < 80 else text[:77] + "..."
