--
-- DDL of streams and continuous views, as a user types it: what is
-- accepted, what is refused and with which message, what gets created, and
-- how it all goes away again.  No events are written: views.sql tests what
-- the views compute.
--
CREATE EXTENSION pg_continuous;

CREATE TABLE pageviews (
    id         int PRIMARY KEY,
    user_id    int,
    url        text,
    latency_ms float8,
    bytes      bigint,
    day        date,
    ts         timestamptz NOT NULL
);
CREATE TABLE users (user_id int, name text);

--
-- Streams
--

-- only ordinary (or partitioned: sql/partitioned_streams.sql), logged,
-- non-temporary tables of the user's own can be streams
CREATE VIEW recent_pageviews AS SELECT * FROM pageviews;
SELECT continuous.create_stream('recent_pageviews');
CREATE UNLOGGED TABLE scratch_events (n int);
SELECT continuous.create_stream('scratch_events');
CREATE TEMP TABLE session_events (n int);
SELECT continuous.create_stream('session_events');
SELECT continuous.create_stream('pg_class');
SELECT continuous.create_stream('continuous.stream_catalog');
SELECT continuous.create_stream('no_such_table');

-- the event time is an existing timestamp column; the delay is not negative
SELECT continuous.create_stream('pageviews', event_time => 'no_such_column');
SELECT continuous.create_stream('pageviews', event_time => 'url');
SELECT continuous.create_stream('pageviews', event_time => 'day');
SELECT continuous.create_stream('pageviews', event_time => 'xmin');
SELECT continuous.create_stream('pageviews', event_time => 'ts', watermark_delay => '-1 second');
SELECT continuous.create_stream('pageviews', watermark_delay => '1 second');

SELECT continuous.create_stream('pageviews', event_time => 'ts', watermark_delay => '5 seconds');
SELECT continuous.create_stream('pageviews');
SELECT stream, kind, event_time FROM continuous.streams;
SELECT stream::regclass, event_time, watermark_delay FROM continuous.stream_catalog;

-- a stream without event time
SELECT continuous.create_stream('users');

--
-- Continuous views
--
CREATE VIEW pageviews_per_minute WITH (continuous) AS
    SELECT continuous.tumble(ts, '1 minute') AS minute,
           user_id,
           count(*)        AS views,
           avg(latency_ms) AS avg_latency
    FROM pageviews
    GROUP BY minute, user_id
    HAVING count(*) > 1;

-- an ordinary view over the storage table, which holds keys and states
\d+ pageviews_per_minute
\d continuous_storage.pageviews_per_minute_state
SELECT view, stream, storage, emit, definition FROM continuous.views;

-- without GROUP BY there is one row even before the first event, as in SQL
CREATE VIEW pageviews_total WITH (continuous) AS
    SELECT count(*) AS views, sum(bytes) AS bytes, max(ts) AS last_view
    FROM pageviews;
SELECT * FROM pageviews_total;
SELECT count(*) AS views, sum(bytes) AS bytes, max(ts) AS last_view FROM pageviews;

-- keys that are not selected, expressions over keys, column names, options
CREATE VIEW "Slow Pages" (page, day, slow_views) WITH (continuous, security_barrier) AS
    SELECT lower(url), ts::date, count(*)
    FROM pageviews
    WHERE latency_ms > 1000
    GROUP BY url, ts::date, user_id;
\d+ "Slow Pages"
\d continuous_storage."Slow Pages_state"

-- expressions over aggregates, and aggregates only in HAVING
CREATE VIEW heavy_users WITH (continuous) AS
    SELECT user_id, sum(bytes) / count(*) AS bytes_per_view
    FROM pageviews
    GROUP BY user_id
    HAVING max(latency_ms) > 100;
\d+ heavy_users
\d continuous_storage.heavy_users_state

-- continuous = false is an ordinary view
CREATE VIEW pageviews_count WITH (continuous = false) AS SELECT count(*) FROM pageviews;
SELECT relname FROM pg_class WHERE relname LIKE 'pageviews_count%';

--
-- Options
--
CREATE VIEW v WITH (continuous, emit = 'changes', allowed_lateness = '0') AS
    SELECT count(*) FROM pageviews;
