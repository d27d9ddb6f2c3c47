"""The gateway's signature core: verifying AWS SigV4 (`AWS4-HMAC-SHA256`) and Huawei AK/SK (`SDK-HMAC-SHA256`)
request signatures.

Pure functions over a `SignedRequest` (the request exactly as it arrived) and a clock. Verification is two steps,
because the secret belongs to the caller's key store: `parse_*` reads the key id (and the rest of the
`Authorization` header) without any secret, the caller looks the secret up (`Credentials.secret_of`), then
`verify_*` checks date, payload hash and signature. Every failure is one `SignatureError` with a `kind`; an
unknown key is the caller's to decide (`SignatureErrorKind.UNKNOWN_KEY`)."""

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from urllib.parse import quote, unquote

from starlette.requests import Request

from syncline_gateway.errors import AuthenticationError

SIGV4_ALGORITHM = "AWS4-HMAC-SHA256"
SDK_HMAC_ALGORITHM = "SDK-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
DEFAULT_SKEW = timedelta(minutes=15)
_DATE_FORMAT = "%Y%m%dT%H%M%SZ"


class SignatureErrorKind(StrEnum):
    """Why a signed request was refused; each dialect maps the kinds to its vendor's error."""

    MISSING = "missing"
    """No `Authorization` header (or no date header)."""
    MALFORMED = "malformed"
    """An `Authorization` or date header that cannot be read, or a signed header that was not sent."""
    UNKNOWN_KEY = "unknown_key"
    """The key id names no active key (decided by the caller)."""
    BAD_SIGNATURE = "bad_signature"
    """The signature does not match, or is scoped to another service."""
    EXPIRED = "expired"
    """The request's date is further from now than the allowed skew."""
    BODY_HASH = "body_hash"
    """The body's hash differs from the one the client declared, or the body was not signed."""


class SignatureError(AuthenticationError):
    """A signed request that cannot be accepted."""

    def __init__(self, kind: SignatureErrorKind, reason: str) -> None:
        self.kind = kind
        super().__init__(reason)


@dataclass(frozen=True)
class SignedRequest:
    """A request as it arrived: nothing decoded or normalised, since signatures cover the raw form."""

    method: str
    path: str
    """The raw path as sent (percent-encoding kept, no query)."""
    query: str
    """The raw query string, without `?`."""
    headers: Mapping[str, str]
    """Lower-cased names; repeated headers joined with `,`."""
    body: bytes


@dataclass(frozen=True)
class SigV4Authorization:
    """The parts of an `AWS4-HMAC-SHA256` `Authorization` header."""

    key_id: str
    date: str
    """`yyyymmdd` of the credential scope."""
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


@dataclass(frozen=True)
class SdkHmacAuthorization:
    """The parts of an `SDK-HMAC-SHA256` `Authorization` header."""

    key_id: str
    signed_headers: tuple[str, ...]
    signature: str


