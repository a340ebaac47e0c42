--
-- Backfill and rebuild.
--
-- A continuous view over a table stream that already has rows includes
-- them (unless backfill = false), so that it equals its SELECT over the
-- whole table; continuous.rebuild() computes a view again from the table,
-- and brings back a view that failed.  Each check below compares a view
-- with its own SELECT run as batch SQL: an empty result is a pass.
--
CREATE EXTENSION pg_continuous;

CREATE TABLE bf (k text, v int, ts timestamptz);
-- rows before the table is a stream, and after
INSERT INTO bf SELECT 'k' || (g % 7), g, '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 minute'
FROM generate_series(1, 3000) g;
SELECT continuous.create_stream('bf', event_time => 'ts');
INSERT INTO bf SELECT 'k' || (g % 7), g, '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 minute'
FROM generate_series(3001, 5000) g;

CREATE VIEW bf_keys WITH (continuous) AS
    SELECT k, count(*) AS n, sum(v) AS s, min(ts) AS first FROM bf GROUP BY k;
CREATE VIEW bf_all WITH (continuous) AS
    SELECT count(*) AS n, max(v) AS top FROM bf;
CREATE VIEW bf_hours WITH (continuous, emit = 'window_close') AS
    SELECT continuous.tumble(ts, '1 hour') AS hour, count(*) AS n FROM bf GROUP BY hour;
CREATE VIEW bf_sessions WITH (continuous) AS
    SELECT k, continuous.session(ts, '10 minutes') AS s, count(*) AS n FROM bf GROUP BY k, s;
CREATE VIEW bf_later WITH (continuous, backfill = false) AS
    SELECT k, count(*) AS n FROM bf GROUP BY k;

-- live rows after the views, and in the same transaction as a view's creation
INSERT INTO bf SELECT 'k' || (g % 7), g, '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 minute'
FROM generate_series(5001, 5500) g;
BEGIN;
INSERT INTO bf VALUES ('own', 1, '2026-01-05 00:00:00+00');
CREATE VIEW bf_own WITH (continuous) AS SELECT k, count(*) AS n FROM bf GROUP BY k;
INSERT INTO bf VALUES ('own', 2, '2026-01-05 00:00:01+00');
COMMIT;
-- a CREATE VIEW that rolls back leaves nothing
BEGIN;
CREATE VIEW bf_gone WITH (continuous) AS SELECT count(*) FROM bf;
ROLLBACK;
SELECT continuous.sync();

(TABLE bf_keys EXCEPT SELECT k, count(*), sum(v), min(ts) FROM bf GROUP BY k)
UNION ALL (SELECT k, count(*), sum(v), min(ts) FROM bf GROUP BY k EXCEPT TABLE bf_keys);
(TABLE bf_all EXCEPT SELECT count(*), max(v) FROM bf)
UNION ALL (SELECT count(*), max(v) FROM bf EXCEPT TABLE bf_all);
(TABLE bf_own EXCEPT SELECT k, count(*) FROM bf GROUP BY k)
UNION ALL (SELECT k, count(*) FROM bf GROUP BY k EXCEPT TABLE bf_own);
SELECT count(*) AS sessions, sum(n) AS events FROM bf_sessions;
-- the backfill moved the watermark: the windows before it are closed
SELECT watermark FROM continuous.streams WHERE stream = 'bf'::regclass;
(TABLE bf_hours EXCEPT
 SELECT continuous.tumble(ts, '1 hour') AS hour, count(*) FROM bf GROUP BY hour
 HAVING continuous.tumble(ts, '1 hour') + interval '1 hour' <= continuous._watermark('bf'))
UNION ALL
(SELECT continuous.tumble(ts, '1 hour') AS hour, count(*) FROM bf GROUP BY hour
 HAVING continuous.tumble(ts, '1 hour') + interval '1 hour' <= continuous._watermark('bf')
 EXCEPT TABLE bf_hours);
-- backfill = false: only what committed after
SELECT sum(n) AS later FROM bf_later;
SELECT view, events FROM continuous.views WHERE stream = 'bf'::regclass ORDER BY view::text;
SELECT count(*) AS backfills_running FROM continuous.backfills;

