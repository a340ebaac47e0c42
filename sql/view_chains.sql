--
-- Views over views.  A continuous view may read an emit = 'window_close'
-- view as its stream: that view's rows are final once they appear.  The
-- reader equals its SELECT run over the view read, whose rows are exactly
-- the closed windows; its event time is the window column, and its
-- watermark follows the closed windows.
--
CREATE EXTENSION pg_continuous;
SET TimeZone = 'UTC';

CREATE TABLE clicks (ts timestamptz NOT NULL, user_id int);
SELECT continuous.create_stream('clicks', 'ts');

CREATE VIEW per_minute_closed WITH (continuous, emit = 'window_close') AS
  SELECT continuous.tumble(ts, '1 minute') AS minute, user_id, count(*) AS n
    FROM clicks GROUP BY minute, user_id;

-- 10:00:00 to 10:19:50, every 10 seconds, three users
INSERT INTO clicks
  SELECT '2026-01-01 10:00'::timestamptz + i * interval '10 seconds', i % 3
    FROM generate_series(0, 119) i;
SELECT continuous.sync();
-- the watermark is 10:19:50: minutes up to 10:18 are closed
SELECT count(*), max(minute) FROM per_minute_closed;

-- Created after the view read has closed windows: it starts from them.
CREATE VIEW per_hour WITH (continuous) AS
  SELECT continuous.tumble(minute, '1 hour') AS hour, sum(n) AS n
    FROM per_minute_closed GROUP BY hour;
SELECT * FROM per_hour;
SELECT view, stream, emit, "window" FROM continuous.views ORDER BY view::text;
-- the emission table holds the closed windows, each once
SELECT count(*), count(DISTINCT (minute, user_id))
  FROM continuous_storage.per_minute_closed_closed;

-- More events, up to 12:05; only closed minutes reach per_hour.
INSERT INTO clicks
  SELECT '2026-01-01 10:20'::timestamptz + i * interval '7 seconds', i % 5
    FROM generate_series(0, 1628) i;
SELECT continuous.sync();
SELECT * FROM per_hour ORDER BY hour;
-- the oracle: the view equals its SELECT over the view it reads
(SELECT * FROM per_hour EXCEPT ALL
 SELECT continuous.tumble(minute, '1 hour'), sum(n) FROM per_minute_closed GROUP BY 1)
UNION ALL
(SELECT continuous.tumble(minute, '1 hour'), sum(n) FROM per_minute_closed GROUP BY 1
 EXCEPT ALL SELECT * FROM per_hour);
SELECT count(*) = count(DISTINCT (minute, user_id)) AS each_once,
       count(*) = (SELECT count(*) FROM per_minute_closed) AS all_closed
  FROM continuous_storage.per_minute_closed_closed;

-- Three views: minutes -> hours (closed) -> days.
CREATE VIEW per_hour_closed WITH (continuous, emit = 'window_close') AS
  SELECT continuous.tumble(minute, '1 hour') AS hour, user_id, sum(n) AS n,
         max(n) AS busiest_minute
    FROM per_minute_closed GROUP BY hour, user_id;
CREATE VIEW per_day WITH (continuous) AS
  SELECT continuous.tumble(hour, '1 day') AS day, sum(n) AS n, max(busiest_minute) AS busiest
    FROM per_hour_closed GROUP BY day;
-- 12:05 to 13:10 and a jump to the next day, which closes the hours
INSERT INTO clicks
  SELECT '2026-01-01 12:05'::timestamptz + i * interval '13 seconds', i % 4
    FROM generate_series(0, 300) i;
INSERT INTO clicks VALUES ('2026-01-02 08:00', 1), ('2026-01-02 08:30', 2);
SELECT continuous.sync();
SELECT * FROM per_hour_closed ORDER BY hour, user_id;
SELECT * FROM per_day;
(SELECT * FROM per_day EXCEPT ALL
 SELECT continuous.tumble(hour, '1 day'), sum(n), max(busiest_minute) FROM per_hour_closed GROUP BY 1)
UNION ALL
(SELECT continuous.tumble(hour, '1 day'), sum(n), max(busiest_minute) FROM per_hour_closed GROUP BY 1
 EXCEPT ALL SELECT * FROM per_day);
-- what the chain reads
SELECT view, stream FROM continuous.views ORDER BY view::text;

-- Refusals.  An emit = 'changes' view: its rows change.
CREATE VIEW per_minute WITH (continuous) AS
  SELECT continuous.tumble(ts, '1 minute') AS minute, count(*) AS n
    FROM clicks GROUP BY minute;
CREATE VIEW over_changes WITH (continuous) AS
  SELECT continuous.tumble(minute, '1 hour') AS hour, sum(n) FROM per_minute GROUP BY hour;
