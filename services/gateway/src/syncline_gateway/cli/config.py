"""Where the gateway is and which key to send: flags, else `SYNCLINE_URL` / `SYNCLINE_KEY`, else the file that
`make run` writes (`cli.json`, mode 0600, `{"url", "key"}`) in its state folder: `SYNCLINE_HOME`, else the first
`.local` folder found from the working directory upwards."""

import json
import os
from dataclasses import dataclass
from pathlib import Path

STATE_FILE = "cli.json"
"""What `make run` writes for the command line in its state folder."""
DEFAULT_URL = "http://127.0.0.1:8080"


@dataclass(frozen=True)
class Target:
    """A gateway and the key to send it."""

    url: str
    key: str | None


def state_folders(cwd: Path) -> list[Path]:
    """Where `make run` may keep its state, most specific first."""
    home = os.environ.get("SYNCLINE_HOME")
    found = [Path(home)] if home else []
    return found + [folder / ".local" for folder in (cwd, *cwd.parents)]


def saved(cwd: Path) -> dict[str, str]:
    """The first `cli.json` of the state folders (empty when there is none)."""
    for folder in state_folders(cwd):
        path = folder / STATE_FILE
        if path.is_file():
            data = json.loads(path.read_text())
            return {k: str(v) for k, v in data.items() if isinstance(v, str)}
    return {}


def resolve(*, url: str | None, key: str | None, cwd: Path | None = None) -> Target:
    """The gateway and key from flags (already merged with the environment by the caller) or `make run`'s file."""
    local = saved(cwd or Path.cwd()) if url is None or key is None else {}
    return Target(url=(url or local.get("url") or DEFAULT_URL).rstrip("/"), key=key or local.get("key"))
