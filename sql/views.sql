--
-- Continuous views equal their own SELECT run as batch SQL over the events
-- the stream delivered.  Every check below prints the rows that differ, so
-- the expected output is empty result sets and matching counts.
--
CREATE EXTENSION pg_continuous;

CREATE TABLE clicks (
    user_id    int,
    url        text,
    latency_ms float8,
    bytes      bigint,
    ok         boolean,
    price      numeric,
    ts         timestamptz NOT NULL
);
SELECT continuous.create_stream('clicks', event_time => 'ts');

-- many aggregates, keys with NULLs, expressions over keys and aggregates
CREATE VIEW clicks_per_user WITH (continuous) AS
    SELECT user_id,
           count(*)                    AS clicks,
           count(latency_ms)           AS timed,
           sum(bytes)                  AS bytes,
           avg(latency_ms)             AS avg_latency,
           min(url)                    AS first_url,
           max(ts)                     AS last_seen,
           bool_and(ok)                AS all_ok,
           bit_or(bytes)               AS any_bits,
           sum(price)                  AS revenue,
           avg(price)                  AS avg_price,
           stddev(latency_ms)          AS sd,
           variance(bytes)             AS var_bytes,
           corr(latency_ms, bytes)     AS corr_lb,
           regr_slope(latency_ms, bytes) AS slope,
           max(bytes) - min(bytes)     AS spread
    FROM clicks
    GROUP BY user_id;

-- tumbling windows, both spellings, and a global aggregate
CREATE VIEW clicks_per_minute WITH (continuous) AS
    SELECT continuous.tumble(ts, '1 minute') AS minute,
           count(*) AS clicks, sum(price) AS revenue
    FROM clicks GROUP BY minute;
CREATE VIEW clicks_per_hour WITH (continuous) AS
    SELECT date_trunc('hour', ts) AS hour, url, count(*) AS clicks
    FROM clicks GROUP BY 1, 2;
CREATE VIEW clicks_total WITH (continuous) AS
    SELECT count(*) AS clicks, sum(bytes) AS bytes, max(latency_ms) AS worst
    FROM clicks;

-- WHERE and HAVING
CREATE VIEW slow_users WITH (continuous) AS
    SELECT user_id, count(*) AS slow_clicks
    FROM clicks
    WHERE latency_ms > 500
    GROUP BY user_id
    HAVING count(*) >= 3;

-- FILTER: each aggregate counts only the events its clause accepts (NULL
-- is not true), in a window and in HAVING, also with an aggregate that
-- has the same arguments unfiltered
CREATE VIEW clicks_filtered WITH (continuous) AS
    SELECT continuous.tumble(ts, '1 hour') AS hour,
           count(*) AS clicks,
           count(*) FILTER (WHERE latency_ms > 500) AS slow,
           sum(bytes) FILTER (WHERE ok) AS ok_bytes,
           sum(bytes) AS bytes,
           avg(latency_ms) FILTER (WHERE url LIKE '/page/1%') AS page1_latency,
           max(price) FILTER (WHERE user_id IS NULL) AS anonymous_max
    FROM clicks
    GROUP BY hour
    HAVING count(*) FILTER (WHERE NOT ok) > 0;

-- group keys of by-value types (integers of each width, negative ones too,
-- booleans, dates, timestamps; NULLs among them) are grouped by their
-- bits; others by their hash and equality functions, as for floats, where
-- 0 and -0 are one group, and for more than four keys
CREATE VIEW clicks_by_kinds WITH (continuous) AS
    SELECT (user_id - 20)::int2 AS small, ok, (ts AT TIME ZONE 'UTC')::date AS day,
           bytes % 7 - 3 AS bucket, count(*) AS n, sum(bytes) AS bytes
    FROM clicks GROUP BY 1, 2, 3, 4;
