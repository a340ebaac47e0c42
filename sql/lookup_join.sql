--
-- Stream–table lookup joins.  A continuous view may join its stream to
-- ordinary tables, INNER or LEFT with the stream on the left:
--
--   FROM orders o JOIN customers c ON c.id = o.customer_id
--
-- Each event is joined with the table rows visible to the transaction that
-- applies it; a later change to the table does not revise the events
-- counted already.  With a table that does not change, the view equals its
-- SELECT run as a batch query.
--
CREATE EXTENSION pg_continuous;
SET TimeZone = 'UTC';
\getenv abs_srcdir PG_ABS_SRCDIR
\set differences :abs_srcdir '/sql/include/differences.psql'
\i :differences

CREATE TABLE customers (id int PRIMARY KEY, country text NOT NULL,
                        active bool NOT NULL, threshold numeric);
CREATE TABLE countries (code text PRIMARY KEY, region text);
-- 1:N: several price tiers per customer
CREATE TABLE tiers (customer_id int, tier int, discount numeric);
CREATE INDEX ON tiers (customer_id);
INSERT INTO customers
SELECT i, (ARRAY['DE', 'FR', 'JP', 'XX'])[i % 4 + 1], i % 5 <> 0, (i % 7) * 10
FROM generate_series(1, 200) i;
INSERT INTO countries VALUES ('DE', 'Europe'), ('FR', 'Europe'), ('JP', 'Asia');
INSERT INTO tiers SELECT i, t, t * 0.5 FROM generate_series(1, 200, 3) i, generate_series(1, 2) t;

CREATE TABLE orders (order_id int, customer_id int, amount numeric,
                     ts timestamptz NOT NULL);
SELECT continuous.create_stream('orders', event_time => 'ts',
                                watermark_delay => '1 hour');

-- the tour's example: revenue per country and minute
CREATE VIEW revenue_by_country WITH (continuous) AS
  SELECT c.country, continuous.tumble(o.ts, '1 minute') AS minute,
         count(*) AS orders, sum(o.amount) AS revenue
    FROM orders o JOIN customers c ON c.id = o.customer_id
   GROUP BY 1, 2;
-- LEFT: every order counts, with NULL for an unknown customer
CREATE VIEW orders_by_country WITH (continuous) AS
  SELECT c.country, count(*) AS orders, sum(o.amount) AS revenue
    FROM orders o LEFT JOIN customers c ON c.id = o.customer_id
   GROUP BY 1;
-- two tables, the second keyed by a column of the first; WHERE on a table
CREATE VIEW revenue_by_region WITH (continuous) AS
  SELECT k.region, count(*) AS orders, sum(o.amount) AS revenue
    FROM orders o JOIN customers c ON c.id = o.customer_id
         LEFT JOIN countries k ON k.code = c.country
   WHERE c.active
   GROUP BY 1;
-- 1:N matches, and an extra ON condition that compares both sides
CREATE VIEW tier_discounts WITH (continuous) AS
  SELECT t.tier, count(*) AS n, sum(o.amount * t.discount) AS discount
    FROM orders o JOIN tiers t ON o.customer_id = t.customer_id AND o.amount > t.tier * 10
   GROUP BY 1;
-- extra ON conditions on the table, and on both, in a LEFT join
CREATE VIEW big_active WITH (continuous) AS
  SELECT c.active, count(*) AS n, count(c.id) AS matched, sum(o.amount) AS amount
    FROM orders o LEFT JOIN customers c
         ON c.id = o.customer_id AND c.active AND o.amount > c.threshold
   GROUP BY 1;
-- a key of another type than the column (int = bigint): looked up by
-- joining the keys to the table rather than by column = ANY (keys)
CREATE VIEW cross_type WITH (continuous) AS
  SELECT c.country, count(*) AS n
    FROM orders o LEFT JOIN customers c ON c.id = o.customer_id::bigint
   GROUP BY 1;
-- USING and a join alias
CREATE VIEW per_customer WITH (continuous) AS
  SELECT customer_id, j.country, count(*) AS n
    FROM (orders JOIN customers ON customers.id = orders.customer_id) AS j
   GROUP BY 1, 2;

-- a transform (no aggregates) enriched by a LEFT join: one row per match,
-- NULLs for an order whose customer is unknown
CREATE VIEW enriched_orders WITH (continuous) AS
  SELECT o.order_id, o.amount, c.country, k.region
    FROM orders o LEFT JOIN customers c ON c.id = o.customer_id
         LEFT JOIN countries k ON k.code = c.country
   WHERE o.amount > 10;

SELECT view, "window" FROM continuous.views ORDER BY 1::text;

INSERT INTO orders
SELECT i, i % 250 + 1, (i % 97) + 0.5,
       '2026-03-01 12:00:00+00'::timestamptz + i * interval '1 second'
FROM generate_series(1, 3000) i;
-- a NULL key: no match for INNER, NULLs for LEFT
INSERT INTO orders VALUES (3001, NULL, 1, '2026-03-01 12:30:00+00');
SELECT continuous.sync();

