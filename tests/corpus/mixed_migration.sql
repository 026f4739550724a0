/*
 * Migration 0042: orders and their audit trail.
 * Run with psql -f; it's idempotent only up to the COMMIT.
 */

BEGIN;

-- the table
CREATE TABLE orders (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer   text NOT NULL,
    total      numeric(12, 2) NOT NULL DEFAULT 0 CHECK (total >= 0),
    created_at timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE orders IS 'Orders; one row per checkout. Don''t delete rows: archive them.';
COMMENT ON COLUMN orders.total IS $$Total in the shop's currency; VAT included$$;

CREATE TABLE orders_audit (
    order_id bigint,
    action   text,
    at       timestamptz DEFAULT now()
);

-- the trigger function: dollar-quoted body with its own semicolons
CREATE OR REPLACE FUNCTION orders_audit_fn() RETURNS trigger
LANGUAGE plpgsql AS $body$
BEGIN
    INSERT INTO orders_audit (order_id, action) VALUES (NEW.id, TG_OP);  -- one row per change
    RETURN NEW;
END;
$body$;

CREATE TRIGGER orders_audit_trg
    AFTER INSERT OR UPDATE ON orders
    FOR EACH ROW EXECUTE FUNCTION orders_audit_fn();

CREATE INDEX orders_customer_idx ON orders (customer);

INSERT INTO orders (customer, total) VALUES
    ('alice', 10.50),
    ('bob',   20.00),
    ('O''Brien', 0);

UPDATE orders SET total = total * 2 WHERE customer = 'bob';

COMMIT;

-- outside the transaction: this one cannot run inside one
CREATE INDEX CONCURRENTLY orders_created_idx ON orders (created_at);

SELECT customer, total FROM orders ORDER BY id;
SELECT action, count(*) FROM orders_audit GROUP BY action ORDER BY action;
