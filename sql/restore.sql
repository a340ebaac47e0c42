--
-- A continuous view restored from a dump (src/ddl/restore.c), statement by
-- statement as pg_dump writes it: a superuser's restore may build the
-- storage that no view claims yet (fill it, index it, give it away, turn
-- triggers off and on), and nobody else may; the view comes back when its
-- last part is in, computed from the restored table; from then on its
-- storage is guarded as any other (sql/storage_guard.sql).
--
CREATE EXTENSION pg_continuous;
CREATE ROLE regress_restore_other;
-- this extension's worker (not the previous test's, which may not have
-- seen its extension go yet) has its slot, as it has long before a real
-- restore's data is in: create_stream() waits for it
CREATE TABLE warm_up (ts timestamptz);
SELECT continuous.create_stream('warm_up', event_time => 'ts');
DROP TABLE warm_up;

-- pre-data: the stream table, the read view as a placeholder, the
-- definition view and the storage, each given to the owner the dump names
CREATE TABLE events (k bigint, v int, ts timestamptz NOT NULL);
CREATE VIEW per_k AS
SELECT
    NULL::bigint AS key,
    NULL::bigint AS c;
CREATE VIEW continuous_storage.per_k_query WITH (security_invoker='true') AS
 SELECT (events.k % (5)::bigint) AS key,
    count(*) AS c
   FROM public.events
  GROUP BY (events.k % (5)::bigint);
CREATE TABLE continuous_storage.per_k_state (
    key bigint,
    c_state bigint
)
WITH (fillfactor='50');
-- the old cluster's bootstrap superuser, which need not exist here, or an
-- ordinary role here: the storage keeps its owner until its view claims it
ALTER TABLE continuous_storage.per_k_state OWNER TO regress_no_such_role;
ALTER TABLE continuous_storage.per_k_query OWNER TO regress_restore_other;
SELECT c.relname, c.relowner = 10 AS bootstrap_superuser_owns
  FROM pg_class c WHERE c.relnamespace = 'continuous_storage'::regnamespace
 ORDER BY c.relname;
-- nor may schema continuous go to an ordinary role
ALTER SCHEMA continuous OWNER TO regress_restore_other;
SELECT nspowner = 10 AS bootstrap_superuser_owns
  FROM pg_namespace WHERE nspname = 'continuous';

-- what pg_dump writes of privileges is the superuser's to restore, but
-- a privilege on storage lets nobody else write it
GRANT INSERT ON continuous_storage.per_k_state TO regress_restore_other;
SET ROLE regress_restore_other;
INSERT INTO continuous_storage.per_k_state VALUES (0, 1);
COPY continuous_storage.per_k_state FROM stdin;
0	1
\.
RESET ROLE;

-- data: the catalog's rows (no view claims the storage: pending), with
-- --disable-triggers, which leaves the extension's triggers alone
ALTER TABLE continuous.stream_catalog DISABLE TRIGGER ALL;
INSERT INTO continuous.stream_catalog (stream, kind, event_time, watermark_delay, idle_timeout, max_future)
VALUES ('events', 'table', 'ts', '0', NULL, '1 day');
ALTER TABLE continuous.stream_catalog ENABLE TRIGGER ALL;
ALTER TABLE continuous.view_catalog DISABLE TRIGGER ALL;
SELECT tgname, tgenabled FROM pg_trigger
 WHERE tgrelid = 'continuous.view_catalog'::regclass ORDER BY tgname;
INSERT INTO continuous.view_catalog (view, stream, storage, definition, emit, allowed_lateness,
                                     late_events, late_table, retention, "window", search_path,
                                     query_view, counts_table, restore_pending)
VALUES ('per_k', 'events', 'continuous_storage.per_k_state',
        'SELECT k % 5 AS key, count(*) AS c FROM events GROUP BY key', 'changes', '0',
        'drop', NULL, NULL, NULL, 'public', 'continuous_storage.per_k_query', NULL, false);
ALTER TABLE continuous.view_catalog ENABLE TRIGGER ALL;
INSERT INTO continuous.view_stats (view, events) VALUES ('per_k', 2);
SELECT view, restore_pending FROM continuous.view_catalog;

-- the storage's rows (the dump's, of events the old worker counted), the
-- stream's rows (some it had not flushed yet), the storage's index
ALTER TABLE continuous_storage.per_k_state DISABLE TRIGGER ALL;
COPY continuous_storage.per_k_state (key, c_state) FROM stdin;
1	1
2	1
\.
ALTER TABLE continuous_storage.per_k_state ENABLE TRIGGER ALL;
COPY events (k, v, ts) FROM stdin;
1	1	2026-01-01 00:00:01+00
2	2	2026-01-01 00:00:02+00
3	3	2026-01-01 00:00:03+00
6	6	2026-01-01 00:00:06+00
\.
CREATE UNIQUE INDEX per_k_state_key ON continuous_storage.per_k_state USING btree (key) NULLS NOT DISTINCT;
-- the read view is still the placeholder: the view waits, and says so
SELECT view, restore_pending FROM continuous.view_catalog;
SELECT view, status FROM continuous.views;
SELECT * FROM per_k;

