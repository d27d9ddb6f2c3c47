"""Scheduler settings."""

from syncline_platform.settings import ServiceSettings


class SchedulerSettings(ServiceSettings):
    """Everything the scheduler reads from the environment."""
