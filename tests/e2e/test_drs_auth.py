"""Huawei DRS with the official SDK: what AK/SK signatures and projects refuse, each as the SDK's own exception
with the status Huawei answers (401 `APIGW.0301` for signatures, DRS's codes for projects)."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tests.support.system import System

pytestmark = [pytest.mark.e2e, pytest.mark.filterwarnings("ignore:Method .* of DrsClient is deprecated")]


def _list(client: Any) -> Any:
    from huaweicloudsdkdrs.v3.model import QueryJobsReq, ShowJobListRequest  # type: ignore[import-untyped]

    return client.show_job_list(ShowJobListRequest(body=QueryJobsReq(db_use_type="sync")))


def _refused(client: Any) -> Any:
    from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException  # type: ignore[import-untyped]

    with pytest.raises(ClientRequestException) as refused:
        _list(client)
    return refused.value


def _with_handler(system: System, handler: Any) -> Any:
    from tests.e2e import drs_support as d

    return d.drs(system, handler=handler)


def test_a_signed_request_is_served(system: System) -> None:
    from tests.e2e import drs_support as d

    answer = _list(d.drs(system))
    assert answer.total_record is not None
    assert isinstance(answer.jobs, list)


def test_a_tampered_signature_is_401(system: System) -> None:
    def tamper(request: Any, **_: Any) -> None:
        scheme, _, fields = request.header_params["Authorization"].partition(" ")
        signature = fields.rsplit("Signature=", 1)[1]
        flipped = ("0" if signature[0] != "0" else "1") + signature[1:]
        request.header_params["Authorization"] = f"{scheme} {fields.rsplit('Signature=', 1)[0]}Signature={flipped}"

    refused = _refused(_with_handler(system, tamper))
    assert (refused.status_code, refused.error_code) == (401, "APIGW.0301")
    assert "signature" in refused.error_msg.lower()


def test_a_wrong_secret_is_401(system: System) -> None:
    from tests.e2e import drs_support as d

    refused = _refused(d.drs(system, sk="x" * 40))
    assert (refused.status_code, refused.error_code) == (401, "APIGW.0301")


def test_an_unknown_key_is_401(system: System) -> None:
    from tests.e2e import drs_support as d

    refused = _refused(d.drs(system, ak="SLNOSUCHKEY000000000"))
    assert (refused.status_code, refused.error_code) == (401, "APIGW.0301")


def test_a_stale_sdk_date_is_401(system: System) -> None:
    stale = (datetime.now(UTC) - timedelta(minutes=16)).strftime("%Y%m%dT%H%M%SZ")

    def backdate(request: Any, **_: Any) -> None:
        request.header_params["X-Sdk-Date"] = stale

    refused = _refused(_with_handler(system, backdate))
    assert (refused.status_code, refused.error_code) == (401, "APIGW.0301")
    assert "expired" in refused.error_msg.lower()


def test_a_project_of_another_organisation_is_403(system: System) -> None:
    from tests.e2e import drs_support as d

    other = system.admin("create-org", "drs-other")
    assert len(other["project_id"]) == 32
    refused = _refused(d.drs(system, project_id=other["project_id"]))
    assert (refused.status_code, refused.error_code) == (403, "DRS.M00261")
    # the other organisation's own key works in it
    key = system.admin("create-key", "--org", other["id"])
    assert _list(d.drs(system, project_id=other["project_id"], ak=key["id"], sk=key["secret"])).jobs == []


def test_a_path_project_that_disagrees_with_x_project_id_is_400(system: System) -> None:
    from huaweicloudsdkcore.auth.credentials import BasicCredentials  # type: ignore[import-untyped]
    from tests.e2e import drs_support as d

    project = d.project_of(system)
    added = system.admin("create-project", "--org", system.key["org_id"], "--name", "second")
    assert added["id"] != project

    # the credentials put the added project in the path and the first in `X-Project-Id`, both signed
    credentials = BasicCredentials(system.key["id"], system.key["secret"], project)
    credentials.get_update_path_params = lambda: {"project_id": added["id"]}
    refused = _refused(d.drs(system, credentials=credentials))
    assert (refused.status_code, refused.error_code) == (400, "DRS.M00202")
    assert "X-Project-Id" in refused.error_msg
    # the added project is the organisation's: used in both places, it answers
    assert _list(d.drs(system, project_id=added["id"])).jobs == []


def test_no_project_at_all_is_400(system: System) -> None:
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from tests.e2e import drs_support as d

    credentials = BasicCredentials(system.key["id"], system.key["secret"])
    refused = _refused(d.drs(system, credentials=credentials))
    assert (refused.status_code, refused.error_code) == (400, "DRS.M00202")
