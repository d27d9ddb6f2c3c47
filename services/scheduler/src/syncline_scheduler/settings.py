"""Scheduler settings."""

from pydantic import Field

from syncline_platform.settings import OpsSettings, ServiceSettings


class SchedulerSettings(ServiceSettings):
    """Everything the scheduler reads from the environment."""

    poll_interval_s: float = 1.0
    """Longest sleep of the fire loop between two looks at the due schedules (`SYNCLINE_POLL_INTERVAL_S`)."""
    fire_batch_size: int = 200
    """Due schedules claimed (and fired) in one transaction."""
    misfire_grace_s: float = 60.0
    """A tick fired later than this after its due time is recorded as a catch-up."""
    continuous_min_interval_s: float = 300.0
    """Least time between two starts of a continuous schedule without `every_minutes`."""
    reaper_after_s: float = 300.0
    """A running run whose executor has not checked in for this long ends in error (`SYNCLINE_REAPER_AFTER_S`)."""
    reaper_interval_s: float = 5.0
    """How often the sweep for silent and unclaimed runs goes."""
    republish_after_s: float = 300.0
    """A pending run that no executor claimed for this long is requested again."""
    ops: OpsSettings = Field(default_factory=lambda: OpsSettings(port=9182))
    """`/metrics`, `/healthz`, `/readyz`: 127.0.0.1:9182 by default (`SYNCLINE_OPS__PORT`, `__HOST`; port 0: off)."""
