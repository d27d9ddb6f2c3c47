"""Syncline's connectors: what the executor reads from and writes to, and what policy validates against."""
