"""A `from` past a Java int (as Elasticsearch reads it) is Elastic's 400, on both list routes, with the official
client: it once reached PostgreSQL as an OFFSET it overflowed on, a 500 (found by the OpenAPI fuzz)."""

import pytest
from elasticsearch import BadRequestError, Elasticsearch
from tests.support.system import System

pytestmark = pytest.mark.e2e


def test_a_from_past_a_java_int_is_a_400(system: System) -> None:
    with Elasticsearch(system.url, api_key=system.key["encoded"], request_timeout=30) as es:
        for listing in (es.connector.list, es.connector.sync_job_list):
            with pytest.raises(BadRequestError) as caught:
                listing(from_=960458229162928670507008)
            assert caught.value.meta.status == 400
            assert "from" in str(caught.value.body)
            assert listing(from_=2**31 - 1)["results"] == []
