--
-- An event whose evaluation fails goes to continuous.dead_letters with the
-- error; the view counts every other event and keeps running.
--
CREATE EXTENSION pg_continuous;

CREATE TABLE readings (sensor int, total int, parts int, raw text,
                       ts timestamptz NOT NULL DEFAULT '2026-01-01 00:00:00+00');
SELECT continuous.create_stream('readings');

CREATE VIEW ratios WITH (continuous) AS
    SELECT sensor, count(*) AS n, sum(total / parts) AS ratio_sum, max(raw::int) AS max_raw
    FROM readings GROUP BY sensor;
CREATE VIEW plain_counts WITH (continuous) AS
    SELECT sensor, count(*) AS n FROM readings GROUP BY sensor;

INSERT INTO readings (sensor, total, parts, raw)
SELECT i % 3, i * 10, CASE WHEN i % 100 = 0 THEN 0 ELSE i END, i::text
FROM generate_series(1, 1000) i;
INSERT INTO readings (sensor, total, parts, raw) VALUES (1, 5, 1, 'not a number');
SELECT continuous.sync();

-- the bad events are dead letters of the view that could not evaluate them
SELECT view, position IS NOT NULL AS has_position, payload, error
FROM continuous.dead_letters ORDER BY id;

-- the view equals its query over the events it could evaluate
SELECT (SELECT count(*) FROM ((TABLE ratios EXCEPT ALL
        SELECT sensor, count(*), sum(total / parts), max(raw::int) FROM readings
        WHERE parts <> 0 AND raw ~ '^[0-9]+$' GROUP BY sensor)
       UNION ALL
       (SELECT sensor, count(*), sum(total / parts), max(raw::int) FROM readings
        WHERE parts <> 0 AND raw ~ '^[0-9]+$' GROUP BY sensor
        EXCEPT ALL TABLE ratios)) d) AS differences;

-- the other view saw every event
SELECT sum(n) AS all_events FROM plain_counts;
SELECT view, events, errors FROM continuous.views ORDER BY view::text;

DROP EXTENSION pg_continuous CASCADE;
DROP TABLE readings;