-- an ordinary view
CREATE VIEW plain AS SELECT * FROM clicks;
CREATE VIEW over_plain WITH (continuous) AS SELECT count(*) FROM plain;
-- session windows close at no fixed time after they start
CREATE VIEW sessions_closed WITH (continuous, emit = 'window_close') AS
  SELECT user_id, continuous.session(ts, '30 minutes') AS session_start, count(*) AS n
    FROM clicks GROUP BY user_id, session_start;
CREATE VIEW over_sessions WITH (continuous) AS
  SELECT count(*) FROM sessions_closed;
-- a view read must show its window: it is the reader's event time
CREATE VIEW no_window_shown WITH (continuous, emit = 'window_close') AS
  SELECT user_id, count(*) AS n FROM clicks
   GROUP BY continuous.tumble(ts, '1 minute'), user_id;
CREATE VIEW over_no_window WITH (continuous) AS
  SELECT user_id, sum(n) FROM no_window_shown GROUP BY user_id;
DROP VIEW per_minute, plain, sessions_closed, no_window_shown;
-- a role that may not read the view cannot read its closed windows either
CREATE ROLE regress_chain_reader;
GRANT CREATE ON SCHEMA public TO regress_chain_reader;
SET ROLE regress_chain_reader;
CREATE VIEW not_mine WITH (continuous) AS
  SELECT continuous.tumble(minute, '1 hour') AS hour, sum(n) FROM per_minute_closed GROUP BY hour;
RESET ROLE;
REVOKE CREATE ON SCHEMA public FROM regress_chain_reader;
DROP ROLE regress_chain_reader;

-- A reader may join tables, or be a transform (no aggregates).
CREATE TABLE users (id int PRIMARY KEY, team text);
INSERT INTO users VALUES (0, 'red'), (1, 'blue'), (2, 'red');
CREATE VIEW per_team WITH (continuous) AS
  SELECT u.team, continuous.tumble(m.minute, '1 hour') AS hour, sum(m.n) AS n
    FROM per_minute_closed m JOIN users u ON u.id = m.user_id GROUP BY u.team, hour;
CREATE VIEW busy_minutes WITH (continuous) AS
  SELECT minute, user_id, n FROM per_minute_closed WHERE n > 1;
INSERT INTO clicks VALUES ('2026-01-02 08:40', 0), ('2026-01-02 08:50', 1);
SELECT continuous.sync();
(SELECT * FROM per_team EXCEPT ALL
 SELECT u.team, continuous.tumble(m.minute, '1 hour'), sum(m.n)
   FROM per_minute_closed m JOIN users u ON u.id = m.user_id GROUP BY 1, 2)
UNION ALL
(SELECT u.team, continuous.tumble(m.minute, '1 hour'), sum(m.n)
   FROM per_minute_closed m JOIN users u ON u.id = m.user_id GROUP BY 1, 2
 EXCEPT ALL SELECT * FROM per_team);
SELECT count(*) > 0 AS some,
       (SELECT count(*) FROM per_minute_closed WHERE n > 1) = count(*) AS all_of_them
  FROM busy_minutes;
SELECT view, stream, kind FROM continuous.views
 WHERE view IN ('per_team'::regclass, 'busy_minutes'::regclass) ORDER BY view::text;
DROP VIEW per_team, busy_minutes;
DROP TABLE users;

-- The view read cannot be dropped under its readers, nor its emission
-- table at all.
DROP VIEW per_minute_closed;
DROP TABLE continuous_storage.per_minute_closed_closed;
-- (the DROP locked the view's storage: it was held back, and catches up
-- here, before the next events, which it would otherwise judge late)
SELECT continuous.sync();

-- Renames keep the chain working: the view read, and its columns.
ALTER VIEW per_minute_closed RENAME TO minutes;
ALTER VIEW minutes RENAME COLUMN minute TO m;
ALTER VIEW minutes RENAME COLUMN n TO clicks;
INSERT INTO clicks VALUES ('2026-01-02 09:00', 1), ('2026-01-02 10:00', 2);
SELECT continuous.sync();
SELECT * FROM per_hour WHERE hour >= '2026-01-02' ORDER BY hour;
SELECT * FROM per_hour_closed WHERE hour >= '2026-01-02' ORDER BY hour, user_id;
(SELECT * FROM per_hour EXCEPT ALL
 SELECT continuous.tumble(m, '1 hour'), sum(clicks) FROM minutes GROUP BY 1)
UNION ALL
(SELECT continuous.tumble(m, '1 hour'), sum(clicks) FROM minutes GROUP BY 1
 EXCEPT ALL SELECT * FROM per_hour);

-- CASCADE drops the chain, emission table and catalog rows included.
DROP VIEW minutes CASCADE;
SELECT count(*) FROM continuous.views;
SELECT count(*) FROM continuous.view_emissions;
SELECT count(*) FROM continuous.stream_catalog;
SELECT count(*) FROM pg_class WHERE relnamespace = 'continuous_storage'::regnamespace;

