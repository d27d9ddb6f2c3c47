"""The signature core against every real signed request in `data/signature_vectors.json` (a copy of the spec's
vectors: boto3 and huaweicloudsdkcore requests captured with their secrets), with the clock pinned to each
request's date; then each refusal kind."""

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from syncline_gateway.signatures import (
    SDK_HMAC_ALGORITHM,
    SIGV4_ALGORITHM,
    SignatureError,
    SignatureErrorKind,
    SignedRequest,
    parse_sdk_hmac,
    parse_sigv4,
    sdk_hmac_canonical_request,
    sdk_hmac_string_to_sign,
    signed_request_of,
    sigv4_canonical_request,
    sigv4_string_to_sign,
    verify_sdk_hmac,
    verify_sigv4,
)

VECTORS: list[dict[str, Any]] = json.loads((Path(__file__).parent / "data" / "signature_vectors.json").read_text())
AWS = [v for v in VECTORS if v["algorithm"] == SIGV4_ALGORITHM]
HUAWEI = [v for v in VECTORS if v["algorithm"] == SDK_HMAC_ALGORITHM]


def _request(vector: dict[str, Any]) -> SignedRequest:
    path, _, query = vector["raw_target"].partition("?")
    headers: dict[str, str] = {}
    for name, value in vector["headers"]:
        key = name.lower()
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    return SignedRequest(method=vector["method"], path=path, query=query, headers=headers, body=vector["body"].encode())


