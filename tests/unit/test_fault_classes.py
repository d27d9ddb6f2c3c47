"""Which failures wait and which give up: a broker or producer state error never parks an outbox row, and the
retry helper waits out only transient failures."""

import asyncio

import pytest
from aiokafka import errors as kafka
from asyncpg import exceptions as pg

from syncline_platform import loops, outbox
from syncline_platform.errors import is_transient

BROKER_STATE = [
    kafka.OutOfOrderSequenceNumber(),
    kafka.UnknownProducerId(),
    kafka.InvalidProducerEpoch(),
    kafka.ProducerFenced(),
    kafka.NotLeaderForPartitionError(),
    kafka.RequestTimedOutError(),
    kafka.KafkaConnectionError(),
    kafka.KafkaTimeoutError(),
    kafka.NotEnoughReplicasError(),
    kafka.UnknownTopicOrPartitionError(),
    kafka.KafkaError("Unexpected error during batch delivery"),
    ConnectionResetError(),
]


@pytest.mark.parametrize("error", BROKER_STATE, ids=lambda e: type(e).__name__)
def test_a_broker_or_producer_state_error_never_parks_a_row(error: BaseException) -> None:
    assert not outbox.row_fault(error)


@pytest.mark.parametrize(
    "error",
    [kafka.MessageSizeTooLargeError(), kafka.RecordTooLargeError(), kafka.CorruptRecordException(), TypeError()],
    ids=lambda e: type(e).__name__,
)
def test_a_fault_of_the_row_itself_may_park_it(error: BaseException) -> None:
    assert outbox.row_fault(error)


@pytest.mark.parametrize(
    "error",
    [kafka.OutOfOrderSequenceNumber(), kafka.NotLeaderForPartitionError(), pg.CannotConnectNowError()],
    ids=lambda e: type(e).__name__,
)
def test_producer_and_database_restarts_are_transient(error: BaseException) -> None:
    assert is_transient(error)


async def test_until_done_waits_out_transient_failures_and_gives_up_on_others() -> None:
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise pg.CannotConnectNowError("the database system is starting up")
        return "done"

    assert await loops.until_done(flaky, name="test", cap_s=0.01) == "done"
    assert calls == 3

    async def broken() -> None:
        raise ValueError("not a hiccup")

    with pytest.raises(ValueError, match="hiccup"):
        await asyncio.wait_for(loops.until_done(broken, name="test", cap_s=0.01), timeout=1)