DROP VIEW v;
CREATE VIEW v WITH (continuous, emit = 'sometimes') AS SELECT count(*) FROM pageviews;
CREATE VIEW v WITH (continuous, flush = '1s') AS SELECT count(*) FROM pageviews;
CREATE VIEW v WITH (continuous, continuous) AS SELECT count(*) FROM pageviews;
CREATE VIEW v WITH (emit = 'changes') AS SELECT count(*) FROM pageviews;
CREATE VIEW v WITH (continuous, allowed_lateness = 'soon') AS SELECT count(*) FROM pageviews;
CREATE VIEW v WITH (continuous, allowed_lateness = '-1 minute') AS SELECT count(*) FROM pageviews;
-- windows closing by watermark need a window (see windows.sql); what to do
-- with late events other than dropping them, and retention, come later
CREATE VIEW v WITH (continuous, emit = 'window_close') AS SELECT count(*) FROM pageviews;
CREATE VIEW v WITH (continuous, allowed_lateness = '1 minute') AS SELECT count(*) FROM pageviews;
CREATE VIEW v WITH (continuous, late_events = 'late_pageviews') AS SELECT count(*) FROM pageviews;
CREATE VIEW v WITH (continuous, retention = '7 days') AS SELECT count(*) FROM pageviews;

-- the kind of view and its options are fixed at creation
CREATE OR REPLACE VIEW v WITH (continuous) AS SELECT count(*) FROM pageviews;
CREATE OR REPLACE VIEW pageviews_total AS SELECT 1 AS views, 2 AS bytes, now() AS last_view;
CREATE TEMP VIEW v WITH (continuous) AS SELECT count(*) FROM pageviews;
CREATE VIEW pg_temp.v WITH (continuous) AS SELECT count(*) FROM pageviews;
CREATE VIEW v WITH (continuous) AS SELECT user_id, count(*) FROM pageviews GROUP BY user_id
    WITH CHECK OPTION;
ALTER VIEW pageviews_total SET (emit = 'window_close');
ALTER VIEW pageviews_total RESET (continuous);
ALTER VIEW pageviews_count SET (continuous);

--
-- What a continuous view's SELECT cannot contain
--
CREATE VIEW v WITH (continuous) AS
    SELECT user_id, count(*) FROM pageviews GROUP BY user_id
    UNION SELECT user_id, count(*) FROM pageviews GROUP BY user_id;
CREATE VIEW v WITH (continuous) AS
    SELECT user_id, count(*) FROM pageviews GROUP BY user_id ORDER BY user_id;
CREATE VIEW v WITH (continuous) AS
    SELECT user_id, count(*) FROM pageviews GROUP BY user_id LIMIT 10;
CREATE VIEW v WITH (continuous) AS
    SELECT user_id, count(*) FROM pageviews GROUP BY user_id OFFSET 10;
CREATE VIEW v WITH (continuous) AS
    SELECT DISTINCT user_id, count(*) FROM pageviews GROUP BY user_id;
CREATE VIEW v WITH (continuous) AS
    SELECT DISTINCT ON (user_id) user_id, count(*) FROM pageviews GROUP BY user_id;
CREATE VIEW v WITH (continuous) AS
    SELECT user_id, count(*), rank() OVER (ORDER BY count(*)) FROM pageviews GROUP BY user_id;
CREATE VIEW v WITH (continuous) AS
    SELECT user_id, url, count(*) FROM pageviews GROUP BY ROLLUP (user_id, url);
CREATE VIEW v WITH (continuous) AS
    SELECT user_id, url, count(*) FROM pageviews GROUP BY GROUPING SETS ((user_id), (url));
CREATE VIEW v WITH (continuous) AS
    SELECT user_id, GROUPING(user_id), count(*) FROM pageviews GROUP BY user_id;
CREATE VIEW v WITH (continuous) AS
    WITH p AS (SELECT * FROM pageviews) SELECT user_id, count(*) FROM p GROUP BY user_id;
CREATE VIEW v WITH (continuous) AS
    SELECT user_id, count(*) FROM pageviews
    WHERE user_id IN (SELECT user_id FROM users) GROUP BY user_id;
CREATE VIEW v WITH (continuous) AS
    SELECT count(*) FROM (SELECT * FROM pageviews) p;
CREATE VIEW v WITH (continuous) AS
    SELECT user_id, count(*), generate_series(1, 3) FROM pageviews GROUP BY user_id;
CREATE VIEW v WITH (continuous) AS
    SELECT user_id FROM pageviews FOR UPDATE;
CREATE VIEW v WITH (continuous) AS
    SELECT count(*) INTO pageviews_copy FROM pageviews;
-- exactly one stream
CREATE VIEW v WITH (continuous) AS
    SELECT p.user_id, count(*) FROM pageviews p FULL JOIN users u USING (user_id) GROUP BY p.user_id;