CREATE VIEW clicks_by_float WITH (continuous) AS
    SELECT round(latency_ms / 300) * (1 - 2 * (bytes % 2)) AS signed_tenth,
           count(*) AS n
    FROM clicks GROUP BY 1;
CREATE VIEW clicks_by_five WITH (continuous) AS
    SELECT user_id % 3 AS a, ok, bytes % 2 AS b, (ts AT TIME ZONE 'UTC')::date AS day,
           (user_id % 2)::int2 AS c, count(*) AS n
    FROM clicks GROUP BY 1, 2, 3, 4, 5;

-- events arrive in many transactions, one aborted, and one COPY
INSERT INTO clicks
SELECT CASE WHEN i % 50 = 0 THEN NULL ELSE i % 37 END,
       '/page/' || (i % 11),
       CASE WHEN i % 13 = 0 THEN NULL ELSE (i * 7919 % 1000)::float8 END,
       i * 31 % 10007,
       i % 17 <> 0,
       (i % 100) / 4.0,
       '2026-01-01 00:00:00+00'::timestamptz + i * interval '1 second'
FROM generate_series(1, 5000) i;

BEGIN;
INSERT INTO clicks SELECT 1, '/aborted', 1, 1, true, 1, now() FROM generate_series(1, 1000);
ROLLBACK;

COPY clicks FROM stdin;
7	/copy/a	12.5	100	t	3.25	2026-01-01 02:00:00+00
7	/copy/b	\N	200	f	\N	2026-01-01 02:00:30+00
\N	/copy/c	999	\N	\N	1.5	2026-01-01 02:01:00+00
\.

BEGIN;
INSERT INTO clicks SELECT i % 5, '/tx', 600 + i, i, true, i, '2026-01-01 03:00:00+00'::timestamptz + i * interval '1 minute'
FROM generate_series(1, 200) i;
SAVEPOINT s;
INSERT INTO clicks SELECT 99, '/rolled-back-savepoint', 1, 1, true, 1, now() FROM generate_series(1, 10);
ROLLBACK TO s;
INSERT INTO clicks VALUES (4, '/after-savepoint', 700, 3, true, 2, '2026-01-01 04:00:00+00');
COMMIT;

SELECT continuous.sync();

-- the oracle: each view EXCEPT its batch query, both ways
\getenv abs_srcdir PG_ABS_SRCDIR
\set differences :abs_srcdir '/sql/include/differences.psql'
\i :differences

-- floating-point aggregates are compared rounded (summation order differs)
SELECT pg_temp.differences(
    $v$SELECT user_id, clicks, timed, bytes, round(avg_latency::numeric, 6), first_url, last_seen,
              all_ok, any_bits, revenue, avg_price, round(sd::numeric, 6), round(var_bytes, 6),
              round(corr_lb::numeric, 6), round(slope::numeric, 6), spread FROM clicks_per_user$v$,
    $b$SELECT user_id, count(*), count(latency_ms), sum(bytes), round(avg(latency_ms)::numeric, 6),
              min(url), max(ts), bool_and(ok), bit_or(bytes), sum(price), avg(price),
              round(stddev(latency_ms)::numeric, 6), round(variance(bytes), 6),
              round(corr(latency_ms, bytes)::numeric, 6), round(regr_slope(latency_ms, bytes)::numeric, 6),
              max(bytes) - min(bytes) FROM clicks GROUP BY user_id$b$) AS per_user_differences;

SELECT pg_temp.differences('SELECT * FROM clicks_per_minute',
    $b$SELECT continuous.tumble(ts, '1 minute'), count(*), sum(price) FROM clicks GROUP BY 1$b$)
    AS per_minute_differences;
SELECT pg_temp.differences('SELECT * FROM clicks_per_hour',
    $b$SELECT date_trunc('hour', ts), url, count(*) FROM clicks GROUP BY 1, 2$b$)
    AS per_hour_differences;
