"""The fault suite's short form, part of the normal run: its own PostgreSQL and Kafka, two replicas of each
service, one trial per fault kind over a small snapshot and a slow change stream (`tests/chaos/suite.py`; the
full form is `make chaos`). Writes `.local/chaos/results-short.json`; a finding fails the test with its details."""

import os
import time

import pytest

from tests.chaos.suite import KINDS, Config, Suite, totals
from tests.e2e.drs_support import SDK_WARNINGS

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(900), pytest.mark.filterwarnings(SDK_WARNINGS)]


def test_faults_lose_duplicate_and_strand_nothing() -> None:
    seed = int(os.environ.get("CHAOS_SEED", str(int(time.time()))))
    results = Suite(Config.short(seed=seed)).run()

    assert set(results["kinds"]) == set(KINDS)
    assert all(f["trials"] == f["faults"] == 1 for f in results["kinds"].values())
    assert totals(results, "lost", "duplicated", "stuck", "mismatches") == dict.fromkeys(
        ("lost", "duplicated", "stuck", "mismatches"), 0
    ), f"seed {seed}: {results['findings']}"
    assert not results["findings"], f"seed {seed}: {results['findings']}"
    assert totals(results, "commands")["commands"] > 0
    assert totals(results, "rows_compared")["rows_compared"] > 0