CREATE VIEW v WITH (continuous) AS
    SELECT p.user_id, count(*) FROM pageviews p, users u GROUP BY p.user_id;
CREATE VIEW v WITH (continuous) AS SELECT count(*);
CREATE VIEW v WITH (continuous) AS SELECT count(*) FROM generate_series(1, 3);
CREATE VIEW v WITH (continuous) AS SELECT count(*) FROM recent_pageviews;
CREATE VIEW v WITH (continuous) AS SELECT count(*) FROM pageviews_count;
CREATE VIEW v WITH (continuous) AS SELECT count(*) FROM scratch_events;
CREATE VIEW v WITH (continuous) AS SELECT count(*) FROM pageviews TABLESAMPLE SYSTEM (10);
-- aggregates must combine from partial states
CREATE VIEW v WITH (continuous) AS
    SELECT user_id, count(DISTINCT url) FROM pageviews GROUP BY user_id;
CREATE VIEW v WITH (continuous) AS
    SELECT user_id, percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) FROM pageviews GROUP BY user_id;
CREATE VIEW v WITH (continuous) AS
    SELECT user_id, rank(100) WITHIN GROUP (ORDER BY latency_ms) FROM pageviews GROUP BY user_id;
CREATE VIEW v WITH (continuous) AS
    SELECT user_id, array_agg(url ORDER BY ts) FROM pageviews GROUP BY user_id;
CREATE VIEW v WITH (continuous) AS
    SELECT user_id, string_agg(url, ', ') FROM pageviews GROUP BY user_id;
CREATE AGGREGATE total_no_combine(int) (sfunc = int4pl, stype = int, initcond = '0');
CREATE VIEW v WITH (continuous) AS SELECT total_no_combine(user_id) FROM pageviews;
CREATE AGGREGATE total(int) (sfunc = int4pl, stype = int, combinefunc = int4pl, initcond = '0');
CREATE VIEW user_total WITH (continuous) AS SELECT total(user_id) FROM pageviews;
SELECT * FROM user_total;
DROP AGGREGATE total(int);
DROP VIEW user_total;
DROP AGGREGATE total(int);
-- each event is evaluated once, when it arrives
CREATE VIEW v WITH (continuous) AS
    SELECT user_id, count(*) FROM pageviews WHERE random() < 0.5 GROUP BY user_id;
CREATE VIEW v WITH (continuous) AS
    SELECT ts::date, count(*) FROM pageviews GROUP BY ts::date HAVING sum(random()) > 1;
-- without aggregates the view is a transform (transforms.sql); with them
-- it selects only keys and aggregates
CREATE VIEW v WITH (continuous) AS SELECT user_id, url FROM pageviews;
DROP VIEW v;
CREATE VIEW v WITH (continuous) AS SELECT user_id, url, count(*) FROM pageviews GROUP BY user_id;
CREATE VIEW v WITH (continuous) AS SELECT id, url, count(*) FROM pageviews GROUP BY id;
-- group keys live under a unique btree index
CREATE VIEW v WITH (continuous) AS SELECT xmin, count(*) FROM pageviews GROUP BY xmin;

--
-- Dropping
--

-- the storage table is part of its view
DROP TABLE continuous_storage.pageviews_per_minute_state;
DROP VIEW pageviews_per_minute;
SELECT relname FROM pg_class WHERE relname LIKE 'pageviews_per_minute%';
SELECT view FROM continuous.views ORDER BY view::text;

-- a stream read by views is not dropped without cascade
SELECT continuous.drop_stream('recent_pageviews');
SELECT continuous.drop_stream('users');
SELECT continuous.drop_stream('users');
SELECT continuous.drop_stream('pageviews');
CREATE VIEW pageviews_summary AS SELECT views FROM pageviews_total;
SELECT continuous.drop_stream('pageviews', cascade => true);
SELECT view FROM continuous.views ORDER BY view::text;
SELECT stream FROM continuous.streams ORDER BY stream::text;
SELECT relname FROM pg_class WHERE relnamespace = 'continuous_storage'::regnamespace;

-- DROP TABLE of a stream needs CASCADE while continuous views read it
SELECT continuous.create_stream('pageviews', event_time => 'ts');
CREATE VIEW pageviews_per_user WITH (continuous) AS
    SELECT user_id, count(*) AS views FROM pageviews GROUP BY user_id;
