"""`X-Polytomic-Version`: which wire shape a bulk sync's schedules take in an answer.

- `2024-02-08` (and no header): one `schedule` (several become `frequency: multi`).
- `2025-09-18` and later: `schedules[]` (the migration guide's shape) together with `default_schedule` and
  `additional_schedules` (what the official SDK 25.9.x sends and parses under that version).

Requests are read in whichever of the three shapes they come.
"""

import re

from fastapi import Request

from syncline_gateway.errors import BadRequestError

LEGACY = "2024-02-08"
"""The version assumed when the header is absent."""
CURRENT = "2025-09-18"
"""The first version with a list of schedules."""
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def version_of(request: Request) -> str:
    """`LEGACY` or `CURRENT`, from the request's header."""
    value = request.headers.get("x-polytomic-version", "").strip()
    if not value:
        return LEGACY
    if not _DATE.fullmatch(value):
        raise BadRequestError(f"X-Polytomic-Version [{value}] is not an API version (YYYY-MM-DD)")
    return CURRENT if value >= CURRENT else LEGACY
