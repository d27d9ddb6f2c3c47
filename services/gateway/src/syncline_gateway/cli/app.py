"""The commands of `syncline` (Typer), each one call of the native API, rendered as Rich tables or, with
`--json`, as the API's JSON."""

import json
from datetime import datetime
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from syncline_gateway.cli.client import Api, ApiError
from syncline_gateway.cli.config import resolve
from syncline_gateway.cli.follow import follow_run

app = typer.Typer(help="Syncline's command line, over the native API (/v1).", no_args_is_help=True)
syncs = typer.Typer(help="Syncs of every dialect.", no_args_is_help=True)
runs = typer.Typer(help="Runs: list, show, start, cancel, follow.", no_args_is_help=True)
keys = typer.Typer(help="Key pairs of your organisation.", no_args_is_help=True)
connections = typer.Typer(help="Connections (secrets never shown).", no_args_is_help=True)
for group, name in ((syncs, "syncs"), (runs, "runs"), (keys, "keys"), (connections, "connections")):
    app.add_typer(group, name=name)

Json = Annotated[bool, typer.Option("--json", help="Print the API's JSON.")]
out = Console()
err = Console(stderr=True)


@app.callback()
def connect(
    ctx: typer.Context,
    url: Annotated[str | None, typer.Option(envvar="SYNCLINE_URL", help="The gateway (default: make run's).")] = None,
    key: Annotated[
        str | None, typer.Option(envvar="SYNCLINE_KEY", help="base64(id:secret) (default: make run's key).")
    ] = None,
) -> None:
    """Where the gateway is and which key to send."""
    ctx.obj = resolve(url=url, key=key)


def api(ctx: typer.Context) -> Api:
    """A client of the gateway the options name."""
    try:
        client = Api(ctx.obj)
    except ApiError as exc:
        fail(exc)
    ctx.call_on_close(client.close)
    return client


def fail(exc: ApiError) -> NoReturn:
    """Say what went wrong and stop with status 1."""
    err.print(f"[red]error[/red] {exc}", markup=True, highlight=False)
    raise typer.Exit(1)


def call(ctx: typer.Context, method: str, path: str, **kwargs: Any) -> Any:
    """One API call; an error answer stops the command."""
    try:
        return api(ctx).call(method, path, **kwargs)
    except ApiError as exc:
        fail(exc)


def emit(data: Any) -> None:
    """JSON on stdout."""
    typer.echo(json.dumps(data, indent=2, sort_keys=True))


def when(value: str | None) -> str:
    """An API time, shorter."""
    return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    """A Rich table on stdout."""
    shown = Table(title=title, title_justify="left")
    for column in columns:
        shown.add_column(column)
    for row in rows:
        shown.add_row(*("-" if v is None else str(v) for v in row))
    out.print(shown)


@syncs.command("list")
def list_syncs(
    ctx: typer.Context,
    dialect: Annotated[str | None, typer.Option(help="Only this dialect's.")] = None,
    as_json: Json = False,
) -> None:
    """Syncs of every dialect."""
    data = call(ctx, "GET", "/v1/syncs", params={"dialect": dialect} if dialect else None)["data"]
    if as_json:
        return emit(data)
    rows = [[s["id"], s["name"], s["dialect"], ",".join(s["job_types"]), s["error"]] for s in data]
    return table("syncs", ["id", "name", "dialect", "job types", "error"], rows)


def run_row(r: dict[str, Any]) -> list[Any]:
    """A run's line in a table."""
    return [r["id"], r["sync_id"], r["dialect"], r["status"], r["rows_written"], when(r["created_at"]), r["error"]]


RUN_COLUMNS = ["id", "sync", "dialect", "status", "rows", "created", "error"]