-- its CREATE OR REPLACE VIEW, the last part: the view is back, computed
-- from the table
CREATE OR REPLACE VIEW public.per_k AS
 SELECT per_k_state.key,
    continuous.finalize(('count()'::regprocedure)::oid, per_k_state.c_state, NULL::bigint) AS c
   FROM continuous_storage.per_k_state;
SELECT view, restore_pending FROM continuous.view_catalog;
SELECT * FROM per_k ORDER BY key;
SELECT c.relname, c.relowner = 10 AS bootstrap_superuser_owns
  FROM pg_class c WHERE c.relnamespace = 'continuous_storage'::regnamespace
 ORDER BY c.relname;
SELECT has_table_privilege('regress_restore_other', 'continuous_storage.per_k_state', 'INSERT');
SELECT count(*) AS left_noted FROM continuous.restore_loaded;

-- claimed: refused to superusers too, a restore or not
INSERT INTO continuous_storage.per_k_state VALUES (9, 9);
COPY continuous_storage.per_k_state FROM stdin;
9	9
\.
TRUNCATE continuous_storage.per_k_state;
ALTER TABLE continuous_storage.per_k_state OWNER TO regress_restore_other;
DROP INDEX continuous_storage.per_k_state_key;
CREATE OR REPLACE VIEW public.per_k AS SELECT 1::bigint AS key, 1::bigint AS c;

-- new events count once
INSERT INTO events VALUES (7, 7, '2026-01-01 00:00:07+00'), (10, 10, '2026-01-01 00:00:10+00');
SELECT continuous.sync();
SELECT * FROM per_k ORDER BY key;
(SELECT k % 5 AS key, count(*) AS c FROM events GROUP BY 1
 EXCEPT SELECT * FROM per_k)
UNION ALL
(SELECT * FROM per_k EXCEPT SELECT k % 5, count(*) FROM events GROUP BY 1);

-- no restore is going on any more: a superuser's COPY leaves no note
COPY events (k, v, ts) FROM stdin;
11	11	2026-01-01 00:00:11+00
\.
SELECT count(*) AS noted_outside_a_restore FROM continuous.restore_loaded;

-- one object again
DROP VIEW per_k;
SELECT count(*) FROM pg_class WHERE relname LIKE 'per\_k%';

-- a dump made with --inserts copies nothing: a stream table without rows
-- does not say it was restored, and its view waits; continuous.rebuild()
-- brings it back from what the table holds
CREATE TABLE quiet (ts timestamptz NOT NULL);
CREATE VIEW per_q AS
SELECT
    NULL::bigint AS c;
CREATE VIEW continuous_storage.per_q_query WITH (security_invoker='true') AS
 SELECT count(*) AS c
   FROM public.quiet;
CREATE TABLE continuous_storage.per_q_state (
    c_state bigint
);
INSERT INTO continuous.stream_catalog (stream, kind, event_time) VALUES ('quiet', 'table', 'ts');
INSERT INTO continuous.view_catalog (view, stream, storage, definition, emit, allowed_lateness,
                                     late_events, search_path, query_view)
VALUES ('per_q', 'quiet', 'continuous_storage.per_q_state', 'SELECT count(*) AS c FROM quiet',
        'changes', '0', 'drop', 'public', 'continuous_storage.per_q_query');
-- the worker decodes the catalog row and writes the view's statistics
-- first: the restore's row replaces them
SELECT continuous.sync();
INSERT INTO continuous.view_stats (view, events) VALUES ('per_q', 3);
SELECT view, events FROM continuous.view_stats;
INSERT INTO continuous_storage.per_q_state (c_state) VALUES (3);
CREATE OR REPLACE VIEW public.per_q AS
 SELECT continuous.finalize(('count()'::regprocedure)::oid, per_q_state.c_state, NULL::bigint) AS c
   FROM continuous_storage.per_q_state;
SELECT view, restore_pending FROM continuous.view_catalog;
SELECT view, status FROM continuous.views;
SELECT continuous.rebuild('per_q');
SELECT view, status FROM continuous.views;
INSERT INTO quiet VALUES ('2026-01-01 00:00:01+00');
SELECT continuous.sync();
SELECT * FROM per_q;

DROP VIEW per_q;
DROP TABLE events, quiet;
DROP EXTENSION pg_continuous;
DROP ROLE regress_restore_other;
