"""An organisation's access to the broker: its two topics, and for each of its key pairs a SCRAM-SHA-512 credential
(key id as user name, secret as password) with ACLs on those topics and its consumer groups, nothing else.

Credentials, ACLs and topics are made with a key only when the services themselves authenticate with SASL (a
secured broker with an authorizer); against a PLAINTEXT development broker there is nothing to hold anyone to, and
an organisation's topics are made when the forwarder first publishes to them. Every call is idempotent: a
credential set again is replaced, an ACL made twice is one ACL.
"""

import asyncio
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

import structlog
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._acl import AclBinding, AclBindingFilter, AclOperation, AclPermissionType
from confluent_kafka.admin._resource import ResourcePatternType, ResourceType
from confluent_kafka.admin._scram import (
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)
from confluent_kafka.cimpl import NewTopic

from syncline_contracts.tenant import TENANT_PARTITIONS, TenantTopics
from syncline_platform.errors import UnavailableError
from syncline_platform.kafka import confluent_options, resolve_auth
from syncline_platform.settings import KafkaSettings

log = structlog.get_logger(__name__)
SCRAM_ITERATIONS = 8192
T = TypeVar("T")


def principal(key_id: str) -> str:
    """The broker principal of a key pair."""
    return f"User:{key_id}"


def acls(topics: TenantTopics, key_id: str) -> list[AclBinding]:
    """What a key pair may do: write its organisation's commands, read its events, with its own groups."""
    who = principal(key_id)

    def allow(kind: ResourceType, name: str, pattern: ResourcePatternType, operation: AclOperation) -> AclBinding:
        return AclBinding(kind, name, pattern, who, "*", operation, AclPermissionType.ALLOW)

    literal, prefixed = ResourcePatternType.LITERAL, ResourcePatternType.PREFIXED
    return [
        allow(ResourceType.TOPIC, topics.commands, literal, AclOperation.WRITE),
        allow(ResourceType.TOPIC, topics.commands, literal, AclOperation.DESCRIBE),
        allow(ResourceType.TOPIC, topics.events, literal, AclOperation.READ),
        allow(ResourceType.TOPIC, topics.events, literal, AclOperation.DESCRIBE),
        allow(ResourceType.GROUP, topics.base, prefixed, AclOperation.READ),
        allow(ResourceType.GROUP, topics.base, prefixed, AclOperation.DESCRIBE),
    ]


class TenantAccess:
    """Makes and removes organisations' topics, credentials and ACLs on the broker."""

    def __init__(self, settings: KafkaSettings) -> None:
        self.settings = settings
        self.secured = resolve_auth(settings).sasl
        self._admin: AdminClient | None = None
        self._known: set[str] = set()
        """Organisations whose topics this process made or found."""

    @property
    def admin(self) -> AdminClient:
        """The admin client, made on first use."""
        if self._admin is None:
            self._admin = AdminClient(confluent_options(self.settings))
        return self._admin

    def topics(self, org_id: str) -> TenantTopics:
        """The organisation's topic names on this broker."""
        return TenantTopics(org_id=org_id, prefix=self.settings.topic_prefix)

    async def ensure_topics(self, org_id: str) -> TenantTopics:
        """Make the organisation's topics unless this process already did."""
        topics = self.topics(org_id)
        if org_id in self._known:
            return topics
        partitions = min(TENANT_PARTITIONS, self.settings.max_partitions or TENANT_PARTITIONS)
        wanted = [NewTopic(name, num_partitions=partitions) for name in (topics.commands, topics.events)]
        futures = self.admin.create_topics(wanted, operation_timeout=10)
        for name, future in futures.items():
            await _result(future, ok=lambda e: e.code() == KafkaError.TOPIC_ALREADY_EXISTS, what=f"topic {name}")
        self._known.add(org_id)
        return topics

    async def grant(self, *, org_id: str, key_id: str, secret: str) -> None:
        """Give a new key pair its credential and ACLs (and its organisation its topics). Against a PLAINTEXT
        broker nothing is done: its topics are made when its first event is forwarded."""
        if not self.secured:
            log.debug("kafka.access_not_secured", org_id=org_id, key_id=key_id)
            return
        topics = await self.ensure_topics(org_id)
        info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS)
        upsert = UserScramCredentialUpsertion(key_id, info, secret.encode())
        for future in self.admin.alter_user_scram_credentials([upsert]).values():
            await _result(future, what=f"credential of {key_id}")
        for future in self.admin.create_acls(acls(topics, key_id)).values():
            await _result(future, what=f"ACLs of {key_id}")
        log.info("kafka.access_granted", org_id=org_id, key_id=key_id)

    async def revoke(self, *, key_id: str) -> None:
        """Remove a key pair's credential (open sessions end at re-authentication) and every ACL of its principal."""
        if not self.secured:
            return
        deletion = UserScramCredentialDeletion(key_id, ScramMechanism.SCRAM_SHA_512)
        for future in self.admin.alter_user_scram_credentials([deletion]).values():
            await _result(future, ok=_no_such_credential, what=f"credential of {key_id}")
        anything: Any = None  # a filter's None matches any name or host
        everything = AclBindingFilter(
            ResourceType.ANY,
            anything,
            ResourcePatternType.ANY,
            principal(key_id),
            anything,
            AclOperation.ANY,
            AclPermissionType.ANY,
        )
        for future in self.admin.delete_acls([everything]).values():
            await _result(future, what=f"ACLs of {key_id}")
        log.info("kafka.access_revoked", key_id=key_id)


def _no_such_credential(error: KafkaError) -> bool:
    return error.code() == KafkaError.RESOURCE_NOT_FOUND or "not found" in error.str().lower()


async def _result(future: "Future[T]", *, what: str, ok: Callable[[KafkaError], bool] | None = None) -> T | None:
    """Wait for an admin call without blocking the loop; an error `ok` accepts is no error."""
    try:
        return await asyncio.wrap_future(future)
    except KafkaException as exc:
        error: Any = exc.args[0] if exc.args else None
        if ok is not None and isinstance(error, KafkaError) and ok(error):
            return None
        raise UnavailableError(dependency="kafka", detail=f"{what}: {exc}") from exc
