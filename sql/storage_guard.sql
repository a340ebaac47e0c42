--
-- The storage of continuous views belongs to the extension.  Its view's
-- owner may read it and nothing else; nobody, superusers included, may
-- change it behind the worker's back: a TRUNCATE would silently reset the
-- view, a dropped index would stop the worker, a lock would stall it, a
-- trigger or index expression would run someone's code in the worker.
--
CREATE EXTENSION pg_continuous;
CREATE ROLE regress_guard_owner;
CREATE ROLE regress_guard_heir;
CREATE ROLE regress_guard_other;
GRANT CREATE ON SCHEMA public TO regress_guard_owner, regress_guard_other;

SET ROLE regress_guard_owner;
CREATE TABLE clicks (page text, ts timestamptz NOT NULL);
SELECT continuous.create_stream('clicks', event_time => 'ts');
CREATE VIEW per_page WITH (continuous) AS
    SELECT page, count(*) AS n FROM clicks GROUP BY page;
CREATE VIEW per_run WITH (continuous) AS
    SELECT page, continuous.count_window(2) AS run, count(*) AS n
    FROM clicks GROUP BY page, run;
CREATE VIEW per_page_ratio WITH (continuous) AS
    SELECT page, sum(1 / (length(page) - 3)) AS r FROM clicks GROUP BY page;
INSERT INTO clicks VALUES ('/a', '2026-01-01 00:00:00+00'), ('/b', '2026-01-01 00:00:01+00');
SELECT continuous.sync();

-- the owner reads the view, but cannot change its storage
TABLE per_page ORDER BY page;
TRUNCATE continuous_storage.per_page_state;
DELETE FROM continuous_storage.per_page_state;
SELECT * FROM continuous_storage.per_page_state FOR UPDATE;
DROP INDEX continuous_storage.per_page_state_key;
ALTER TABLE continuous_storage.per_page_state ADD COLUMN x int;
BEGIN;
LOCK TABLE continuous_storage.per_page_state IN ACCESS EXCLUSIVE MODE;
ROLLBACK;
-- locking the view would lock its storage as well: refused the same way
BEGIN;
LOCK TABLE per_page IN ACCESS EXCLUSIVE MODE;
ROLLBACK;
-- an ACCESS SHARE lock blocks no flush (pg_dump takes one)
BEGIN;
LOCK TABLE continuous_storage.per_page_state IN ACCESS SHARE MODE;
ROLLBACK;
-- DELETE on dead_letters does not let anyone stall every flush with a lock
BEGIN;
LOCK TABLE continuous.dead_letters IN EXCLUSIVE MODE;
ROLLBACK;
BEGIN;
LOCK TABLE continuous.dead_letters IN ACCESS SHARE MODE;
ROLLBACK;
RESET ROLE;

-- a superuser is refused too, with what to do instead
TRUNCATE continuous_storage.per_page_state;
INSERT INTO continuous_storage.per_page_state VALUES ('/c', 1);
UPDATE continuous_storage.per_page_state SET page = page;
COPY continuous_storage.per_page_state FROM '/dev/null';
DROP INDEX continuous_storage.per_page_state_key;
DROP TABLE continuous_storage.per_page_state;
ALTER TABLE continuous_storage.per_page_state ALTER COLUMN page TYPE varchar;
ALTER TABLE continuous_storage.per_page_state RENAME TO elsewhere;
ALTER TABLE continuous_storage.per_page_state SET SCHEMA public;
ALTER INDEX continuous_storage.per_page_state_key RENAME TO elsewhere;
CREATE INDEX ON continuous_storage.per_page_state (n);
CREATE FUNCTION noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER noop BEFORE INSERT ON continuous_storage.per_page_state
    FOR EACH ROW EXECUTE FUNCTION noop();
