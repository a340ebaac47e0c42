--
-- DDL on stream tables while their continuous views run.  Each change is
-- followed, and every view stays equal to its SELECT run as batch SQL, or
-- it is refused with an error that says what to do instead.  Also: events
-- without an event time, and events dated far ahead of the clock.
-- (test/t/020_stream_ddl.pl renames the event-time column across a kill -9
-- of the worker.)
--
CREATE EXTENSION pg_continuous;
SET TimeZone = 'UTC';
\getenv abs_srcdir PG_ABS_SRCDIR
\set differences :abs_srcdir '/sql/include/differences.psql'
\i :differences

CREATE TABLE clicks (user_id int, url text, ts timestamptz);
SELECT continuous.create_stream('clicks', event_time => 'ts');
CREATE VIEW clicks_per_user WITH (continuous) AS
    SELECT user_id, count(*) AS n, max(url) AS last_url FROM clicks GROUP BY user_id;
CREATE VIEW clicks_per_minute WITH (continuous) AS
    SELECT continuous.tumble(ts, '1 minute') AS minute, count(*) AS n
    FROM clicks GROUP BY minute;
CREATE VIEW closed_minutes WITH (continuous, emit = 'window_close') AS
    SELECT continuous.tumble(ts, '1 minute') AS minute, count(*) AS n
    FROM clicks GROUP BY minute;

INSERT INTO clicks VALUES (1, '/a', '2026-05-01 12:00:10+00'),
                          (2, '/b', '2026-05-01 12:00:50+00'),
                          (1, '/c', '2026-05-01 12:01:30+00');
SELECT continuous.sync();
SELECT watermark FROM continuous.streams;

--
-- An event without event time counts in the views without a window, as in
-- their SELECT; the views with a window cannot place it, and each makes it
-- a dead letter of its own.  The watermark does not move.
--
INSERT INTO clicks VALUES (3, '/d', NULL);
SELECT continuous.sync();
SELECT * FROM clicks_per_user ORDER BY user_id;
SELECT pg_temp.differences('SELECT * FROM clicks_per_user',
                           'SELECT user_id, count(*), max(url) FROM clicks GROUP BY user_id');
SELECT * FROM clicks_per_minute ORDER BY minute;
SELECT view, payload, error FROM continuous.dead_letters ORDER BY view::text;
SELECT watermark FROM continuous.streams;
SELECT view, events, errors FROM continuous.views ORDER BY view::text;

--
-- An event dated further ahead of the clock than the stream's max_future
-- (1 day unless create_stream says otherwise) is a dead letter of the
-- stream: no view counts it, and the watermark does not jump to 2099.
--
INSERT INTO clicks VALUES (4, '/e', '2099-01-01 00:00:00+00'),
                          (4, '/f', '2026-05-01 12:02:10+00');
SELECT continuous.sync();
SELECT view, (payload::clicks).url,
       error ~ '^event time 2099-01-01 .* is ahead of the clock by \d+ days' AS ahead
  FROM continuous.dead_letters WHERE view IS NULL;
SELECT watermark FROM continuous.streams;
SELECT * FROM closed_minutes ORDER BY minute;
SELECT * FROM clicks_per_user ORDER BY user_id;

-- max_future is an interval, not negative; a long one lets such events in
CREATE TABLE forecasts (city text, ts timestamptz NOT NULL);
SELECT continuous.create_stream('forecasts', event_time => 'ts', max_future => NULL);
SELECT continuous.create_stream('forecasts', event_time => 'ts', max_future => '-1 hour');
SELECT continuous.create_stream('forecasts', event_time => 'ts', max_future => '100 years');
SELECT stream::regclass, max_future FROM continuous.stream_catalog ORDER BY stream::regclass::text;
CREATE VIEW forecasts_per_city WITH (continuous) AS
    SELECT city, count(*) AS n FROM forecasts GROUP BY city;
INSERT INTO forecasts VALUES ('Oslo', '2099-01-01 00:00:00+00');
SELECT continuous.sync();
SELECT * FROM forecasts_per_city;
SELECT stream, watermark FROM continuous.streams WHERE stream = 'forecasts'::regclass;