@runs.command("list")
def list_runs(
    ctx: typer.Context,
    *,
    dialect: Annotated[str | None, typer.Option(help="Only this dialect's runs.")] = None,
    status: Annotated[list[str] | None, typer.Option(help="Only runs in this status (repeatable).")] = None,
    sync: Annotated[str | None, typer.Option(help="Only this sync's runs.")] = None,
    since: Annotated[str | None, typer.Option(help="Created at or after (ISO 8601).")] = None,
    before: Annotated[str | None, typer.Option(help="Created before (ISO 8601).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    as_json: Json = False,
) -> None:
    """Runs of every dialect, newest first."""
    params = {"dialect": dialect, "status": status, "sync_id": sync, "since": since, "before": before, "limit": limit}
    data = call(ctx, "GET", "/v1/runs", params={k: v for k, v in params.items() if v})
    if as_json:
        return emit(data)
    return table("runs", RUN_COLUMNS, [run_row(r) for r in data["data"]])


@runs.command("show")
def show_run(ctx: typer.Context, run_id: str, as_json: Json = False) -> None:
    """A run with what it moved of each object."""
    run = call(ctx, "GET", f"/v1/runs/{run_id}")
    if as_json:
        return emit(run)
    table(f"run {run_id}", RUN_COLUMNS, [run_row(run)])
    rows = [
        [o["object"], "yes" if o["done"] else "no", o["rows_read"], o["rows_written"], o["rows_deleted"], o["error"]]
        for o in run["objects"]
    ]
    return table("objects", ["object", "done", "read", "written", "deleted", "error"], rows)


@runs.command("start")
def start_run(
    ctx: typer.Context,
    sync_id: str,
    job_type: Annotated[str, typer.Option(help="full or incremental.")] = "full",
    follow: Annotated[bool, typer.Option(help="Then follow it until it ends.")] = False,
    as_json: Json = False,
) -> None:
    """Start a run of a sync now."""
    run = call(ctx, "POST", "/v1/runs", json={"sync_id": sync_id, "job_type": job_type})
    if as_json:
        emit(run)
    else:
        out.print(f"run [bold]{run['id']}[/bold] of {sync_id}: {run.get('status', 'on its way')}")
    if follow:
        raise typer.Exit(follow_run(api(ctx), run["id"], as_json=as_json, console=out))


@runs.command("cancel")
def cancel_run(ctx: typer.Context, run_id: str, as_json: Json = False) -> None:
    """Cancel a run (a running one stops within a second or two)."""
    answer = call(ctx, "POST", f"/v1/runs/{run_id}/cancel")
    if as_json:
        return emit(answer)
    return out.print(f"{answer['message']} (now {answer['run']['status']})")


@runs.command("logs")
def run_logs(ctx: typer.Context, run_id: str, as_json: Json = False) -> None:
    """A run's log: what its executor did, oldest first (objects moved with their counts, failures, the end)."""
    answer = call(ctx, "GET", f"/v1/runs/{run_id}/logs")
    if as_json:
        return emit(answer["data"])
    rows = [[when(line["at"]), line["level"], line["object"], line["message"]] for line in answer["data"]]
    return table(f"run {run_id} log", ["time", "level", "object", "message"], rows)


@runs.command("follow")
def follow(ctx: typer.Context, run_id: str, as_json: Json = False) -> None:
    """Follow a run live (rows, objects, rate, lag) until it ends: exit 0 when it completes, 1 otherwise. With
    `--json`, one line per event."""
    try:
        code = follow_run(api(ctx), run_id, as_json=as_json, console=out)
    except ApiError as exc:
        fail(exc)
    raise typer.Exit(code)


@keys.command("list")
def list_keys(ctx: typer.Context, as_json: Json = False) -> None:
    """Your organisation's key pairs (no secrets)."""
    data = call(ctx, "GET", "/v1/keys")["data"]
    if as_json:
        return emit(data)
    rows = [[k["id"], when(k["created_at"]), when(k["revoked_at"]), "yes" if k["partner"] else ""] for k in data]
    return table("keys", ["id", "created", "revoked", "partner"], rows)


@keys.command("create")
def create_key(ctx: typer.Context, as_json: Json = False) -> None:
    """A new key pair; its secret is shown now only."""
    key = call(ctx, "POST", "/v1/keys", json={})
    if as_json:
        return emit(key)
    return out.print(
        f"key id  {key['id']}\nsecret  {key['secret']}\nAPI key {key['encoded']}\n(the secret is not shown again)",
        highlight=False,
    )


@keys.command("revoke")
def revoke_key(ctx: typer.Context, key_id: str, as_json: Json = False) -> None:
    """Revoke a key pair: refused by the gateway that answers at once, by every other one within its key cache
    time (`SYNCLINE_KEY_CACHE_S`, 5 s by default)."""
    key = call(ctx, "DELETE", f"/v1/keys/{key_id}")
    if as_json:
        return emit(key)
    return out.print(f"key {key['id']} revoked at {when(key['revoked_at'])}")


@connections.command("list")
def list_connections(ctx: typer.Context, as_json: Json = False) -> None:
    """Connections of every dialect; secrets never shown."""
    data = call(ctx, "GET", "/v1/connections")["data"]
    if as_json:
        return emit(data)
    rows = [[c["id"], c["name"], c["type"], c["status"], ",".join(c["secrets"])] for c in data]
    return table("connections", ["id", "name", "type", "status", "secrets kept"], rows)


def main() -> None:
    """Console script `syncline`."""
    app(prog_name="syncline")
