"""JSON Schema snapshots of every message; committed, and a contract test fails when they drift.

Run `python -m syncline_contracts.snapshots` after a deliberate change to rewrite them.
"""

import json
from pathlib import Path

from syncline_contracts.envelope import Envelope
from syncline_contracts.topics import all_messages

SNAPSHOT_DIR = Path(__file__).resolve().parents[2] / "schemas"


def current() -> dict[str, str]:
    """File name → JSON Schema text, for every message and the envelope."""
    schemas = {f"{m.wire_type()}.json": m.model_json_schema() for m in all_messages()}
    schemas["envelope.json"] = Envelope.model_json_schema()
    return {name: json.dumps(schema, indent=2, sort_keys=True) + "\n" for name, schema in schemas.items()}


def write() -> None:
    """Rewrite the committed snapshots from the models."""
    SNAPSHOT_DIR.mkdir(exist_ok=True)
    for old in SNAPSHOT_DIR.glob("*.json"):
        old.unlink()
    for name, text in current().items():
        (SNAPSHOT_DIR / name).write_text(text)


if __name__ == "__main__":
    write()