--
-- Renaming the event-time column: the catalog follows, so the worker finds
-- the column when it reads its definitions again (here because a view is
-- created; after a restart too, see 020_stream_ddl.pl) and the watermark
-- goes on closing windows.
--
ALTER TABLE clicks RENAME COLUMN ts TO clicked_at;
SELECT stream, event_time FROM continuous.streams WHERE stream = 'clicks'::regclass;
CREATE VIEW clicks_total WITH (continuous, backfill = false) AS SELECT count(*) AS n FROM clicks;
INSERT INTO clicks VALUES (1, '/g', '2026-05-01 12:03:10+00');
SELECT continuous.sync();
SELECT watermark FROM continuous.streams WHERE stream = 'clicks'::regclass;
SELECT * FROM closed_minutes ORDER BY minute;
-- a rename that is rolled back leaves the catalog as it was
BEGIN;
ALTER TABLE clicks RENAME COLUMN clicked_at TO at;
ROLLBACK;
SELECT stream, event_time FROM continuous.streams WHERE stream = 'clicks'::regclass;

--
-- Dropping the event-time column is refused while the table is a stream,
-- even when no view reads the column, and even with CASCADE.
--
CREATE TABLE pings (host text, ts timestamptz NOT NULL);
SELECT continuous.create_stream('pings', event_time => 'ts');
CREATE VIEW pings_per_host WITH (continuous) AS
    SELECT host, count(*) AS n FROM pings GROUP BY host;
ALTER TABLE pings DROP COLUMN ts;
ALTER TABLE clicks DROP COLUMN clicked_at;
ALTER TABLE clicks DROP COLUMN clicked_at CASCADE;
SELECT view FROM continuous.views ORDER BY view::text;

--
-- Changing the type of a column a continuous view reads is refused as for
-- ordinary views; so is changing the event-time column's type (not its
-- precision).
--
ALTER TABLE clicks ALTER COLUMN url TYPE varchar(100);
ALTER TABLE clicks ALTER COLUMN clicked_at TYPE timestamp;
ALTER TABLE pings ALTER COLUMN ts TYPE timestamp;
ALTER TABLE pings ALTER COLUMN ts TYPE timestamptz(3);
ALTER TABLE pings ALTER COLUMN host TYPE varchar(100);

--
-- Logical decoding does not see unlogged tables.
--
ALTER TABLE clicks SET UNLOGGED;
ALTER TABLE pings SET UNLOGGED;
SELECT relpersistence FROM pg_class WHERE oid = 'pings'::regclass;
CREATE UNLOGGED TABLE scratch (n int);
SELECT continuous.create_stream('scratch');

--
-- Inheritance children: a SELECT over a table reads their rows, but the
-- decoder sees them as rows of the child.  A stream gets none, and a table
-- with children does not become a stream.  A stream may be a child itself,
-- and a partition (of a table that is no stream: partitioned streams are
-- in partitioned_streams.sql).
--
CREATE TABLE clicks_archive () INHERITS (clicks);
CREATE TABLE more_clicks (LIKE clicks);
ALTER TABLE more_clicks INHERIT clicks;
CREATE TABLE events (n int, ts timestamptz);
CREATE TABLE app_events () INHERITS (events);
SELECT continuous.create_stream('events');
SELECT continuous.create_stream('app_events', event_time => 'ts');
CREATE TABLE debug_events () INHERITS (app_events);
CREATE VIEW app_events_per_n WITH (continuous) AS
    SELECT n, count(*) AS c FROM app_events GROUP BY n;
-- DDL on the parent reaches the stream too
ALTER TABLE events ALTER COLUMN n TYPE bigint;
ALTER TABLE events DROP COLUMN ts;
ALTER TABLE events RENAME COLUMN ts TO happened_at;
SELECT stream, event_time FROM continuous.streams WHERE stream = 'app_events'::regclass;
-- a partition is a stream of its own rows, wherever they were inserted
CREATE TABLE visits (day date, n int) PARTITION BY RANGE (day);
CREATE TABLE visits_may PARTITION OF visits FOR VALUES FROM ('2026-05-01') TO ('2026-06-01');
SELECT continuous.create_stream('visits_may');
CREATE VIEW visits_per_day WITH (continuous) AS
    SELECT day, sum(n) AS n FROM visits_may GROUP BY day;
