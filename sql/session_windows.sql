--
-- Session windows by event time.  GROUP BY key, continuous.session(ts, gap)
-- puts the events of each key into sessions: an event at t has its own
-- window [t, t + gap), and windows that overlap merge, so two events of a
-- key share a session when a chain of events links them in which each step
-- is shorter than gap.  The function's value is the session's start, its
-- earliest event time; the session ends at its latest event time + gap.
-- A session closes when the watermark reaches end + allowed_lateness.
--
CREATE EXTENSION pg_continuous;
SET TimeZone = 'UTC';

-- the watermark trails the latest click by an hour: room for disorder
CREATE TABLE clicks (user_id int, url text, ts timestamptz NOT NULL);
SELECT continuous.create_stream('clicks', event_time => 'ts',
                                watermark_delay => '1 hour');

-- the same sessions, as they change, once closed, and with an hour of
-- allowed lateness
CREATE VIEW sessions WITH (continuous) AS
    SELECT user_id, continuous.session(ts, '30 minutes') AS session_start,
           count(*) AS clicks, max(ts) AS last_click
    FROM clicks GROUP BY user_id, session_start;
CREATE VIEW closed_sessions WITH (continuous, emit = 'window_close') AS
    SELECT user_id, continuous.session(ts, '30 minutes') AS session_start,
           count(*) AS clicks, max(ts) AS last_click
    FROM clicks GROUP BY user_id, session_start;
CREATE VIEW lenient_sessions WITH (continuous, allowed_lateness = '1 hour') AS
    SELECT user_id, continuous.session(ts, '30 minutes') AS session_start,
           count(*) AS clicks, max(ts) AS last_click
    FROM clicks GROUP BY user_id, session_start;

SELECT view, emit, "window" FROM continuous.views ORDER BY view::text;

-- continuous.session() is a real function, but only a continuous view can
-- give it a value: a session's start depends on the other events
SELECT continuous.session('2026-03-01 10:00+00'::timestamptz, '30 minutes');

-- user 1 clicks three times within 20 minutes: one session, which ends
-- 30 minutes after its last click.  The watermark is 09:20.
INSERT INTO clicks VALUES
    (1, '/a', '2026-03-01 10:00+00'),
    (1, '/b', '2026-03-01 10:10+00'),
    (2, '/a', '2026-03-01 10:05+00'),
    (1, '/c', '2026-03-01 10:20+00');
SELECT continuous.sync();
SELECT watermark FROM continuous.streams;
SELECT * FROM sessions ORDER BY user_id, session_start;
-- the same query run as batch SQL over the stream table says so
SELECT user_id, continuous.session(ts, '30 minutes'), count(*)
FROM clicks GROUP BY 1, 2;

-- 40 minutes after user 1's last click, a new session begins; user 2's
-- next click is 85 minutes after the first.  The watermark is 10:30.
INSERT INTO clicks VALUES
    (1, '/d', '2026-03-01 11:00+00'),
    (2, '/b', '2026-03-01 11:30+00');
SELECT continuous.sync();
SELECT * FROM sessions ORDER BY user_id, session_start;
-- the storage table keeps each session's end next to its start
SELECT user_id, session_start, session_end
FROM continuous_storage.sessions_state ORDER BY user_id, session_start;

-- a click of 10:40 arrives late, but not too late: it is 20 minutes from
-- both of user 1's sessions and bridges them into one, which keeps the
-- earlier start and holds all five clicks
INSERT INTO clicks VALUES (1, '/e', '2026-03-01 10:40+00');
SELECT continuous.sync();
SELECT * FROM sessions ORDER BY user_id, session_start;
SELECT user_id, session_start, session_end
FROM continuous_storage.sessions_state ORDER BY user_id, session_start;
-- no session has closed yet
SELECT * FROM closed_sessions ORDER BY user_id, session_start;

