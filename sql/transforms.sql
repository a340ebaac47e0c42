--
-- Continuous transforms: a continuous view without aggregates, GROUP BY or
-- HAVING keeps its output rows.  Each event's rows (filtered, projected,
-- and fanned out by continuous.hop()) are appended once to the view's
-- storage; retention deletes them by event time.
--
CREATE EXTENSION pg_continuous;
SET TimeZone = 'UTC';

CREATE TABLE clicks (user_id int, url text, latency_ms int, ts timestamptz);
SELECT continuous.create_stream('clicks', event_time => 'ts',
                                watermark_delay => '1 minute');
-- rows the stream has before the views exist: backfilled
INSERT INTO clicks VALUES
    (1, '/a', 900, '2026-03-01 12:00:10+00'),
    (2, '/b', 100, '2026-03-01 12:00:20+00');

-- Projection and filter, with expressions and a retention.
CREATE VIEW slow_clicks WITH (continuous, retention = '10 minutes') AS
  SELECT ts, user_id, url, latency_ms / 1000.0 AS latency_s
    FROM clicks
   WHERE latency_ms > 500;
-- Every event, projected: duplicates are kept.
CREATE VIEW click_log WITH (continuous) AS
  SELECT user_id, upper(url) AS url, ts FROM clicks;
-- A hop fans each event out, one row per window.
CREATE VIEW click_windows WITH (continuous) AS
  SELECT w.window_start, user_id, url
    FROM clicks CROSS JOIN LATERAL continuous.hop(ts, '10 minutes', '5 minutes') AS w;

\d slow_clicks
\d click_windows
SELECT view, kind, "window", emit FROM continuous.views ORDER BY view::text;

-- the backfill: only the slow one of the two
SELECT * FROM slow_clicks ORDER BY ts;

INSERT INTO clicks VALUES
    (1, '/a', 700, '2026-03-01 12:01:00+00'),
    (1, '/a', 700, '2026-03-01 12:01:00+00'),    -- a duplicate
    (3, '/c', 600, '2026-03-01 12:07:30+00'),
    (4, NULL, NULL, '2026-03-01 12:08:00+00'),
    (5, '/e', 2000, NULL);                       -- no event time
SELECT continuous.sync();
SELECT * FROM slow_clicks ORDER BY ts, user_id;
SELECT * FROM click_log ORDER BY ts, user_id;
SELECT * FROM click_windows ORDER BY window_start, user_id;

-- An aborted transaction's rows appear nowhere.
BEGIN;
INSERT INTO clicks VALUES (9, '/z', 9000, '2026-03-01 12:09:00+00');
ROLLBACK;
SELECT continuous.sync();
SELECT count(*) FROM click_log WHERE user_id = 9;

