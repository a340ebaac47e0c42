--
-- Errors a user can act on: the commands users of other systems type
-- first, and options with wrong values, answer with what to write instead.
--
CREATE EXTENSION pg_continuous;

CREATE TABLE clicks (user_id int, url text, ts timestamptz NOT NULL);
SELECT continuous.create_stream('clicks', event_time => 'ts');

-- PipelineDB's CREATE CONTINUOUS VIEW cannot parse; the hint shows the form
CREATE CONTINUOUS VIEW clicks_per_user AS
    SELECT user_id, count(*) FROM clicks GROUP BY user_id;
create or replace continuous   view public."Clicks Per User" as select 1;
DO $$ BEGIN EXECUTE 'CREATE CONTINUOUS VIEW from_plpgsql AS SELECT 1'; END $$;
-- other syntax errors keep PostgreSQL's message alone
CREATE CONTINUOUS TABLE t (a int);
SELECT continuous view FROM clicks;

-- TimescaleDB's continuous aggregate
CREATE MATERIALIZED VIEW clicks_per_user WITH (continuous) AS
    SELECT user_id, count(*) FROM clicks GROUP BY user_id;
CREATE MATERIALIZED VIEW app_clicks WITH (timescaledb.continuous) AS
    SELECT user_id, count(*) FROM clicks GROUP BY user_id;
-- other materialized views are left alone
CREATE MATERIALIZED VIEW plain_counts WITH (fillfactor = 50) AS
    SELECT user_id, count(*) FROM clicks GROUP BY user_id;
DROP MATERIALIZED VIEW plain_counts;

-- option errors name the option and say what it takes
CREATE VIEW v WITH (continuous = 'maybe') AS SELECT count(*) FROM clicks;
CREATE VIEW v WITH (continuous, emit = 'never') AS SELECT count(*) FROM clicks;
CREATE VIEW v WITH (continuous, allowed_lateness = 'soon') AS
    SELECT continuous.tumble(ts, '1 minute') AS minute, count(*) FROM clicks GROUP BY minute;
CREATE VIEW v WITH (continuous, retention = '-1 hour') AS
    SELECT continuous.tumble(ts, '1 minute') AS minute, count(*) FROM clicks GROUP BY minute;
CREATE VIEW v WITH (continuous, late_events = 'late''s "t"') AS
    SELECT continuous.tumble(ts, '1 minute') AS minute, count(*) FROM clicks GROUP BY minute;
CREATE VIEW v WITH (continuous, late_events = '') AS
    SELECT continuous.tumble(ts, '1 minute') AS minute, count(*) FROM clicks GROUP BY minute;
CREATE VIEW v WITH (continuous, late_events = 'a.b.c.d') AS
    SELECT continuous.tumble(ts, '1 minute') AS minute, count(*) FROM clicks GROUP BY minute;
CREATE VIEW v WITH (continuous, late_events = 'no_such_schema.late') AS
    SELECT continuous.tumble(ts, '1 minute') AS minute, count(*) FROM clicks GROUP BY minute;
CREATE VIEW v WITH (continuous, emitt = 'changes') AS SELECT count(*) FROM clicks;
-- a quoted name is fine
CREATE VIEW v WITH (continuous, late_events = '"Late Clicks"') AS
    SELECT continuous.tumble(ts, '1 minute') AS minute, count(*) FROM clicks GROUP BY minute;
SELECT to_regclass('"Late Clicks"') IS NOT NULL AS late_table_created;
DROP VIEW v;
DROP TABLE "Late Clicks";

-- create_stream()'s arguments
CREATE TABLE events (id int, at timestamptz);
SELECT continuous.create_stream(NULL);
SELECT continuous.create_stream('events', event_time => 'happened_at');
SELECT continuous.create_stream('events', event_time => 'ctid');
SELECT continuous.create_stream('events', event_time => 'id');
SELECT continuous.create_stream('events', event_time => 'at', watermark_delay => '-5 seconds');
SELECT continuous.create_stream('events', watermark_delay => '5 seconds');
SELECT continuous.create_stream('events', event_time => 'at', watermark_delay => NULL);
DROP TABLE events;

DROP EXTENSION pg_continuous CASCADE;
DROP TABLE clicks;
