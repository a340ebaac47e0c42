--
-- Count windows.  GROUP BY key, continuous.count_window(n) numbers each
-- key's consecutive runs of n events: the key's first n events are in
-- window 0, the next n in window 1, and so on, in delivery order (the
-- order in which transactions commit, and rows within a transaction).
-- The number is a group key like any other, shown as a normal column.
--
-- Only events that reach their group take a number: rows filtered out by
-- WHERE, and events that fail (dead letters), do not.
--
CREATE EXTENSION pg_continuous;
SET TimeZone = 'UTC';

CREATE TABLE readings (
    id bigint GENERATED ALWAYS AS IDENTITY,
    sensor text,
    value numeric,
    at timestamptz NOT NULL DEFAULT '2026-03-01 12:00+00'
);
SELECT continuous.create_stream('readings');

-- the average of every 3 readings of a sensor, and of every 4 readings of
-- all sensors together (no other key: one sequence for the stream)
CREATE VIEW every_3 WITH (continuous) AS
    SELECT sensor, continuous.count_window(3) AS run,
           count(*) AS readings, avg(value) AS average, max(value) AS peak
    FROM readings GROUP BY sensor, run;
CREATE VIEW every_4 WITH (continuous) AS
    SELECT continuous.count_window(4) AS run, sum(value) AS total
    FROM readings GROUP BY run;
-- readings of at least 0 only, and a run's number in an expression
CREATE VIEW nonnegative_every_2 WITH (continuous) AS
    SELECT sensor, continuous.count_window(2) AS run,
           continuous.count_window(2) * 2 AS first_reading, count(*), sum(100 / value)
    FROM readings WHERE value >= 0 GROUP BY sensor, run;

SELECT view, "window" FROM continuous.views ORDER BY view::text;

-- Outside a continuous view the function has no value: nothing says which
-- events came before a row.  The error shows the batch equivalent.
SELECT continuous.count_window(3);

-- a's first three readings fill its window 0, the fourth opens window 1;
-- b has two, a partial window 0
INSERT INTO readings (sensor, value) VALUES
    ('a', 1), ('a', 2), ('b', 10), ('a', 3), ('a', 4), ('b', 20);
SELECT continuous.sync();
SELECT * FROM every_3 ORDER BY sensor, run;
SELECT * FROM every_4 ORDER BY run;

-- the next transactions go on numbering where the last one stopped; a
-- rolled-back transaction takes no numbers
INSERT INTO readings (sensor, value) VALUES ('b', 30), ('a', 5);
BEGIN;
INSERT INTO readings (sensor, value) VALUES ('a', 1000), ('b', 1000);
ROLLBACK;
INSERT INTO readings (sensor, value) VALUES ('b', 40), ('a', 6), ('a', 7);
SELECT continuous.sync();
SELECT * FROM every_3 ORDER BY sensor, run;
SELECT * FROM every_4 ORDER BY run;

-- a reading of 0 fails in nonnegative_every_2 (division by zero) and becomes
-- a dead letter there, and -1 is filtered out: neither takes a number
-- in that view, while both count in the others
INSERT INTO readings (sensor, value) VALUES ('c', 5), ('c', 0), ('c', -1), ('c', 20);
SELECT continuous.sync();
SELECT * FROM nonnegative_every_2 WHERE sensor = 'c';
SELECT * FROM every_3 WHERE sensor = 'c' ORDER BY run;
SELECT view::text, payload, error FROM continuous.dead_letters;

-- The oracle: numbering each sensor's readings in delivery order (here:
-- identity order, one session) with row_number() gives the same windows.
INSERT INTO readings (sensor, value)
    SELECT 's' || g % 7, (g * 37) % 101 + 1 FROM generate_series(1, 2000) g;
INSERT INTO readings (sensor, value)
    SELECT 's' || g % 5, (g * 53) % 89 + 1 FROM generate_series(1, 1000) g;
SELECT continuous.sync();
\getenv abs_srcdir PG_ABS_SRCDIR
\set differences :abs_srcdir '/sql/include/differences.psql'
\i :differences
SELECT pg_temp.differences('SELECT * FROM every_3',
    $$SELECT sensor, run, count(*), avg(value), max(value)
      FROM (SELECT *, (row_number() OVER (PARTITION BY sensor ORDER BY id) - 1) / 3 AS run
            FROM readings) r
      GROUP BY sensor, run$$) AS every_3,
       pg_temp.differences('SELECT * FROM every_4',
    $$SELECT run, sum(value)
      FROM (SELECT *, (row_number() OVER (ORDER BY id) - 1) / 4 AS run FROM readings) r
      GROUP BY run$$) AS every_4,
       pg_temp.differences('SELECT * FROM nonnegative_every_2',
    $$SELECT sensor, run, run * 2, count(*), sum(100 / value)
      FROM (SELECT *, (row_number() OVER (PARTITION BY sensor ORDER BY id) - 1) / 2 AS run
            FROM readings WHERE value >= 0 AND id NOT IN (
                SELECT (payload::readings).id FROM continuous.dead_letters)) r
      GROUP BY sensor, run$$) AS nonnegative_every_2;
SELECT count(*) AS windows, sum(readings) AS readings FROM every_3;

-- the running counts are kept beside the storage table, written with it
-- in each flush, and dropped with the view
SELECT c.relname, d.deptype
FROM pg_depend d JOIN pg_class c ON c.oid = d.objid
WHERE d.refobjid = 'continuous_storage.every_3_state'::regclass AND c.relkind = 'r';

-- what continuous views accept: count_window(n) as a GROUP BY expression
-- of its own, with a constant n > 0, once
CREATE VIEW v WITH (continuous) AS
    SELECT continuous.count_window(0), count(*) FROM readings GROUP BY 1;
CREATE VIEW v WITH (continuous) AS
    SELECT sensor, continuous.count_window(length(sensor)), count(*) FROM readings GROUP BY 1, 2;
CREATE VIEW v WITH (continuous) AS
    SELECT sensor, continuous.count_window(3) + 1, count(*) FROM readings GROUP BY 1, 2;
CREATE VIEW v WITH (continuous) AS
    SELECT sensor, count(*) FROM readings WHERE continuous.count_window(3) = 0 GROUP BY 1;
CREATE VIEW v WITH (continuous) AS
    SELECT sensor, continuous.count_window(3), continuous.count_window(5), count(*)
    FROM readings GROUP BY 1, 2, 3;
CREATE VIEW v WITH (continuous) AS
    SELECT continuous.count_window(3), sum(continuous.count_window(3)) FROM readings GROUP BY 1;
-- count windows do not close by event time
CREATE VIEW v WITH (continuous, emit = 'window_close') AS
    SELECT sensor, continuous.count_window(3), count(*) FROM readings GROUP BY 1, 2;

DROP VIEW every_3;
SELECT count(*) FROM pg_class WHERE relname LIKE 'every_3%';

SET client_min_messages = warning;
DROP EXTENSION pg_continuous CASCADE;
DROP TABLE readings;
