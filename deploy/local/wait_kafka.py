"""Block until the Kafka broker answers metadata requests.  Usage: wait_kafka.py HOST:PORT [timeout_s]

It authenticates as the services do (`syncline_platform.kafka.client_options`: the `SYNCLINE_KAFKA__…` settings,
else the credentials file a secured local broker wrote)."""

import asyncio
import contextlib
import logging
import sys
import time

from aiokafka.admin import AIOKafkaAdminClient

from syncline_platform.kafka import client_options
from syncline_platform.settings import ServiceSettings

logging.getLogger("aiokafka").setLevel(logging.CRITICAL)


async def main(bootstrap: str, wait_s: float) -> int:
    deadline = time.monotonic() + wait_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        settings = ServiceSettings().kafka.model_copy(update={"bootstrap_servers": bootstrap})
        admin = AIOKafkaAdminClient(**client_options(settings), request_timeout_ms=3000)
        try:
            await admin.start()
            info = await admin.describe_cluster()
            if info.get("brokers"):
                return 0
        except Exception as exc:
            last = exc
        finally:
            with contextlib.suppress(Exception):
                await admin.close()
        await asyncio.sleep(0.3)
    sys.stderr.write(f"kafka at {bootstrap} not ready after {wait_s}s: {last!r}\n")
    return 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 90)))
