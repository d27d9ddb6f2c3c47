"""The scheduler service: owns schedules and runs; fires due schedules once across replicas, creates, cancels,
retries and requests runs, and sweeps runs whose executor went silent."""
