-- The demo source database `make run` creates: a small shop.
SET client_min_messages = warning;
CREATE TABLE IF NOT EXISTS customers (
    id          integer PRIMARY KEY,
    name        text NOT NULL,
    email       text NOT NULL,
    country     text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS orders (
    id           integer PRIMARY KEY,
    customer_id  integer NOT NULL REFERENCES customers (id),
    total        numeric(10, 2) NOT NULL,
    status       text NOT NULL,
    ordered_at   timestamptz NOT NULL DEFAULT now()
);
INSERT INTO customers (id, name, email, country)
SELECT g, 'Customer ' || g, 'customer' || g || '@example.com', (ARRAY['NL', 'DE', 'FR', 'US'])[1 + g % 4]
FROM generate_series(1, 50) AS g
ON CONFLICT (id) DO NOTHING;
INSERT INTO orders (id, customer_id, total, status)
SELECT g, 1 + g % 50, round((random() * 200)::numeric, 2), (ARRAY['new', 'paid', 'shipped'])[1 + g % 3]
FROM generate_series(1, 200) AS g
ON CONFLICT (id) DO NOTHING;