CREATE TABLE visits_june (LIKE visits);
SELECT continuous.create_stream('visits_june');
ALTER TABLE visits ATTACH PARTITION visits_june FOR VALUES FROM ('2026-06-01') TO ('2026-07-01');
INSERT INTO visits VALUES ('2026-05-01', 3), ('2026-05-02', 4);
INSERT INTO visits_may VALUES ('2026-05-01', 5);
SELECT continuous.sync();
SELECT * FROM visits_per_day ORDER BY day;

--
-- Late events must not become events: a late-events table is no stream.
--
CREATE VIEW v WITH (continuous, late_events = 'clicks') AS
    SELECT continuous.tumble(clicked_at, '1 minute') AS minute, count(*) AS n
    FROM clicks GROUP BY minute;
CREATE VIEW v WITH (continuous, late_events = 'pings') AS
    SELECT continuous.tumble(clicked_at, '1 minute') AS minute, count(*) AS n
    FROM clicks GROUP BY minute;
CREATE TABLE late_web_clicks (user_id int, url text, clicked_at timestamptz)
    PARTITION BY LIST (user_id);
CREATE TABLE late_web_clicks_1 PARTITION OF late_web_clicks FOR VALUES IN (1);
CREATE TABLE late_web_clicks_other PARTITION OF late_web_clicks DEFAULT;
SELECT continuous.create_stream('late_web_clicks_1');
CREATE VIEW v WITH (continuous, late_events = 'late_web_clicks') AS
    SELECT continuous.tumble(clicked_at, '1 minute') AS minute, count(*) AS n
    FROM clicks GROUP BY minute;
SELECT continuous.drop_stream('late_web_clicks_1');
CREATE VIEW late_minutes WITH (continuous, late_events = 'late_web_clicks') AS
    SELECT continuous.tumble(clicked_at, '1 minute') AS minute, count(*) AS n
    FROM clicks GROUP BY minute;
-- and a table that receives late events does not become a stream
SELECT continuous.create_stream('late_web_clicks_other');
SELECT continuous.create_stream('late_web_clicks_1');
CREATE TABLE late_web_clicks_2 (LIKE late_web_clicks);
SELECT continuous.create_stream('late_web_clicks_2');
ALTER TABLE late_web_clicks ATTACH PARTITION late_web_clicks_2 FOR VALUES IN (2);

--
-- Other DDL keeps every view exact: a column added and one dropped in the
-- middle of a transaction's rows, and the table renamed.
--
BEGIN;
INSERT INTO clicks VALUES (5, '/h', '2026-05-01 12:03:20+00');
ALTER TABLE clicks ADD COLUMN referrer text;
INSERT INTO clicks VALUES (5, '/i', '2026-05-01 12:03:30+00', 'search');
ALTER TABLE clicks ADD COLUMN note text DEFAULT 'none';
INSERT INTO clicks VALUES (6, '/j', '2026-05-01 12:03:40+00', 'mail', 'x');
ALTER TABLE clicks DROP COLUMN referrer;
INSERT INTO clicks VALUES (6, '/k', '2026-05-01 12:03:50+00', 'y');
COMMIT;
ALTER TABLE clicks RENAME TO web_clicks;
INSERT INTO web_clicks VALUES (7, '/l', '2026-05-01 12:04:10+00'), (1, '/m', NULL);
SELECT continuous.sync();
SELECT pg_temp.differences('SELECT * FROM clicks_per_user',
                           'SELECT user_id, count(*), max(url) FROM web_clicks
                             WHERE clicked_at IS NULL OR clicked_at < ''2027-01-01''
                             GROUP BY user_id') AS per_user,
       pg_temp.differences('SELECT * FROM clicks_per_minute',
                           'SELECT continuous.tumble(clicked_at, ''1 minute''), count(*)
                              FROM web_clicks WHERE clicked_at < ''2027-01-01''
                             GROUP BY 1') AS per_minute,
       pg_temp.differences('SELECT * FROM clicks_total',
                           'SELECT count(*) FROM web_clicks
                             WHERE url NOT IN (''/a'', ''/b'', ''/c'', ''/d'', ''/e'', ''/f'')') AS total;
SELECT * FROM clicks_per_user ORDER BY user_id;
SELECT stream, event_time, watermark FROM continuous.streams
 WHERE stream = 'web_clicks'::regclass;

DROP EXTENSION pg_continuous CASCADE;
DROP TABLE web_clicks, forecasts, pings, scratch, more_clicks, events, app_events, visits,
    late_web_clicks, late_web_clicks_2;
