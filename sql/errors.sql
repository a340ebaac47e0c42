--
-- Errors a user can act on: the commands users of other systems type
-- first answer with what to write instead.
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

DROP EXTENSION pg_continuous CASCADE;
DROP TABLE clicks;