CREATE RULE nothing AS ON INSERT TO continuous_storage.per_page_state DO INSTEAD NOTHING;
CREATE POLICY everything ON continuous_storage.per_page_state USING (true);
CREATE TABLE child () INHERITS (continuous_storage.per_page_state);
GRANT SELECT ON continuous_storage.per_page_state TO regress_guard_other;
GRANT SELECT ON ALL TABLES IN SCHEMA continuous_storage TO regress_guard_other;
VACUUM FULL continuous_storage.per_page_state;
CLUSTER continuous_storage.per_page_state USING per_page_state_key;
REINDEX TABLE continuous_storage.per_page_state;
BEGIN;
LOCK TABLE continuous_storage.per_page_state IN SHARE MODE;
ROLLBACK;
-- the table of counts of a count window is storage too
TRUNCATE continuous_storage.per_run_counts;
DELETE FROM continuous_storage.per_run_counts;
-- and so is the definition view, the SELECT the worker evaluates: DROP
-- VIEW per_page removes it, nothing changes it
SELECT pg_get_viewdef('continuous_storage.per_page_query');
DROP VIEW continuous_storage.per_page_query;
ALTER VIEW continuous_storage.per_page_query RENAME TO elsewhere;
ALTER VIEW continuous_storage.per_page_query OWNER TO regress_guard_other;
CREATE OR REPLACE VIEW continuous_storage.per_page_query AS
    SELECT 'x'::text AS page, 0::bigint AS n;
GRANT SELECT ON continuous_storage.per_page_query TO regress_guard_other;
-- reading it runs the SELECT as batch SQL, with the reader's own rights
SELECT * FROM continuous_storage.per_page_query ORDER BY page;
SET ROLE regress_guard_other;
SELECT * FROM continuous_storage.per_page_query;
RESET ROLE;

-- maintenance that blocks no flush is allowed
VACUUM continuous_storage.per_page_state;
ANALYZE continuous_storage.per_page_state;
REINDEX TABLE CONCURRENTLY continuous_storage.per_page_state;

-- the storage is untouched, and the worker goes on writing it
INSERT INTO clicks VALUES ('/a', '2026-01-01 00:00:02+00'), ('/c', '2026-01-01 00:00:03+00');
SELECT continuous.sync();
TABLE per_page ORDER BY page;
TABLE per_run ORDER BY page, run;

-- who may read the storage: its view's owner, and that moves with the view
SELECT relname, pg_get_userbyid(relowner) AS owner, relacl
FROM pg_class WHERE relnamespace = 'continuous_storage'::regnamespace
  AND relkind = 'r' ORDER BY relname;
ALTER VIEW per_page OWNER TO regress_guard_heir;
REASSIGN OWNED BY regress_guard_owner TO regress_guard_heir;
SELECT relname, pg_get_userbyid(relowner) AS owner, relacl
FROM pg_class WHERE relnamespace = 'continuous_storage'::regnamespace
  AND relkind = 'r' ORDER BY relname;
SET ROLE regress_guard_heir;
TABLE per_page ORDER BY page;
RESET ROLE;
SET ROLE regress_guard_owner;
TABLE continuous_storage.per_page_state;
RESET ROLE;

--
-- Dead letters hold events: a role sees only those of streams it may read,
-- and only the owners of the stream or view delete them.
--
SET ROLE regress_guard_other;
CREATE TABLE secrets (code text, n int, ts timestamptz NOT NULL DEFAULT now());
SELECT continuous.create_stream('secrets');
CREATE VIEW secret_sums WITH (continuous) AS
    SELECT code, sum(100 / n) AS s FROM secrets GROUP BY code;
INSERT INTO secrets VALUES ('s3cr3t', 0);
RESET ROLE;
INSERT INTO clicks VALUES ('/ab', '2026-01-01 00:00:04+00');
SELECT continuous.sync();

SET ROLE regress_guard_other;
SELECT stream, view, error FROM continuous.dead_letters ORDER BY id;
RESET ROLE;
SET ROLE regress_guard_heir;
SELECT stream, view, error FROM continuous.dead_letters ORDER BY id;
DELETE FROM continuous.dead_letters RETURNING stream, view;
RESET ROLE;
GRANT SELECT ON secrets TO regress_guard_heir;
SET ROLE regress_guard_heir;
SELECT stream, view, error FROM continuous.dead_letters ORDER BY id;
-- may read, but owns neither the stream nor the view: deletes nothing
DELETE FROM continuous.dead_letters WHERE stream = 'secrets'::regclass
    RETURNING stream, view;
RESET ROLE;
SET ROLE regress_guard_other;
DELETE FROM continuous.dead_letters WHERE stream = 'secrets'::regclass
    RETURNING stream, view;
RESET ROLE;
SELECT stream, view, error FROM continuous.dead_letters ORDER BY id;

DROP EXTENSION pg_continuous CASCADE;
DROP TABLE clicks, secrets;
DROP FUNCTION noop();
REVOKE CREATE ON SCHEMA public FROM regress_guard_owner, regress_guard_other;
DROP ROLE regress_guard_owner, regress_guard_heir, regress_guard_other;