-- 12:00 moves the watermark to 11:00, which closes user 2's first session
-- (it ended at 10:35).  12:00 is exactly 30 minutes after 11:30: not less
-- than the gap, so it begins a session of its own.
INSERT INTO clicks VALUES (2, '/c', '2026-03-01 12:00+00');
SELECT continuous.sync();
SELECT watermark FROM continuous.streams;
SELECT * FROM sessions ORDER BY user_id, session_start;
SELECT * FROM closed_sessions ORDER BY user_id, session_start;

-- Now four old clicks, all before the watermark (11:00).
--   User 1, 10:50: its session (10:00 to 11:30) is still open: it counts.
--   User 2, 10:20: its own window [10:20, 10:50) has closed: late.
--   User 2, 10:32: its own window [10:32, 11:02) is open, but it would
--          join the closed session of 10:05 (which ends at 10:35): late
--          too, for a closed session never changes.
--   User 2, 10:45: touches no closed session: a new session, though
--          behind the watermark (it ends at 11:15, so it is still open).
-- With an hour of lateness nothing has closed: user 2's three clicks join
-- the session of 10:05 there.
INSERT INTO clicks VALUES
    (1, '/w', '2026-03-01 10:50+00'),
    (2, '/x', '2026-03-01 10:20+00'),
    (2, '/y', '2026-03-01 10:32+00'),
    (2, '/z', '2026-03-01 10:45+00');
SELECT continuous.sync();
SELECT * FROM sessions ORDER BY user_id, session_start;
SELECT * FROM closed_sessions ORDER BY user_id, session_start;
SELECT * FROM lenient_sessions ORDER BY user_id, session_start;
SELECT view, events, late_events FROM continuous.views ORDER BY view::text;

-- 13:00 moves the watermark to 12:00: every session but user 2's last one
-- (ends 12:30) and user 3's has closed, with its final values
INSERT INTO clicks VALUES (3, '/a', '2026-03-01 13:00+00');
SELECT continuous.sync();
SELECT * FROM closed_sessions ORDER BY user_id, session_start;

-- The batch query that means the same: a session begins at a click whose
-- distance to the user's previous click is not less than the gap.  With an
-- hour of lateness no click was late, so the lenient view equals it.
CREATE VIEW batch_sessions AS
    WITH marked AS (
        SELECT user_id, ts,
               CASE WHEN ts - lag(ts) OVER w < '30 minutes' THEN 0 ELSE 1 END AS begins
        FROM clicks WINDOW w AS (PARTITION BY user_id ORDER BY ts)
    ), numbered AS (
        SELECT user_id, ts,
               sum(begins) OVER (PARTITION BY user_id ORDER BY ts
                                 ROWS UNBOUNDED PRECEDING) AS session_no
        FROM marked
    )
    SELECT user_id, min(ts) AS session_start, count(*) AS clicks, max(ts) AS last_click
    FROM numbered GROUP BY user_id, session_no;
(SELECT * FROM lenient_sessions EXCEPT ALL SELECT * FROM batch_sessions)
UNION ALL
(SELECT * FROM batch_sessions EXCEPT ALL SELECT * FROM lenient_sessions);

-- An event whose evaluation fails is a dead letter, and the batch runs
-- again event by event: the others still count, or are late, as before.
CREATE VIEW url_sessions WITH (continuous, backfill = false) AS
    SELECT user_id, continuous.session(ts, '30 minutes') AS session_start,
           count(*) AS clicks, sum(10 / (length(url) - 2)) AS score
    FROM clicks GROUP BY user_id, session_start;
INSERT INTO clicks VALUES
    (3, '/abc', '2026-03-01 13:05+00'), (3, '/abcd', '2026-03-01 13:06+00');
SELECT continuous.sync();
-- 14:40 moves the watermark to 13:40 and closes the session of 13:05
INSERT INTO clicks VALUES (3, '/abc', '2026-03-01 14:40+00');
SELECT continuous.sync();
-- '/x' divides by zero; 13:30 would join the closed session of 13:05; 13:50
-- begins a session of its own
INSERT INTO clicks VALUES
    (3, '/x', '2026-03-01 13:20+00'),
    (3, '/abc', '2026-03-01 13:30+00'),
    (3, '/abcde', '2026-03-01 13:50+00');
