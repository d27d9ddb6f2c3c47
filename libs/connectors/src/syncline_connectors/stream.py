"""Cutting a reader's stream into batches at its marks, lazily, so a writer can stream each batch onward."""

from collections.abc import AsyncIterator

from syncline_connectors.capabilities import Item, Mark, Piece


class Batch:
    """The pieces of one batch, read lazily from the stream, and the mark that closes it."""

    def __init__(self, first: Piece | None, rest: AsyncIterator[Item], mark: Mark | None = None) -> None:
        self._first = first
        self._rest = rest
        self._done = mark is not None
        self.mark: Mark = mark or Mark(position={}, rows=0)
        self.bytes = 0

    @property
    def empty(self) -> bool:
        """A mark with nothing before it."""
        return self._first is None and self._done and self.bytes == 0

    async def pieces(self) -> AsyncIterator[Piece]:
        """Every piece up to the mark (which is kept in `mark`); nothing once the mark was reached."""
        if self._done:
            return
        item: Item | None = self._first
        self._first = None
        while isinstance(item, Piece):
            if isinstance(item.data, bytes | bytearray | memoryview):
                self.bytes += len(item.data)
            yield item
            item = await anext(self._rest, None)
        self._done = True
        if isinstance(item, Mark):
            self.mark = item


async def batches(items: AsyncIterator[Item]) -> AsyncIterator[Batch]:
    """The stream cut at its marks; a mark with nothing before it comes as an empty batch."""
    while (item := await anext(items, None)) is not None:
        if isinstance(item, Mark):
            yield Batch(None, items, mark=item)
            continue
        batch = Batch(item, items)
        yield batch
        async for _ in batch.pieces():  # drain what the consumer left
            pass