-- Hopping windows as the view read, with allowed_lateness: a late event
-- inside the lateness changes its window before the window closes, and
-- the reader sees only the final row.
CREATE TABLE readings (ts timestamptz NOT NULL, sensor int, value int);
SELECT continuous.create_stream('readings', 'ts');
CREATE VIEW hop_closed WITH (continuous, emit = 'window_close', allowed_lateness = '5 minutes') AS
  SELECT w.window_start, sensor, count(*) AS n, sum(value) AS total
    FROM readings CROSS JOIN LATERAL continuous.hop(ts, '10 minutes', '5 minutes') AS w
   GROUP BY w.window_start, sensor;
CREATE VIEW hop_hourly WITH (continuous) AS
  SELECT continuous.tumble(window_start, '1 hour') AS hour, sensor,
         count(*) AS windows, sum(n) AS n, sum(total) AS total
    FROM hop_closed GROUP BY hour, sensor;
-- Retention on a view read deletes its old windows, not what its readers
-- counted.
CREATE VIEW minutes_kept WITH (continuous, emit = 'window_close', allowed_lateness = '5 minutes',
                               retention = '20 minutes') AS
  SELECT continuous.tumble(ts, '1 minute') AS minute, count(*) AS n
    FROM readings GROUP BY minute;
CREATE VIEW kept_hourly WITH (continuous) AS
  SELECT continuous.tumble(minute, '1 hour') AS hour, sum(n) AS n
    FROM minutes_kept GROUP BY hour;
INSERT INTO readings VALUES ('2026-02-01 09:01', 1, 10), ('2026-02-01 09:12', 1, 20);
SELECT continuous.sync();
-- watermark 09:12: the window starting 08:55 closed (09:05 + 5 minutes),
-- the one starting 09:00 (until 09:10) is within its lateness
SELECT * FROM hop_closed ORDER BY window_start;
SELECT * FROM hop_hourly ORDER BY hour;
-- late, but within the lateness: counts in the 09:00 window
INSERT INTO readings VALUES ('2026-02-01 09:09', 1, 5);
INSERT INTO readings VALUES ('2026-02-01 09:16', 1, 1);
SELECT continuous.sync();
SELECT * FROM hop_closed ORDER BY window_start;
SELECT * FROM hop_hourly ORDER BY hour;
-- the 09:00 window was emitted once, final
SELECT window_start, n, total FROM continuous_storage.hop_closed_closed ORDER BY window_start;

-- Many events, three sensors, in event-time order with some disorder
-- inside the lateness: the reader equals its SELECT over the view read.
INSERT INTO readings
  SELECT '2026-02-01 12:00'::timestamptz + i * interval '3 seconds'
           - (i % 7) * interval '20 seconds',
         i % 3, i % 11
    FROM generate_series(0, 5000) i;
SELECT continuous.sync();
SELECT count(*) FROM hop_closed;
SELECT count(*) FROM hop_hourly;
(SELECT * FROM hop_hourly EXCEPT ALL
 SELECT continuous.tumble(window_start, '1 hour'), sensor, count(*), sum(n), sum(total)
   FROM hop_closed GROUP BY 1, 2)
UNION ALL
(SELECT continuous.tumble(window_start, '1 hour'), sensor, count(*), sum(n), sum(total)
   FROM hop_closed GROUP BY 1, 2
 EXCEPT ALL SELECT * FROM hop_hourly);
-- the emission table has every closed window once, as the view shows it
SELECT count(*) = count(DISTINCT (window_start, sensor))
  FROM continuous_storage.hop_closed_closed;
(SELECT * FROM hop_closed EXCEPT ALL
 SELECT * FROM continuous_storage.hop_closed_closed)
UNION ALL
(SELECT * FROM continuous_storage.hop_closed_closed EXCEPT ALL
 SELECT * FROM hop_closed);

-- retention kept the last 20 minutes of minutes_kept; kept_hourly has
-- every closed minute's events
SELECT count(*) <= 22 AS retained FROM minutes_kept;
(SELECT * FROM kept_hourly EXCEPT ALL
 SELECT continuous.tumble(ts, '1 hour'), count(*) FROM readings
  WHERE continuous.tumble(ts, '1 minute') + interval '6 minutes'
        <= continuous._watermark('readings')
  GROUP BY 1)
UNION ALL
(SELECT continuous.tumble(ts, '1 hour'), count(*) FROM readings
  WHERE continuous.tumble(ts, '1 minute') + interval '6 minutes'
        <= continuous._watermark('readings')
  GROUP BY 1
 EXCEPT ALL SELECT * FROM kept_hourly);
SELECT * FROM kept_hourly ORDER BY hour;

DROP VIEW hop_closed, minutes_kept CASCADE;
DROP EXTENSION pg_continuous;
DROP TABLE clicks, readings;