SELECT continuous.sync();
SELECT * FROM url_sessions ORDER BY user_id, session_start;
SELECT view, events, late_events FROM continuous.views
WHERE view = 'url_sessions'::regclass;
SELECT payload, error FROM continuous.dead_letters;

-- what a session window needs
CREATE TABLE untimed (id int, ts timestamptz);
SELECT continuous.create_stream('untimed');
CREATE VIEW v WITH (continuous) AS
    SELECT id, continuous.session(ts, '1 minute'), count(*) FROM untimed GROUP BY 1, 2;
-- over the event time itself, with a positive constant gap
CREATE VIEW v WITH (continuous) AS
    SELECT continuous.session(ts + '1 hour', '1 minute'), count(*) FROM clicks GROUP BY 1;
CREATE VIEW v WITH (continuous) AS
    SELECT continuous.session(ts, '0 minutes'), count(*) FROM clicks GROUP BY 1;
CREATE VIEW v WITH (continuous) AS
    SELECT continuous.session(ts, '1 month'), count(*) FROM clicks GROUP BY 1;
CREATE VIEW v WITH (continuous) AS
    SELECT continuous.session(ts, url::interval), count(*) FROM clicks GROUP BY 1;
-- a group key of its own, not in WHERE, not inside an aggregate or another key
CREATE VIEW v WITH (continuous) AS
    SELECT count(*) FROM clicks
    WHERE continuous.session(ts, '1 minute') > '2026-01-01';
CREATE VIEW v WITH (continuous) AS
    SELECT user_id, continuous.session(ts, '1 minute'),
           max(continuous.session(ts, '1 minute'))
    FROM clicks GROUP BY 1, 2;
CREATE VIEW v WITH (continuous) AS
    SELECT date_trunc('day', continuous.session(ts, '1 minute')), count(*)
    FROM clicks GROUP BY 1;
-- one window per view: no other key may depend on the event time
CREATE VIEW v WITH (continuous) AS
    SELECT continuous.session(ts, '1 minute'), continuous.session(ts, '1 hour'), count(*)
    FROM clicks GROUP BY 1, 2;
CREATE VIEW v WITH (continuous) AS
    SELECT continuous.session(ts, '1 minute'), continuous.tumble(ts, '1 hour'), count(*)
    FROM clicks GROUP BY 1, 2;
-- the SELECT list may compute with the session's start, like any key; the
-- gap is shown in hours even when given in days
CREATE VIEW daily_sessions WITH (continuous) AS
    SELECT continuous.session(ts, '1 day') + interval '1 day' AS the_day_after,
           count(*) AS clicks
    FROM clicks GROUP BY continuous.session(ts, '1 day')
    HAVING continuous.session(ts, '1 day') > '2000-01-01';
SELECT view, "window" FROM continuous.views WHERE view = 'daily_sessions'::regclass;

-- a timestamp (without time zone) event time is UTC, like its watermark
CREATE TABLE sensor_readings (sensor int, at timestamp NOT NULL);
SELECT continuous.create_stream('sensor_readings', event_time => 'at');
CREATE VIEW bursts WITH (continuous, emit = 'window_close') AS
    SELECT sensor, continuous.session(at, '5 minutes') AS burst, count(*) AS readings
    FROM sensor_readings GROUP BY sensor, burst;
SET TimeZone = 'America/New_York';
INSERT INTO sensor_readings VALUES
    (1, '2026-03-01 08:00'), (1, '2026-03-01 08:04'), (2, '2026-03-01 08:06');
