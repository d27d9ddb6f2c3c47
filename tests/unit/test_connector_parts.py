"""Pure parts of the connectors: names, the binary COPY parser, Kafka naming, specs from Elastic snapshots, plans."""

import struct

import pytest
from aiokafka.partitioner import murmur2

from syncline_connectors.capabilities import Column, ObjectInfo
from syncline_connectors.docstore import index_schema
from syncline_connectors.elastic import UnsupportedServiceTypeError, spec_from_connector
from syncline_connectors.kafka import partition_for, topic_for
from syncline_connectors.naming import normalize, normalize_all
from syncline_connectors.pgcopy import SIGNATURE, BinaryRowParser, copy_rows
from syncline_connectors.planning import plan
from syncline_connectors.postgres import slot_name
from syncline_connectors.spec import (
    Discover,
    Endpoint,
    KafkaPolicy,
    Mode,
    NormalizeNames,
    ObjectSpec,
    SyncSpec,
)
from syncline_platform.errors import InvalidError

ORG = "0592b77b-3c1e-4c4e-9a57-1f0b7d2f7c11"


@pytest.mark.parametrize(
    ("name", "rule", "expected"),
    [
        ("Order Items", NormalizeNames.ENABLED, "order_items"),
        ("Unit-Price ($)", NormalizeNames.ENABLED, "unit_price"),
        ("2024 sales", NormalizeNames.ENABLED, "_2024_sales"),
        ("Order Items", NormalizeNames.LEGACY, "order_items"),
        ("Unit-Price", NormalizeNames.LEGACY, "unit-price"),
        ("Order Items", NormalizeNames.DISABLED, "Order Items"),
        ("x" * 80, NormalizeNames.ENABLED, "x" * 63),
    ],
)
def test_names_normalise_per_rule(name: str, rule: NormalizeNames, expected: str) -> None:
    assert normalize(name, rule) == expected


def test_names_that_collapse_onto_one_get_suffixes() -> None:
    assert normalize_all(["A B", "a_b", "a-b"], NormalizeNames.ENABLED) == ("a_b", "a_b_1", "a_b_2")


def binary_stream(rows: list[tuple[bytes | None, ...]]) -> bytes:
    out = SIGNATURE + struct.pack("!ii", 0, 0)
    for row in rows:
        out += struct.pack("!h", len(row))
        for value in row:
            out += struct.pack("!i", -1) if value is None else struct.pack("!i", len(value)) + value
    return out + struct.pack("!h", -1)


def test_binary_rows_parse_across_any_cut_and_several_streams() -> None:
    rows: list[tuple[bytes | None, ...]] = [(b"1", b"one"), (b"2", None), (b"3", b"")]
    data = binary_stream(rows) + binary_stream([(b"4", b"four")])
    for cut in range(1, len(data)):
        parser = BinaryRowParser()
        parsed = parser.feed(data[:cut]) + parser.feed(data[cut:])
        assert parsed == [*rows, (b"4", b"four")]
        assert parser.pending == 0


def test_copy_status_counts() -> None:
    assert copy_rows("COPY 42") == 42
    assert copy_rows("") == 0


def test_topics_follow_the_drs_policies() -> None:
    names = {"database": "shop", "schema": "sales", "table": "orders"}
    assert topic_for(KafkaPolicy(topic_policy=0, topic="all"), **names) == "all"
    assert topic_for(KafkaPolicy(topic_policy=1), **names) == "shop-sales-orders"
    assert topic_for(KafkaPolicy(topic_policy=2), **names) == "shop"
    assert topic_for(KafkaPolicy(topic_policy=3), **names) == "shop-sales"
    custom = KafkaPolicy(topic_policy=1, topic_name_format="cdc.$schema$.$tablename$ v1")
    assert topic_for(custom, **names) == "cdc.sales.orders_v1"
    with pytest.raises(ValueError, match="topic_policy 0 needs a topic"):
        KafkaPolicy(topic_policy=0)


def place(partition_policy: int, key: bytes = b"", table: str = "orders") -> int:
    policy = KafkaPolicy(topic="t", partition_policy=partition_policy)  # type: ignore[arg-type]
    return partition_for(policy, key=key, database="shop", schema="sales", table=table, partitions=8)


def test_partitions_follow_the_drs_policies() -> None:
    assert place(1, b"7") == 0
    assert len({place(2, str(k).encode()) for k in range(50)}) > 1
    assert len({place(0, str(k).encode()) for k in range(9)}) == 1
    assert place(0) == (murmur2(b"shop.sales.orders") & 0x7FFFFFFF) % 8  # one partition per table
    assert place(3, table="lines") == place(3)  # one partition per schema


def elastic(**changes: object) -> dict[str, object]:
    connector: dict[str, object] = {
        "id": "shop",
        "index_name": "shop-idx",
        "service_type": "postgresql",
        "configuration": {
            "host": "db",
            "port": 5432,
            "username": "u",
            "database": "shop",
            "schema": "sales",
            "tables": ["orders", "lines"],
        },
        "sync_cursor": None,
    }
    return connector | changes