async def signed_request_of(request: Request) -> SignedRequest:
    """The raw form of a Starlette request (reads the body, which Starlette caches for the route)."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in request.scope["headers"]:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("utf-8", errors="surrogateescape")
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    raw_path = request.scope.get("raw_path") or request.scope["path"].encode()
    return SignedRequest(
        method=request.method,
        path=raw_path.decode("latin-1"),
        query=request.scope.get("query_string", b"").decode("latin-1"),
        headers=headers,
        body=await request.body(),
    )


# --- shared pieces ---------------------------------------------------------------------------------------------


def _fields(text: str) -> dict[str, str]:
    """`A=1, B=2,C=3` → {A: 1, B: 2, C: 3}."""
    fields: dict[str, str] = {}
    for part in text.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep or not name or not value:
            raise SignatureError(
                SignatureErrorKind.MALFORMED, f"Authorization header part [{part.strip()}] is malformed"
            )
        fields[name] = value
    return fields


def _authorization(request: SignedRequest, algorithm: str) -> dict[str, str]:
    header = request.headers.get("authorization", "").strip()
    if not header:
        raise SignatureError(SignatureErrorKind.MISSING, "Missing Authentication Token")
    scheme, _, rest = header.partition(" ")
    if scheme != algorithm:
        raise SignatureError(SignatureErrorKind.MALFORMED, f"Authorization header must use {algorithm}")
    return _fields(rest)


def _signed_header_names(value: str | None) -> tuple[str, ...]:
    if not value:
        raise SignatureError(SignatureErrorKind.MALFORMED, "Authorization header requires a SignedHeaders part")
    return tuple(value.split(";"))


def _request_time(request: SignedRequest, header: str) -> datetime:
    value = request.headers.get(header)
    if value is None:
        raise SignatureError(SignatureErrorKind.MISSING, f"the request has no {header} header")
    try:
        return datetime.strptime(value.strip(), _DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError as exc:
        raise SignatureError(SignatureErrorKind.MALFORMED, f"{header} [{value}] is not {_DATE_FORMAT}") from exc


def _check_time(request: SignedRequest, *, header: str, now: datetime, skew: timedelta) -> str:
    at = _request_time(request, header)
    if abs(now - at) > skew:
        raise SignatureError(
            SignatureErrorKind.EXPIRED,
            f"Signature expired: {at:%Y%m%dT%H%M%SZ} is now earlier than "
            f"{now - skew:%Y%m%dT%H%M%SZ} ({now:%Y%m%dT%H%M%SZ} - {int(skew.total_seconds() // 60)} min.)"
            if at < now
            else f"Signature not yet current: {at:%Y%m%dT%H%M%SZ} is still later than "
            f"{now + skew:%Y%m%dT%H%M%SZ} ({now:%Y%m%dT%H%M%SZ} + {int(skew.total_seconds() // 60)} min.)",
        )
    return request.headers[header].strip()


def _require_signed(names: tuple[str, ...], required: tuple[str, ...]) -> None:
    for name in required:
        if name not in names:
            raise SignatureError(SignatureErrorKind.MALFORMED, f"SignedHeaders must include [{name}]")


def _header_lines(request: SignedRequest, names: tuple[str, ...], *, collapse: bool) -> str:
    lines = []
    for name in names:
        value = request.headers.get(name)
        if value is None:
            raise SignatureError(SignatureErrorKind.MALFORMED, f"signed header [{name}] is not in the request")
        lines.append(f"{name}:{' '.join(value.split()) if collapse else value.strip()}\n")
    return "".join(lines)


def _payload_hash(request: SignedRequest, *, header: str) -> str:
    """The body's hash; a declared hash must be the body's own (an unsigned payload is refused)."""
    actual = hashlib.sha256(request.body).hexdigest()
    declared = request.headers.get(header)
    if declared is None:
        return actual
    declared = declared.strip()
    if declared == UNSIGNED_PAYLOAD:
        raise SignatureError(SignatureErrorKind.BODY_HASH, "an unsigned payload is not accepted")
    if not hmac.compare_digest(declared.lower(), actual):
        raise SignatureError(
            SignatureErrorKind.BODY_HASH, "The provided content hash does not match the calculated content hash"
        )
    return declared


def _check_signature(expected: str, given: str) -> None:
    if not hmac.compare_digest(expected.encode(), given.lower().encode()):
        raise SignatureError(
            SignatureErrorKind.BAD_SIGNATURE,
            "The request signature we calculated does not match the signature you provided.",
        )


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def _sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", errors="surrogateescape")).hexdigest()


def _rfc3986(text: str) -> str:
    return quote(text, safe="-_.~")


# --- AWS SigV4 -------------------------------------------------------------------------------------------------


def parse_sigv4(request: SignedRequest) -> SigV4Authorization:
    """The `AWS4-HMAC-SHA256` Authorization header's parts; no secret needed yet."""
    fields = _authorization(request, SIGV4_ALGORITHM)
    credential = fields.get("Credential", "").split("/")
    if len(credential) != 5 or credential[4] != "aws4_request" or not all(credential):
        raise SignatureError(
            SignatureErrorKind.MALFORMED,
            "Authorization header requires a Credential of the form <key>/<date>/<region>/<service>/aws4_request",
        )
    signature = fields.get("Signature")
    if not signature:
        raise SignatureError(SignatureErrorKind.MALFORMED, "Authorization header requires a Signature part")
    names = _signed_header_names(fields.get("SignedHeaders"))
    return SigV4Authorization(
        key_id=credential[0],
        date=credential[1],
        region=credential[2],
        service=credential[3],
        signed_headers=names,
        signature=signature,
    )


def sigv4_canonical_uri(raw_path: str) -> str:
    """Dot and empty segments removed from the raw path (kept percent-encoded), then encoded once more."""
    segments: list[str] = []
    for segment in raw_path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment and segment != ".":
            segments.append(segment)
    path = "/" + "/".join(segments)
    if raw_path.endswith("/") and segments:
        path += "/"
    return quote(path, safe="/~")


def sigv4_canonical_query(raw_query: str) -> str:
    pairs = []
    for item in raw_query.split("&"):
        if not item:
            continue
        key, _, value = item.partition("=")
        pairs.append((_rfc3986(unquote(key)), _rfc3986(unquote(value))))
    return "&".join(f"{key}={value}" for key, value in sorted(pairs))


def sigv4_canonical_request(request: SignedRequest, auth: SigV4Authorization) -> str:
    """SigV4's canonical request (the non-S3 rules: path encoded twice, payload always hashed)."""
    return "\n".join(
        (
            request.method.upper(),
            sigv4_canonical_uri(request.path),
            sigv4_canonical_query(request.query),
            _header_lines(request, auth.signed_headers, collapse=True),
            ";".join(auth.signed_headers),
            _payload_hash(request, header="x-amz-content-sha256"),
        )
    )


