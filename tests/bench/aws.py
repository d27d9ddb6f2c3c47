"""The AWS AppIntegrations dialect through the whole system with boto3: seconds from creating a data integration
and its on-demand association (a 10-row table, PostgreSQL → PostgreSQL) to the association's
`LastExecutionStatus` reading `COMPLETED`; and what verifying one SigV4 signature costs the gateway (the signature
core alone, on a request boto3 signed)."""

import asyncio
import time
import timeit
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from syncline_gateway.signatures import SignedRequest, parse_sigv4, verify_sigv4
from tests.e2e.aws_support import client, seed_events, window
from tests.e2e.polytomic_support import polytomic, wait_for_policy
from tests.support.infra import create_database, database_url, drop_database, unique
from tests.support.system import System, make_system

ROOT = Path(__file__).resolve().parents[2]
ROWS = 10


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 4)


def _config(database: str) -> dict[str, Any]:
    server = urlsplit(database_url())
    return {
        "hostname": server.hostname,
        "port": server.port,
        "username": server.username,
        "password": server.password or "",
        "database": database,
    }


def _create_to_completed(aws: Any, source: str, target: str) -> float:
    started = time.perf_counter()
    created = aws.create_data_integration(
        Name=unique("bench"),
        KmsKey="bench",
        SourceURI=f"postgresql://Syncline/{source}",
        ObjectConfiguration={"public.events": {"tracking_field": ["at"]}},
    )
    aws.create_data_integration_association(
        DataIntegrationIdentifier=created["Id"],
        DestinationURI=f"postgresql://Syncline/{target}",
        ClientAssociationMetadata={"schema": unique("out")},
        ExecutionConfiguration=window(0, ROWS + 1),
    )
    while True:
        items = aws.list_data_integration_associations(DataIntegrationIdentifier=created["Id"])
        status = items["DataIntegrationAssociations"][0].get("LastExecutionStatus") or {}
        if status.get("ExecutionStatus") == "COMPLETED":
            return time.perf_counter() - started
        assert status.get("ExecutionStatus") != "FAILED", status
        time.sleep(0.02)


def _measure(system: System, source_db: str, target_db: str, runs: int) -> dict[str, float | int | str]:
    with polytomic(system) as api:
        wait_for_policy(api)
        ids = []
        for database in (source_db, target_db):
            made = api.connections.create(name=unique("conn"), type="postgresql", configuration=_config(database))
            assert made.data is not None
            ids.append(str(made.data.id))
    aws = client(system)
    _create_to_completed(aws, *ids)  # warm up
    spent = [_create_to_completed(aws, *ids) for _ in range(runs)]
    return {
        "name": "aws_appintegrations",
        "runs": runs,
        "rows": ROWS,
        "create_to_completed_p50_s": _p(spent, 0.5),
        "create_to_completed_p90_s": _p(spent, 0.9),
        "sigv4_verify_us": signature_cost(),
    }


def signature_cost(times: int = 20_000) -> float:
    """Microseconds to parse and verify a SigV4 signature (a 1 KB JSON body) in the gateway's signature core."""
    body = b'{"Name": "bench", "KmsKey": "k", "Description": "' + b"x" * 960 + b'"}'
    request = AWSRequest(
        method="POST",
        url="http://127.0.0.1:8080/dataIntegrations",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    SigV4Auth(Credentials("SLBENCHKEY0000000000", "secret" * 6), "app-integrations", "eu-west-2").add_auth(request)
    headers = {k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
    headers["host"] = "127.0.0.1:8080"
    signed = SignedRequest(method="POST", path="/dataIntegrations", query="", headers=headers, body=body)
    now = datetime.now(UTC)

    def verify() -> None:
        verify_sigv4(signed, parse_sigv4(signed), secret="secret" * 6, now=now, service="app-integrations")

    verify()
    return round(timeit.timeit(verify, number=times) / times * 1e6, 1)


async def measure(runs: int = 20) -> dict[str, float | int | str]:
    """The create → COMPLETED latency and the signature cost, on a fresh system."""
    name = unique("awsbench")
    await create_database(name)
    await create_database(f"{name}_data")
    source = await create_database(f"{name}_src")
    await create_database(f"{name}_dst")
    await seed_events(source, rows=range(1, ROWS + 1))
    system = make_system(database=name, docstore=f"{name}_data", prefix=f"{name}.", log_dir=ROOT / ".local/bench/logs")
    try:
        system.key = system.admin("create-key", "--org", system.admin("create-org", "bench")["id"])
        system.start()
        return await asyncio.to_thread(_measure, system, f"{name}_src", f"{name}_dst", runs)
    finally:
        system.stop()
        for database in (name, f"{name}_data", f"{name}_src", f"{name}_dst"):
            await drop_database(database)


if __name__ == "__main__":
    import json
    import sys

    sys.stdout.write(json.dumps(asyncio.run(measure(runs=int(sys.argv[1]) if len(sys.argv) > 1 else 20))) + "\n")