-- rebuild: the same contents, computed again; rows this transaction wrote
-- are counted by the worker when it commits, not twice
SELECT continuous.rebuild('bf_keys') AS rows_read;
BEGIN;
INSERT INTO bf VALUES ('k1', 100000, '2026-01-06 00:00:00+00');
SELECT continuous.rebuild('bf_all') AS rows_read;
SELECT continuous.rebuild('bf_sessions') AS rows_read;
COMMIT;
SELECT continuous.sync();
(TABLE bf_keys EXCEPT SELECT k, count(*), sum(v), min(ts) FROM bf GROUP BY k)
UNION ALL (SELECT k, count(*), sum(v), min(ts) FROM bf GROUP BY k EXCEPT TABLE bf_keys);
(TABLE bf_all EXCEPT SELECT count(*), max(v) FROM bf)
UNION ALL (SELECT count(*), max(v) FROM bf EXCEPT TABLE bf_all);
SELECT count(*) AS sessions, sum(n) AS events FROM bf_sessions;

-- a view that failed by its own fault comes back with rebuild
CREATE FUNCTION bf_picky_combine(int8, int8) RETURNS int8 LANGUAGE plpgsql AS $$
BEGIN
    IF $1 < 0 OR $2 < 0 THEN
        RAISE EXCEPTION 'bf_picky_combine refuses % and %', $1, $2;
    END IF;
    RETURN $1 + $2;
END $$;
CREATE AGGREGATE bf_picky_sum(int) (SFUNC = int84pl, STYPE = int8,
                                    COMBINEFUNC = bf_picky_combine, INITCOND = '0');
CREATE VIEW bf_picky WITH (continuous) AS SELECT k, bf_picky_sum(v) AS s FROM bf GROUP BY k;
INSERT INTO bf VALUES ('k2', -5, '2026-01-06 00:00:01+00');
SELECT continuous.sync();
SELECT status FROM continuous.views WHERE view = 'bf_picky'::regclass;
-- once the bad row is gone
DELETE FROM bf WHERE v < 0;
SELECT continuous.rebuild('bf_picky') > 0 AS rebuilt;
SELECT status, last_error FROM continuous.views WHERE view = 'bf_picky'::regclass;
INSERT INTO bf VALUES ('k2', 5, '2026-01-06 00:00:02+00');
SELECT continuous.sync();
(TABLE bf_picky EXCEPT SELECT k, sum(v) FROM bf GROUP BY k)
UNION ALL (SELECT k, sum(v) FROM bf GROUP BY k EXCEPT TABLE bf_picky);

-- the view owner's code runs as the owner, never as the extension, even
-- inside the backfill's writes to storage: here a combine function (called
-- at once, with the one row of a view without GROUP BY) that tries to empty
-- another view's storage
CREATE FUNCTION bf_sneaky_combine(int8, int8) RETURNS int8 LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM continuous_storage.bf_keys_state;
    RETURN $1 + $2;
END $$;
CREATE AGGREGATE bf_sneaky_sum(int) (SFUNC = int84pl, STYPE = int8,
                                     COMBINEFUNC = bf_sneaky_combine, INITCOND = '0');
CREATE VIEW bf_sneaky WITH (continuous) AS SELECT bf_sneaky_sum(v) AS s FROM bf;
SELECT count(*) > 0 AS bf_keys_kept FROM continuous_storage.bf_keys_state;

-- rows a backfill cannot evaluate are dead letters of the view
CREATE TABLE bf_bad (k int, d int, ts timestamptz);
INSERT INTO bf_bad VALUES (1, 1, '2026-01-01'), (2, 0, '2026-01-01'), (3, 1, '2099-01-01');
SELECT continuous.create_stream('bf_bad', event_time => 'ts');
CREATE VIEW bf_ratio WITH (continuous) AS SELECT k, sum(10 / d) AS r FROM bf_bad GROUP BY k;
TABLE bf_ratio ORDER BY k;
SELECT view, position <> '' AS has_position, payload, regexp_replace(error, 'clock by .*', 'clock by ...') AS error
FROM continuous.dead_letters WHERE stream = 'bf_bad'::regclass ORDER BY payload;

-- chunks are bounded by maintenance_work_mem: at its minimum, 60,000 rows
-- over 20,000 groups take several chunks, and a group whose rows are in
-- several of them is merged into its stored row (an update) each time;
-- under the default, the same rows are one chunk (inserts only)
CREATE TABLE bf_mem (g int, v int, ts timestamptz NOT NULL DEFAULT '2026-01-01');
INSERT INTO bf_mem (g, v) SELECT i % 20000, i FROM generate_series(1, 60000) i;
SELECT continuous.create_stream('bf_mem', event_time => 'ts');
SET maintenance_work_mem = '1MB';
CREATE VIEW bf_mem_chunked WITH (continuous) AS
    SELECT g, count(*) AS n, sum(v) AS s FROM bf_mem GROUP BY g;
RESET maintenance_work_mem;
CREATE VIEW bf_mem_whole WITH (continuous) AS
    SELECT g, count(*) AS n, sum(v) AS s FROM bf_mem GROUP BY g;