SELECT * FROM revenue_by_country WHERE minute = '2026-03-01 12:10:00+00' ORDER BY 1;
SELECT * FROM orders_by_country ORDER BY 1;
SELECT * FROM revenue_by_region ORDER BY 1;
SELECT * FROM tier_discounts ORDER BY 1;

-- the oracle: each view equals its SELECT as a batch query
SELECT pg_temp.differences('SELECT * FROM revenue_by_country',
  $$SELECT c.country, continuous.tumble(o.ts, '1 minute') AS minute,
           count(*) AS orders, sum(o.amount) AS revenue
      FROM orders o JOIN customers c ON c.id = o.customer_id GROUP BY 1, 2$$) AS revenue_by_country,
       pg_temp.differences('SELECT * FROM orders_by_country',
  $$SELECT c.country, count(*), sum(o.amount)
      FROM orders o LEFT JOIN customers c ON c.id = o.customer_id GROUP BY 1$$) AS orders_by_country,
       pg_temp.differences('SELECT * FROM revenue_by_region',
  $$SELECT k.region, count(*), sum(o.amount)
      FROM orders o JOIN customers c ON c.id = o.customer_id
           LEFT JOIN countries k ON k.code = c.country
     WHERE c.active GROUP BY 1$$) AS revenue_by_region,
       pg_temp.differences('SELECT * FROM tier_discounts',
  $$SELECT t.tier, count(*), sum(o.amount * t.discount)
      FROM orders o JOIN tiers t ON o.customer_id = t.customer_id AND o.amount > t.tier * 10
     GROUP BY 1$$) AS tier_discounts,
       pg_temp.differences('SELECT * FROM big_active',
  $$SELECT c.active, count(*), count(c.id), sum(o.amount)
      FROM orders o LEFT JOIN customers c
           ON c.id = o.customer_id AND c.active AND o.amount > c.threshold
     GROUP BY 1$$) AS big_active,
       pg_temp.differences('SELECT * FROM per_customer',
  $$SELECT customer_id, j.country, count(*)
      FROM (orders JOIN customers ON customers.id = orders.customer_id) AS j
     GROUP BY 1, 2$$) AS per_customer,
       pg_temp.differences('SELECT * FROM cross_type',
  $$SELECT c.country, count(*)
      FROM orders o LEFT JOIN customers c ON c.id = o.customer_id::bigint
     GROUP BY 1$$) AS cross_type,
       pg_temp.differences('SELECT * FROM enriched_orders',
  $$SELECT o.order_id, o.amount, c.country, k.region
      FROM orders o LEFT JOIN customers c ON c.id = o.customer_id
           LEFT JOIN countries k ON k.code = c.country
     WHERE o.amount > 10$$) AS enriched_orders;
SELECT count(*) AS enriched, count(region) AS with_region FROM enriched_orders;

-- Processing-time semantics: a change to the table does not revise the
-- events counted already; later events see the new rows.
SELECT orders, revenue FROM orders_by_country WHERE country = 'DE';
UPDATE customers SET country = 'FR' WHERE country = 'DE';
INSERT INTO customers VALUES (250, 'DE', true, 0);
SELECT continuous.sync();
SELECT orders, revenue FROM orders_by_country WHERE country = 'DE';
INSERT INTO orders VALUES (4001, 250, 10, '2026-03-01 13:00:00+00'),
                          (4002, 1, 20, '2026-03-01 13:00:00+00');
SELECT continuous.sync();
-- one order more for DE (the new customer 250), none for the moved ones
SELECT orders, revenue FROM orders_by_country WHERE country = 'DE';
SELECT country, orders FROM revenue_by_country
WHERE minute = '2026-03-01 13:00:00+00' ORDER BY 1;

-- DDL: the view depends on the tables it joins
DROP TABLE customers;
ALTER TABLE countries RENAME COLUMN region TO continent;
ALTER TABLE countries RENAME TO country_list;
INSERT INTO orders VALUES (4003, 2, 7, '2026-03-01 13:00:00+00');
SELECT continuous.sync();
SELECT * FROM revenue_by_region ORDER BY 1;

-- Backfill and rebuild join too
CREATE VIEW backfilled WITH (continuous) AS
  SELECT c.country, count(*) AS n FROM orders o JOIN customers c ON c.id = o.customer_id
   GROUP BY 1;
SELECT pg_temp.differences('SELECT * FROM backfilled',
  $$SELECT c.country, count(*) FROM orders o JOIN customers c ON c.id = o.customer_id
     GROUP BY 1$$) AS backfilled;
SELECT continuous.rebuild('orders_by_country');
SELECT continuous.sync();
SELECT pg_temp.differences('SELECT * FROM orders_by_country',
  $$SELECT c.country, count(*), sum(o.amount)
      FROM orders o LEFT JOIN customers c ON c.id = o.customer_id GROUP BY 1$$) AS rebuilt;

