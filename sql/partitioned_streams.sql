--
-- Partitioned tables as streams.  The rows inserted through the parent or
-- straight into any partition, at any depth, including partitions created
-- or attached after the views, are the stream's events: every view equals
-- its SELECT over the parent run as batch SQL.  Rows a table holds when it
-- is attached are not events; detaching or dropping a partition leaves
-- the views' counts alone.  UPDATE (also one that moves a row to another
-- partition), DELETE and TRUNCATE are ignored changes.  And the DDL that
-- would break this is refused.
-- (test/t/024_partitioned_streams.pl: concurrent writers, partitions
-- attached and detached while they write, restarts and kill -9.)
--
CREATE EXTENSION pg_continuous;
SET TimeZone = 'UTC';
\getenv abs_srcdir PG_ABS_SRCDIR
\set differences :abs_srcdir '/sql/include/differences.psql'
\i :differences

-- June's columns are in another order, behind a dropped one of its own
CREATE TABLE readings (sensor int, celsius numeric, ts timestamptz NOT NULL)
    PARTITION BY RANGE (ts);
CREATE TABLE readings_may PARTITION OF readings
    FOR VALUES FROM ('2026-05-01') TO ('2026-06-01');
CREATE TABLE readings_june (ts timestamptz NOT NULL, obsolete int, celsius numeric, sensor int);
ALTER TABLE readings_june DROP COLUMN obsolete;
ALTER TABLE readings ATTACH PARTITION readings_june
    FOR VALUES FROM ('2026-06-01') TO ('2026-07-01');
CREATE TABLE readings_other PARTITION OF readings DEFAULT;
SELECT continuous.create_stream('readings', event_time => 'ts',
                                watermark_delay => '1 hour');
CREATE VIEW per_sensor WITH (continuous) AS
    SELECT sensor, count(*) AS n, sum(celsius) AS total FROM readings GROUP BY sensor;
CREATE VIEW per_day WITH (continuous) AS
    SELECT continuous.tumble(ts, '1 day') AS day, count(*) AS n, max(celsius) AS hottest
      FROM readings GROUP BY day;
CREATE VIEW closed_days
    WITH (continuous, emit = 'window_close', late_events = 'late_readings') AS
    SELECT continuous.tumble(ts, '1 day') AS day, count(*) AS n
      FROM readings GROUP BY day;
CREATE VIEW every_2 WITH (continuous) AS
    SELECT sensor, continuous.count_window(2) AS run, min(celsius), max(celsius)
      FROM readings GROUP BY sensor, run;
SELECT stream, kind, event_time FROM continuous.streams;
SELECT view, stream, status FROM continuous.views ORDER BY view;

--
-- Through the parent, several partitions in one statement; straight into
-- partitions; a rollback.
--
INSERT INTO readings VALUES (1, 20.0, '2026-05-01 10:00+00'),
                            (1, 21.0, '2026-06-01 10:00+00'),
                            (2, 5.0, '2026-04-30 23:00+00'),
                            (1, 22.0, '2026-05-01 11:00+00');
