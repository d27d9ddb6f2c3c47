"""`syncline`: the command line of the native API (`/v1`), over HTTP only (httpx); it imports nothing of the
gateway, so it runs against any gateway it can reach.

`syncline syncs list`, `syncline runs list|show|start|cancel|follow`, `syncline keys list|create|revoke`,
`syncline connections list`; `--json` on every command. Where the gateway is and which key to use: `--url` /
`--key` (before the command), else `SYNCLINE_URL` / `SYNCLINE_KEY`, else what `make run` keeps under its state
folder (`config`).
"""

from syncline_gateway.cli.app import main

__all__ = ["main"]
