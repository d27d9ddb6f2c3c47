"""Key pairs, tokens and sealed secrets."""

import base64
import string

import pytest
from pydantic import SecretStr

from syncline_gateway.credentials import KeyPair, new_key_pair, split_token
from syncline_gateway.errors import AuthenticationError
from syncline_platform.errors import InvalidError
from syncline_platform.secrets import Sealer, generate_key


def test_key_id_shape() -> None:
    pair = new_key_pair()
    assert len(pair.id) == 20
    assert pair.id.startswith("SL")
    assert set(pair.id) <= set(string.ascii_uppercase + string.digits)


def test_secret_shape() -> None:
    pair = new_key_pair()
    assert len(pair.secret) == 40
    assert ":" not in pair.secret
    assert set(pair.secret) <= set(string.ascii_letters + string.digits + "-_")


def test_pairs_are_fresh() -> None:
    pairs = [new_key_pair() for _ in range(20)]
    assert len({p.id for p in pairs}) == 20
    assert len({p.secret for p in pairs}) == 20


def test_encoded_is_base64_of_id_colon_secret() -> None:
    pair = KeyPair(id="SLABCDEFGHIJKLMNOPQR", secret="s3cr3t")
    assert pair.encoded == "U0xBQkNERUZHSElKS0xNTk9QUVI6czNjcjN0"
    assert base64.b64decode(pair.encoded).decode() == "SLABCDEFGHIJKLMNOPQR:s3cr3t"


def test_split_token_round_trip() -> None:
    pair = new_key_pair()
    assert split_token(pair.encoded) == (pair.id, pair.secret)


def test_split_token_keeps_colons_in_the_secret() -> None:
    token = base64.b64encode(b"id:se:cret").decode()
    assert split_token(token) == ("id", "se:cret")


@pytest.mark.parametrize(
    "token",
    [
        "not base64!",
        "",
        base64.b64encode(b"no-colon").decode(),
        base64.b64encode(b":secret").decode(),
        base64.b64encode(b"id:").decode(),
        base64.b64encode(b"\xff\xfe:\xfd").decode(),
        "abc",  # bad padding
    ],
)
def test_split_token_rejects_garbage(token: str) -> None:
    with pytest.raises(AuthenticationError, match=r"base64\(id:secret\)"):
        split_token(token)


@pytest.fixture
def sealer() -> Sealer:
    return Sealer(SecretStr(generate_key()))


def test_seal_open_round_trip(sealer: Sealer) -> None:
    sealed = sealer.seal("hunter2 ✓")
    assert sealed != "hunter2 ✓"
    assert "hunter2" not in sealed
    assert sealer.open(sealed) == "hunter2 ✓"


def test_seal_is_randomised(sealer: Sealer) -> None:
    assert sealer.seal("x") != sealer.seal("x")


def test_wrong_key_raises_invalid(sealer: Sealer) -> None:
    sealed = sealer.seal("hunter2")
    other = Sealer(SecretStr(generate_key()))
    with pytest.raises(InvalidError, match="does not open with this key"):
        other.open(sealed)


def test_tampered_token_raises_invalid(sealer: Sealer) -> None:
    with pytest.raises(InvalidError):
        sealer.open("garbage")


def test_empty_key_raises_invalid() -> None:
    with pytest.raises(InvalidError, match="SYNCLINE_SECRET_KEY"):
        Sealer(SecretStr(""))
