-- depends: 0005.polytomic-events
-- Projects (Huawei Cloud's project ids, 32 hex) of each organisation: a DRS call names one in its path and in
-- `X-Project-Id`, and its jobs are scoped to it. Every organisation has at least one, made with it; the
-- organisations made before get theirs here.
CREATE TABLE projects (
    id          text        PRIMARY KEY CHECK (id ~ '^[0-9a-f]{32}$'),
    org_id      text        NOT NULL REFERENCES organizations (id),
    name        text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX projects_by_org ON projects (org_id, created_at);

INSERT INTO projects (id, org_id, name)
SELECT replace(gen_random_uuid()::text, '-', ''), id, name FROM organizations;
