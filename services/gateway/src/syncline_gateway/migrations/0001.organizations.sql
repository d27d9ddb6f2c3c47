-- depends: 0000.platform-inbox-outbox
-- Tenants and their credentials. A key pair (id, secret) serves every dialect; the secret is sealed at rest
-- because the signing dialects (SigV4, Huawei AK/SK) need it in clear to verify signatures.
CREATE TABLE organizations (
    id          text        PRIMARY KEY,
    name        text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id             text        PRIMARY KEY,
    org_id         text        NOT NULL REFERENCES organizations (id),
    sealed_secret  text        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    revoked_at     timestamptz
);
CREATE INDEX api_keys_by_org ON api_keys (org_id);
