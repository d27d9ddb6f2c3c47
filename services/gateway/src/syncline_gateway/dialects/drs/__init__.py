"""Huawei Cloud DRS v3 (`/v3/{project_id}/jobs/...`), as the official `huaweicloudsdkdrs` SDK calls it.

Jobs go through DRS's lifecycle (create, connection tests, modify, select objects, sync policy, precheck, start,
pause, resume, terminate and delete) as batches: each item succeeds or fails on its own. Writes become one
`ApplyDrsBatch` command (`syncline.drs.commands.v1`) answered by `DrsBatchApplied`; status, progress, detail and
list read the published read models. Requests are signed with AK/SK (`SDK-HMAC-SHA256`) and act in one project
of the key's organisation; errors are Huawei's `{error_code, error_msg}`.
"""

from syncline_gateway.dialects.drs import errors
from syncline_gateway.dialects.drs.auth import SECURITY, authenticate
from syncline_gateway.dialects.drs.models import LIMITS
from syncline_gateway.dialects.drs.routes import router
from syncline_gateway.dialects.registry import Dialect


def dialect() -> Dialect:
    """DRS's dialect: served at the root (the SDK drops any path prefix of its endpoint); no idempotency keys."""
    return Dialect(
        name="drs",
        prefixes=("/v3",),
        router=router,
        authenticate=authenticate,
        security=SECURITY,
        render_error=errors.render,
        limits=LIMITS,
    )
