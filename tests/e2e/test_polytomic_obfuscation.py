"""Polytomic field obfuscation with the official `polytomic` SDK, through the whole system: a bulk sync whose
`customers.name` field is configured with `obfuscate` delivers the lower-case hex SHA-256 of each name (in a text
column) to the destination, both in a snapshot and in the changes a replicating sync applies afterwards; the other
fields arrive as they are."""

import hashlib
from typing import Any

import pytest
from polytomic import FieldConfiguration, Polytomic, SchemaConfiguration
from tests.e2e.polytomic_support import connections, create_sync, execute, fetch, run, seed

pytestmark = pytest.mark.e2e

OBFUSCATED_NAME = SchemaConfiguration(id="public.customers", fields=[FieldConfiguration(id="name", obfuscate=True)])


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def customers(dsn: str) -> dict[int, tuple[Any, ...]]:
    rows = await fetch(dsn, "SELECT id, name, balance::text AS balance FROM copy.customers")
    return {r["id"]: (r["name"], r["balance"]) for r in rows}


async def test_an_obfuscated_field_lands_as_its_hash(
    api: Polytomic, source_db: tuple[str, str], target_db: tuple[str, str]
) -> None:
    source_name, source_dsn = source_db
    target_name, target_dsn = target_db
    await seed(source_dsn)
    sync_id = create_sync(api, *connections(api, source_name, target_name), [OBFUSCATED_NAME])
    fields = api.bulk_sync.schemas.get(sync_id, "public.customers").data
    assert fields is not None
    assert {f.id: f.obfuscated for f in fields.fields or []}["name"] is True

    done = run(api, sync_id)
    assert done.status == "completed", done.status_message
    landed = await customers(target_dsn)
    assert landed == {i: (sha(f"customer {i}"), f"{i * 1.5:.2f}") for i in range(1, 6)}
    assert landed[1][0] == "7ec17d2e9ee4f734690133c8fec7337293b0e6806c671e6c7b52115040a64429"  # "customer 1"
    types = await fetch(
        target_dsn,
        "SELECT data_type FROM information_schema.columns WHERE table_schema = 'copy' AND table_name = 'customers'"
        " AND column_name = 'name'",
    )
    assert types == [{"data_type": "text"}]


async def test_a_replicating_sync_hashes_the_changes_it_applies(
    api: Polytomic, source_db: tuple[str, str], target_db: tuple[str, str]
) -> None:
    source_name, source_dsn = source_db
    target_name, target_dsn = target_db
    await seed(source_dsn)
    await execute(source_dsn, "ALTER TABLE customers ALTER COLUMN name DROP NOT NULL")
    source, target = connections(api, source_name, target_name)
    sync_id = create_sync(api, source, target, [OBFUSCATED_NAME], mode="replicate")
    assert run(api, sync_id).status == "completed"

    await execute(
        source_dsn,
        "UPDATE customers SET name = 'renamed' WHERE id = 1; UPDATE customers SET name = NULL WHERE id = 2;"
        " DELETE FROM customers WHERE id = 3; INSERT INTO customers (id, name, balance) VALUES (6, 'new', 9)",
    )
    changed = run(api, sync_id)
    assert changed.status == "completed", changed.status_message
    assert await customers(target_dsn) == {
        1: (sha("renamed"), "1.50"),
        2: (None, "3.00"),
        4: (sha("customer 4"), "6.00"),
        5: (sha("customer 5"), "7.50"),
        6: (sha("new"), "9.00"),
    }
