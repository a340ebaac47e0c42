--
-- Deduplication of stream events: create_stream(unique_key => ...,
-- dedup_within => ...) drops an event whose key was already seen within
-- dedup_within of event time (processing time without event time), before
-- every view of the stream.  With every duplicate inside the interval, each
-- view equals its SELECT over SELECT DISTINCT ON (key) ..., the first
-- delivered kept.  (test/t/032_dedup.pl: concurrent writers, aborts,
-- kill -9 and restarts.)
--
CREATE EXTENSION pg_continuous;
SET TimeZone = 'UTC';
\getenv abs_srcdir PG_ABS_SRCDIR
\set differences :abs_srcdir '/sql/include/differences.psql'
\i :differences

CREATE TABLE clicks (
    seq bigint GENERATED ALWAYS AS IDENTITY,   -- delivery order, for the oracle
    event_id int,
    user_id int,
    url text,
    spot point,
    ts timestamptz NOT NULL
);

--
-- Refusals
--
SELECT continuous.create_stream('clicks', event_time => 'ts', unique_key => 'nope', dedup_within => '1 hour');
SELECT continuous.create_stream('clicks', event_time => 'ts', dedup_within => '1 hour');
SELECT continuous.create_stream('clicks', event_time => 'ts', unique_key => 'event_id');
SELECT continuous.create_stream('clicks', event_time => 'ts', unique_key => 'event_id', dedup_within => '0');
SELECT continuous.create_stream('clicks', event_time => 'ts', unique_key => 'event_id', dedup_within => '-1 hour');
SELECT continuous.create_stream('clicks', event_time => 'ts', unique_key => 'spot', dedup_within => '1 hour');
SELECT continuous.create_stream('clicks', event_time => 'ts', unique_key => 'event_id, event_id', dedup_within => '1 hour');
SELECT continuous.create_stream('clicks', event_time => 'ts', unique_key => '', dedup_within => '1 hour');
SELECT continuous.create_stream('clicks', event_time => 'ts', unique_key => 'ctid', dedup_within => '1 hour');
-- nothing was registered by the refused calls
SELECT count(*) FROM continuous.stream_catalog;

SELECT continuous.create_stream('clicks', event_time => 'ts',
                                unique_key => 'event_id', dedup_within => '1 hour');
SELECT stream, unique_key, dedup_within FROM continuous.stream_catalog;

CREATE VIEW clicks_per_user WITH (continuous) AS
    SELECT user_id, count(*) AS n, max(url) AS last_url FROM clicks GROUP BY user_id;
CREATE VIEW clicks_total WITH (continuous) AS
    SELECT count(*) AS n, sum(event_id) AS ids FROM clicks;
CREATE VIEW a_clicks_per_minute WITH (continuous) AS
    SELECT continuous.tumble(ts, '1 minute') AS minute, count(*) AS n
    FROM clicks WHERE url LIKE '/a%' GROUP BY minute;

-- duplicates within the hour, in one transaction and across transactions
INSERT INTO clicks (event_id, user_id, url, ts) VALUES
    (1, 10, '/a1', '2026-05-01 12:00:00+00'),
    (2, 10, '/b1', '2026-05-01 12:00:10+00'),
    (1, 99, '/a-dup', '2026-05-01 12:00:20+00'),
    (3, 20, '/a2', '2026-05-01 12:00:30+00');
INSERT INTO clicks (event_id, user_id, url, ts) VALUES
    (2, 99, '/b-dup', '2026-05-01 12:30:00+00'),
    (4, 20, '/a3', '2026-05-01 12:31:00+00'),
    (3, 99, '/a-dup', '2026-05-01 11:40:00+00');
-- a rolled-back event is never seen: its key counts later
BEGIN;
INSERT INTO clicks (event_id, user_id, url, ts) VALUES (5, 99, '/rolled-back', '2026-05-01 12:32:00+00');
ROLLBACK;
INSERT INTO clicks (event_id, user_id, url, ts) VALUES (5, 30, '/a5', '2026-05-01 12:33:00+00');
SELECT continuous.sync();

SELECT * FROM clicks_per_user ORDER BY user_id;
SELECT * FROM clicks_total;
SELECT * FROM a_clicks_per_minute ORDER BY minute;

-- each view equals its SELECT over the deduplicated events
CREATE VIEW clicks_first AS
    SELECT DISTINCT ON (event_id) * FROM clicks ORDER BY event_id, seq;
SELECT pg_temp.differences('SELECT * FROM clicks_per_user',
    'SELECT user_id, count(*) AS n, max(url) AS last_url FROM clicks_first GROUP BY user_id');
SELECT pg_temp.differences('SELECT * FROM clicks_total',
    'SELECT count(*) AS n, sum(event_id) AS ids FROM clicks_first');