SELECT continuous.sync();
-- the watermark is 08:06 UTC; sensor 1's burst ends at 08:09
SELECT * FROM bursts ORDER BY sensor, burst;
-- 08:09 is five minutes after 08:04: a new burst, and the watermark closes
-- the first one
INSERT INTO sensor_readings VALUES (1, '2026-03-01 08:09');
SELECT continuous.sync();
SELECT * FROM bursts ORDER BY sensor, burst;
RESET TimeZone;

SET client_min_messages = warning;
DROP EXTENSION pg_continuous CASCADE;
RESET client_min_messages;
DROP VIEW batch_sessions;
DROP TABLE clicks, untimed, sensor_readings;

--
-- The oracle, at scale: 20,000 events of 50 keys (one of them NULL) over
-- about eight days, so that sessions both merge and stay apart.  Stream
-- ordered_events gets them in five transactions that follow each other in
-- event time (shuffled within each): with watermark_delay 0 no event is
-- late, and sessions close between transactions.  Stream shuffled_events
-- gets them in eight transactions in random order, so stored sessions are
-- bridged across batches again and again; its watermark trails far behind.
--
CREATE EXTENSION pg_continuous;
SET TimeZone = 'UTC';
SELECT setseed(0.25);
CREATE TABLE generated AS
    SELECT nullif(i % 50, 0) AS k, round((random() * 100)::numeric, 2) AS v,
           date_trunc('second', '2026-01-01 00:00+00'::timestamptz
                                + random() * interval '8 days') AS ts,
           random() AS shuffle
    FROM generate_series(1, 20000) i;
-- five consecutive stretches of event time; eight random parts
ALTER TABLE generated
    ADD ordered_phase int, ADD shuffled_phase int;
UPDATE generated
   SET ordered_phase = width_bucket(extract(epoch FROM ts),
                                    extract(epoch FROM '2026-01-01 00:00+00'::timestamptz),
                                    extract(epoch FROM '2026-01-09 00:00+00'::timestamptz), 5),
       shuffled_phase = floor(shuffle * 8);
CREATE TABLE ordered_events (k int, v numeric, ts timestamptz NOT NULL);
CREATE TABLE shuffled_events (k int, v numeric, ts timestamptz NOT NULL);
SELECT continuous.create_stream('ordered_events', event_time => 'ts');
SELECT continuous.create_stream('shuffled_events', event_time => 'ts',
                                watermark_delay => '100 days');

CREATE VIEW ordered_sessions WITH (continuous) AS
    SELECT k, continuous.session(ts, '30 minutes') AS session_start,
           count(*) AS n, sum(v) AS total, avg(v) AS mean, max(ts) AS last_ts
    FROM ordered_events GROUP BY k, session_start;
CREATE VIEW ordered_closed WITH (continuous, emit = 'window_close') AS
    SELECT k, continuous.session(ts, '30 minutes') AS session_start,
           count(*) AS n, sum(v) AS total, avg(v) AS mean, max(ts) AS last_ts
    FROM ordered_events GROUP BY k, session_start;
-- the session key need not come last
CREATE VIEW shuffled_sessions WITH (continuous) AS
    SELECT continuous.session(ts, '30 minutes') AS session_start, k,
           count(*) AS n, sum(v) AS total, avg(v) AS mean, max(ts) AS last_ts
    FROM shuffled_events GROUP BY session_start, k;

CREATE FUNCTION pg_temp.batch_sessions(stream text) RETURNS TABLE
    (k int, session_start timestamptz, n bigint, total numeric, mean numeric,
     last_ts timestamptz)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY EXECUTE format($q$
        WITH marked AS (
            SELECT k, v, ts,
                   CASE WHEN ts - lag(ts) OVER w < '30 minutes' THEN 0 ELSE 1 END AS begins
            FROM %I WINDOW w AS (PARTITION BY k ORDER BY ts)
        ), numbered AS (
            SELECT k, v, ts,
                   sum(begins) OVER (PARTITION BY k ORDER BY ts
                                     ROWS UNBOUNDED PRECEDING) AS session_no
            FROM marked
        )
        SELECT k, min(ts), count(*), sum(v), avg(v), max(ts)
        FROM numbered GROUP BY k, session_no $q$, stream);
