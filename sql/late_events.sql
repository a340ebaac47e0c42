--
-- What happens after a window closes.
--
-- late_events = '<table>': an event whose window had closed is late.  It
-- is counted in continuous.views.late_events, and its row goes into the
-- table, by column name, in the same transaction as the view's state.  The
-- table is created like the stream if it does not exist.
--
-- retention = '<interval>': closed windows whose end is older than the
-- watermark minus the retention are deleted from the view.  Events for
-- them stay late: a deleted window does not come back.
--
CREATE EXTENSION pg_continuous;
SET TimeZone = 'UTC';

CREATE TABLE sensor_readings (sensor text, celsius numeric, ts timestamptz NOT NULL);
SELECT continuous.create_stream('sensor_readings', event_time => 'ts',
                                watermark_delay => '30 seconds');

-- late sensor_readings are kept in a table created for them ...
CREATE VIEW per_minute
    WITH (continuous, late_events = 'late_readings') AS
    SELECT continuous.tumble(ts, '1 minute') AS minute, sensor,
           count(*) AS n, max(celsius) AS hottest
    FROM sensor_readings GROUP BY minute, sensor;
\d late_readings
-- ... or in one that exists, by column name (other columns get defaults)
CREATE TABLE late_audit (ts timestamptz, sensor text,
                         noticed timestamptz DEFAULT '2000-01-01 00:00:00+00');
CREATE VIEW recent_minutes
    WITH (continuous, late_events = 'late_audit', retention = '2 minutes') AS
    SELECT continuous.tumble(ts, '1 minute') AS minute, count(*) AS n
    FROM sensor_readings GROUP BY minute;
SELECT view, "window", late_events_table, retention
  FROM continuous.views ORDER BY view::text;

-- 12:00 and 12:01; the watermark is 12:01:00
INSERT INTO sensor_readings VALUES
    ('a', 20.5, '2026-05-01 12:00:10+00'),
    ('b', 21.0, '2026-05-01 12:00:50+00'),
    ('a', 22.5, '2026-05-01 12:01:30+00');
SELECT continuous.sync();
SELECT watermark FROM continuous.streams;
SELECT * FROM per_minute ORDER BY minute, sensor;

-- 12:00 is closed now: this reading of 12:00:40 is late, and goes to both
-- tables; the one of 12:01:20 still counts
INSERT INTO sensor_readings VALUES
    ('b', 30.0, '2026-05-01 12:00:40+00'),
    ('b', 19.0, '2026-05-01 12:01:20+00');
SELECT continuous.sync();
SELECT * FROM per_minute ORDER BY minute, sensor;
SELECT * FROM late_readings;
SELECT * FROM late_audit;
SELECT view, late_events FROM continuous.views ORDER BY view::text;

-- a rolled-back late reading is no event at all
BEGIN;
INSERT INTO sensor_readings VALUES ('c', 1.0, '2026-05-01 11:59:00+00');
ROLLBACK;
SELECT continuous.sync();
SELECT count(*) FROM late_readings;

-- the watermark moves to 12:05:30: 12:00 .. 12:02 ended more than two
-- minutes before it, and recent_minutes forgets them; per_minute keeps all
INSERT INTO sensor_readings VALUES
    ('a', 23.0, '2026-05-01 12:03:10+00'),
    ('a', 24.0, '2026-05-01 12:06:00+00');
SELECT continuous.sync();
SELECT watermark FROM continuous.streams;
SELECT * FROM recent_minutes ORDER BY minute;
SELECT count(*) AS windows FROM per_minute;
-- a reading for a forgotten window is late, not a new row
INSERT INTO sensor_readings VALUES ('a', 25.0, '2026-05-01 12:01:45+00');
SELECT continuous.sync();
SELECT * FROM recent_minutes ORDER BY minute;
SELECT ts, sensor FROM late_audit ORDER BY ts;

-- the late table is part of the view: dropping it needs CASCADE
DROP TABLE late_audit;

-- refusals
CREATE VIEW no_window WITH (continuous, late_events = 'late_readings') AS
    SELECT sensor, count(*) FROM sensor_readings GROUP BY sensor;
CREATE VIEW no_window WITH (continuous, retention = '1 hour') AS
    SELECT sensor, count(*) FROM sensor_readings GROUP BY sensor;
CREATE VIEW bad_retention
    WITH (continuous, retention = '-1 minute') AS
    SELECT continuous.tumble(ts, '1 minute') AS minute, count(*)
    FROM sensor_readings GROUP BY minute;
CREATE TABLE unrelated (x int);
CREATE VIEW bad_late WITH (continuous, late_events = 'unrelated') AS
    SELECT continuous.tumble(ts, '1 minute') AS minute, count(*)
    FROM sensor_readings GROUP BY minute;
CREATE VIEW bad_late WITH (continuous, late_events = 'per_minute') AS
    SELECT continuous.tumble(ts, '1 minute') AS minute, count(*)
    FROM sensor_readings GROUP BY minute;
-- the view's owner must be able to insert into it
CREATE ROLE regress_late_owner;
GRANT SELECT ON sensor_readings TO regress_late_owner;
GRANT CREATE ON SCHEMA public TO regress_late_owner;
SET ROLE regress_late_owner;
CREATE VIEW not_mine WITH (continuous, late_events = 'late_readings') AS
    SELECT continuous.tumble(ts, '1 minute') AS minute, count(*)
    FROM sensor_readings GROUP BY minute;
RESET ROLE;
REVOKE CREATE ON SCHEMA public FROM regress_late_owner;
REVOKE SELECT ON sensor_readings FROM regress_late_owner;
DROP ROLE regress_late_owner;

DROP TABLE late_audit CASCADE;
SELECT view FROM continuous.views ORDER BY view::text;
DROP VIEW per_minute;
DROP TABLE late_readings, unrelated;
DROP TABLE sensor_readings;
DROP EXTENSION pg_continuous;
