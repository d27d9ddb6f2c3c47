"""What every Polytomic route shares beyond the gateway's `routing`: the caller and the `{"data"}` envelope."""

from typing import Annotated, Any

from fastapi import Depends
from fastapi.responses import JSONResponse

from syncline_gateway.credentials import Principal
from syncline_gateway.dialects.polytomic.auth import authenticate

Caller = Annotated[Principal, Depends(authenticate)]
"""The authenticated caller of a route."""


def answer(data: Any, status: int = 200) -> JSONResponse:
    """A success in Polytomic's envelope."""
    return JSONResponse({"data": data}, status_code=status)