def _date(request: SignedRequest, header: str) -> datetime:
    return datetime.strptime(request.headers[header], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def _kind(exc: pytest.ExceptionInfo[SignatureError]) -> SignatureErrorKind:
    return exc.value.kind


def test_vectors_cover_both_algorithms() -> None:
    assert len(VECTORS) == 57
    assert len(AWS) == 31
    assert len(HUAWEI) == 26


@pytest.mark.parametrize("vector", AWS, ids=[v["case"] for v in AWS])
def test_sigv4_vector(vector: dict[str, Any]) -> None:
    request = _request(vector)
    auth = parse_sigv4(request)
    assert auth.service == "app-integrations"
    assert sigv4_canonical_request(request, auth) == vector["expected_canonical_request"]
    assert sigv4_string_to_sign(request, auth) == vector["expected_string_to_sign"]
    assert auth.signature == vector["expected_signature"]
    now = _date(request, "x-amz-date") + timedelta(minutes=14)
    verify_sigv4(request, auth, secret=vector["secret_key"], now=now, service="app-integrations")


@pytest.mark.parametrize("vector", HUAWEI, ids=[v["case"] for v in HUAWEI])
def test_sdk_hmac_vector(vector: dict[str, Any]) -> None:
    request = _request(vector)
    auth = parse_sdk_hmac(request)
    assert auth.key_id == vector["access_key"]
    assert sdk_hmac_canonical_request(request, auth) == vector["expected_canonical_request"]
    assert sdk_hmac_string_to_sign(request, auth) == vector["expected_string_to_sign"]
    assert auth.signature == vector["expected_signature"]
    now = _date(request, "x-sdk-date") - timedelta(minutes=14)
    verify_sdk_hmac(request, auth, secret=vector["secret_key"], now=now)


@pytest.mark.parametrize("vector", AWS, ids=[v["case"] for v in AWS])
def test_sigv4_wrong_secret_is_bad_signature(vector: dict[str, Any]) -> None:
    request = _request(vector)
    with pytest.raises(SignatureError) as exc:
        verify_sigv4(
            request,
            parse_sigv4(request),
            secret=vector["secret_key"] + "x",
            now=_date(request, "x-amz-date"),
            service="app-integrations",
        )
    assert _kind(exc) is SignatureErrorKind.BAD_SIGNATURE


@pytest.mark.parametrize("vector", HUAWEI, ids=[v["case"] for v in HUAWEI])
def test_sdk_hmac_wrong_secret_is_bad_signature(vector: dict[str, Any]) -> None:
    request = _request(vector)
    with pytest.raises(SignatureError) as exc:
        verify_sdk_hmac(
            request, parse_sdk_hmac(request), secret="x" + vector["secret_key"], now=_date(request, "x-sdk-date")
        )
    assert _kind(exc) is SignatureErrorKind.BAD_SIGNATURE


def _aws(case: str) -> tuple[SignedRequest, dict[str, Any]]:
    vector = next(v for v in AWS if v["case"] == case)
    return _request(vector), vector


def _huawei(case: str) -> tuple[SignedRequest, dict[str, Any]]:
    vector = next(v for v in HUAWEI if v["case"] == case)
    return _request(vector), vector


def _verify_aws(request: SignedRequest, secret: str, *, now: datetime | None = None) -> None:
    at = now or _date(request, "x-amz-date")
    verify_sigv4(request, parse_sigv4(request), secret=secret, now=at, service="app-integrations")


def _verify_huawei(request: SignedRequest, secret: str, *, now: datetime | None = None) -> None:
    at = now or _date(request, "x-sdk-date")
    verify_sdk_hmac(request, parse_sdk_hmac(request), secret=secret, now=at)


def _without(request: SignedRequest, name: str) -> SignedRequest:
    return replace(request, headers={k: v for k, v in request.headers.items() if k != name})


def _with(request: SignedRequest, name: str, value: str) -> SignedRequest:
    return replace(request, headers={**request.headers, name: value})


@pytest.mark.parametrize("minutes", [16, -16])
def test_sigv4_date_outside_fifteen_minutes_is_expired(minutes: int) -> None:
    request, vector = _aws("create_data_integration (all fields)")
    with pytest.raises(SignatureError) as exc:
        _verify_aws(request, vector["secret_key"], now=_date(request, "x-amz-date") + timedelta(minutes=minutes))
    assert _kind(exc) is SignatureErrorKind.EXPIRED


@pytest.mark.parametrize("minutes", [16, -16])
def test_sdk_hmac_date_outside_fifteen_minutes_is_expired(minutes: int) -> None:
    request, vector = _huawei("batch_set_policy")
    with pytest.raises(SignatureError) as exc:
        _verify_huawei(request, vector["secret_key"], now=_date(request, "x-sdk-date") + timedelta(minutes=minutes))
    assert _kind(exc) is SignatureErrorKind.EXPIRED


def test_missing_authorization() -> None:
    request, _ = _aws("list_data_integrations")
    with pytest.raises(SignatureError) as exc:
        parse_sigv4(_without(request, "authorization"))
    assert _kind(exc) is SignatureErrorKind.MISSING
    request, _ = _huawei("batch_set_policy")
    with pytest.raises(SignatureError) as exc:
        parse_sdk_hmac(_without(request, "authorization"))
    assert _kind(exc) is SignatureErrorKind.MISSING


@pytest.mark.parametrize(
    "header",
    [
        "AWS4-HMAC-SHA256",
        "AWS4-HMAC-SHA256 Credential=AKID/20261122/eu-west-2/app-integrations, SignedHeaders=host, Signature=ab",
        "AWS4-HMAC-SHA256 Credential=AKID/20261122/eu-west-2/app-integrations/aws4_request, Signature=ab",
        "AWS4-HMAC-SHA256 Credential=AKID/20261122/eu-west-2/app-integrations/aws4_request, SignedHeaders=host",
        "Bearer abc",
        "SDK-HMAC-SHA256 Access=AK, SignedHeaders=host, Signature=ab",
    ],
)
def test_sigv4_malformed_authorization(header: str) -> None:
    request, _ = _aws("list_data_integrations")
    with pytest.raises(SignatureError) as exc:
        parse_sigv4(_with(request, "authorization", header))
    assert _kind(exc) is SignatureErrorKind.MALFORMED


@pytest.mark.parametrize(
    "header",
    [
        "SDK-HMAC-SHA256 Access=AK, SignedHeaders=host",
        "SDK-HMAC-SHA256 SignedHeaders=host;x-sdk-date, Signature=ab",
        "SDK-HMAC-SHA256 Access=AK, Signature=ab",
        "SDK-HMAC-SHA256 garbage",
        "AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request, SignedHeaders=host, Signature=ab",
    ],
)
def test_sdk_hmac_malformed_authorization(header: str) -> None:
    request, _ = _huawei("batch_set_policy")
    with pytest.raises(SignatureError) as exc:
        parse_sdk_hmac(_with(request, "authorization", header))
    assert _kind(exc) is SignatureErrorKind.MALFORMED


def test_sigv4_malformed_date() -> None:
    request, vector = _aws("list_data_integrations")
    with pytest.raises(SignatureError) as exc:
        _verify_aws(_with(request, "x-amz-date", "2026-11-22T13:27:49Z"), vector["secret_key"], now=datetime.now(UTC))
    assert _kind(exc) is SignatureErrorKind.MALFORMED


def test_sigv4_missing_date() -> None:
    request, vector = _aws("list_data_integrations")
    with pytest.raises(SignatureError) as exc:
        _verify_aws(_without(request, "x-amz-date"), vector["secret_key"], now=datetime.now(UTC))
    assert _kind(exc) in {SignatureErrorKind.MISSING, SignatureErrorKind.MALFORMED}


def test_sdk_hmac_missing_date() -> None:
    request, vector = _huawei("batch_set_policy")
    with pytest.raises(SignatureError) as exc:
        _verify_huawei(_without(request, "x-sdk-date"), vector["secret_key"], now=datetime.now(UTC))
    assert _kind(exc) in {SignatureErrorKind.MISSING, SignatureErrorKind.MALFORMED}


def test_sigv4_tampered_body_is_refused() -> None:
    request, vector = _aws("create_data_integration (all fields)")
    with pytest.raises(SignatureError) as exc:
        _verify_aws(replace(request, body=request.body.replace(b"my-di", b"my-dj")), vector["secret_key"])
    assert _kind(exc) is SignatureErrorKind.BAD_SIGNATURE


def test_sigv4_declared_body_hash_must_match_body() -> None:
    request, vector = _aws("create_data_integration (all fields)")
    wrong = _with(request, "x-amz-content-sha256", "0" * 64)
    with pytest.raises(SignatureError) as exc:
        _verify_aws(wrong, vector["secret_key"])
    assert _kind(exc) is SignatureErrorKind.BODY_HASH
    unsigned = _with(request, "x-amz-content-sha256", "UNSIGNED-PAYLOAD")
    with pytest.raises(SignatureError) as exc:
        _verify_aws(unsigned, vector["secret_key"])
    assert _kind(exc) is SignatureErrorKind.BODY_HASH


def test_sdk_hmac_tampered_body_is_refused() -> None:
    request, vector = _huawei("batch_set_policy")
    with pytest.raises(SignatureError) as exc:
        _verify_huawei(replace(request, body=request.body + b" "), vector["secret_key"])
    assert _kind(exc) is SignatureErrorKind.BAD_SIGNATURE
    with pytest.raises(SignatureError) as exc:
        _verify_huawei(_with(request, "x-sdk-content-sha256", "1" * 64), vector["secret_key"])
    assert _kind(exc) is SignatureErrorKind.BODY_HASH


def test_sigv4_other_service_is_refused() -> None:
    request, vector = _aws("list_data_integrations")
    with pytest.raises(SignatureError) as exc:
        verify_sigv4(
            request,
            parse_sigv4(request),
            secret=vector["secret_key"],
            now=_date(request, "x-amz-date"),
            service="appflow",
        )
    assert _kind(exc) is SignatureErrorKind.BAD_SIGNATURE


def test_sigv4_tampered_path_query_and_header_are_refused() -> None:
    request, vector = _aws("list_data_integrations page 2")
    for tampered in (
        replace(request, query="maxResults=6&nextToken=page2%20%2B%2F%3D"),
        replace(request, path="/dataIntegrations/x"),
        _with(request, "host", "127.0.0.1:1"),
        replace(request, method="POST"),
    ):
        with pytest.raises(SignatureError) as exc:
            _verify_aws(tampered, vector["secret_key"])
        assert _kind(exc) is SignatureErrorKind.BAD_SIGNATURE


def test_signed_header_not_sent_is_malformed() -> None:
    request, vector = _huawei("batch_set_policy")
    with pytest.raises(SignatureError) as exc:
        _verify_huawei(_without(request, "x-project-id"), vector["secret_key"])
    assert _kind(exc) is SignatureErrorKind.MALFORMED


def test_host_must_be_signed() -> None:
    request, vector = _huawei("batch_set_policy")
    header = request.headers["authorization"].replace("SignedHeaders=content-type;host;", "SignedHeaders=content-type;")
    with pytest.raises(SignatureError) as exc:
        _verify_huawei(_with(request, "authorization", header), vector["secret_key"])
    assert _kind(exc) is SignatureErrorKind.MALFORMED


async def test_signed_request_of_keeps_the_raw_request() -> None:
    from starlette.requests import Request

    body = b'{"a": 1}'
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/dataIntegrations/arn:aws:x/y",
        "raw_path": b"/dataIntegrations/arn%3Aaws%3Ax%2Fy",
        "query_string": b"maxResults=5&nextToken=a%20b",
        "headers": [(b"Host", b"h:1"), (b"X-Multi", b"a"), (b"x-multi", b"b")],
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    signed = await signed_request_of(Request(scope, receive))
    assert signed.path == "/dataIntegrations/arn%3Aaws%3Ax%2Fy"
    assert signed.query == "maxResults=5&nextToken=a%20b"
    assert signed.headers == {"host": "h:1", "x-multi": "a,b"}
    assert signed.body == body
