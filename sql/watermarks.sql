--
-- A stream's watermark is the latest event time it has seen minus its
-- watermark_delay.  It moves once per batch, never backwards.  An event
-- without an event time does not move it: views without a window count the
-- event, views with one make it a dead letter (stream_ddl.sql).
--
CREATE EXTENSION pg_continuous;

CREATE TABLE sensor_events (sensor int, reading float8, ts timestamptz);
SELECT continuous.create_stream('sensor_events', event_time => 'ts',
                                watermark_delay => '5 seconds');
CREATE VIEW readings_per_sensor WITH (continuous) AS
    SELECT sensor, count(*) AS readings FROM sensor_events GROUP BY sensor;

-- no event yet: no watermark
SELECT stream, event_time, watermark FROM continuous.streams;

-- events out of order: the latest one decides
INSERT INTO sensor_events VALUES
    (1, 0.5, '2026-03-01 12:00:10+00'),
    (2, 0.7, '2026-03-01 12:00:30+00'),
    (1, 0.9, '2026-03-01 12:00:20+00');
SELECT continuous.sync();
SELECT watermark FROM continuous.streams;

-- older events do not move it back
INSERT INTO sensor_events VALUES (3, 1.0, '2026-03-01 11:00:00+00');
SELECT continuous.sync();
SELECT watermark FROM continuous.streams;

-- newer ones move it on, across transactions of one batch
BEGIN;
INSERT INTO sensor_events VALUES (1, 1.1, '2026-03-01 12:01:00+00');
COMMIT;
INSERT INTO sensor_events VALUES (2, 1.2, '2026-03-01 12:00:45+00');
SELECT continuous.sync();
SELECT watermark FROM continuous.streams;

-- an event without event time leaves the watermark alone; this view has no
-- window, so it counts the event, as its SELECT would
INSERT INTO sensor_events VALUES (4, 2.0, NULL);
SELECT continuous.sync();
SELECT stream, view, payload, error FROM continuous.dead_letters;
SELECT * FROM readings_per_sensor ORDER BY sensor;
SELECT events, errors, watermark FROM continuous.streams;

-- a timestamp (without time zone) column works too; it is read as UTC
CREATE TABLE local_events (id int, at timestamp NOT NULL);
SELECT continuous.create_stream('local_events', event_time => 'at');
CREATE VIEW local_count WITH (continuous) AS SELECT count(*) AS n FROM local_events;
INSERT INTO local_events VALUES (1, '2026-03-01 08:00:00'), (2, '2026-03-01 09:30:00');
SELECT continuous.sync();
SELECT stream, watermark = '2026-03-01 09:30:00+00' AS at_latest
FROM continuous.streams WHERE stream = 'local_events'::regclass;

-- a stream without event time has no watermark
CREATE TABLE plain_events (id int);
SELECT continuous.create_stream('plain_events');
CREATE VIEW plain_count WITH (continuous) AS SELECT count(*) AS n FROM plain_events;
INSERT INTO plain_events VALUES (1), (2);
SELECT continuous.sync();
SELECT stream, event_time, watermark, events FROM continuous.streams
WHERE stream = 'plain_events'::regclass;

DROP EXTENSION pg_continuous CASCADE;
DROP TABLE sensor_events, local_events, plain_events;
