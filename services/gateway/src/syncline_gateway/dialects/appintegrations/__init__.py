"""AWS AppIntegrations (`/dataIntegrations`, `/tags`; `/applications` and `/eventIntegrations` refused), as boto3's
`appintegrations` client calls it: SigV4-signed REST-JSON.

Data integrations name a source connection and its objects; the association of one names a destination and how
it runs, and is the sync whose runs move the data. Writes become commands on
`syncline.data_integrations.commands.v1` answered by policy's outcome events; reads come from the read models.
Errors are AWS's (`x-amzn-ErrorType`, `__type`, `message`). `ClientToken` makes creates idempotent (in policy, so
only successful creates are kept); on-demand reruns wait for the running run (`runs.QueuedRuns`).
"""

from syncline_gateway.dialects.appintegrations import errors
from syncline_gateway.dialects.appintegrations.auth import SECURITY, authenticate
from syncline_gateway.dialects.appintegrations.models import LIMITS
from syncline_gateway.dialects.appintegrations.routes import router
from syncline_gateway.dialects.appintegrations.runs import QueuedRuns
from syncline_gateway.dialects.registry import Dialect


def dialect() -> Dialect:
    """AppIntegrations' dialect: no idempotency header (its `ClientToken` is in the body, kept by policy)."""
    return Dialect(
        name="appintegrations",
        prefixes=("/dataIntegrations", "/tags", "/applications", "/eventIntegrations"),
        router=router,
        authenticate=authenticate,
        security=SECURITY,
        render_error=errors.render,
        limits=LIMITS,
        workers=(QueuedRuns,),
    )