def test_an_elastic_full_job_becomes_a_full_sync_with_deletes() -> None:
    spec = spec_from_connector(
        elastic(), org_id=ORG, sealed_secrets={"password": "sealed"}, job_type="full", docstore_dsn="pg://d"
    )
    assert spec.mode is Mode.FULL_WITH_DELETES
    assert spec.source.type == "postgresql"
    assert spec.source.sealed_secrets == {"password": "sealed"}
    assert "password" not in spec.source.config
    assert spec.destination.type == "docstore"
    assert (spec.destination.config["dsn"], spec.destination.config["index"]) == ("pg://d", "shop-idx")
    assert spec.destination.config["schema"] == "org_0592b77b3c1e4c4e9a571f0b7d2f7c11"  # the organisation's own
    assert [(o.schema_name, o.name) for o in spec.objects] == [("sales", "orders"), ("sales", "lines")]
    assert spec.new_objects is Discover.NONE
    assert spec.normalize_names is NormalizeNames.DISABLED


def test_an_elastic_incremental_job_takes_its_tracking_field_from_the_cursor() -> None:
    everything = elastic(configuration={"host": "db", "port": 1, "username": "u", "database": "shop", "tables": "*"})
    spec = spec_from_connector(everything, org_id=ORG, sealed_secrets={}, job_type="incremental", docstore_dsn="pg://d")
    assert spec.mode is Mode.INCREMENTAL
    assert spec.objects == ()
    assert spec.new_objects is Discover.ALL
    tracked = spec_from_connector(
        elastic(sync_cursor={"tracking_field": "updated_at"}),
        org_id=ORG,
        sealed_secrets={},
        job_type="incremental",
        docstore_dsn="pg://d",
    )
    assert {o.tracking_field for o in tracked.objects} == {"updated_at"}
    with pytest.raises(UnsupportedServiceTypeError):
        spec_from_connector(
            elastic(service_type="mysql"), org_id=ORG, sealed_secrets={}, job_type="full", docstore_dsn="x"
        )
    with pytest.raises(InvalidError, match="index_name"):
        spec_from_connector(elastic(index_name=None), org_id=ORG, sealed_secrets={}, job_type="full", docstore_dsn="x")


def test_each_organisation_has_its_own_document_store_schema() -> None:
    other = "7e1d8c7a-0000-4000-8000-000000000001"
    assert index_schema(ORG) == "org_0592b77b3c1e4c4e9a571f0b7d2f7c11"
    assert index_schema(other) != index_schema(ORG)
    assert index_schema(ORG) == index_schema(ORG)  # stable: the same organisation finds its indexes again
    # ids that are not canonical UUIDs (another spelling of one included) get a hashed name of their own
    odd = [index_schema(i) for i in ("org", ORG.upper(), ORG.replace("-", ""), 'x"; DROP SCHEMA public; --')]
    assert all(s.startswith("org_h") and len(s) == 36 and s.isidentifier() for s in odd)
    assert len({*odd, index_schema(ORG)}) == 5


def discovered() -> list[ObjectInfo]:
    columns = (Column("Id", "bigint"), Column("Full Name", "text"), Column("at", "timestamptz"))
    return [
        ObjectInfo(schema="public", name="People", columns=columns, primary_key=("Id",)),
        ObjectInfo(schema="public", name="other", columns=(Column("k", "int"),), primary_key=()),
    ]


def spec(**changes: object) -> SyncSpec:
    base = SyncSpec(
        sync_id="s",
        source=Endpoint(type="postgresql"),
        destination=Endpoint(type="postgresql"),
        objects=(ObjectSpec(name="People", fields=("Full Name",), tracking_field="at"),),
    )
    return base.model_copy(update=changes)


async def test_plans_carry_keys_tracking_fields_and_normalised_names() -> None:
    plans = await plan(spec(), discovered(), default_schema="public")
    assert len(plans) == 1
    only = plans[0]
    assert [c.name for c in only.columns] == ["Full Name", "Id", "at"]  # key and cursor always travel
    assert only.output == "people"
    assert only.output_columns == ("full_name", "id", "at")
    assert only.output_key == ("id",)
    with_new = await plan(spec(new_objects=Discover.ALL), discovered(), default_schema="public")
    assert [p.name for p in with_new] == ["People", "other"]


async def test_plans_refuse_missing_objects_and_fields() -> None:
    with pytest.raises(InvalidError, match="tables not found"):
        await plan(spec(objects=(ObjectSpec(name="nope"),)), discovered(), default_schema="public")
    with pytest.raises(InvalidError, match="fields not found"):
        await plan(spec(objects=(ObjectSpec(name="People", fields=("x",)),)), discovered(), default_schema="public")


async def test_without_new_fields_an_existing_destination_keeps_its_columns() -> None:
    async def existing(_: str) -> list[str]:
        return ["id", "at"]

    narrow = spec(new_fields=Discover.NONE, objects=(ObjectSpec(name="People"),))
    plans = await plan(narrow, discovered(), default_schema="public", existing=existing)
    assert plans[0].output_columns == ("id", "at")


def test_slot_names_are_valid_and_stable() -> None:
    name = slot_name("Some Sync/ID with spaces")
    assert name == slot_name("Some Sync/ID with spaces")
    assert name.startswith("syncline_")
    assert len(name) <= 63
    assert name.replace("_", "").isalnum()
    assert name.islower()
