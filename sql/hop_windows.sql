--
-- Hopping windows.  continuous.hop(ts, size, slide [, origin]) returns the
-- start of every window of length size, one starting every slide (counted
-- from origin, by default 2000-01-01), that contains ts.  A continuous view
-- joins it to its stream, so that each event counts once in each of its
-- windows:
--
--   FROM clicks CROSS JOIN LATERAL continuous.hop(ts, '10 minutes', '5 minutes') AS w
--   GROUP BY w.window_start, ...
--
-- Lateness is judged per window: an event still counts in those of its
-- windows that are open, and is late (dropped, and counted in
-- continuous.views.late_events) only if all of them had closed.
--
CREATE EXTENSION pg_continuous;
SET TimeZone = 'UTC';

-- The function on its own.  12:07:30 is in two 10-minute windows that
-- start every 5 minutes:
SELECT * FROM continuous.hop('2026-03-01 12:07:30+00', '10 minutes', '5 minutes');
-- The size need not be a multiple of the slide: windows of 10 minutes
-- every 3 minutes hold a time three or four times.
SELECT * FROM continuous.hop('2026-03-01 12:07:30+00', '10 minutes', '3 minutes');
SELECT * FROM continuous.hop('2026-03-01 12:09:30+00', '10 minutes', '3 minutes');
-- A size below the slide leaves gaps: 12:07:30 is in no 1-minute window
-- of those starting every 5 minutes, 12:05:30 is in one.
SELECT * FROM continuous.hop('2026-03-01 12:07:30+00', '1 minute', '5 minutes');
SELECT * FROM continuous.hop('2026-03-01 12:05:30+00', '1 minute', '5 minutes');
-- Another origin shifts the windows; timestamp works like timestamptz.
SELECT * FROM continuous.hop('2026-03-01 12:07:30+00', '10 minutes', '5 minutes',
                             '2026-03-01 00:02:00+00');
SELECT * FROM continuous.hop('2026-03-01 12:07:30'::timestamp, '1 hour', '20 minutes');
-- NULL in, no windows out.
SELECT count(*) FROM continuous.hop(NULL::timestamptz, '10 minutes', '5 minutes');
-- Sizes and slides are positive and of fixed length (a day is 24 hours).
SELECT * FROM continuous.hop(now(), '0', '1 minute');
SELECT * FROM continuous.hop(now(), '10 minutes', '-1 minute');
SELECT * FROM continuous.hop(now(), '1 month', '1 day');

CREATE TABLE clicks (user_id int, url text, ts timestamptz NOT NULL);
SELECT continuous.create_stream('clicks', event_time => 'ts',
                                watermark_delay => '1 minute');

-- clicks per user in 10-minute windows every 5 minutes, as they change
CREATE VIEW clicks_10m WITH (continuous) AS
    SELECT w.window_start, user_id, count(*) AS clicks
    FROM clicks CROSS JOIN LATERAL continuous.hop(ts, '10 minutes', '5 minutes') AS w
    GROUP BY w.window_start, user_id;
-- the same windows once closed; a column alias names the window start
CREATE VIEW closed_10m WITH (continuous, emit = 'window_close') AS
    SELECT window_start, count(*) AS clicks, max(ts) AS last_click
    FROM clicks CROSS JOIN LATERAL continuous.hop(ts, '10 minutes', '5 minutes') AS w(window_start)
    GROUP BY window_start;
-- and with 5 minutes of allowed lateness
CREATE VIEW lenient_10m
    WITH (continuous, emit = 'window_close', allowed_lateness = '5 minutes') AS
    SELECT w.window_start, count(*) AS clicks
    FROM clicks CROSS JOIN LATERAL continuous.hop(ts, '10 minutes', '5 minutes') AS w
    GROUP BY w.window_start;
-- late clicks kept in a table of their own, and windows deleted 15 minutes
-- after they closed
CREATE VIEW kept_10m
    WITH (continuous, late_events = 'late_clicks', retention = '15 minutes') AS
    SELECT w.window_start, count(*) AS clicks
    FROM clicks CROSS JOIN LATERAL continuous.hop(ts, '10 minutes', '5 minutes') AS w
    GROUP BY w.window_start;
-- windows that stay open for a day: nothing is late for these two, so they
-- equal their SELECT run as a batch query (the oracle, at the end).  The
-- comma form is the same join; 7-minute windows every 3 minutes.
CREATE VIEW clicks_10m_all WITH (continuous, allowed_lateness = '1 day') AS
    SELECT w.window_start, user_id, count(*) AS clicks, min(url) AS first_url
    FROM clicks CROSS JOIN LATERAL continuous.hop(ts, '10 minutes', '5 minutes') AS w
    GROUP BY w.window_start, user_id;