def sigv4_string_to_sign(request: SignedRequest, auth: SigV4Authorization) -> str:
    amz_date = request.headers.get("x-amz-date", "").strip()
    return "\n".join((SIGV4_ALGORITHM, amz_date, auth.scope, _sha256_hex(sigv4_canonical_request(request, auth))))


def sigv4_signature(*, string_to_sign: str, secret: str, auth: SigV4Authorization) -> str:
    key = _hmac(f"AWS4{secret}".encode(), auth.date)
    for part in (auth.region, auth.service, "aws4_request"):
        key = _hmac(key, part)
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def verify_sigv4(
    request: SignedRequest,
    auth: SigV4Authorization,
    *,
    secret: str,
    now: datetime,
    service: str,
    skew: timedelta = DEFAULT_SKEW,
) -> None:
    """Raises `SignatureError` unless `request` is signed with `secret` for `service`, within `skew` of `now`."""
    _require_signed(auth.signed_headers, ("host", "x-amz-date"))
    amz_date = _check_time(request, header="x-amz-date", now=now, skew=skew)
    if amz_date[:8] != auth.date:
        raise SignatureError(
            SignatureErrorKind.BAD_SIGNATURE,
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"[{auth.date}] != [{amz_date[:8]}]",
        )
    if auth.service != service:
        raise SignatureError(
            SignatureErrorKind.BAD_SIGNATURE, f"Credential should be scoped to correct service: [{service}]"
        )
    string_to_sign = sigv4_string_to_sign(request, auth)
    _check_signature(sigv4_signature(string_to_sign=string_to_sign, secret=secret, auth=auth), auth.signature)


# --- Huawei SDK-HMAC-SHA256 ------------------------------------------------------------------------------------


def parse_sdk_hmac(request: SignedRequest) -> SdkHmacAuthorization:
    """The `SDK-HMAC-SHA256` Authorization header's parts; no secret needed yet."""
    fields = _authorization(request, SDK_HMAC_ALGORITHM)
    key_id = fields.get("Access")
    signature = fields.get("Signature")
    if not key_id or not signature:
        raise SignatureError(SignatureErrorKind.MALFORMED, "Authorization header requires Access and Signature parts")
    return SdkHmacAuthorization(
        key_id=key_id, signed_headers=_signed_header_names(fields.get("SignedHeaders")), signature=signature
    )


def sdk_hmac_canonical_uri(raw_path: str) -> str:
    """Each decoded segment RFC 3986-encoded again, always ending in `/`."""
    path = "/".join(quote(segment, safe="~") for segment in unquote(raw_path).split("/"))
    return path if path.endswith("/") else path + "/"


def sdk_hmac_canonical_query(raw_query: str) -> str:
    pairs = []
    for item in raw_query.split("&"):
        if not item:
            continue
        key, _, value = item.partition("=")
        pairs.append((unquote(key), unquote(value)))
    return "&".join(f"{quote(key, safe='~')}={quote(value, safe='~')}" for key, value in sorted(pairs))


def sdk_hmac_canonical_request(request: SignedRequest, auth: SdkHmacAuthorization) -> str:
    payload = EMPTY_SHA256 if not request.body else _payload_hash(request, header="x-sdk-content-sha256")
    return "\n".join(
        (
            request.method.upper(),
            sdk_hmac_canonical_uri(request.path),
            sdk_hmac_canonical_query(request.query),
            _header_lines(request, auth.signed_headers, collapse=False),
            ";".join(auth.signed_headers),
            payload,
        )
    )


def sdk_hmac_string_to_sign(request: SignedRequest, auth: SdkHmacAuthorization) -> str:
    sdk_date = request.headers.get("x-sdk-date", "").strip()
    return "\n".join((SDK_HMAC_ALGORITHM, sdk_date, _sha256_hex(sdk_hmac_canonical_request(request, auth))))


def sdk_hmac_signature(*, string_to_sign: str, secret: str) -> str:
    return hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()


def verify_sdk_hmac(
    request: SignedRequest,
    auth: SdkHmacAuthorization,
    *,
    secret: str,
    now: datetime,
    skew: timedelta = DEFAULT_SKEW,
) -> None:
    """Raises `SignatureError` unless `request` is signed with `secret`, with an `X-Sdk-Date` within `skew` of
    `now`."""
    _require_signed(auth.signed_headers, ("host", "x-sdk-date"))
    _check_time(request, header="x-sdk-date", now=now, skew=skew)
    string_to_sign = sdk_hmac_string_to_sign(request, auth)
    _check_signature(sdk_hmac_signature(string_to_sign=string_to_sign, secret=secret), auth.signature)
