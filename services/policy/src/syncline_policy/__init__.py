"""The policy service: the configuration authority for connectors (and, later, syncs, integrations, DRS jobs)."""