DROP VIEW pageviews_count;
DROP TABLE pageviews;
DROP TABLE pageviews CASCADE;
SELECT view FROM continuous.views;
SELECT stream FROM continuous.streams;
SELECT relname FROM pg_class WHERE relnamespace = 'continuous_storage'::regnamespace;

--
-- Privileges: the owner of a table makes it a stream; any role that may
-- read a stream may create continuous views over it, and owns them.
--
CREATE ROLE regress_continuous_owner;
CREATE ROLE regress_continuous_reader;
GRANT CREATE ON SCHEMA public TO regress_continuous_owner, regress_continuous_reader;

SET ROLE regress_continuous_owner;
CREATE TABLE orders (customer int, amount numeric, ts timestamptz NOT NULL);
SELECT continuous.create_stream('orders', event_time => 'ts');
CREATE VIEW revenue WITH (continuous) AS
    SELECT customer, sum(amount) AS revenue FROM orders GROUP BY customer;
SELECT * FROM revenue;
RESET ROLE;
-- the storage belongs to the extension; the view's owner may read it
SELECT relname, pg_get_userbyid(relowner) AS owner, relacl
FROM pg_class WHERE relname IN ('revenue', 'revenue_state') ORDER BY relname;

SET ROLE regress_continuous_reader;
SELECT continuous.create_stream('orders');
SELECT continuous.drop_stream('orders');
CREATE VIEW my_revenue WITH (continuous) AS
    SELECT customer, sum(amount) AS revenue FROM orders GROUP BY customer;
SELECT * FROM revenue;
DROP TABLE continuous_storage.revenue_state;
RESET ROLE;

GRANT SELECT ON orders TO regress_continuous_reader;
SET ROLE regress_continuous_reader;
CREATE VIEW my_revenue WITH (continuous) AS
    SELECT customer, sum(amount) AS revenue FROM orders GROUP BY customer;
SELECT * FROM my_revenue ORDER BY customer;
RESET ROLE;

-- the right to read the storage changes hands with its view
ALTER VIEW my_revenue OWNER TO regress_continuous_owner;
SELECT relname, pg_get_userbyid(relowner) AS owner, relacl
FROM pg_class WHERE relname IN ('my_revenue', 'my_revenue_state') ORDER BY relname;

-- and the worker runs the view's code as its new owner from then on
SET ROLE regress_continuous_reader;
CREATE VIEW who_counts WITH (continuous) AS
    SELECT current_user::text AS who, count(*) AS n FROM orders GROUP BY 1;
RESET ROLE;
INSERT INTO orders VALUES (1, 10, '2026-01-01');
SELECT continuous.sync();
ALTER VIEW who_counts OWNER TO regress_continuous_owner;
INSERT INTO orders VALUES (1, 10, '2026-01-01'), (2, 5, '2026-01-01');
SELECT continuous.sync();
SELECT * FROM who_counts ORDER BY who;

SET ROLE regress_continuous_owner;
SELECT * FROM my_revenue ORDER BY customer;
SELECT continuous.drop_stream('orders', cascade => true);
DROP TABLE orders;
RESET ROLE;
REVOKE CREATE ON SCHEMA public FROM regress_continuous_owner, regress_continuous_reader;
DROP ROLE regress_continuous_owner;
DROP ROLE regress_continuous_reader;

--
-- continuous.tumble() is date_bin() with a window size
--
SELECT ts,
       continuous.tumble(ts, '15 minutes') AS window_start,
       continuous.tumble(ts, '15 minutes') = date_bin('15 minutes', ts, '2000-01-01 00:00:00+00') AS same_as_date_bin
FROM (VALUES ('2024-03-10 01:59:59.999999+00'::timestamptz),
             ('2024-03-10 02:00:00+00'),
             ('1999-12-31 23:52:00+00'),
             ('2024-01-01 00:00:00+00')) AS events(ts);
SELECT continuous.tumble('2024-01-01 10:07:00'::timestamp, '1 hour') AS hourly,
       continuous.tumble('2024-01-01 10:07:00'::timestamp, '1 hour', '2024-01-01 00:30:00') AS at_half_past,
       continuous.tumble('2024-01-01 10:07:00'::timestamp, '1 day') AS daily;
SELECT continuous.tumble('2024-01-01 10:07:00'::timestamp, '1 month');
SELECT continuous.tumble(now(), '0 seconds');
SELECT continuous.tumble(now(), '-1 minute');

DROP TABLE users, scratch_events;
DROP EXTENSION pg_continuous CASCADE;
