# PostgreSQL 16 plus wal2json: change capture needs the `postgresql-16-wal2json` package, which the
# stock postgres:16 image lacks (the native path installs postgresql-15-wal2json the same way).
# The image already carries the apt.postgresql.org (PGDG) repository the package comes from.
FROM postgres:16

RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-16-wal2json \
    && rm -rf /var/lib/apt/lists/*
