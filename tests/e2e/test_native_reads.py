"""The native API's reads (`/v1`) after real runs of two dialects' syncs: a Polytomic bulk sync and an Elastic
connector appear in one list with their dialects, their runs in one list (filtered by dialect, status, sync and
time), a run's detail has per-object stats; runs start and cancel through `/v1`; keys are listed, created and
revoked; connections are listed without their secrets; errors have the native body."""

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from polytomic import Polytomic
from tests.e2e.native_support import native, two_syncs, wait_run
from tests.support.infra import pg_config, unique
from tests.support.system import System

pytestmark = pytest.mark.e2e


async def test_syncs_and_runs_of_two_dialects_in_one_list(
    system: System, api: Polytomic, source_db: tuple[str, str], target_db: tuple[str, str]
) -> None:
    made = await two_syncs(system, api, source=source_db, target=target_db, connector_id=unique("native"))
    with native(system) as v1:
        syncs = {s["id"]: s for s in v1.get("/v1/syncs").json()["data"]}
        assert syncs[made.polytomic_sync]["dialect"] == "polytomic"
        assert syncs[made.polytomic_sync]["name"].startswith("pg to pg")
        assert syncs[made.elastic_sync]["dialect"] == "elastic"
        assert syncs[made.elastic_sync]["name"] == f"pg {made.elastic_sync}"
        assert "full" in syncs[made.elastic_sync]["job_types"]
        only = v1.get("/v1/syncs", params={"dialect": "elastic"}).json()["data"]
        assert {s["dialect"] for s in only} == {"elastic"}
        assert made.elastic_sync in {s["id"] for s in only}

        runs = {r["id"]: r for r in v1.get("/v1/runs").json()["data"]}
        assert runs[made.polytomic_run]["dialect"] == "polytomic"
        assert runs[made.polytomic_run]["status"] == "completed"
        assert runs[made.polytomic_run]["rows_written"] == 5
        assert runs[made.elastic_run]["dialect"] == "elastic"
        assert runs[made.elastic_run]["sync_id"] == made.elastic_sync
        assert runs[made.elastic_run]["rows_written"] == 5

        def listed(**params: str | list[str]) -> set[str]:
            answer = v1.get("/v1/runs", params=params)
            assert answer.status_code == 200, answer.text
            return {r["id"] for r in answer.json()["data"]}

        assert made.elastic_run not in listed(dialect="polytomic")
        assert made.polytomic_run in listed(dialect="polytomic")
        assert listed(sync_id=made.elastic_sync) == {made.elastic_run}
        assert made.polytomic_run in listed(status=["completed", "error"])
        assert made.polytomic_run not in listed(status="error")
        future = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
        assert listed(since=future) == set()
        assert made.polytomic_run in listed(before=future)
        page = v1.get("/v1/runs", params={"limit": 1}).json()
        assert len(page["data"]) == 1
        assert page["next_before"] is not None

        detail = v1.get(f"/v1/runs/{made.polytomic_run}").json()
        objects = {o["object"]: o for o in detail["objects"]}
        assert set(objects) == {"public.customers", "public.orders"}
        assert objects["public.customers"]["rows_written"] == 5
        assert objects["public.customers"]["done"] is True
        assert objects["public.customers"]["error"] is None

        connections = {c["id"]: c for c in v1.get("/v1/connections").json()["data"]}
        source = connections[made.connections[0]]
        assert source["type"] == "postgresql"
        assert "password" not in source["configuration"]
        assert pg_config("any")["password"] not in v1.get("/v1/connections").text


async def test_start_and_cancel_through_v1(
    system: System, api: Polytomic, source_db: tuple[str, str], target_db: tuple[str, str]
) -> None:
    made = await two_syncs(system, api, source=source_db, target=target_db, connector_id=unique("starts"))
    with native(system) as v1:
        started = v1.post("/v1/runs", json={"sync_id": made.elastic_sync})
        assert started.status_code == 201, started.text
        run = started.json()
        assert run["sync_id"] == made.elastic_sync
        assert run["dialect"] == "elastic"
        done = wait_run(v1, run["id"])
        assert done["status"] == "completed"
        assert done["trigger_method"] == "on_demand"
        key = {"Idempotency-Key": f"start-{uuid.uuid4().hex}"}
        first = v1.post("/v1/runs", json={"sync_id": made.elastic_sync}, headers=key)
        assert first.status_code == 201, first.text
        replayed = v1.post("/v1/runs", json={"sync_id": made.elastic_sync}, headers=key)
        assert replayed.json()["id"] == first.json()["id"]  # the first answer again, no second run
        assert replayed.headers["Idempotent-Replayed"] == "true"
        wait_run(v1, first.json()["id"])
        refused = v1.post(f"/v1/runs/{run['id']}/cancel")
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"]["code"] == "conflict"

        missing = v1.post("/v1/runs", json={"sync_id": "no-such-sync"})
        assert missing.status_code == 404
        assert missing.json()["error"] == {
            "status": 404,
            "code": "not_found",
            "message": missing.json()["error"]["message"],
        }
        assert v1.post("/v1/runs", json={"sync_id": made.elastic_sync, "nope": 1}).status_code == 400
        assert v1.get(f"/v1/runs/{uuid.uuid4()}").status_code == 404


def test_keys_list_create_revoke(system: System) -> None:
    with native(system) as v1:
        listed = v1.get("/v1/keys").json()["data"]
        assert system.key["id"] in {k["id"] for k in listed}
        assert all("secret" not in k for k in listed)
        created = v1.post("/v1/keys", json={})
        assert created.status_code == 201, created.text
        key = created.json()
        assert key["org_id"] == system.key["org_id"]
        assert key["partner"] is False
        with native(system, key["encoded"]) as other:
            assert other.get("/v1/syncs").status_code == 200
            revoked = v1.delete(f"/v1/keys/{key['id']}")
            assert revoked.status_code == 200
            assert revoked.json()["revoked_at"] is not None
            refused = other.get("/v1/syncs")  # one gateway: refused at once, its cached copy dropped
            assert refused.status_code == 401
            assert refused.json()["error"]["code"] == "unauthorized"
        assert v1.delete("/v1/keys/SLNOSUCHKEY").status_code == 404
        bare = v1.post("/v1/keys")  # no body at all
        assert bare.status_code == 201, bare.text
        assert v1.delete(f"/v1/keys/{bare.json()['id']}").status_code == 200
        assert v1.post("/v1/keys", json={"partner": True}).status_code == 400  # never a partner key
        assert v1.get("/v1/keys").json()["data"][1]["id"] == key["id"]  # newest first


def test_no_key_is_401_in_the_native_body(system: System) -> None:
    answer = httpx.get(f"{system.url}/v1/syncs")
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthorized"
    other = system.admin("create-org", "native-other")
    other_key = system.admin("create-key", "--org", other["id"])
    with native(system, other_key["encoded"]) as v1:
        assert [k["id"] for k in v1.get("/v1/keys").json()["data"]] == [other_key["id"]]
        assert v1.delete(f"/v1/keys/{system.key['id']}").status_code == 404
