"""Per-run logs through the whole system: a Polytomic execution run with the official SDK leaves log lines (the run
started, each object moved with its counts, the run's end) that the SDK reads with `get_console_logs` (latest
entries, a limit, a cursor), `get_logs` (a signed URL fetched without a key; a tampered one refused) and
`export_logs` (a zip at a signed URL, its job `done` again through `jobs.get`); `identity.get` names the caller's
organisation; the native `GET /v1/runs/{id}/logs` and `syncline runs logs` answer the same lines; another
organisation gets each dialect's not-found."""

import io
import json
import os
import subprocess
import zipfile
from pathlib import Path

import httpx
import pytest
from polytomic import Polytomic
from polytomic.errors import NotFoundError
from tests.e2e.native_support import native
from tests.e2e.polytomic_support import bulk_sync, connections, polytomic, seed, wait
from tests.support.system import BIN, System

pytestmark = pytest.mark.e2e


async def test_an_executions_logs_through_every_call(
    system: System, api: Polytomic, source_db: tuple[str, str], target_db: tuple[str, str], tmp_path: Path
) -> None:
    await seed(source_db[1])  # 5 customers, no orders
    source, target = connections(api, source_db[0], target_db[0])
    sync_id = bulk_sync(api, source, target, ["public.customers", "public.orders"])
    started = api.bulk_sync.start(sync_id).data
    assert started is not None
    assert started.id is not None
    run_id = started.id
    assert wait(api, sync_id, run_id).status == "completed"

    console = api.bulk_sync.executions.get_console_logs(sync_id, run_id).data
    assert console is not None
    assert console.entries is not None
    entries = console.entries
    assert entries[0].message is not None
    assert entries[0].message.startswith("run started on ")
    assert entries[-1].message == "run completed: 5 rows written, 0 deleted"
    assert entries[-1].level == "info"
    moved = {e.payload["object"]: e.payload["counts"] for e in entries if e.payload and "object" in e.payload}
    assert moved["public.customers"]["rows_written"] == 5
    assert moved["public.orders"]["rows_written"] == 0
    assert console.next_cursor == entries[-1].id
    assert all(e.timestamp is not None for e in entries)

    newest = api.bulk_sync.executions.get_console_logs(sync_id, run_id, limit=1).data
    assert newest is not None
    assert [e.id for e in newest.entries or []] == [entries[-1].id]
    after = api.bulk_sync.executions.get_console_logs(sync_id, run_id, after=entries[0].id).data
    assert after is not None
    assert [e.id for e in after.entries or []] == [e.id for e in entries[1:]]

    # the log file at a signed URL, without a key; the URL's token is bound to its execution
    files = api.bulk_sync.executions.get_logs(sync_id, run_id).data
    assert files is not None
    assert files.expires is not None
    assert len(files.ur_ls or []) == 1
    url = (files.ur_ls or [""])[0]
    text = httpx.get(url, timeout=30)
    assert text.status_code == 200
    assert "public.customers: 5 rows written, 0 deleted" in text.text
    assert " INFO run completed: 5 rows written, 0 deleted " in text.text.splitlines()[-1]
    assert httpx.get(url[:-4] + "AAAA", timeout=30).status_code == 403
    assert httpx.get(url.replace(run_id, started.id[::-1]), timeout=30).status_code == 403

    exported = api.bulk_sync.executions.export_logs(sync_id, run_id)
    assert exported.job is not None
    assert exported.job.status == "done"
    assert exported.data is not None
    assert exported.data.url is not None
    archive = httpx.get(exported.data.url, timeout=30)
    assert archive.status_code == 200
    with zipfile.ZipFile(io.BytesIO(archive.content)) as opened:
        assert opened.namelist() == [f"{run_id}.log"]
        assert "public.customers" in opened.read(f"{run_id}.log").decode()
    assert exported.job.job_id is not None
    job = api.jobs.get("exportlogs", exported.job.job_id).data
    assert job is not None
    assert job.status == "done"

    me = api.identity.get().data
    assert me is not None
    assert me.organization_id == system.key["org_id"]
    assert me.organization_name == "e2e"
    assert me.is_organization is True
    assert me.is_partner is False

    # the native API and the command line read the same lines
    with native(system) as client:
        lines = client.get(f"/v1/runs/{run_id}/logs").json()
        assert [str(line["seq"]) for line in lines["data"]] == [e.id for e in entries]
        assert lines["next_after"] == lines["data"][-1]["seq"]
        later = client.get(f"/v1/runs/{run_id}/logs", params={"after": lines["data"][-2]["seq"]}).json()
        assert [line["message"] for line in later["data"]] == ["run completed: 5 rows written, 0 deleted"]
        assert client.get(f"/v1/runs/{run_id}/logs", params={"after": "x"}).status_code in (400, 422)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCLINE_")}
    env |= {"SYNCLINE_URL": system.url, "SYNCLINE_KEY": system.key["encoded"]}
    cli = subprocess.run(
        [str(BIN / "syncline"), "runs", "logs", run_id, "--json"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=90,
        check=True,
    )
    assert [line["message"] for line in json.loads(cli.stdout)] == [e.message for e in entries]

    # another organisation: not found in every dialect
    org = system.admin("create-org", "logs other")
    other = system.admin("create-key", "--org", org["id"])
    with polytomic(system, token=other["encoded"]) as sdk:
        with pytest.raises(NotFoundError):
            sdk.bulk_sync.executions.get_console_logs(sync_id, run_id)
        with pytest.raises(NotFoundError):
            sdk.bulk_sync.executions.get_logs(sync_id, run_id)
        with pytest.raises(NotFoundError):
            sdk.bulk_sync.executions.export_logs(sync_id, run_id)
        with pytest.raises(NotFoundError):
            sdk.jobs.get("exportlogs", exported.job.job_id)
        assert (sdk.identity.get().data or pytest.fail("no identity")).organization_id == org["id"]
    with native(system, other["encoded"]) as client:
        refused = client.get(f"/v1/runs/{run_id}/logs")
        assert refused.status_code == 404
        assert refused.json()["error"]["code"] == "not_found"
