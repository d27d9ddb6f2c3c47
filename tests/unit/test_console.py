"""The web console's pure parts: the chart of rows/s and lag, SSE frames, and templates escaping what a tenant
supplied."""

from datetime import UTC, datetime, timedelta

from syncline_gateway.console.chart import HEIGHT, WIDTH, Sample, draw, sample
from syncline_gateway.console.live import frame
from syncline_gateway.console.views import dom_key, fragment

T0 = datetime(2026, 1, 1, tzinfo=UTC)
HOSTILE = '<script>alert("x")</script>&'


def test_the_chart_draws_rows_per_second_between_samples_and_lag_on_its_own_scale() -> None:
    samples = [
        Sample(at=T0, rows=0, lag_s=None),
        Sample(at=T0 + timedelta(seconds=1), rows=1000, lag_s=0.5),
        Sample(at=T0 + timedelta(seconds=2), rows=4000, lag_s=2.0),
    ]
    chart = draw(samples)
    assert chart is not None
    assert chart.top_rate == 3000
    assert chart.top_lag == 2.0
    assert chart.seconds == 2
    assert (WIDTH, HEIGHT) == (600, 160)
    assert chart.rate == "0.0,160.0 300.0,106.7 600.0,0.0"  # 0, then 1000 rows/s, then 3000 (the top)
    assert chart.lag == "300.0,120.0 600.0,0.0"  # 0.5 s, then 2 s (the top)


def test_a_chart_needs_two_samples_and_counters() -> None:
    assert draw([Sample(at=T0, rows=5, lag_s=None)]) is None
    assert sample(at=T0.isoformat(), data={"sync_id": "s"}) is None
    assert sample(at="yesterday", data={"counters": {}}) is None
    assert sample(at="2026-01-01T00:00:00", data={"counters": {}}) == Sample(at=T0, rows=0, lag_s=None)
    taken = sample(
        at=T0.isoformat(),
        data={"counters": {"rows_read": 7, "indexed_document_count": 3, "replication_lag": {"seconds": 1.5}}},
    )
    assert taken == Sample(at=T0, rows=7, lag_s=1.5)


def test_an_sse_frame_carries_every_line_of_its_data_and_never_empty_data() -> None:
    assert (
        frame("detail", "<p>a</p>\n<p>b</p>", event_id="e1")
        == "id: e1\nevent: detail\ndata: <p>a</p>\ndata: <p>b</p>\n\n"
    )
    assert frame("runs-changed", "") == "event: runs-changed\ndata: -\n\n"
    assert frame("detail", "x", event_id="a\nevent: forged") == "event: detail\ndata: x\n\n"


def test_templates_escape_tenant_supplied_text_and_run_ids_become_safe_names() -> None:
    run = {
        "id": HOSTILE,
        "sync_id": HOSTILE,
        "dialect": "elastic",
        "status": "completed",
        "rows_read": 1,
        "rows_written": 1,
        "bytes_written": 1,
        "created_at": T0,
        "started_at": T0,
        "completed_at": T0 + timedelta(seconds=3),
    }
    cells = fragment("run_cells.html", run=run)
    assert "<script>" not in cells
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&amp;" in cells
    assert "3.0 s" in cells
    rows = fragment("run_rows.html", runs=[run])
    assert f'sse-swap="{dom_key(HOSTILE)}"' in rows
    assert dom_key(HOSTILE).isalnum()
    syncs = fragment(
        "syncs.html",
        syncs=[{"id": HOSTILE, "name": HOSTILE, "dialect": "x", "job_types": [], "error": None, "compiled_at": T0}],
    )
    assert "<script>" not in syncs
