"""The chart of a run's rows/s and change-stream lag over time, from its progress events (drawn server-side as an
SVG: no chart script)."""

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

WIDTH = 600
HEIGHT = 160


@dataclass(frozen=True, kw_only=True)
class Sample:
    """The run's counters at one moment."""

    at: datetime
    rows: int
    """Rows moved so far (read, or written when more)."""
    lag_s: float | None
    """The change stream's lag then (runs that apply changes)."""


@dataclass(frozen=True, kw_only=True)
class Chart:
    """Polylines in a `WIDTH` by `HEIGHT` box, and the scales' tops."""

    rate: str
    """`x,y x,y …` of rows/s."""
    lag: str
    """`x,y x,y …` of lag seconds (empty when the run has none)."""
    top_rate: float
    top_lag: float
    seconds: float
    """The time the chart spans."""
    samples: int
    width: int = WIDTH
    height: int = HEIGHT


def sample(*, at: str, data: dict[str, Any]) -> Sample | None:
    """A progress-bearing run event's payload → a sample (None when it carries no counters)."""
    counters = data.get("counters")
    if not isinstance(counters, dict) or not at:
        return None
    try:
        when = datetime.fromisoformat(at)
    except ValueError:
        return None
    lag = counters.get("replication_lag")
    return Sample(
        at=when if when.tzinfo else when.replace(tzinfo=UTC),
        # rows read: a snapshot may write its rows only at its end (a staged copy swapped in)
        rows=max(int(counters.get("rows_read") or 0), int(counters.get("indexed_document_count") or 0)),
        lag_s=float(lag["seconds"]) if isinstance(lag, dict) and "seconds" in lag else None,
    )


def draw(samples: Iterable[Sample]) -> Chart | None:
    """The chart of `samples` (in time order); None with fewer than two."""
    ordered = sorted(samples, key=lambda s: s.at)
    if len(ordered) < 2:
        return None
    origin = ordered[0].at
    span = max((ordered[-1].at - origin).total_seconds(), 1e-3)
    rates = [
        ((b.at - origin).total_seconds(), (b.rows - a.rows) / max((b.at - a.at).total_seconds(), 1e-3))
        for a, b in itertools.pairwise(ordered)
    ]
    rates.insert(0, (0.0, 0.0))
    lags = [((s.at - origin).total_seconds(), s.lag_s) for s in ordered if s.lag_s is not None]
    top_rate = max(r for _, r in rates) or 1.0
    top_lag = max((v for _, v in lags), default=0.0) or 1.0
    return Chart(
        rate=_line(rates, span=span, top=top_rate),
        lag=_line(lags, span=span, top=top_lag),
        top_rate=top_rate,
        top_lag=top_lag,
        seconds=span,
        samples=len(ordered),
    )


def _line(points: list[tuple[float, float]], *, span: float, top: float) -> str:
    return " ".join(f"{t / span * WIDTH:.1f},{HEIGHT - v / top * HEIGHT:.1f}" for t, v in points)