-- Privileges: the owner reads the table as each batch runs; without
-- SELECT, the events are dead letters and the view goes on
CREATE ROLE join_owner;
GRANT USAGE, CREATE ON SCHEMA public TO join_owner;
GRANT SELECT ON orders, customers TO join_owner;
SET ROLE join_owner;
CREATE VIEW owned WITH (continuous) AS
  SELECT c.country, count(*) AS n FROM orders o JOIN customers c ON c.id = o.customer_id
   GROUP BY 1;
-- and CREATE needs SELECT on every table joined
CREATE VIEW not_allowed WITH (continuous) AS
  SELECT k.continent, count(*) AS n FROM orders o JOIN country_list k ON k.code = o.order_id::text
   GROUP BY 1;
RESET ROLE;
REVOKE SELECT ON customers FROM join_owner;
INSERT INTO orders VALUES (5001, 3, 1, '2026-03-01 14:00:00+00');
SELECT continuous.sync();
SELECT view, error FROM continuous.dead_letters ORDER BY id;
SELECT view, status FROM continuous.views WHERE view = 'owned'::regclass;
GRANT SELECT ON customers TO join_owner;
INSERT INTO orders VALUES (5002, 3, 1, '2026-03-01 14:00:00+00');
SELECT continuous.sync();
SELECT pg_temp.differences('SELECT * FROM owned',
  $$SELECT c.country, count(*) FROM orders o JOIN customers c ON c.id = o.customer_id
     WHERE o.order_id <> 5001 GROUP BY 1$$) AS owned;

-- Refusals
CREATE TABLE clicks (id int, ts timestamptz NOT NULL);
SELECT continuous.create_stream('clicks', event_time => 'ts');
CREATE VIEW v WITH (continuous) AS
  SELECT c.country, count(*) FROM orders o RIGHT JOIN customers c ON c.id = o.customer_id GROUP BY 1;
CREATE VIEW v WITH (continuous) AS
  SELECT c.country, count(*) FROM orders o FULL JOIN customers c ON c.id = o.customer_id GROUP BY 1;
CREATE VIEW v WITH (continuous) AS
  SELECT c.country, count(*) FROM customers c LEFT JOIN orders o ON c.id = o.customer_id GROUP BY 1;
CREATE VIEW v WITH (continuous) AS
  SELECT c.country, count(*) FROM customers c JOIN orders o ON c.id = o.customer_id GROUP BY 1;
CREATE VIEW v WITH (continuous) AS
  SELECT count(*) FROM orders o JOIN clicks k ON k.id = o.order_id;
CREATE VIEW v WITH (continuous) AS
  SELECT count(*) FROM orders o JOIN orders p ON p.order_id = o.order_id;
CREATE VIEW plain_customers AS SELECT * FROM customers;
CREATE VIEW v WITH (continuous) AS
  SELECT count(*) FROM orders o JOIN plain_customers c ON c.id = o.customer_id;
CREATE VIEW v WITH (continuous) AS
  SELECT count(*) FROM orders o JOIN (SELECT * FROM customers) c ON c.id = o.customer_id;
CREATE VIEW v WITH (continuous) AS
  SELECT count(*) FROM orders o JOIN LATERAL (SELECT * FROM customers c WHERE c.id = o.customer_id) c ON true;
CREATE VIEW v WITH (continuous) AS
  SELECT count(*) FROM orders o JOIN generate_series(1, 3) g ON g = o.customer_id;
CREATE VIEW v WITH (continuous) AS
  SELECT w.window_start, count(*)
    FROM orders o JOIN customers c ON c.id = o.customer_id
         CROSS JOIN LATERAL continuous.hop(o.ts, '10 minutes', '5 minutes') AS w
   GROUP BY 1;
CREATE VIEW v WITH (continuous) AS
  SELECT count(*) FROM orders o JOIN customers c ON o.amount > c.threshold;
CREATE VIEW v WITH (continuous) AS
  SELECT count(*) FROM orders o CROSS JOIN customers c;
CREATE VIEW v WITH (continuous) AS
  SELECT count(*) FROM orders o JOIN customers c ON c.id = o.customer_id AND random() > 0.5;
CREATE VIEW v WITH (continuous) AS
  SELECT count(*) FROM orders o, customers c WHERE c.id = o.customer_id;
CREATE VIEW v WITH (continuous) AS
  SELECT count(*) FROM orders o JOIN (customers c JOIN tiers t ON t.customer_id = c.id)
       ON c.id = o.customer_id;
CREATE VIEW v WITH (continuous) AS
  SELECT count(c.*) FROM orders o JOIN customers c ON c.id = o.customer_id;

-- CASCADE drops the views with their storage and catalog rows
SELECT count(*) AS storage_tables FROM pg_class
WHERE relnamespace = 'continuous_storage'::regnamespace AND relkind = 'r';
DROP TABLE customers CASCADE;
SELECT view FROM continuous.views ORDER BY 1::text;
SELECT count(*) AS storage_tables FROM pg_class
WHERE relnamespace = 'continuous_storage'::regnamespace AND relkind = 'r';

SET client_min_messages = warning;
DROP EXTENSION pg_continuous CASCADE;
DROP TABLE orders, clicks, country_list, tiers;
DROP OWNED BY join_owner;
DROP ROLE join_owner;