CREATE VIEW clicks_7m WITH (continuous, allowed_lateness = '1 day') AS
    SELECT h.window_start, count(*) AS clicks
    FROM clicks, LATERAL continuous.hop(ts, '7 minutes', '3 minutes') AS h
    WHERE url <> '/health'
    GROUP BY 1 HAVING count(*) > 1;

SELECT view, emit, "window" FROM continuous.views ORDER BY view::text;

-- 12:01, 12:04 and 12:06: the watermark is 12:05, which closes the window
-- [11:55, 12:05)
INSERT INTO clicks VALUES
    (1, '/a', '2026-03-01 12:01:00+00'),
    (2, '/b', '2026-03-01 12:04:00+00'),
    (1, '/c', '2026-03-01 12:06:00+00');
SELECT continuous.sync();
SELECT watermark FROM continuous.streams;
SELECT * FROM clicks_10m ORDER BY window_start, user_id;
SELECT * FROM closed_10m ORDER BY window_start;

-- out of order, in one batch: 12:12 moves the watermark to 12:11.  12:03
-- is in [11:55, 12:05), closed before this batch, and in [12:00, 12:10),
-- still open then: it counts in the second only, and is not late.
INSERT INTO clicks VALUES
    (2, '/d', '2026-03-01 12:12:00+00'),
    (1, '/e', '2026-03-01 12:03:00+00');
SELECT continuous.sync();
SELECT watermark FROM continuous.streams;
SELECT * FROM clicks_10m ORDER BY window_start, user_id;
SELECT * FROM closed_10m ORDER BY window_start;
SELECT * FROM lenient_10m ORDER BY window_start;
SELECT view, events, late_events FROM continuous.views ORDER BY view::text;

-- 12:04:30 now: both its windows have closed, it is late.  For the
-- lenient view, [12:00, 12:10) is open until 12:15 and takes it.
-- 12:09 is in [12:00, 12:10), closed, and [12:05, 12:15), open: it counts
-- in the second.
INSERT INTO clicks VALUES
    (3, '/f', '2026-03-01 12:04:30+00'),
    (3, '/g', '2026-03-01 12:09:00+00');
SELECT continuous.sync();
SELECT * FROM clicks_10m ORDER BY window_start, user_id;
SELECT * FROM lenient_10m ORDER BY window_start;
SELECT view, events, late_events FROM continuous.views ORDER BY view::text;
-- the late-events table has the 12:04:30 click only: the 12:03 and 12:09
-- clicks counted in one of their windows
SELECT * FROM late_clicks;

-- 12:21 moves the watermark to 12:20: [12:05, 12:15) and [12:10, 12:20)
-- close, and the lenient view's [12:00, 12:10) too
INSERT INTO clicks VALUES (1, '/h', '2026-03-01 12:21:00+00');
SELECT continuous.sync();
SELECT watermark FROM continuous.streams;
SELECT * FROM closed_10m ORDER BY window_start;
SELECT * FROM lenient_10m ORDER BY window_start;
-- windows that ended 15 minutes or more before the watermark are gone
SELECT * FROM kept_10m ORDER BY window_start;

-- many more clicks, out of order within and across transactions
INSERT INTO clicks
    SELECT g % 7, CASE WHEN g % 11 = 0 THEN '/health' ELSE '/p' || g % 13 END,
           '2026-03-01 12:30:00+00'::timestamptz + ((g * 37) % 600) * interval '7 seconds'
    FROM generate_series(1, 500) g;
INSERT INTO clicks
    SELECT g % 5, '/q' || g % 3,
           '2026-03-01 12:20:00+00'::timestamptz + ((g * 53) % 900) * interval '3 seconds'
    FROM generate_series(1, 300) g;
SELECT continuous.sync();

-- the oracle: each view EXCEPT its batch query, both ways
\getenv abs_srcdir PG_ABS_SRCDIR
\set differences :abs_srcdir '/sql/include/differences.psql'
\i :differences
SELECT pg_temp.differences(
    'SELECT * FROM clicks_10m_all',
    $$SELECT w.window_start, user_id, count(*) AS clicks, min(url) AS first_url
      FROM clicks CROSS JOIN LATERAL continuous.hop(ts, '10 minutes', '5 minutes') AS w
      GROUP BY w.window_start, user_id$$) AS clicks_10m_all,
       pg_temp.differences(
    'SELECT * FROM clicks_7m',
    $$SELECT h.window_start, count(*) AS clicks
      FROM clicks, LATERAL continuous.hop(ts, '7 minutes', '3 minutes') AS h
      WHERE url <> '/health'
      GROUP BY 1 HAVING count(*) > 1$$) AS clicks_7m;
