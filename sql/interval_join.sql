--
-- Stream–stream interval joins: two table streams joined on an equality
-- key and a bounded event-time condition.
--
--   FROM impressions i JOIN clicks c
--     ON c.impression_id = i.id AND c.ts BETWEEN i.ts AND i.ts + interval '10 minutes'
--
-- Each side's rows are kept until the other stream's watermark passes
-- their bound; an event before its own stream's watermark is late.  With
-- no late events, the view equals its SELECT run as a batch query.
--
CREATE EXTENSION pg_continuous;
SET TimeZone = 'UTC';
\getenv abs_srcdir PG_ABS_SRCDIR
\set differences :abs_srcdir '/sql/include/differences.psql'
\i :differences

CREATE TABLE impressions (id int, campaign text, ts timestamptz NOT NULL);
CREATE TABLE clicks (click_id int, impression_id int, ts timestamptz NOT NULL,
                     seen timestamptz);
-- a delay no event of this test falls behind: nothing is late
SELECT continuous.create_stream('impressions', event_time => 'ts',
                                watermark_delay => '1 hour');
SELECT continuous.create_stream('clicks', event_time => 'ts',
                                watermark_delay => '1 hour');

-- the tour's example: BETWEEN
CREATE VIEW clicks_after_impressions WITH (continuous) AS
  SELECT continuous.tumble(i.ts, '1 minute') AS minute, i.campaign, count(*) AS clicks
    FROM impressions i JOIN clicks c
      ON c.impression_id = i.id AND c.ts BETWEEN i.ts AND i.ts + interval '10 minutes'
   GROUP BY 1, 2;
-- a pair of >= / < with asymmetric bounds on both sides, the clicks first
-- in FROM, and an ON condition that is neither key nor bound
CREATE VIEW around_clicks WITH (continuous) AS
  SELECT c.impression_id % 5 AS bucket, count(*) AS n, sum(c.click_id) AS s,
         min(i.ts) AS first_impression, max(i.campaign) AS campaign
    FROM clicks c JOIN impressions i
      ON i.id = c.impression_id AND i.ts >= c.ts - interval '2 minutes'
         AND c.ts + interval '30 seconds' > i.ts AND i.campaign <> 'c3'
   GROUP BY 1;
-- a transform: one row per pair, with WHERE on both streams
CREATE VIEW click_pairs WITH (continuous) AS
  SELECT i.id, i.campaign, c.click_id, c.ts - i.ts AS delay
    FROM impressions i JOIN clicks c
      ON c.impression_id = i.id AND c.ts >= i.ts AND c.ts < i.ts + interval '5 minutes'
   WHERE c.click_id % 3 <> 0;
-- tables joined after the two streams are looked up, by either stream's
-- columns (a LEFT join keeps the clicks of campaign c3, which has no row)
CREATE TABLE campaigns (name text PRIMARY KEY, owner text);
INSERT INTO campaigns VALUES ('c0', 'ann'), ('c1', 'bob'), ('c2', 'ann');
CREATE VIEW by_owner WITH (continuous) AS
  SELECT k.owner, k2.owner AS click_owner, count(*) AS clicks, sum(c.click_id) AS s
    FROM impressions i JOIN clicks c
      ON c.impression_id = i.id AND c.ts BETWEEN i.ts AND i.ts + interval '10 minutes'
    LEFT JOIN campaigns k ON k.name = i.campaign
    JOIN campaigns k2 ON k2.name = 'c' || (c.click_id % 3)
   GROUP BY 1, 2;
-- a key that fails for some impressions: they are dead letters, and what
-- the batch had kept before them in memory is forgotten with the batch
-- (the careful run starts over without them)
CREATE VIEW key_errors WITH (continuous) AS
  SELECT count(*) AS n, sum(c.click_id) AS s
    FROM impressions i JOIN clicks c
      ON c.impression_id = i.id + 0 * (1 / (i.id % 7))
         AND c.ts BETWEEN i.ts - interval '1 minute' AND i.ts + interval '3 minutes';
SELECT view, kind, join_rows_left, join_rows_right FROM continuous.views ORDER BY view::text;

