"""Sealing secrets at rest (Fernet: AES-128-CBC + HMAC-SHA256). The signing dialects need them back in clear."""

from cryptography.fernet import Fernet, InvalidToken
from pydantic import SecretStr

from syncline_platform.errors import InvalidError


class Sealer:
    """Seals and opens secret strings with one key."""

    def __init__(self, key: SecretStr) -> None:
        if not key.get_secret_value():
            raise InvalidError("SYNCLINE_SECRET_KEY is not set: secrets cannot be sealed or opened")
        try:
            self._fernet = Fernet(key.get_secret_value().encode())
        except ValueError as exc:
            raise InvalidError("SYNCLINE_SECRET_KEY is not a Fernet key (make secret-key prints one)") from exc

    def seal(self, value: str) -> str:
        """The sealed form, safe to store and to send over Kafka."""
        return self._fernet.encrypt(value.encode()).decode()

    def open(self, sealed: str) -> str:
        """The clear value."""
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken as exc:
            raise InvalidError("a sealed secret does not open with this key") from exc


def generate_key() -> str:
    """A fresh key for `SYNCLINE_SECRET_KEY`."""
    return Fernet.generate_key().decode()
