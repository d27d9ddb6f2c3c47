"""`docker-compose.yml` and the native path (`deploy/local/run.sh`, `pg.sh`) run the same system: the same four
console scripts, the same SYNCLINE_* variables (those that only say where the containers are aside), the ops
ports the services' settings default to (which the healthchecks read), PostgreSQL's same major version with
scram-sha-256, the same demo role, a shared files volume, no secret in the file, and the gateway published on
127.0.0.1 only. (`make test` also validates the file with a compose implementation's `config` command.)"""

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from syncline_executor.settings import ExecutorSettings
from syncline_gateway.settings import GatewaySettings
from syncline_platform.settings import ServiceSettings
from syncline_policy.settings import PolicySettings
from syncline_scheduler.settings import SchedulerSettings

ROOT = Path(__file__).resolve().parents[2]
RUN_SH = (ROOT / "deploy" / "local" / "run.sh").read_text()
PG_SH = (ROOT / "deploy" / "local" / "postgres" / "pg.sh").read_text()
FIRST_START = (ROOT / "deploy" / "docker" / "first_start.py").read_text()
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SETTINGS: dict[str, type[ServiceSettings]] = {
    "gateway": GatewaySettings,
    "policy": PolicySettings,
    "scheduler": SchedulerSettings,
    "executor": ExecutorSettings,
}
WHERE_THINGS_ARE = {
    "SYNCLINE_HOME",
    "SYNCLINE_KAFKA__BOOTSTRAP_SERVERS",
    "SYNCLINE_DATABASE_URL",
    "SYNCLINE_DATABASE_PASSWORD_FILE",
    "SYNCLINE_HOST",
    "SYNCLINE_PORT",
    "SYNCLINE_OPS__PORT",
}
"""Set in compose only: where the broker, the database, the state volume and the listeners are inside the
containers (natively, the settings' defaults point at the local cluster, `.local/` and 127.0.0.1)."""


def native_services() -> list[str]:
    found = re.search(r"^SERVICES=\(([^)]*)\)", RUN_SH, re.MULTILINE)
    assert found, "run.sh names its services in SERVICES=(...)"
    return found.group(1).split()


def native_variables() -> set[str]:
    """What run.sh exports to the services it starts."""
    return set(re.findall(r"export (SYNCLINE_\w+)=", RUN_SH))


def compose_variables(service: dict[str, Any]) -> set[str]:
    """What a compose service's environment and entrypoint give it."""
    exported = set(re.findall(r"export (SYNCLINE_\w+)=", " ".join(service.get("entrypoint", []))))
    return set(service.get("environment", {})) | exported


def syncline_services() -> dict[str, dict[str, Any]]:
    return {name: s for name, s in COMPOSE["services"].items() if name in SETTINGS}


def test_both_paths_run_the_same_console_scripts() -> None:
    assert sorted(native_services()) == sorted(SETTINGS)
    assert '"$BIN/syncline-$s"' in RUN_SH
    for name, service in syncline_services().items():
        assert service["command"] == [f"syncline-{name}"]
    assert sorted(syncline_services()) == sorted(SETTINGS)


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_both_paths_give_a_service_the_same_variables(name: str) -> None:
    native = native_variables()
    assert {"SYNCLINE_SECRET_KEY", "SYNCLINE_FILES__ROOT"} <= native
    given = compose_variables(syncline_services()[name])
    assert given - WHERE_THINGS_ARE == native, "a variable set on one path only"


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_each_service_checks_its_readyz_on_the_ops_port_its_settings_default_to(name: str) -> None:
    service = syncline_services()[name]
    port = service["environment"]["SYNCLINE_OPS__PORT"]
    assert SETTINGS[name]().ops.port == port
    assert f"http://127.0.0.1:{port}/readyz" in " ".join(service["healthcheck"]["test"])


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_every_service_shares_the_files_volume_and_the_state_volume(name: str) -> None:
    service = syncline_services()[name]
    root = service["environment"]["SYNCLINE_FILES__ROOT"]
    assert f"files:{root}" in service["volumes"]
    assert f"state:{service['environment']['SYNCLINE_HOME']}" in service["volumes"]
    assert {"kafka", "postgres", "demo"} <= set(service["depends_on"])


def test_postgresql_is_the_native_major_with_scram_sha_256_and_no_password_in_the_file() -> None:
    postgres = COMPOSE["services"]["postgres"]
    native_major = re.search(r"/usr/lib/postgresql/(\d+)/bin", PG_SH)
    assert native_major
    assert postgres["image"] == f"postgres:{native_major.group(1)}"
    assert postgres["environment"]["POSTGRES_HOST_AUTH_METHOD"] == "scram-sha-256"
    assert "--auth-local=scram-sha-256" in postgres["environment"]["POSTGRES_INITDB_ARGS"]
    assert "POSTGRES_PASSWORD" not in postgres["environment"]
    assert postgres["environment"]["POSTGRES_PASSWORD_FILE"].startswith("/var/lib/syncline/state/")
    text = (ROOT / "docker-compose.yml").read_text()
    assert "SYNCLINE_SECRET_KEY:" not in text
    assert "trust" not in text


def test_the_demo_source_has_the_native_paths_own_role_and_tables() -> None:
    role = re.search(r"^DEMO_ROLE=(\w+)", RUN_SH, re.MULTILINE)
    assert role
    assert f'DEMO_ROLE = "{role.group(1)}"' in FIRST_START
    assert "demo.sql" in RUN_SH
    assert 'DEMO_SQL = HERE.parent / "local" / "demo.sql"' in FIRST_START
    assert COMPOSE["services"]["demo"]["command"][-1] == "demo"


def test_only_the_gateway_is_published_and_on_127_0_0_1() -> None:
    published = {name: s["ports"] for name, s in COMPOSE["services"].items() if s.get("ports")}
    assert published["gateway"] == ["127.0.0.1:8080:8080"]
    assert all(p.startswith("127.0.0.1:") for ports in published.values() for p in ports)
    assert not {"policy", "scheduler", "executor"} & set(published)


def test_the_broker_is_secured_as_natively_with_its_password_in_the_state_volume() -> None:
    kafka_sh = (ROOT / "deploy" / "local" / "kafka" / "kafka.sh").read_text()
    user = re.search(r'^SERVICE_USER="(\w+)"', kafka_sh, re.MULTILINE)
    assert user
    kafka = COMPOSE["services"]["kafka"]
    properties = dict(
        line.split("=", 1) for line in kafka["environment"]["KAFKA_SERVER_PROPERTIES"].splitlines() if line
    )
    for key in ("authorizer.class.name", "sasl.enabled.mechanisms", "allow.everyone.if.no.acl.found"):
        assert f"{key}={properties[key]}\n" in kafka_sh
    assert properties["super.users"] == f"User:{user.group(1)}"
    protocols = [p.split(":")[1] for p in properties["listener.security.protocol.map"].split(",")]
    assert set(protocols) == {"SASL_PLAINTEXT"}
    assert kafka["environment"]["KAFKA_PASSWORD_FILE"].startswith("/var/lib/syncline/state/")
    assert f'KAFKA_USER = "{user.group(1)}"' in FIRST_START
    assert "kafka_start.sh" in " ".join(kafka["entrypoint"])
    assert {"secrets"} <= set(kafka["depends_on"])
