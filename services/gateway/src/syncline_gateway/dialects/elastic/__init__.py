"""Elasticsearch connector and sync-job APIs (`/_connector/...`), as the official client calls them."""

PRODUCT_HEADER = {"X-Elastic-Product": "Elasticsearch"}
"""The official client refuses a 2xx answer without it."""
