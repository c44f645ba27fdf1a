-- The schema tests/psql_meta.rs loads into tusk and scripts/psql-meta-expected loads
-- into a real PostgreSQL 15 before running the same psql meta-commands on both.
CREATE ROLE app_reader LOGIN;
CREATE ROLE app_admin CREATEDB CREATEROLE NOLOGIN;
CREATE SCHEMA app;
CREATE TABLE app.customers (
    id serial PRIMARY KEY,
    email text NOT NULL UNIQUE,
    name varchar(100) DEFAULT 'anon',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE orders (
    id bigserial PRIMARY KEY,
    customer_id int NOT NULL REFERENCES app.customers ON DELETE CASCADE,
    amount numeric(10,2) NOT NULL CHECK (amount > 0),
    status text DEFAULT 'new',
    note text
);
CREATE INDEX orders_customer_idx ON orders (customer_id);
CREATE INDEX orders_status_idx ON orders (status);
CREATE TABLE plain (a int, b text);
CREATE VIEW big_orders AS SELECT id, amount FROM orders WHERE amount > 100;
CREATE SEQUENCE ticket_seq INCREMENT BY 5 START WITH 100;
GRANT SELECT ON orders TO app_reader;
GRANT app_reader TO app_admin;
COMMENT ON TABLE orders IS 'customer orders';
CREATE UNIQUE INDEX customers_lower_email_idx ON app.customers (lower(email));
CREATE INDEX orders_open_idx ON orders (customer_id, (amount * 2)) WHERE status <> 'done';