SELECT pg_temp.differences('SELECT * FROM clicks_total',
    $b$SELECT count(*), sum(bytes), max(latency_ms) FROM clicks$b$) AS total_differences;
SELECT pg_temp.differences('SELECT * FROM clicks_by_kinds',
    $b$SELECT (user_id - 20)::int2, ok, (ts AT TIME ZONE 'UTC')::date, bytes % 7 - 3, count(*), sum(bytes)
       FROM clicks GROUP BY 1, 2, 3, 4$b$) AS by_kinds_differences;
SELECT pg_temp.differences('SELECT * FROM clicks_by_float',
    $b$SELECT round(latency_ms / 300) * (1 - 2 * (bytes % 2)), count(*)
       FROM clicks GROUP BY 1$b$) AS by_float_differences;
SELECT count(*) AS float_groups FROM clicks_by_float;
SELECT pg_temp.differences('SELECT * FROM clicks_by_five',
    $b$SELECT user_id % 3, ok, bytes % 2, (ts AT TIME ZONE 'UTC')::date, (user_id % 2)::int2, count(*)
       FROM clicks GROUP BY 1, 2, 3, 4, 5$b$) AS by_five_differences;
SELECT pg_temp.differences('SELECT * FROM slow_users',
    $b$SELECT user_id, count(*) FROM clicks WHERE latency_ms > 500 GROUP BY user_id HAVING count(*) >= 3$b$)
    AS slow_differences;
SELECT pg_temp.differences(
    $v$SELECT hour, clicks, slow, ok_bytes, bytes, round(page1_latency::numeric, 6), anonymous_max
       FROM clicks_filtered$v$,
    $b$SELECT continuous.tumble(ts, '1 hour'), count(*), count(*) FILTER (WHERE latency_ms > 500),
              sum(bytes) FILTER (WHERE ok), sum(bytes),
              round((avg(latency_ms) FILTER (WHERE url LIKE '/page/1%'))::numeric, 6),
              max(price) FILTER (WHERE user_id IS NULL)
       FROM clicks GROUP BY 1 HAVING count(*) FILTER (WHERE NOT ok) > 0$b$) AS filter_differences;
SELECT count(*) AS filtered_hours, sum(slow) > 0 AS some_slow, count(anonymous_max) AS with_anonymous
  FROM clicks_filtered;

SELECT count(*) AS user_groups FROM clicks_per_user;
SELECT * FROM clicks_total;
SELECT * FROM clicks_per_user WHERE user_id IS NULL;

-- UPDATE, DELETE and TRUNCATE do not change views; they are counted
UPDATE clicks SET bytes = 0 WHERE user_id = 1;
DELETE FROM clicks WHERE user_id = 2;
SELECT continuous.sync();
SELECT stream, kind, event_time, events, ignored_changes, lag_bytes >= 0 AS has_lag,
       lag_messages, wal_retained > 0 AS retains_wal
FROM continuous.streams;
SELECT clicks FROM clicks_per_user WHERE user_id = 2;

-- a view created later with backfill = false sees only what commits after it
CREATE VIEW late_view WITH (continuous, backfill = false) AS SELECT count(*) AS n FROM clicks;
SELECT continuous.sync();
SELECT * FROM late_view;
INSERT INTO clicks VALUES (1, '/late', 1, 1, true, 1, '2026-01-02 00:00:00+00');
SELECT continuous.sync();
SELECT * FROM late_view;

-- the storage of a view without a window leaves half of each page free,
-- so that a flush's update of a group stays on its page (HOT)
SELECT v.view, c.reloptions
FROM continuous.views v JOIN pg_class c ON c.oid = v.storage
ORDER BY v.view::text;

-- groups_in_memory: the groups the last batch with events held, here the
-- one inserted row's
SELECT view, stream, emit, events, groups_in_memory, errors
FROM continuous.views ORDER BY view::text;

DROP EXTENSION pg_continuous CASCADE;
DROP TABLE clicks;
