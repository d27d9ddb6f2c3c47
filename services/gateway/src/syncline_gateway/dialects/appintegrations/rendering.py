"""AppIntegrations' response shapes, from the stored rows: ARNs with the organisation's account id, the
configuration echoed in AWS's member names (`ScheduleConfig` comes back as `ScheduleConfiguration`), and an
association's `LastExecutionStatus` from its newest run."""

from typing import Any

from syncline_gateway.dialects.appintegrations.models import drop_none

SERVICE = "app-integrations"
IN_PROGRESS = frozenset({"pending", "in_progress", "canceling", "suspended"})


def integration_arn(*, region: str, account: str, integration_id: str) -> str:
    return f"arn:aws:{SERVICE}:{region}:{account}:data-integration/{integration_id}"


def association_arn(*, region: str, account: str, integration_id: str, association_id: str) -> str:
    return f"arn:aws:{SERVICE}:{region}:{account}:data-integration-association/{integration_id}/{association_id}"


def schedule(stored: dict[str, Any] | None) -> dict[str, Any] | None:
    if not stored:
        return None
    return drop_none(
        {
            "ScheduleExpression": stored.get("schedule_expression"),
            "FirstExecutionFrom": stored.get("first_execution_from"),
            "Object": stored.get("object"),
        }
    )


def _files(stored: dict[str, Any] | None) -> dict[str, Any] | None:
    if not stored:
        return None
    return drop_none({"Folders": stored.get("folders"), "Filters": stored.get("filters")})


def integration(row: dict[str, Any], *, account: str, with_token: bool = False) -> dict[str, Any]:
    """A data integration as Create and Get answer it."""
    body = {
        "Arn": integration_arn(region=row["region"], account=account, integration_id=row["id"]),
        "Id": row["id"],
        "Name": row["name"],
        "Description": row["description"],
        "KmsKey": row["kms_key"],
        "SourceURI": row["source_uri"],
        "ScheduleConfiguration": schedule(row["schedule_config"]),
        "Tags": dict(row["tags"] or {}),
        "FileConfiguration": _files(row["file_configuration"]),
        "ObjectConfiguration": row["object_configuration"],
        "ClientToken": row["client_token"] if with_token else None,
    }
    return drop_none(body)


def summary(row: dict[str, Any], *, account: str) -> dict[str, Any]:
    """A data integration as List answers it."""
    arn = integration_arn(region=row["region"], account=account, integration_id=row["id"])
    return drop_none({"Arn": arn, "Name": row["name"], "SourceURI": row["source_uri"]})


def execution(stored: dict[str, Any] | None) -> dict[str, Any] | None:
    if not stored:
        return None
    on_demand = None
    if stored.get("start_time") is not None:
        on_demand = drop_none({"StartTime": stored["start_time"], "EndTime": stored.get("end_time")})
    return drop_none(
        {
            "ExecutionMode": stored["execution_mode"],
            "OnDemandConfiguration": on_demand,
            "ScheduleConfiguration": schedule(stored.get("schedule")),
        }
    )


def last_execution(run: dict[str, Any] | None, *, queued: bool) -> dict[str, Any] | None:
    """`LastExecutionStatus` from the newest run (a rerun waiting for its turn is in progress)."""
    if queued:
        return {"ExecutionStatus": "IN_PROGRESS"}
    if run is None:
        return None
    if run["status"] in IN_PROGRESS:
        return {"ExecutionStatus": "IN_PROGRESS"}
    if run["status"] == "completed":
        return {"ExecutionStatus": "COMPLETED"}
    message = run["error"] or ("the run was canceled" if run["status"] == "canceled" else "the run failed")
    return {"ExecutionStatus": "FAILED", "StatusMessage": message[:255]}


def association(
    row: dict[str, Any], *, integration_row: dict[str, Any], account: str, last: dict[str, Any] | None
) -> dict[str, Any]:
    """An association as ListDataIntegrationAssociations answers it (no id of its own: it is in the ARN)."""
    region, integration_id = integration_row["region"], integration_row["id"]
    return drop_none(
        {
            "DataIntegrationAssociationArn": association_arn(
                region=region, account=account, integration_id=integration_id, association_id=row["id"]
            ),
            "DataIntegrationArn": integration_arn(region=region, account=account, integration_id=integration_id),
            "ClientId": row["client_id"],
            "DestinationURI": row["destination_uri"],
            "LastExecutionStatus": last,
            "ExecutionConfiguration": execution(row["execution_configuration"]),
        }
    )
