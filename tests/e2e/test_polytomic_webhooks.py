"""The organisation's Polytomic webhook with the official SDK: one per organisation, read, update, disable,
enable, delete."""

from collections.abc import Iterator

import pytest
from polytomic import NotFoundError, Polytomic, UnprocessableEntityError
from tests.e2e.polytomic_support import polytomic
from tests.support.system import System

pytestmark = pytest.mark.e2e


@pytest.fixture
def api(system: System) -> Iterator[Polytomic]:
    with polytomic(system) as sdk:
        yield sdk


def test_one_webhook_per_organisation(system: System, api: Polytomic) -> None:
    org = system.admin("create-org", "webhooks")
    key = system.admin("create-key", "--org", org["id"])
    with polytomic(system, token=key["encoded"]) as own:
        created = own.webhooks.create(endpoint="https://example.test/hooks", secret="s3cret").data
        assert created is not None
        assert (created.endpoint, created.secret, created.disabled, created.organization_id) == (
            "https://example.test/hooks",
            "s3cret",
            False,
            org["id"],
        )
        with pytest.raises(UnprocessableEntityError) as second:
            own.webhooks.create(endpoint="https://example.test/other", secret="x")
        assert "one per organization" in (second.value.body.message or "")
        with pytest.raises(UnprocessableEntityError):
            own.webhooks.update(created.id or "", endpoint="ftp://example.test", secret="x")

        assert [w.id for w in own.webhooks.list().data or [] if w.organization_id == org["id"]] == [created.id]
        fetched = own.webhooks.get(created.id or "").data
        assert fetched == created
        updated = own.webhooks.update(created.id or "", endpoint="https://example.test/v2", secret="rotated").data
        assert updated is not None
        assert (updated.endpoint, updated.secret) == ("https://example.test/v2", "rotated")

        disabled = own.webhooks.disable(created.id or "").data
        assert disabled is not None
        assert disabled.disabled is True
        assert disabled.disabled_at is not None
        enabled = own.webhooks.enable(created.id or "").data
        assert enabled is not None
        assert (enabled.disabled, enabled.disabled_at) == (False, None)

        with pytest.raises(NotFoundError):
            api.webhooks.get(created.id or "")  # another organisation's key does not see it
        own.webhooks.delete(created.id or "")
        with pytest.raises(NotFoundError):
            own.webhooks.get(created.id or "")
        again = own.webhooks.create(endpoint="https://example.test/again", secret="s").data
        assert again is not None
        assert again.id != created.id


UNUSABLE = [
    "http://exa\tmple.com/",  # passed the old check (urlsplit drops the tab), then stopped every delivery
    "http://[::1/hooks",
    "http://169.254.169.254/latest/meta-data/",  # link-local: the cloud's metadata service
    "http://[fe80::1]/hooks",
    "http://metadata.google.internal/computeMetadata/v1/",
]


@pytest.mark.parametrize("endpoint", UNUSABLE, ids=repr)
def test_an_unusable_or_refused_endpoint_is_422(system: System, endpoint: str) -> None:
    org = system.admin("create-org", "webhook endpoints")
    key = system.admin("create-key", "--org", org["id"])
    with polytomic(system, token=key["encoded"]) as own:
        with pytest.raises(UnprocessableEntityError) as created:
            own.webhooks.create(endpoint=endpoint, secret="s3cret")
        assert created.value.body.status == 422
        assert "endpoint" in (created.value.body.message or "")
        assert own.webhooks.list().data in (None, [])

        webhook = own.webhooks.create(endpoint="http://127.0.0.1:9/hooks", secret="s3cret").data  # loopback: allowed
        assert webhook is not None
        with pytest.raises(UnprocessableEntityError):
            own.webhooks.update(webhook.id or "", endpoint=endpoint, secret="s3cret")
        fetched = own.webhooks.get(webhook.id or "").data
        assert fetched is not None
        assert fetched.endpoint == "http://127.0.0.1:9/hooks"