INSERT INTO readings_june VALUES ('2026-06-01 11:00+00', 25.0, 2);
INSERT INTO readings_may (sensor, celsius, ts) VALUES (2, 6.0, '2026-05-01 12:00+00');
BEGIN;
INSERT INTO readings VALUES (3, 99.0, '2026-05-01 12:00+00');
ROLLBACK;
SELECT continuous.sync();
SELECT * FROM per_sensor ORDER BY sensor;
SELECT * FROM per_day ORDER BY day;
SELECT * FROM closed_days ORDER BY day;
SELECT pg_temp.differences('SELECT * FROM per_sensor',
                           'SELECT sensor, count(*), sum(celsius) FROM readings GROUP BY sensor') AS per_sensor,
       pg_temp.differences('SELECT * FROM per_day',
                           'SELECT continuous.tumble(ts, ''1 day''), count(*), max(celsius)
                              FROM readings GROUP BY 1') AS per_day;
-- count windows number a transaction's rows in the order they were
-- written, across partitions: 20 (May), 21 (June), then 22 (May)
SELECT * FROM every_2 ORDER BY sensor, run;
-- COPY into a partitioned table writes its rows in batches per partition:
-- the rows of one COPY are numbered partition by partition
COPY readings FROM STDIN;
4	40.0	2026-05-02 00:00:00+00
4	41.0	2026-06-02 00:00:00+00
4	42.0	2026-05-02 01:00:00+00
4	43.0	2026-06-02 01:00:00+00
\.
SELECT continuous.sync();
SELECT * FROM every_2 WHERE sensor = 4 ORDER BY run;

--
-- Partitions created and attached later, at any depth.  Rows a table
-- holds when it is attached are not events (celsius 70 and above here);
-- rows inserted after, in the attaching transaction too, are.
--
CREATE TABLE readings_july PARTITION OF readings
    FOR VALUES FROM ('2026-07-01') TO ('2026-08-01') PARTITION BY LIST (sensor);
CREATE TABLE readings_july_1 PARTITION OF readings_july FOR VALUES IN (1);
CREATE TABLE readings_july_rest (LIKE readings);
INSERT INTO readings_july_rest VALUES (7, 70.0, '2026-07-02 00:00+00');
ALTER TABLE readings_july ATTACH PARTITION readings_july_rest FOR VALUES IN (2, 7);
INSERT INTO readings VALUES (1, 30.0, '2026-07-01 09:00+00'),
                            (2, 31.0, '2026-07-01 10:00+00');
BEGIN;
CREATE TABLE readings_august (celsius numeric, sensor int, ts timestamptz NOT NULL);
INSERT INTO readings_august VALUES (80.0, 8, '2026-08-01 00:00+00');
ALTER TABLE readings ATTACH PARTITION readings_august
    FOR VALUES FROM ('2026-08-01') TO ('2026-09-01');
INSERT INTO readings_august VALUES (32.0, 2, '2026-08-01 01:00+00');
INSERT INTO readings VALUES (1, 33.0, '2026-08-01 02:00+00');
COMMIT;
SELECT continuous.sync();
-- a column added in the middle of a transaction's rows
BEGIN;
INSERT INTO readings VALUES (5, 34.0, '2026-08-01 03:00+00');
ALTER TABLE readings ADD COLUMN note text;
INSERT INTO readings VALUES (5, 35.0, '2026-08-01 04:00+00', 'after the new column');
INSERT INTO readings_june (sensor, ts, celsius, note) VALUES (5, '2026-06-03 01:00+00', 36.0, 'june');
COMMIT;
SELECT continuous.sync();
SELECT * FROM per_sensor ORDER BY sensor;

--
-- Late events and dead letters, as for any stream.  The two rows of the
-- COPY dated 2026-05-02, and June's row above, came after the watermark
-- had closed their days: late for the windowed views (their rows are in
-- late_readings), and counted in per_sensor.  An event dated 2099 is a
-- dead letter of the stream, and counts nowhere.
--
SELECT watermark FROM continuous.streams;
INSERT INTO readings VALUES (6, 1.0, '2026-06-03 02:00+00'), (6, 2.0, '2099-01-01 00:00+00');
SELECT continuous.sync();
SELECT view, late_events FROM continuous.views ORDER BY view;
SELECT sensor, celsius, ts FROM late_readings ORDER BY ts;
SELECT stream, view,
       error ~ '^event time 2099-01-01 .* is ahead of the clock by \d+ days' AS ahead
  FROM continuous.dead_letters;
SELECT pg_temp.differences('SELECT * FROM per_sensor',
                           'SELECT sensor, count(*), sum(celsius) FROM readings
                             WHERE celsius < 70 AND ts < ''2099-01-01''
                             GROUP BY sensor') AS per_sensor,
       pg_temp.differences('SELECT * FROM per_day',
                           'SELECT continuous.tumble(ts, ''1 day''), count(*), max(celsius)
                              FROM readings
                             WHERE celsius < 70 AND ts < ''2099-01-01''
                               AND (sensor, celsius, ts) NOT IN
                                   (SELECT sensor, celsius, ts FROM late_readings)
                             GROUP BY 1') AS per_day;

--
-- UPDATE and DELETE change no view, not even an UPDATE that moves a row
-- to another partition (its DELETE and INSERT are one ignored change);
-- nor does TRUNCATE, of a partition or of the parent (one change each).
--
SELECT events, ignored_changes FROM continuous.streams;
UPDATE readings SET ts = '2026-05-15 00:00+00'
 WHERE sensor = 2 AND ts = '2026-06-01 11:00+00';
UPDATE readings SET celsius = celsius + 1 WHERE sensor = 1;
DELETE FROM readings_july_1;
TRUNCATE readings_august;
SELECT continuous.sync();
SELECT events, ignored_changes FROM continuous.streams;
SELECT * FROM per_sensor ORDER BY sensor;

--
-- Detaching and dropping partitions (retention by dropping old ones):
-- the views keep their counts, and rows written into a detached table
-- are no events any more.
--
ALTER TABLE readings DETACH PARTITION readings_may;
INSERT INTO readings_may VALUES (9, 90.0, '2026-05-20 00:00+00');
DROP TABLE readings_june;
ALTER TABLE readings_july DETACH PARTITION readings_july_1 CONCURRENTLY;
INSERT INTO readings_july_1 VALUES (1, 91.0, '2026-07-20 00:00+00');
SELECT continuous.sync();
SELECT * FROM per_sensor ORDER BY sensor;
SELECT events, ignored_changes FROM continuous.streams;
-- a detached partition can be a stream of its own
SELECT continuous.create_stream('readings_may');
TRUNCATE readings;
SELECT continuous.sync();
SELECT events, ignored_changes FROM continuous.streams WHERE stream = 'readings'::regclass;
SELECT * FROM per_sensor ORDER BY sensor;

--
-- What is refused.  A partition of a stream is no stream, and a stream is
-- no partition of one: a row would be an event of both.
--
SELECT continuous.create_stream('readings_other');
ALTER TABLE readings ATTACH PARTITION readings_may
    FOR VALUES FROM ('2026-05-01') TO ('2026-06-01');
CREATE TABLE bookings (room int, night date) PARTITION BY LIST (room);
CREATE TABLE bookings_1 PARTITION OF bookings FOR VALUES IN (1);
SELECT continuous.create_stream('bookings_1');
SELECT continuous.create_stream('bookings');
SELECT continuous.drop_stream('bookings_1');
-- the partitions' rows must be in the WAL: no unlogged or foreign ones
CREATE UNLOGGED TABLE bookings_2 PARTITION OF bookings FOR VALUES IN (2);
SELECT continuous.create_stream('bookings');
ALTER TABLE bookings_2 SET LOGGED;
SELECT continuous.create_stream('bookings');
CREATE UNLOGGED TABLE bookings_3 PARTITION OF bookings FOR VALUES IN (3);
CREATE UNLOGGED TABLE bookings_4 (LIKE bookings);
ALTER TABLE bookings ATTACH PARTITION bookings_4 FOR VALUES IN (4);
ALTER TABLE bookings_1 SET UNLOGGED;
CREATE SERVER kafka FOREIGN DATA WRAPPER continuous_kafka
    OPTIONS (brokers '127.0.0.1:9');
CREATE FOREIGN TABLE bookings_5 PARTITION OF bookings FOR VALUES IN (5)
    SERVER kafka OPTIONS (topic 'bookings', format 'json');
-- a late-events table is no partition of a stream
CREATE VIEW v WITH (continuous, late_events = 'readings_other') AS
    SELECT continuous.tumble(ts, '1 day') AS day, count(*) AS n FROM readings GROUP BY day;
ALTER TABLE late_readings ADD COLUMN note text;
ALTER TABLE readings ATTACH PARTITION late_readings
    FOR VALUES FROM ('2026-05-01') TO ('2026-07-01');
-- views read the partitioned table, all of it
CREATE VIEW v WITH (continuous) AS SELECT count(*) FROM readings_other;
CREATE VIEW v WITH (continuous) AS SELECT count(*) FROM ONLY readings;

--
-- A stream that is a partition of a table that is no stream: a row an
-- UPDATE of that table moves into it, or out of it, is no event either,
-- but an ignored change.
--
CREATE TABLE rooms (room int, guests int) PARTITION BY LIST (room);
CREATE TABLE rooms_1 PARTITION OF rooms FOR VALUES IN (1);
CREATE TABLE rooms_2 PARTITION OF rooms FOR VALUES IN (2);
SELECT continuous.create_stream('rooms_1');
CREATE VIEW guests_1 WITH (continuous) AS
    SELECT count(*) AS n, sum(guests) AS guests FROM rooms_1;
INSERT INTO rooms VALUES (1, 10), (2, 20), (2, 21);
UPDATE rooms SET room = 1 WHERE guests = 20;
UPDATE rooms SET room = 2 WHERE guests = 10;
BEGIN;
UPDATE rooms SET room = 1 WHERE guests = 21;
INSERT INTO rooms VALUES (1, 99);
COMMIT;
SELECT continuous.sync();
SELECT * FROM guests_1;
SELECT events, ignored_changes FROM continuous.streams WHERE stream = 'rooms_1'::regclass;

--
-- The event-time column, through the parent: a rename is followed, a drop
-- or a change of type refused; partitions cannot change it alone.
--
ALTER TABLE readings RENAME COLUMN ts TO measured_at;
SELECT stream, event_time FROM continuous.streams WHERE stream = 'readings'::regclass;
ALTER TABLE readings ALTER COLUMN measured_at TYPE timestamp;
ALTER TABLE readings_other RENAME COLUMN measured_at TO ts;
INSERT INTO readings VALUES (1, 10.0, '2026-09-01 00:00+00');
SELECT continuous.sync();
SELECT watermark FROM continuous.streams WHERE stream = 'readings'::regclass;
-- (readings is partitioned by its event time, which PostgreSQL keeps)
CREATE TABLE visits (site int, at timestamptz) PARTITION BY LIST (site);
CREATE TABLE visits_1 PARTITION OF visits FOR VALUES IN (1);
SELECT continuous.create_stream('visits', event_time => 'at');
ALTER TABLE visits DROP COLUMN at;
ALTER TABLE visits ALTER COLUMN at TYPE date;
ALTER TABLE visits_1 ALTER COLUMN at TYPE date;

-- dropping the stream with its views leaves the tables
SELECT continuous.drop_stream('readings', cascade => true);
SELECT view FROM continuous.views;

DROP EXTENSION pg_continuous CASCADE;
DROP TABLE readings, readings_may, readings_july_1, late_readings, bookings, bookings_4, visits,
    rooms;