-- many events in event-time order on both streams, in several
-- transactions; an impression id comes twice (1:N both ways)
BEGIN;
INSERT INTO impressions
SELECT i, 'c' || (i % 4), '2026-01-01 10:00'::timestamptz + i * interval '2 seconds'
FROM generate_series(1, 150) i;
INSERT INTO clicks
SELECT i, i / 2, '2026-01-01 10:00'::timestamptz + i * interval '1 second' + interval '20 seconds'
FROM generate_series(1, 200) i;
COMMIT;
INSERT INTO impressions
SELECT i % 170, 'c' || (i % 4), '2026-01-01 10:00'::timestamptz + i * interval '2 seconds'
FROM generate_series(151, 300) i;
BEGIN;
INSERT INTO clicks
SELECT i, (i * 7) % 300, '2026-01-01 10:00'::timestamptz + i * interval '1 second' + interval '20 seconds'
FROM generate_series(201, 700) i;
INSERT INTO impressions
SELECT i, 'c' || (i % 4), '2026-01-01 10:00'::timestamptz + i * interval '2 seconds'
FROM generate_series(301, 400) i;
COMMIT;
-- an aborted transaction of each stream counts nowhere
BEGIN;
INSERT INTO impressions SELECT i, 'aborted', '2026-01-01 10:20' FROM generate_series(1, 50) i;
INSERT INTO clicks SELECT i, i, '2026-01-01 10:21' FROM generate_series(1, 50) i;
ROLLBACK;
SELECT continuous.sync();

SELECT pg_temp.differences('SELECT * FROM clicks_after_impressions',
  $$SELECT continuous.tumble(i.ts, '1 minute') AS minute, i.campaign, count(*) AS clicks
      FROM impressions i JOIN clicks c
        ON c.impression_id = i.id AND c.ts BETWEEN i.ts AND i.ts + interval '10 minutes'
     GROUP BY 1, 2$$) AS clicks_after_impressions,
       pg_temp.differences('SELECT * FROM around_clicks',
  $$SELECT c.impression_id % 5 AS bucket, count(*) AS n, sum(c.click_id) AS s,
           min(i.ts) AS first_impression, max(i.campaign) AS campaign
      FROM clicks c JOIN impressions i
        ON i.id = c.impression_id AND i.ts >= c.ts - interval '2 minutes'
           AND c.ts + interval '30 seconds' > i.ts AND i.campaign <> 'c3'
     GROUP BY 1$$) AS around_clicks,
       pg_temp.differences('SELECT * FROM click_pairs',
  $$SELECT i.id, i.campaign, c.click_id, c.ts - i.ts AS delay
      FROM impressions i JOIN clicks c
        ON c.impression_id = i.id AND c.ts >= i.ts AND c.ts < i.ts + interval '5 minutes'
     WHERE c.click_id % 3 <> 0$$) AS click_pairs,
       pg_temp.differences('SELECT * FROM key_errors',
  $$SELECT count(*) AS n, sum(c.click_id) AS s
      FROM (SELECT * FROM impressions WHERE id % 7 <> 0) i JOIN clicks c
        ON c.impression_id = i.id
           AND c.ts BETWEEN i.ts - interval '1 minute' AND i.ts + interval '3 minutes'$$) AS key_errors,
       pg_temp.differences('SELECT * FROM by_owner',
  $$SELECT k.owner, k2.owner AS click_owner, count(*) AS clicks, sum(c.click_id) AS s
      FROM impressions i JOIN clicks c
        ON c.impression_id = i.id AND c.ts BETWEEN i.ts AND i.ts + interval '10 minutes'
      LEFT JOIN campaigns k ON k.name = i.campaign
      JOIN campaigns k2 ON k2.name = 'c' || (c.click_id % 3)
     GROUP BY 1, 2$$) AS by_owner;
SELECT * FROM by_owner ORDER BY 1, 2;
SELECT errors = (SELECT count(*) FROM impressions WHERE id % 7 = 0) AS dead_letters_are_the_failing_impressions,
       errors > 0 AS some
  FROM continuous.views WHERE view = 'key_errors'::regclass;
-- the views have rows (the comparison is not of two empty sets)
SELECT (SELECT sum(clicks) FROM clicks_after_impressions) AS clicks,
       (SELECT sum(n) FROM around_clicks) AS around,
       (SELECT count(*) FROM click_pairs) AS pairs,
       (SELECT n FROM key_errors) AS key_errors;

