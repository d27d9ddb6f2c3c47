"""The Kafka interface's pure parts: an organisation's topic names and the bridge's pattern, decoding a tenant
command (or the reason it is rejected), ids derived from a command, schedule ids of Syncline's choosing, and
where the services' broker credentials come from."""

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from pydantic import SecretStr

from syncline_contracts.status import JobType
from syncline_contracts.syncs import BulkSyncDefinition, BulkSyncSchedule
from syncline_contracts.tenant import CreateSync, StartRun, TenantTopics, commands_pattern, org_of_commands_topic
from syncline_gateway.dialects.native.kafka.bridge import Rejection, decode, derived_id, with_own_schedule_ids
from syncline_platform.kafka import client_options, confluent_options, resolve_auth
from syncline_platform.settings import KafkaSettings

ORG = "0b8a7c55-3f0e-4b53-9d0e-1c1b8f0d6a21"


def record(body: bytes, **headers: str) -> SimpleNamespace:
    return SimpleNamespace(value=body, headers=[(k, v.encode()) for k, v in headers.items()])


def test_topic_names_and_the_bridge_pattern() -> None:
    topics = TenantTopics(org_id=ORG, prefix="t1.")
    assert topics.commands == f"t1.syncline.tenant.{ORG}.commands.v1"
    assert topics.events == f"t1.syncline.tenant.{ORG}.events.v1"
    assert topics.events.startswith(topics.base)
    assert topics.commands.startswith(topics.base)
    pattern = re.compile(commands_pattern("t1."))
    assert pattern.match(topics.commands)
    assert not pattern.match(topics.events)
    assert not pattern.match(TenantTopics(org_id=ORG).commands)  # another installation's prefix
    assert not pattern.match(f"t1.syncline.tenant.{ORG}.x.commands.v1")  # no dots in an organisation
    assert org_of_commands_topic(topics.commands, "t1.") == ORG
    assert org_of_commands_topic(topics.events, "t1.") is None
    assert org_of_commands_topic("t1.syncline.runs.commands.v1", "t1.") is None


def test_a_command_is_decoded_from_its_ce_type_and_body() -> None:
    headers, command = decode(record(b'{"sync_id": "s1"}', ce_type="syncline.tenant.run.start", ce_id="c1"))
    assert command == StartRun(sync_id="s1", job_type=JobType.FULL)
    assert headers["ce_id"] == "c1"


def test_an_org_id_in_the_body_or_headers_is_not_part_of_a_command() -> None:
    body = json.dumps({"sync_id": "s1", "org_id": "someone-else"}).encode()
    _, command = decode(record(body, ce_type="syncline.tenant.run.start", org_id="someone-else"))
    assert "org_id" not in command.model_dump()


@pytest.mark.parametrize(
    ("body", "ce_type", "words"),
    [
        (b"{nope", "syncline.tenant.run.start", "not JSON"),
        (b"[1, 2]", "syncline.tenant.run.start", "not a JSON object"),
        (b"{}", "syncline.tenant.teleport", "unknown ce_type"),
        (b"{}", "", "unknown ce_type"),
        (b"{}", "syncline.tenant.run.start", "sync_id"),
        (b'{"sync_id": "s", "job_type": "sideways"}', "syncline.tenant.run.start", "job_type"),
        (b'{"definition": {"name": "x"}}', "syncline.tenant.sync.create", "definition"),
    ],
)
def test_what_is_not_a_command_is_rejected_as_invalid(body: bytes, ce_type: str, words: str) -> None:
    with pytest.raises(Rejection) as caught:
        decode(record(body, ce_type=ce_type))
    assert caught.value.code == "invalid"
    assert words in caught.value.reason


def test_ids_derive_from_the_organisation_and_the_command() -> None:
    assert derived_id(ORG, "c1") == derived_id(ORG, "c1")  # a command read twice makes one thing
    assert derived_id(ORG, "c1") != derived_id(ORG, "c2")
    assert derived_id(ORG, "c1") != derived_id("another-org", "c1")  # a copied ce_id is another organisation's


def test_schedules_get_ids_of_syncline_and_a_manual_default_when_there_are_none() -> None:
    definition = BulkSyncDefinition(name="n", source_connection_id="a", destination_connection_id="b", schedules=())
    own = with_own_schedule_ids(definition, org_id=ORG, command_id="c1")
    assert [(s.frequency, s.is_default) for s in own.schedules] == [("manual", True)]
    chosen = BulkSyncSchedule(schedule_id="mine", is_default=True, frequency="daily", hour="3", minute="0")
    replaced = with_own_schedule_ids(
        definition.model_copy(update={"schedules": (chosen,)}), org_id=ORG, command_id="c1"
    )
    assert replaced.schedules[0].schedule_id != "mine"
    assert replaced.schedules[0].frequency == "daily"
    assert CreateSync(definition=own).key == "n"


def _credentials(path: Path, bootstrap: str) -> Path:
    path.write_text(
        json.dumps(
            {
                "bootstrap_servers": bootstrap,
                "security_protocol": "SASL_PLAINTEXT",
                "sasl_mechanism": "SCRAM-SHA-512",
                "username": "syncline",
                "password": "pw",
            }
        )
    )
    return path


def test_the_local_credentials_file_is_used_for_its_own_broker_only(tmp_path: Path) -> None:
    path = _credentials(tmp_path / "credentials.json", "127.0.0.1:29092")
    mine = resolve_auth(KafkaSettings(bootstrap_servers="127.0.0.1:29092", credentials_file=path))
    assert (mine.security_protocol, mine.username, mine.password) == ("SASL_PLAINTEXT", "syncline", "pw")
    other = resolve_auth(KafkaSettings(bootstrap_servers="127.0.0.1:19092", credentials_file=path))
    assert (other.security_protocol, other.username) == ("PLAINTEXT", None)
    home = tmp_path / "home"
    (home / "kafka").mkdir(parents=True)
    _credentials(home / "kafka" / "credentials.json", "127.0.0.1:29092")
    found = resolve_auth(
        KafkaSettings(bootstrap_servers="127.0.0.1:29092"), environ={"SYNCLINE_HOME": str(home)}, cwd=tmp_path
    )
    assert found.username == "syncline"


def test_settings_win_over_the_file_and_every_client_gets_the_same_options(tmp_path: Path) -> None:
    path = _credentials(tmp_path / "credentials.json", "k:9093")
    settings = KafkaSettings(
        bootstrap_servers="k:9093",
        credentials_file=path,
        security_protocol="SASL_SSL",
        sasl_username="svc",
        sasl_password=SecretStr("s3"),
    )
    aio = client_options(settings)
    assert (aio["security_protocol"], aio["sasl_plain_username"], aio["sasl_plain_password"]) == (
        "SASL_SSL",
        "svc",
        "s3",
    )
    assert aio["ssl_context"] is not None
    rd = confluent_options(settings)
    assert (rd["security.protocol"], rd["sasl.username"], rd["sasl.mechanisms"]) == ("SASL_SSL", "svc", "SCRAM-SHA-512")
    plain = client_options(KafkaSettings(bootstrap_servers="k:9092", credentials_file=tmp_path / "none.json"))
    assert plain == {"bootstrap_servers": "k:9092", "security_protocol": "PLAINTEXT"}
