"""The scheduler service: owns runs (and, later, schedules): creates, cancels and requests them."""
