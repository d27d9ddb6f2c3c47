"""Syncline's shared platform: settings, logging, errors, Kafka, PostgreSQL, inbox/outbox, migrations."""