-- The oracle: each view equals its SELECT run as a batch query, as a
-- multiset (EXCEPT ALL both ways).
CREATE FUNCTION check_view(v regclass, q text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    missing bigint;
    extra bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM ((%s) EXCEPT ALL SELECT * FROM %s) d', q, v)
        INTO missing;
    EXECUTE format('SELECT count(*) FROM (SELECT * FROM %s EXCEPT ALL (%s)) d', v, q)
        INTO extra;
    RETURN format('%s: %s missing, %s extra', v, missing, extra);
END
$$;
SELECT check_view('click_log', 'SELECT user_id, upper(url) AS url, ts FROM clicks');
SELECT check_view('click_windows',
    'SELECT w.window_start, user_id, url FROM clicks
       CROSS JOIN LATERAL continuous.hop(ts, ''10 minutes'', ''5 minutes'') AS w');

-- Retention: the watermark is 12:07 (12:08 - 1 minute): nothing is older
-- than 11:57 yet.
SELECT watermark FROM continuous.streams;
SELECT count(*) FROM slow_clicks;
-- 12:13 moves the watermark to 12:12: rows before 12:02 go, the row without
-- an event time stays.
INSERT INTO clicks VALUES (6, '/f', 800, '2026-03-01 12:13:00+00');
SELECT continuous.sync();
SELECT watermark FROM continuous.streams;
SELECT * FROM slow_clicks ORDER BY ts, user_id;
-- a late event's rows are still appended (a transform has no lateness),
-- and go with the next flush that moves the watermark
INSERT INTO clicks VALUES (7, '/g', 900, '2026-03-01 11:00:00+00');
SELECT continuous.sync();
SELECT count(*) FROM slow_clicks WHERE user_id = 7;
SELECT check_view('click_log', 'SELECT user_id, upper(url) AS url, ts FROM clicks');

-- A stream whose event time is a timestamp without time zone: read as UTC,
-- as the watermark is.
CREATE TABLE local_clicks (n int, ts timestamp NOT NULL);
SELECT continuous.create_stream('local_clicks', event_time => 'ts');
CREATE VIEW local_kept WITH (continuous, retention = '1 hour') AS
  SELECT n, ts FROM local_clicks;
INSERT INTO local_clicks VALUES (1, '2026-03-01 10:00'), (2, '2026-03-01 11:30');
SELECT continuous.sync();
INSERT INTO local_clicks VALUES (3, '2026-03-01 12:00');
SELECT continuous.sync();
SELECT * FROM local_kept ORDER BY n;   -- 10:00 is older than 12:00 - 1 hour

-- Dead letters: an event whose expression fails is kept there, the others
-- go on.
CREATE VIEW ratios WITH (continuous) AS
  SELECT user_id, 1000 / latency_ms AS per_s FROM clicks WHERE user_id >= 10;
INSERT INTO clicks VALUES (10, '/x', 0, '2026-03-01 12:14:00+00'),
                          (11, '/y', 500, '2026-03-01 12:14:00+00');
SELECT continuous.sync();
SELECT * FROM ratios;
SELECT view, error FROM continuous.dead_letters WHERE view = 'ratios'::regclass;

-- An event that fails in its second window, after its first window's row
-- was made: the event is a dead letter, and none of its rows is kept.
CREATE VIEW quarters WITH (continuous) AS
  SELECT w.window_start, user_id,
         10 / (extract(minute FROM w.window_start)::int % 4) AS q
    FROM clicks CROSS JOIN LATERAL continuous.hop(ts, '2 minutes', '1 minute') AS w
   WHERE user_id >= 20;
INSERT INTO clicks VALUES (20, '/q', 1, '2026-03-01 12:20:30+00'),   -- 12:19, then 12:20 fails
                          (21, '/q', 1, '2026-03-01 12:22:30+00');   -- 12:21 and 12:22
SELECT continuous.sync();
SELECT * FROM quarters ORDER BY window_start;
SELECT view, error FROM continuous.dead_letters WHERE view = 'quarters'::regclass;

-- rebuild() empties storage and reads the stream again
SELECT count(*) FROM click_log;
SELECT continuous.rebuild('click_log');
SELECT count(*) FROM click_log;
SELECT check_view('click_log', 'SELECT user_id, upper(url) AS url, ts FROM clicks');

-- What a transform refuses.
CREATE VIEW bad WITH (continuous, emit = 'window_close') AS
  SELECT user_id FROM clicks;
CREATE VIEW bad WITH (continuous, allowed_lateness = '1 minute') AS
  SELECT user_id FROM clicks;
CREATE VIEW bad WITH (continuous, late_events = 'late_clicks') AS
  SELECT user_id FROM clicks;
CREATE TABLE plain (a int, ts timestamptz);
SELECT continuous.create_stream('plain');
CREATE VIEW bad WITH (continuous, retention = '1 day') AS
  SELECT a FROM plain;
CREATE VIEW bad WITH (continuous) AS SELECT user_id, random() AS r FROM clicks;
CREATE VIEW bad WITH (continuous) AS SELECT generate_series(1, user_id) FROM clicks;
CREATE VIEW bad WITH (continuous) AS SELECT DISTINCT user_id FROM clicks;
CREATE VIEW bad WITH (continuous) AS SELECT user_id FROM clicks ORDER BY user_id;
CREATE VIEW bad WITH (continuous) AS SELECT user_id FROM clicks LIMIT 5;
CREATE VIEW bad WITH (continuous) AS
  SELECT user_id, row_number() OVER () FROM clicks;
CREATE VIEW bad WITH (continuous) AS SELECT (user_id, url) AS r FROM clicks;
-- HAVING without GROUP BY aggregates: an aggregate view, as before
CREATE VIEW bad WITH (continuous) AS SELECT user_id FROM clicks HAVING true;

-- DROP VIEW takes the storage with it.
SELECT storage AS click_log_storage FROM continuous.views WHERE view = 'click_log'::regclass \gset
DROP VIEW click_log;
SELECT to_regclass(:'click_log_storage');

DROP EXTENSION pg_continuous CASCADE;
DROP TABLE clicks, plain, local_clicks;