SELECT count(*) AS windows, sum(clicks) AS clicks FROM clicks_10m_all;
-- the views that dropped late events miss exactly the 12:04:30 click in
-- two windows, and the 12:03 and 12:09 clicks in one each
SELECT a.window_start, a.user_id, a.clicks - coalesce(c.clicks, 0) AS missing
FROM clicks_10m_all a LEFT JOIN clicks_10m c USING (window_start, user_id)
WHERE a.clicks IS DISTINCT FROM c.clicks
ORDER BY 1, 2;

-- a timestamp (without time zone) event time is UTC, like its watermark
CREATE TABLE meter_readings (value int, at timestamp NOT NULL);
SELECT continuous.create_stream('meter_readings', event_time => 'at');
CREATE VIEW hourly_every_20m WITH (continuous, emit = 'window_close') AS
    SELECT w.window_start, sum(value) AS total
    FROM meter_readings CROSS JOIN LATERAL continuous.hop(at, '1 hour', '20 minutes') AS w
    GROUP BY 1;
SET TimeZone = 'America/New_York';
INSERT INTO meter_readings VALUES (1, '2026-03-01 08:10:00'), (2, '2026-03-01 08:50:00');
SELECT continuous.sync();
SELECT * FROM hourly_every_20m ORDER BY window_start;
INSERT INTO meter_readings VALUES (4, '2026-03-01 09:00:00');
SELECT continuous.sync();
SELECT * FROM hourly_every_20m ORDER BY window_start;
RESET TimeZone;

-- what continuous views accept: the stream and one hop over it, grouped
-- by its window start
CREATE VIEW v WITH (continuous) AS
    SELECT continuous.hop(ts, '10 minutes', '5 minutes'), count(*) FROM clicks GROUP BY 1;
CREATE VIEW v WITH (continuous) AS
    SELECT w.window_start, count(*)
    FROM clicks LEFT JOIN LATERAL continuous.hop(ts, '10 minutes', '5 minutes') AS w ON true
    GROUP BY 1;
CREATE VIEW v WITH (continuous) AS
    SELECT w.window_start, count(*)
    FROM clicks CROSS JOIN LATERAL continuous.hop(ts, '10 minutes', '5 minutes') AS w
    CROSS JOIN LATERAL continuous.hop(ts, '1 hour', '5 minutes') AS x
    GROUP BY 1;
CREATE VIEW v WITH (continuous) AS
    SELECT g, count(*) FROM clicks CROSS JOIN generate_series(1, 2) AS g GROUP BY 1;
CREATE VIEW v WITH (continuous) AS
    SELECT count(*)
    FROM clicks CROSS JOIN LATERAL continuous.hop(ts, '10 minutes', '5 minutes') AS w;
CREATE VIEW v WITH (continuous) AS
    SELECT w.window_start, count(*)
    FROM clicks CROSS JOIN LATERAL continuous.hop(ts, '10 minutes', '5 minutes') AS w
    WHERE w.window_start > '2026-01-01' GROUP BY 1;
CREATE VIEW v WITH (continuous) AS
    SELECT w.window_start, count(*)
    FROM clicks CROSS JOIN LATERAL continuous.hop(ts, user_id * interval '1 minute', '5 minutes') AS w
    GROUP BY 1;
CREATE VIEW v WITH (continuous) AS
    SELECT w.window_start, count(*)
    FROM clicks CROSS JOIN LATERAL continuous.hop(ts, '1 month', '1 day') AS w
    GROUP BY 1;
CREATE VIEW v WITH (continuous) AS
    SELECT w.window_start, count(*)
    FROM clicks CROSS JOIN LATERAL continuous.hop(ts, '1 day', '1 second') AS w
    GROUP BY 1;
-- a hop over something else than the event time is a fine group key, but
-- no window that closes
CREATE VIEW v WITH (continuous, emit = 'window_close') AS
    SELECT w.window_start, count(*)
    FROM clicks CROSS JOIN LATERAL continuous.hop(ts + interval '1 hour', '10 minutes', '5 minutes') AS w
    GROUP BY 1;
CREATE VIEW shifted WITH (continuous) AS
    SELECT w.window_start, count(*)
    FROM clicks CROSS JOIN LATERAL continuous.hop(ts + interval '1 hour', '10 minutes', '5 minutes') AS w
    GROUP BY 1;
SELECT view, "window" FROM continuous.views WHERE view = 'shifted'::regclass;

-- DROP VIEW takes the storage with it
DROP VIEW clicks_10m;
SELECT count(*) FROM pg_class WHERE relname LIKE 'clicks_10m_state%';

SET client_min_messages = warning;
DROP EXTENSION pg_continuous CASCADE;
DROP TABLE clicks, meter_readings;