-- nothing was late, and the watermarks (an hour behind) kept every row
SELECT view, late_events, join_rows_left, join_rows_right
  FROM continuous.views ORDER BY view::text;

--
-- Expiry and lateness: streams without watermark delay.  A kept
-- impression at t goes once the clicks' watermark passes t + 10 minutes, a
-- kept click at t once the impressions' watermark passes t.
--
CREATE TABLE imps (id int, ts timestamptz NOT NULL);
CREATE TABLE taps (id int, imp int, ts timestamptz NOT NULL);
SELECT continuous.create_stream('imps', event_time => 'ts');
SELECT continuous.create_stream('taps', event_time => 'ts');
CREATE VIEW taps_per_minute WITH (continuous) AS
  SELECT continuous.tumble(i.ts, '1 minute') AS minute, count(*) AS taps
    FROM imps i JOIN taps t ON t.imp = i.id AND t.ts BETWEEN i.ts AND i.ts + interval '10 minutes'
   GROUP BY 1;
-- the same join, its late events of either stream into one table, by
-- column name (created like imps, with taps' other column after them)
CREATE VIEW taps_late WITH (continuous, late_events = 'imps_taps_late') AS
  SELECT continuous.tumble(i.ts, '1 minute') AS minute, count(*) AS taps
    FROM imps i JOIN taps t ON t.imp = i.id AND t.ts BETWEEN i.ts AND i.ts + interval '10 minutes'
   GROUP BY 1;
\d imps_taps_late
INSERT INTO imps SELECT i, '2026-01-01 10:00'::timestamptz + i * interval '1 minute'
FROM generate_series(1, 5) i;
INSERT INTO taps SELECT i, i, '2026-01-01 10:03'::timestamptz + i * interval '1 minute'
FROM generate_series(1, 5) i;
SELECT continuous.sync();
SELECT late_events, join_rows_left, join_rows_right
  FROM continuous.views WHERE view = 'taps_per_minute'::regclass;
-- both watermarks move to 10:30 (the events themselves come in the next
-- batch): impressions before 10:20 and taps before 10:30 can go
INSERT INTO imps VALUES (100, '2026-01-01 10:30');
INSERT INTO taps VALUES (100, 100, '2026-01-01 10:30');
SELECT continuous.sync();
INSERT INTO imps VALUES (101, '2026-01-01 10:31');
INSERT INTO taps VALUES (101, 101, '2026-01-01 10:31');
SELECT continuous.sync();
SELECT late_events, join_rows_left, join_rows_right
  FROM continuous.views WHERE view = 'taps_per_minute'::regclass;
SELECT side, event_time FROM continuous.interval_join_rows
 WHERE view = 'taps_per_minute'::regclass ORDER BY 1, 2;
SELECT * FROM taps_per_minute ORDER BY 1;
-- a late tap (its impression is gone) and a late impression: counted,
-- not joined
INSERT INTO taps VALUES (200, 1, '2026-01-01 10:05');
INSERT INTO imps VALUES (200, '2026-01-01 10:29');
SELECT continuous.sync();
SELECT late_events, join_rows_left, join_rows_right
  FROM continuous.views WHERE view = 'taps_per_minute'::regclass;
SELECT * FROM taps_per_minute ORDER BY 1;
-- each late event once, in its own stream's columns
SELECT late_events FROM continuous.views WHERE view = 'taps_late'::regclass;
SELECT * FROM imps_taps_late ORDER BY ts;

--
-- What is refused
--
CREATE TABLE no_time (id int, ts timestamptz);
SELECT continuous.create_stream('no_time');
-- no equality key
CREATE VIEW bad WITH (continuous) AS
  SELECT count(*) FROM impressions i JOIN clicks c
      ON c.ts BETWEEN i.ts AND i.ts + interval '10 minutes';
-- no upper bound
CREATE VIEW bad WITH (continuous) AS
  SELECT count(*) FROM impressions i JOIN clicks c
      ON c.impression_id = i.id AND c.ts >= i.ts;
-- no lower bound
CREATE VIEW bad WITH (continuous) AS
  SELECT count(*) FROM impressions i JOIN clicks c
      ON c.impression_id = i.id AND c.ts < i.ts + interval '1 minute';
-- a bound that is not a constant interval
CREATE VIEW bad WITH (continuous) AS
  SELECT count(*) FROM impressions i JOIN clicks c
      ON c.impression_id = i.id AND c.ts BETWEEN i.ts AND i.ts + c.click_id * interval '1 second';
-- a column that is not the event time
CREATE VIEW bad WITH (continuous) AS
  SELECT count(*) FROM impressions i JOIN clicks c
      ON c.impression_id = i.id AND c.seen BETWEEN i.ts AND i.ts + interval '1 minute';
-- months have no fixed length
CREATE VIEW bad WITH (continuous) AS
  SELECT count(*) FROM impressions i JOIN clicks c
      ON c.impression_id = i.id AND c.ts BETWEEN i.ts AND i.ts + interval '1 month';
-- outer joins
CREATE VIEW bad WITH (continuous) AS
  SELECT count(*) FROM impressions i LEFT JOIN clicks c
      ON c.impression_id = i.id AND c.ts BETWEEN i.ts AND i.ts + interval '1 minute';
CREATE VIEW bad WITH (continuous) AS
  SELECT count(*) FROM impressions i FULL JOIN clicks c
      ON c.impression_id = i.id AND c.ts BETWEEN i.ts AND i.ts + interval '1 minute';
-- three streams, and a table joined between the two
CREATE VIEW bad WITH (continuous) AS
  SELECT count(*) FROM impressions i JOIN clicks c
      ON c.impression_id = i.id AND c.ts BETWEEN i.ts AND i.ts + interval '1 minute'
    JOIN taps t ON t.imp = i.id AND t.ts BETWEEN i.ts AND i.ts + interval '1 minute';
CREATE VIEW bad WITH (continuous) AS
  SELECT count(*) FROM impressions i JOIN campaigns k ON k.name = i.campaign
    JOIN clicks c ON c.impression_id = i.id AND c.ts BETWEEN i.ts AND i.ts + interval '1 minute';
-- a stream joined to itself
CREATE VIEW bad WITH (continuous) AS
  SELECT count(*) FROM impressions i JOIN impressions j
      ON j.id = i.id AND j.ts BETWEEN i.ts AND i.ts + interval '1 minute';
-- a stream without event time
CREATE VIEW bad WITH (continuous) AS
  SELECT count(*) FROM impressions i JOIN no_time n
      ON n.id = i.id AND n.ts BETWEEN i.ts AND i.ts + interval '1 minute';
-- a key of two types
CREATE VIEW bad WITH (continuous) AS
  SELECT count(*) FROM impressions i JOIN clicks c
      ON c.impression_id::bigint = i.id AND c.ts BETWEEN i.ts AND i.ts + interval '1 minute';
-- a stream with a unique key (deduplication)
CREATE TABLE deduped (id int, ts timestamptz NOT NULL);
SELECT continuous.create_stream('deduped', event_time => 'ts', unique_key => 'id',
                                dedup_within => '1 hour');
CREATE VIEW bad WITH (continuous) AS
  SELECT count(*) FROM impressions i JOIN deduped d
      ON d.id = i.id AND d.ts BETWEEN i.ts AND i.ts + interval '1 minute';
-- options that follow the left stream's watermark alone
CREATE VIEW bad WITH (continuous, emit = 'window_close') AS
  SELECT continuous.tumble(i.ts, '1 minute') AS minute, count(*) FROM impressions i JOIN clicks c
      ON c.impression_id = i.id AND c.ts BETWEEN i.ts AND i.ts + interval '1 minute'
   GROUP BY 1;
CREATE VIEW bad WITH (continuous, retention = '1 hour') AS
  SELECT continuous.tumble(i.ts, '1 minute') AS minute, count(*) FROM impressions i JOIN clicks c
      ON c.impression_id = i.id AND c.ts BETWEEN i.ts AND i.ts + interval '1 minute'
   GROUP BY 1;
-- a Kafka stream
CREATE SERVER kafka_local FOREIGN DATA WRAPPER continuous_kafka
    OPTIONS (brokers 'localhost:9092');
CREATE FOREIGN TABLE kclicks (impression_id int, ts timestamptz) SERVER kafka_local
    OPTIONS (topic 'clicks', event_time 'ts');
CREATE VIEW bad WITH (continuous) AS
  SELECT count(*) FROM impressions i JOIN kclicks c
      ON c.impression_id = i.id AND c.ts BETWEEN i.ts AND i.ts + interval '1 minute';
--
-- Streams with rows already: CREATE VIEW computes the view from both
-- tables (backfill), keeps the rows later events can still meet, and then
-- counts each later event once.
--
SELECT count(*) AS impressions_before FROM impressions \gset
CREATE VIEW backfilled WITH (continuous) AS
  SELECT continuous.tumble(i.ts, '1 minute') AS minute, i.campaign, count(*) AS clicks,
         sum(c.click_id) AS s
    FROM impressions i JOIN clicks c
      ON c.impression_id = i.id AND c.ts BETWEEN i.ts AND i.ts + interval '10 minutes'
   GROUP BY 1, 2;
CREATE VIEW backfilled_pairs WITH (continuous) AS
  SELECT c.click_id, i.id, i.ts AS its
    FROM clicks c JOIN impressions i
      ON i.id = c.impression_id AND i.ts >= c.ts - interval '2 minutes'
         AND c.ts + interval '30 seconds' > i.ts;
CREATE VIEW later_only WITH (continuous, backfill = false) AS
  SELECT count(*) FROM impressions i JOIN clicks c
      ON c.impression_id = i.id AND c.ts BETWEEN i.ts AND i.ts + interval '1 minute';
-- equal to their SELECT at once, before the worker sees anything
SELECT pg_temp.differences('SELECT * FROM backfilled',
  $$SELECT continuous.tumble(i.ts, '1 minute') AS minute, i.campaign, count(*) AS clicks,
           sum(c.click_id) AS s
      FROM impressions i JOIN clicks c
        ON c.impression_id = i.id AND c.ts BETWEEN i.ts AND i.ts + interval '10 minutes'
     GROUP BY 1, 2$$) AS backfilled,
       pg_temp.differences('SELECT * FROM backfilled_pairs',
  $$SELECT c.click_id, i.id, i.ts AS its
      FROM clicks c JOIN impressions i
        ON i.id = c.impression_id AND i.ts >= c.ts - interval '2 minutes'
           AND c.ts + interval '30 seconds' > i.ts$$) AS backfilled_pairs,
       (SELECT sum(clicks) FROM backfilled) AS clicks,
       (SELECT count(*) FROM backfilled_pairs) AS pairs,
       (SELECT count FROM later_only) AS later_only;
-- the watermarks are an hour behind: every row is kept
SELECT view, join_rows_left + join_rows_right =
         (SELECT count(*) FROM impressions) + (SELECT count(*) FROM clicks) AS all_kept
  FROM continuous.views WHERE view IN ('backfilled'::regclass, 'backfilled_pairs'::regclass)
 ORDER BY view::text;
-- later events whose partners are all backfilled rows: impressions again
-- half a minute earlier, and clicks again 5 seconds later
SELECT sum(clicks) AS clicks_before FROM backfilled \gset
INSERT INTO impressions SELECT id, campaign, ts - interval '30 seconds'
  FROM impressions WHERE id BETWEEN 100 AND 140 AND campaign <> 'new';
INSERT INTO clicks SELECT click_id + 10000, impression_id, ts + interval '5 seconds'
  FROM clicks WHERE click_id BETWEEN 600 AND 650;
SELECT continuous.sync();
SELECT pg_temp.differences('SELECT * FROM backfilled',
  $$SELECT continuous.tumble(i.ts, '1 minute') AS minute, i.campaign, count(*) AS clicks,
           sum(c.click_id) AS s
      FROM impressions i JOIN clicks c
        ON c.impression_id = i.id AND c.ts BETWEEN i.ts AND i.ts + interval '10 minutes'
     GROUP BY 1, 2$$) AS backfilled,
       pg_temp.differences('SELECT * FROM backfilled_pairs',
  $$SELECT c.click_id, i.id, i.ts AS its
      FROM clicks c JOIN impressions i
        ON i.id = c.impression_id AND i.ts >= c.ts - interval '2 minutes'
           AND c.ts + interval '30 seconds' > i.ts$$) AS backfilled_pairs,
       (SELECT sum(clicks) FROM backfilled) - :clicks_before AS more_clicks,
       (SELECT count FROM later_only) AS later_only;
-- a rebuild computes them again from both tables, kept rows too
SELECT continuous.rebuild('backfilled') AS rows_read;
SELECT continuous.rebuild('later_only') AS rows_read;
SELECT pg_temp.differences('SELECT * FROM backfilled',
  $$SELECT continuous.tumble(i.ts, '1 minute') AS minute, i.campaign, count(*) AS clicks,
           sum(c.click_id) AS s
      FROM impressions i JOIN clicks c
        ON c.impression_id = i.id AND c.ts BETWEEN i.ts AND i.ts + interval '10 minutes'
     GROUP BY 1, 2$$) AS backfilled,
       pg_temp.differences('SELECT * FROM later_only',
  $$SELECT count(*) FROM impressions i JOIN clicks c
      ON c.impression_id = i.id AND c.ts BETWEEN i.ts AND i.ts + interval '1 minute'$$) AS later_only;
INSERT INTO clicks SELECT click_id + 20000, impression_id, ts + interval '7 seconds'
  FROM clicks WHERE click_id BETWEEN 500 AND 520;
SELECT continuous.sync();
SELECT pg_temp.differences('SELECT * FROM backfilled',
  $$SELECT continuous.tumble(i.ts, '1 minute') AS minute, i.campaign, count(*) AS clicks,
           sum(c.click_id) AS s
      FROM impressions i JOIN clicks c
        ON c.impression_id = i.id AND c.ts BETWEEN i.ts AND i.ts + interval '10 minutes'
     GROUP BY 1, 2$$) AS backfilled,
       pg_temp.differences('SELECT * FROM later_only',
  $$SELECT count(*) FROM impressions i JOIN clicks c
      ON c.impression_id = i.id AND c.ts BETWEEN i.ts AND i.ts + interval '1 minute'$$) AS later_only;
-- streams whose watermarks passed most rows: only the rows later events
-- can meet are kept (impressions from 10:21, taps from 10:31), and a
-- view over late rows still equals its SELECT (a backfill judges nothing late)
CREATE VIEW taps_backfilled WITH (continuous) AS
  SELECT continuous.tumble(i.ts, '1 minute') AS minute, count(*) AS taps
    FROM imps i JOIN taps t ON t.imp = i.id AND t.ts BETWEEN i.ts AND i.ts + interval '10 minutes'
   GROUP BY 1;
SELECT side, event_time FROM continuous.interval_join_rows
 WHERE view = 'taps_backfilled'::regclass ORDER BY 1, 2;
SELECT pg_temp.differences('SELECT * FROM taps_backfilled',
  $$SELECT continuous.tumble(i.ts, '1 minute') AS minute, count(*) AS taps
      FROM imps i JOIN taps t ON t.imp = i.id AND t.ts BETWEEN i.ts AND i.ts + interval '10 minutes'
     GROUP BY 1$$) AS taps_backfilled;
-- a tap that meets a kept impression, one that is late
INSERT INTO taps VALUES (300, 100, '2026-01-01 10:35'), (301, 3, '2026-01-01 10:06');
SELECT continuous.sync();
SELECT * FROM taps_backfilled ORDER BY 1;
SELECT late_events FROM continuous.views WHERE view = 'taps_backfilled'::regclass;
DROP VIEW taps_backfilled, backfilled_pairs;

-- the second stream cannot be dropped from under a view
SELECT continuous.drop_stream('clicks');

-- dropping a view forgets its kept rows
SELECT 'clicks_after_impressions'::regclass::oid AS dropped \gset
SELECT count(*) > 0 AS kept FROM continuous.interval_join_rows WHERE view::oid = :dropped;
DROP VIEW clicks_after_impressions;
SELECT count(*) AS kept FROM continuous.interval_join_rows WHERE view::oid = :dropped;
SELECT count(DISTINCT view) FROM continuous.interval_join_rows;

SET client_min_messages = warning;
DROP EXTENSION pg_continuous CASCADE;
DROP TABLE impressions, clicks, imps, taps, campaigns, no_time, deduped;
