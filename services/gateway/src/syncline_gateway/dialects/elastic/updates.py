"""The connector update endpoints (`PUT /_connector/{id}/_<field>`): each turns its body into the changes of one
`UpdateConnector` command."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from syncline_gateway.dialects.elastic import models


@dataclass(frozen=True)
class Update:
    """One endpoint: its body model and how the body becomes changes."""

    body: type[models.StrictBody] | None
    changes: Callable[[Any], dict[str, Any]]


def _fields(body: models.StrictBody) -> dict[str, Any]:
    return body.model_dump(exclude_unset=True)


def _last_sync(body: models.LastSyncUpdate) -> dict[str, Any]:
    reported = body.model_dump(exclude_unset=True)
    changes: dict[str, Any] = {"last_sync": {k: v for k, v in reported.items() if k != "sync_cursor"}}
    if "sync_cursor" in reported:
        changes["sync_cursor"] = reported["sync_cursor"]
    return changes


UPDATES: dict[str, Update] = {
    "_scheduling": Update(models.SchedulingUpdate, lambda b: {"scheduling": b.scheduling}),
    "_filtering": Update(models.FilteringUpdate, lambda b: {"filtering": b.change()}),
    "_index_name": Update(models.IndexNameUpdate, _fields),
    "_name": Update(models.NameUpdate, _fields),
    "_service_type": Update(models.ServiceTypeUpdate, _fields),
    "_status": Update(models.StatusUpdate, _fields),
    "_error": Update(models.ErrorUpdate, _fields),
    "_native": Update(models.NativeUpdate, _fields),
    "_pipeline": Update(models.PipelineUpdate, _fields),
    "_features": Update(models.FeaturesUpdate, _fields),
    "_api_key_id": Update(models.ApiKeyIdUpdate, _fields),
    "_last_sync": Update(models.LastSyncUpdate, _last_sync),
    "_check_in": Update(None, lambda _: {"last_seen": True}),
}
"""Endpoint suffix → update."""