SELECT count(*) AS chunked_differing FROM (
    (TABLE bf_mem_chunked EXCEPT ALL SELECT g, count(*), sum(v) FROM bf_mem GROUP BY g)
    UNION ALL
    (SELECT g, count(*), sum(v) FROM bf_mem GROUP BY g EXCEPT ALL TABLE bf_mem_chunked)) d;
SELECT count(*) AS whole_differing FROM (
    (TABLE bf_mem_whole EXCEPT ALL SELECT g, count(*), sum(v) FROM bf_mem GROUP BY g)
    UNION ALL
    (SELECT g, count(*), sum(v) FROM bf_mem GROUP BY g EXCEPT ALL TABLE bf_mem_whole)) d;
SELECT pg_stat_force_next_flush();
SELECT relname, n_tup_ins, n_tup_upd > 0 AS merged_across_chunks
FROM pg_stat_user_tables
WHERE relid IN ('continuous_storage.bf_mem_chunked_state'::regclass,
                'continuous_storage.bf_mem_whole_state'::regclass)
ORDER BY relname;

-- a view that can take events before its flush folds each chunk but the
-- last into its groups and writes them once: at the minimum
-- maintenance_work_mem, 50,000 rows take several chunks, and the first,
-- folded, has a row that cannot be evaluated and one ahead of the clock,
-- which stay its dead letters
CREATE TABLE bf_fold (k int, d int, ts timestamptz NOT NULL);
INSERT INTO bf_fold VALUES (7, 0, '2026-01-01'), (8, 1, '2099-01-01');
INSERT INTO bf_fold
SELECT i, 1 + i % 3, '2026-01-01'::timestamptz + i * interval '1 second'
FROM generate_series(1, 50000) i;
SELECT continuous.create_stream('bf_fold', event_time => 'ts');
SET maintenance_work_mem = '1MB';
CREATE VIEW bf_folded WITH (continuous) AS
    SELECT k % 10 AS g, count(*) AS n, sum(10 / d) AS r FROM bf_fold GROUP BY 1;
RESET maintenance_work_mem;
SELECT count(*) AS folded_differing FROM (
    (TABLE bf_folded EXCEPT ALL
     SELECT k % 10, count(*), sum(10 / d) FROM bf_fold
      WHERE d <> 0 AND ts < '2099-01-01' GROUP BY 1)
    UNION ALL
    (SELECT k % 10, count(*), sum(10 / d) FROM bf_fold
      WHERE d <> 0 AND ts < '2099-01-01' GROUP BY 1
     EXCEPT ALL TABLE bf_folded)) d;
SELECT payload, regexp_replace(error, 'clock by .*', 'clock by ...') AS error
FROM continuous.dead_letters WHERE stream = 'bf_fold'::regclass ORDER BY payload;
SELECT pg_stat_force_next_flush();
SELECT n_tup_ins, n_tup_upd AS written_again
FROM pg_stat_user_tables WHERE relid = 'continuous_storage.bf_folded_state'::regclass;

-- what cannot be backfilled or rebuilt
CREATE VIEW bf_opt WITH (continuous, backfill = 'maybe') AS SELECT count(*) FROM bf;
CREATE VIEW bf_opt WITH (backfill = false) AS SELECT count(*) FROM bf;
SELECT continuous.rebuild('bf');
CREATE SERVER bf_kafka FOREIGN DATA WRAPPER continuous_kafka OPTIONS (brokers '127.0.0.1:1');
CREATE FOREIGN TABLE bf_orders (k int) SERVER bf_kafka OPTIONS (topic 'bf_orders', format 'json');
CREATE VIEW bf_kafka_view WITH (continuous, backfill = true) AS SELECT k, count(*) FROM bf_orders GROUP BY k;
CREATE VIEW bf_kafka_view WITH (continuous) AS SELECT k, count(*) FROM bf_orders GROUP BY k;
SELECT continuous.rebuild('bf_kafka_view');
DROP SERVER bf_kafka CASCADE;
CREATE ROLE bf_other;
SET ROLE bf_other;
SELECT continuous.rebuild('bf_keys');
RESET ROLE;
DROP ROLE bf_other;

DROP TABLE bf CASCADE;
DROP TABLE bf_bad CASCADE;
DROP TABLE bf_mem CASCADE;
DROP TABLE bf_fold CASCADE;
DROP AGGREGATE bf_picky_sum(int);
DROP AGGREGATE bf_sneaky_sum(int);
DROP FUNCTION bf_sneaky_combine(int8, int8);
DROP FUNCTION bf_picky_combine(int8, int8);
DROP EXTENSION pg_continuous;
