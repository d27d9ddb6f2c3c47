"""Who is signed in to the console: the key in its cookie, verified like a native Bearer token on every request
(so a revoked key stops working as it does on the API)."""

from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.responses import RedirectResponse

from syncline_gateway.credentials import Credentials, Principal, split_token
from syncline_gateway.errors import AuthenticationError

COOKIE = "syncline_console_key"
"""The cookie holding the signed-in key (`base64(id:secret)`)."""
COOKIE_MAX_AGE_S = 8 * 3600
"""How long a sign-in lasts."""


class SignInRequired(Exception):  # noqa: N818 - not an error: the way to the sign-in page
    """No valid key in the cookie."""


async def principal(request: Request, token: str) -> Principal:
    """The organisation a key acts for; raises `AuthenticationError` when it does not verify."""
    key_id, secret = split_token(token.strip())
    credentials: Credentials = request.app.state.credentials
    return await credentials.verify(key_id, secret)


async def signed_in(request: Request) -> Principal:
    """The caller of a console page, from its cookie."""
    token = request.cookies.get(COOKIE)
    if not token:
        raise SignInRequired
    try:
        return await principal(request, token)
    except AuthenticationError as exc:
        raise SignInRequired from exc


Viewer = Annotated[Principal, Depends(signed_in)]
"""The signed-in caller of a console page."""


def keep(response: Response, *, request: Request, token: str) -> None:
    """Sign in: the key goes in a cookie scripts cannot read and other sites' requests do not carry."""
    response.set_cookie(
        COOKIE,
        token,
        max_age=COOKIE_MAX_AGE_S,
        path="/ui",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def forget(response: Response) -> None:
    """Sign out."""
    response.delete_cookie(COOKIE, path="/ui", httponly=True, samesite="strict")


async def to_sign_in(request: Request, exc: Exception) -> Response:
    """A page asked for without a valid key goes to the sign-in page (an htmx request is told to go there)."""
    del exc
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": "/ui/login"})
    response = RedirectResponse("/ui/login", status_code=303)
    forget(response)
    return response