SELECT pg_temp.differences('SELECT * FROM a_clicks_per_minute',
    'SELECT continuous.tumble(ts, ''1 minute'') AS minute, count(*) AS n
     FROM clicks_first WHERE url LIKE ''/a%'' GROUP BY minute');

-- each view dropped the three duplicates, before its WHERE
SELECT view, events, duplicates FROM continuous.views ORDER BY view::text;
SELECT stream, events, duplicates FROM continuous.streams;
-- the seen keys of each view, in the flush transaction with its state
SELECT view, key, seen_at FROM continuous.dedup_keys ORDER BY view::text, key;

--
-- A key seen again more than dedup_within of event time later counts
-- again, however far the watermark is.
--
INSERT INTO clicks (event_id, user_id, url, ts) VALUES
    (1, 40, '/a-again', '2026-05-01 13:00:00+00'),   -- exactly one hour: counts
    (4, 99, '/a-dup', '2026-05-01 13:30:59+00');     -- 59:59 after: duplicate
SELECT continuous.sync();
SELECT * FROM clicks_per_user ORDER BY user_id;
SELECT view, duplicates FROM continuous.views ORDER BY view::text;

--
-- Expiry: a key seen at t is forgotten once the watermark passes t +
-- dedup_within; the keys table shrinks with it.  The next batch after the
-- watermark moved forgets them.
--
INSERT INTO clicks (event_id, user_id, url, ts) VALUES (100, 50, '/late-day', '2026-05-01 20:00:00+00');
SELECT continuous.sync();
INSERT INTO clicks (event_id, user_id, url, ts) VALUES (101, 50, '/late-day', '2026-05-01 20:00:01+00');
SELECT continuous.sync();
SELECT watermark FROM continuous.streams;
SELECT view::text, count(*) AS keys, min(seen_at) FROM continuous.dedup_keys GROUP BY 1 ORDER BY 1;
-- event 2 was forgotten: seen again, behind the watermark, it counts (in
-- the views without a window; the windowed one finds its minute closed)
INSERT INTO clicks (event_id, user_id, url, ts) VALUES (2, 60, '/a-forgotten', '2026-05-01 12:00:10+00');
SELECT continuous.sync();
SELECT user_id, n FROM clicks_per_user WHERE user_id = 60;
SELECT view, duplicates, late_events FROM continuous.views ORDER BY view::text;

--
-- NULL in the key: never a duplicate, as a UNIQUE constraint treats it
--
INSERT INTO clicks (event_id, user_id, url, ts) VALUES
    (NULL, 70, '/null', '2026-05-01 20:00:02+00'),
    (NULL, 70, '/null', '2026-05-01 20:00:02+00');
SELECT continuous.sync();
SELECT * FROM clicks_per_user WHERE user_id = 70;

-- a rename of a key column is followed
ALTER TABLE clicks RENAME COLUMN event_id TO click_id;
SELECT unique_key FROM continuous.stream_catalog;
INSERT INTO clicks (click_id, user_id, url, ts) VALUES
    (200, 80, '/renamed', '2026-05-01 20:00:03+00'),
    (200, 80, '/renamed', '2026-05-01 20:00:04+00');
SELECT continuous.sync();
SELECT * FROM clicks_per_user WHERE user_id = 80;

-- a dropped view's seen keys go with it
DROP VIEW a_clicks_per_minute;
SELECT view::text FROM continuous.dedup_keys GROUP BY 1 ORDER BY 1;

--
-- A key of several columns; without event time, dedup_within counts
-- processing time
--
CREATE TABLE orders (seq bigint GENERATED ALWAYS AS IDENTITY, user_id int,
                     order_no text, amount numeric);
SELECT continuous.create_stream('orders', unique_key => 'user_id, "order_no"',
                                dedup_within => '1 day');
CREATE VIEW order_totals WITH (continuous) AS
    SELECT user_id, count(*) AS orders, sum(amount) AS amount FROM orders GROUP BY user_id;
INSERT INTO orders (user_id, order_no, amount) VALUES
    (1, 'A', 10), (1, 'B', 20), (2, 'A', 30), (1, 'A', 1000), (NULL, 'A', 5), (NULL, 'A', 5);
INSERT INTO orders (user_id, order_no, amount) VALUES (2, 'A', 2000), (2, 'B', 40);
SELECT continuous.sync();
SELECT * FROM order_totals ORDER BY user_id;
SELECT pg_temp.differences('SELECT * FROM order_totals',
    'SELECT user_id, count(*) AS orders, sum(amount) AS amount FROM
       (SELECT * FROM orders WHERE user_id IS NULL
        UNION ALL
        SELECT * FROM (SELECT DISTINCT ON (user_id, order_no) * FROM orders
                       WHERE user_id IS NOT NULL ORDER BY user_id, order_no, seq) f) o
     GROUP BY user_id');
SELECT stream, duplicates FROM continuous.streams ORDER BY stream::text;

-- a new view reads the table as one batch, the first read of each key kept
CREATE VIEW order_count WITH (continuous) AS SELECT count(*) AS n FROM orders;
SELECT continuous.sync();
SELECT * FROM order_count;
SELECT view, duplicates FROM continuous.views WHERE view = 'order_count'::regclass;

-- continuous.rebuild() computes the view and its seen keys again
SELECT continuous.rebuild('order_totals');
SELECT continuous.sync();
SELECT * FROM order_totals ORDER BY user_id;
SELECT view, duplicates FROM continuous.views WHERE view = 'order_totals'::regclass;
SELECT count(*) FROM continuous.dedup_keys WHERE view = 'order_totals'::regclass;

-- a view that joins a table deduplicates the stream's rows before the join
CREATE TABLE customers (id int PRIMARY KEY, name text);
INSERT INTO customers VALUES (1, 'ann'), (2, 'bob');
CREATE VIEW totals_by_name WITH (continuous) AS
    SELECT c.name, count(*) AS orders, sum(o.amount) AS amount
    FROM orders o JOIN customers c ON c.id = o.user_id GROUP BY c.name;
INSERT INTO orders (user_id, order_no, amount) VALUES (1, 'C', 5), (1, 'C', 500), (2, 'B', 4000);
SELECT continuous.sync();
SELECT * FROM totals_by_name ORDER BY name;
SELECT pg_temp.differences('SELECT * FROM totals_by_name',
    'SELECT c.name, count(*) AS orders, sum(o.amount) AS amount
       FROM (SELECT DISTINCT ON (user_id, order_no) * FROM orders
              WHERE user_id IS NOT NULL ORDER BY user_id, order_no, seq) o
       JOIN customers c ON c.id = o.user_id GROUP BY c.name');

--
-- DDL on a key column that no view uses: a drop or a change of type is
-- refused (a rename is followed, above)
--
ALTER TABLE orders DROP COLUMN order_no;
ALTER TABLE orders ALTER COLUMN order_no TYPE varchar(10);
ALTER TABLE orders RENAME COLUMN order_no TO order_ref;
SELECT unique_key FROM continuous.stream_catalog WHERE stream = 'orders'::regclass;

--
-- An event that fails in a later stage of a view is that view's dead
-- letter, and its key is not seen by it: a copy fails again.  The other
-- views are not affected.
--
CREATE TABLE readings (id int, v int);
SELECT continuous.create_stream('readings', unique_key => 'id', dedup_within => '1 day');
CREATE VIEW inverse WITH (continuous) AS SELECT sum(100 / v) AS s, count(*) AS n FROM readings;
CREATE VIEW readings_n WITH (continuous) AS SELECT count(*) AS n FROM readings;
INSERT INTO readings VALUES (1, 10), (2, 0), (1, 10), (3, 5), (2, 0);
SELECT continuous.sync();
SELECT * FROM inverse;
SELECT * FROM readings_n;
SELECT view, count(*) FROM continuous.dead_letters GROUP BY view ORDER BY view::text;
SELECT view, duplicates FROM continuous.views WHERE stream = 'readings'::regclass ORDER BY view::text;

--
-- Kafka streams take the same options on their foreign table
--
CREATE SERVER kafka_local FOREIGN DATA WRAPPER continuous_kafka
    OPTIONS (brokers '127.0.0.1:9', "kafka.fetch.wait.max.ms" '10');
CREATE FOREIGN TABLE kclicks (id bigint, spot point, ts timestamptz) SERVER kafka_local
    OPTIONS (topic 'clicks', format 'json', event_time 'ts', dedup_within 'soon');
CREATE FOREIGN TABLE kclicks (id bigint, spot point, ts timestamptz) SERVER kafka_local
    OPTIONS (topic 'clicks', format 'json', event_time 'ts', unique_key 'spot', dedup_within '1 hour');
-- the columns are checked when the stream is registered (by its first
-- view), and when the options change
CREATE VIEW kclicks_n WITH (continuous) AS SELECT count(*) FROM kclicks;
ALTER FOREIGN TABLE kclicks OPTIONS (SET unique_key 'nope');
ALTER FOREIGN TABLE kclicks OPTIONS (SET unique_key 'id');
ALTER FOREIGN TABLE kclicks OPTIONS (DROP dedup_within);
CREATE VIEW kclicks_n WITH (continuous) AS SELECT count(*) FROM kclicks;
SELECT unique_key, dedup_within FROM continuous.stream_catalog WHERE stream = 'kclicks'::regclass;
-- dedup_within may change; the unique key not while views read the stream
ALTER FOREIGN TABLE kclicks OPTIONS (SET dedup_within '2 hours');
SELECT unique_key, dedup_within FROM continuous.stream_catalog WHERE stream = 'kclicks'::regclass;
ALTER FOREIGN TABLE kclicks OPTIONS (SET unique_key 'id, ts');
ALTER FOREIGN TABLE kclicks OPTIONS (DROP unique_key, DROP dedup_within);
-- a rename of the key column is followed in the option too
ALTER FOREIGN TABLE kclicks RENAME COLUMN id TO click_id;
SELECT unique_key FROM continuous.stream_catalog WHERE stream = 'kclicks'::regclass;
SELECT ftoptions FROM pg_foreign_table WHERE ftrelid = 'kclicks'::regclass;

DROP EXTENSION pg_continuous CASCADE;
DROP TABLE clicks, orders, readings, customers CASCADE;
