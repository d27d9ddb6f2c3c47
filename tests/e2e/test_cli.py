"""The `syncline` command line, run as its console script against the live gateway: every command's `--json`
parsed and checked, `runs follow` exiting 0 once the run completes, and the gateway and key found with no flags
in the file that `make run` writes (`deploy/local/run.sh`)."""

import json
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from polytomic import Polytomic
from tests.e2e.native_support import two_syncs
from tests.support.infra import unique
from tests.support.system import BIN, ROOT, System

pytestmark = pytest.mark.e2e


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any Syncline setting, plus `extra`."""
    return {k: v for k, v in os.environ.items() if not k.startswith("SYNCLINE_")} | extra


def syncline(
    system: System, *args: str, cwd: Path, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run `syncline …` (the console script), by default with the gateway and key in the environment."""
    env = env or clean_env(SYNCLINE_URL=system.url, SYNCLINE_KEY=system.key["encoded"])
    done = subprocess.run(
        [str(BIN / "syncline"), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=90, check=False
    )
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def as_json(system: System, *args: str, cwd: Path) -> Any:
    return json.loads(syncline(system, *args, "--json", cwd=cwd).stdout)


async def test_every_command_answers_json(
    system: System, api: Polytomic, source_db: tuple[str, str], target_db: tuple[str, str], tmp_path: Path
) -> None:
    made = await two_syncs(system, api, source=source_db, target=target_db, connector_id=unique("cli"))
    syncs = {s["id"]: s["dialect"] for s in as_json(system, "syncs", "list", cwd=tmp_path)}
    assert syncs[made.polytomic_sync] == "polytomic"
    assert syncs[made.elastic_sync] == "elastic"
    elastic = as_json(system, "syncs", "list", "--dialect", "elastic", cwd=tmp_path)
    assert {s["dialect"] for s in elastic} == {"elastic"}

    runs = as_json(system, "runs", "list", "--status", "completed", "--sync", made.polytomic_sync, cwd=tmp_path)
    assert [r["id"] for r in runs["data"]] == [made.polytomic_run]
    assert runs["data"][0]["dialect"] == "polytomic"
    shown = as_json(system, "runs", "show", made.polytomic_run, cwd=tmp_path)
    assert {o["object"]: o["rows_written"] for o in shown["objects"]} == {"public.customers": 5, "public.orders": 0}

    connections = as_json(system, "connections", "list", cwd=tmp_path)
    assert set(made.connections) <= {c["id"] for c in connections}
    assert all("password" not in c["configuration"] for c in connections)

    created = as_json(system, "keys", "create", cwd=tmp_path)
    assert created["secret"]
    assert created["id"] in {k["id"] for k in as_json(system, "keys", "list", cwd=tmp_path)}
    assert as_json(system, "keys", "revoke", created["id"], cwd=tmp_path)["revoked_at"]
    refused = syncline(
        system,
        "syncs",
        "list",
        cwd=tmp_path,
        env=clean_env(SYNCLINE_URL=system.url, SYNCLINE_KEY=created["encoded"]),
        check=False,
    )
    assert refused.returncode == 1
    assert "401" in refused.stderr

    # start, follow to the end (exit 0), and a cancel of the ended run refused (exit 1, the API's error)
    run = as_json(system, "runs", "start", made.elastic_sync, cwd=tmp_path)
    followed = syncline(system, "runs", "follow", run["id"], cwd=tmp_path)
    assert "completed" in followed.stdout
    assert as_json(system, "runs", "show", run["id"], cwd=tmp_path)["status"] == "completed"
    again = as_json(system, "runs", "start", made.elastic_sync, cwd=tmp_path)
    lines = syncline(system, "runs", "follow", again["id"], "--json", cwd=tmp_path).stdout.splitlines()
    parsed = [json.loads(line) for line in lines]
    assert parsed[-1]["id"] == again["id"]
    assert parsed[-1]["status"] == "completed"
    assert parsed[-1]["rows_written"] == 5
    canceled = syncline(system, "runs", "cancel", again["id"], cwd=tmp_path, check=False)
    assert canceled.returncode == 1
    assert "409" in canceled.stderr


def test_no_flags_after_make_run(system: System, tmp_path: Path) -> None:
    """`make run` writes `cli.json` (0600) in its state folder; `syncline` finds it with no flag."""
    state = tmp_path / "state"
    state.mkdir()
    (state / "demo.json").write_text(json.dumps(system.key))
    port = system.url.rsplit(":", 1)[1]
    writer = f'source <(sed -n "/^cli_key()/,/^}}/p" {ROOT}/deploy/local/run.sh); cli_key'
    subprocess.run(["bash", "-c", writer], env=clean_env(STATE=str(state), PORT=port), check=True)
    assert stat.S_IMODE((state / "cli.json").stat().st_mode) == 0o600
    assert stat.S_IMODE((state / "demo.json").stat().st_mode) == 0o600

    keys = json.loads(
        syncline(system, "keys", "list", "--json", cwd=tmp_path, env=clean_env(SYNCLINE_HOME=str(state))).stdout
    )
    assert system.key["id"] in {k["id"] for k in keys}
    # the default state folder: `.local` of the working directory (or a parent of it)
    (tmp_path / "repo" / ".local").mkdir(parents=True)
    (state / "cli.json").rename(tmp_path / "repo" / ".local" / "cli.json")
    deeper = tmp_path / "repo" / "deploy"
    deeper.mkdir()
    listed = json.loads(syncline(system, "syncs", "list", "--json", cwd=deeper, env=clean_env()).stdout)
    assert isinstance(listed, list)
    # flags win over the file
    wrong = syncline(system, "--url", "http://127.0.0.1:9", "syncs", "list", cwd=deeper, env=clean_env(), check=False)
    assert wrong.returncode == 1
    assert "unreachable" in wrong.stderr