END $$;
\getenv abs_srcdir PG_ABS_SRCDIR
\set differences :abs_srcdir '/sql/include/differences.psql'
\i :differences

INSERT INTO ordered_events SELECT k, v, ts FROM generated WHERE ordered_phase = 1 ORDER BY shuffle;
SELECT continuous.sync();
INSERT INTO ordered_events SELECT k, v, ts FROM generated WHERE ordered_phase = 2 ORDER BY shuffle;
SELECT continuous.sync();
INSERT INTO ordered_events SELECT k, v, ts FROM generated WHERE ordered_phase = 3 ORDER BY shuffle;
SELECT continuous.sync();
INSERT INTO ordered_events SELECT k, v, ts FROM generated WHERE ordered_phase = 4 ORDER BY shuffle;
SELECT continuous.sync();
INSERT INTO ordered_events SELECT k, v, ts FROM generated WHERE ordered_phase = 5 ORDER BY shuffle;
SELECT continuous.sync();
INSERT INTO shuffled_events SELECT k, v, ts FROM generated WHERE shuffled_phase = 0 ORDER BY shuffle;
SELECT continuous.sync();
INSERT INTO shuffled_events SELECT k, v, ts FROM generated WHERE shuffled_phase = 1 ORDER BY shuffle;
SELECT continuous.sync();
INSERT INTO shuffled_events SELECT k, v, ts FROM generated WHERE shuffled_phase = 2 ORDER BY shuffle;
SELECT continuous.sync();
INSERT INTO shuffled_events SELECT k, v, ts FROM generated WHERE shuffled_phase = 3 ORDER BY shuffle;
SELECT continuous.sync();
INSERT INTO shuffled_events SELECT k, v, ts FROM generated WHERE shuffled_phase = 4 ORDER BY shuffle;
SELECT continuous.sync();
INSERT INTO shuffled_events SELECT k, v, ts FROM generated WHERE shuffled_phase = 5 ORDER BY shuffle;
SELECT continuous.sync();
INSERT INTO shuffled_events SELECT k, v, ts FROM generated WHERE shuffled_phase = 6 ORDER BY shuffle;
SELECT continuous.sync();
INSERT INTO shuffled_events SELECT k, v, ts FROM generated WHERE shuffled_phase = 7 ORDER BY shuffle;
SELECT continuous.sync();

SELECT (SELECT count(*) FROM ordered_events) AS ordered_events,
       (SELECT count(*) FROM shuffled_events) AS shuffled_events,
       (SELECT count(*) FROM pg_temp.batch_sessions('ordered_events')) AS sessions,
       (SELECT count(*) FROM pg_temp.batch_sessions('ordered_events') WHERE n > 1) AS merged_sessions;
SELECT view, events, late_events FROM continuous.views ORDER BY view::text;
SELECT pg_temp.differences('SELECT * FROM ordered_sessions',
                           $$SELECT * FROM pg_temp.batch_sessions('ordered_events')$$)
       AS ordered_differences;
SELECT pg_temp.differences('SELECT k, session_start, n, total, mean, last_ts FROM shuffled_sessions',
                           $$SELECT * FROM pg_temp.batch_sessions('shuffled_events')$$)
       AS shuffled_differences;
-- emit = 'window_close' shows exactly the sessions that end by the watermark
SELECT pg_temp.differences('SELECT * FROM ordered_closed',
                           $$SELECT * FROM pg_temp.batch_sessions('ordered_events')
                             WHERE last_ts + interval '30 minutes' <=
                                   (SELECT watermark FROM continuous.streams
                                    WHERE stream = 'ordered_events'::regclass)$$)
       AS closed_differences;
SELECT count(*) > 1000 AS many_closed FROM ordered_closed;

SET client_min_messages = warning;
DROP EXTENSION pg_continuous CASCADE;
DROP TABLE generated, ordered_events, shuffled_events;
