/*
 * pg_continuous 0.1 -> 0.2.
 *
 * There is no pg_continuous--0.2.sql: CREATE EXTENSION runs the 0.1 script
 * and then this one, so every installation, new or updated, has the same
 * catalog, and every test run goes through this update path.  Released
 * scripts never change; a change to the catalog is a new update script.
 *
 * Each section says what it is for.  Views' state and positions are kept:
 * nothing here rewrites storage tables.
 */

\echo Use "ALTER EXTENSION pg_continuous UPDATE TO '0.2'" to load this file. \quit

/* ------------------------------------------------------------------------
 * Continuous views that survive pg_upgrade (src/view_definition.c,
 * src/view_dependencies.c)
 *
 * 0.1 kept each continuous view's analysed SELECT as nodeToString() text in
 * view_catalog.query: PostgreSQL's internal format, which changes between
 * major versions, naming functions and operators by OIDs that pg_upgrade
 * and restores do not keep.  From 0.2 on, the SELECT is an internal view,
 * continuous_storage.<view>_query, stored, renamed, dumped and upgraded by
 * PostgreSQL like any view; query_view names it.  The views made from 0.1's
 * text here (on the major version that wrote it) hold the same Query, so
 * every view goes on counting where its state and position stand.  The
 * read views name their aggregates by signature rather than OID.
 *
 * counts_table names the table of counts of a count window, which 0.1
 * found only by its dependency on the storage table: pg_upgrade keeps no
 * dependency, the worker records them again from the catalog.
 * ------------------------------------------------------------------------ */

-- the internal view holding the analysed defining SELECT
ALTER TABLE continuous.view_catalog ADD COLUMN query_view oid;
-- the table of counts of a count window, or NULL
ALTER TABLE continuous.view_catalog ADD COLUMN counts_table oid;

UPDATE continuous.view_catalog v SET counts_table = c.oid
  FROM pg_catalog.pg_depend d
  JOIN pg_catalog.pg_class c ON c.oid = d.objid
 WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objsubid = 0
   AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
   AND d.refobjid = v.storage AND d.deptype = 'i' AND c.relkind = 'r';

-- a row whose view is gone (dropped where the sql_drop trigger does not
-- fire, as in single-user mode) describes nothing: 0.1's worker skipped it
DELETE FROM continuous.view_catalog v
 WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid = v.view);
DELETE FROM continuous.view_stats s
 WHERE NOT EXISTS (SELECT FROM continuous.view_catalog v WHERE v.view = s.view);

CREATE FUNCTION continuous._upgrade_view_definitions()
RETURNS void
AS 'MODULE_PATHNAME', 'continuous_upgrade_view_definitions'
LANGUAGE C;
SELECT continuous._upgrade_view_definitions();
DROP FUNCTION continuous._upgrade_view_definitions();

ALTER TABLE continuous.view_catalog ALTER COLUMN query_view SET NOT NULL;
ALTER TABLE continuous.view_catalog DROP COLUMN query;

/* ------------------------------------------------------------------------
 * Backfill and rebuild (src/backfill.c, src/rebuild.c)
 * ------------------------------------------------------------------------ */

-- when continuous.rebuild() last computed the view again; the update is
-- also how the worker learns of it (a change of the continuous catalog)
ALTER TABLE continuous.view_catalog ADD COLUMN rebuilt_at timestamptz;

CREATE FUNCTION continuous.rebuild(view regclass)
RETURNS bigint
AS 'MODULE_PATHNAME', 'continuous_rebuild'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION continuous.rebuild(regclass) IS
'compute a continuous view of a table stream again from the table''s rows, and bring it back if it failed; returns the rows read';

CREATE FUNCTION continuous._backfill_progress(
    OUT pid int, OUT view text, OUT stream regclass, OUT kind text,
    OUT started_at timestamptz, OUT rows_done bigint,
    OUT blocks_done bigint, OUT blocks_total bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'continuous_backfill_progress'
LANGUAGE C STRICT VOLATILE;

-- Backfills (CREATE VIEW over a table with rows) and rebuilds under way in
-- this database, like PostgreSQL's pg_stat_progress_* views.
CREATE VIEW continuous.backfills AS
    SELECT pid, view, stream, kind, started_at, rows_done, blocks_done,
           blocks_total,
           CASE WHEN blocks_total > 0
                THEN round(100.0 * blocks_done / blocks_total, 1) END AS percent_done
    FROM continuous._backfill_progress();
GRANT SELECT ON continuous.backfills TO PUBLIC;

-- the worker's replication slot could not decode from lsn (it was gone, or
-- invalidated): the views of table streams are computed again from their
-- tables before decoding goes on; written before the new slot is made
ALTER TABLE continuous.decoder_position
    ADD COLUMN rebuild_owed boolean NOT NULL DEFAULT false;

-- the watermark a backfill or rebuild found (latest event time read minus
-- watermark_delay): the worker moves the stream's watermark to it when it
-- decodes that transaction, and clears it
ALTER TABLE continuous.view_stats ADD COLUMN backfill_watermark timestamptz;

/* ------------------------------------------------------------------------
 * Dump and restore (src/restore.c)
 *
 * pg_dump carries the catalog as data of the extension's configuration
 * tables.  Relations are named by regclass, so COPY writes their names
 * and reads them back as the OIDs of the restored relations; C readers
 * get an Oid either way.  decoder_position is not dumped: an LSN of
 * another cluster means nothing in the restored one.
 *
 * A view_catalog row that arrives without the view's dependencies (pg_dump
 * carries none) is a restored one: restore_pending is set, the worker
 * leaves the view alone, and the restore's CREATE OR REPLACE VIEW of its
 * read view, which pg_dump writes after every row and index of its
 * storage, brings it back (or whichever part of it comes last, in a
 * parallel or data-only restore): a view of a table stream is computed
 * again from the restored table, a view of a Kafka stream keeps the dumped
 * state and offsets.
 * ------------------------------------------------------------------------ */

-- the monitoring views read the columns retyped here: made again as they
-- were, from their own definitions
DO $$
DECLARE
    names text[] := ARRAY['streams', 'views', 'kafka_partitions'];
    defs text[];
BEGIN
    SELECT pg_catalog.array_agg(pg_catalog.pg_get_viewdef(
               pg_catalog.format('continuous.%I', n)::pg_catalog.regclass) ORDER BY o)
      INTO defs
      FROM pg_catalog.unnest(names) WITH ORDINALITY AS u(n, o);
    DROP VIEW continuous.streams, continuous.views, continuous.kafka_partitions;

    ALTER TABLE continuous.stream_catalog ALTER COLUMN stream TYPE pg_catalog.regclass;
    ALTER TABLE continuous.view_catalog
        ALTER COLUMN view TYPE pg_catalog.regclass,
        ALTER COLUMN stream TYPE pg_catalog.regclass,
        ALTER COLUMN storage TYPE pg_catalog.regclass,
        ALTER COLUMN late_table TYPE pg_catalog.regclass,
        ALTER COLUMN query_view TYPE pg_catalog.regclass,
        ALTER COLUMN counts_table TYPE pg_catalog.regclass;
    ALTER TABLE continuous.stream_stats ALTER COLUMN stream TYPE pg_catalog.regclass;
    ALTER TABLE continuous.kafka_offsets ALTER COLUMN stream TYPE pg_catalog.regclass;
    ALTER TABLE continuous.view_stats ALTER COLUMN view TYPE pg_catalog.regclass;

    FOR i IN 1 .. pg_catalog.array_length(names, 1) LOOP
        EXECUTE pg_catalog.format('CREATE VIEW continuous.%I AS %s', names[i], defs[i]);
        EXECUTE pg_catalog.format('GRANT SELECT ON continuous.%I TO PUBLIC', names[i]);
    END LOOP;
END
$$;

-- set by the trigger below for rows restored from a dump
ALTER TABLE continuous.view_catalog
    ADD COLUMN restore_pending boolean NOT NULL DEFAULT false;

-- CREATE VIEW records the view's dependencies before its catalog row;
-- a restore's COPY brings the row without them
CREATE FUNCTION continuous._view_catalog_restored()
RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    NEW.restore_pending := NOT EXISTS (
        SELECT FROM pg_catalog.pg_depend d
         WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
           AND d.objid = NEW.storage AND d.objsubid = 0
           AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
           AND d.refobjid = NEW.view AND d.deptype = 'i');
    RETURN NEW;
END
$$;
CREATE TRIGGER view_catalog_restored BEFORE INSERT ON continuous.view_catalog
    FOR EACH ROW EXECUTE FUNCTION continuous._view_catalog_restored();
-- also under session_replication_role = replica
ALTER TABLE continuous.view_catalog ENABLE ALWAYS TRIGGER view_catalog_restored;

-- continuous.views says 'restoring' of a view that waits for the rest of
-- its restore, rather than the 'active' of its dumped statistics: its own
-- definition, but for status
DO $$
DECLARE
    old text := 'COALESCE(s.status, ''active''::text) AS status';
    def text := pg_catalog.pg_get_viewdef('continuous.views'::pg_catalog.regclass);
BEGIN
    IF pg_catalog.strpos(def, old) OPERATOR(pg_catalog.=) 0 THEN
        RAISE EXCEPTION 'continuous.views has no column status as 0.1 defines it';
    END IF;
    EXECUTE 'CREATE OR REPLACE VIEW continuous.views AS '
         OPERATOR(pg_catalog.||) pg_catalog.replace(def, old,
            'CASE WHEN c.restore_pending THEN ''restoring''::text '
            OPERATOR(pg_catalog.||) 'ELSE COALESCE(s.status, ''active''::text) END AS status');
END
$$;

-- The relations a restore has copied rows into or emptied: stream tables,
-- and relations of continuous_storage (noted by restore.c at the commit of
-- a superuser's COPY, TRUNCATE or INSERT into unclaimed storage), only
-- while a restore is going on, and forgotten once none is (see the
-- section on its notes at the end).  Not dumped: it describes this
-- database's restore only.
CREATE TABLE continuous.restore_loaded (
    relation oid PRIMARY KEY
);

-- A pending view is brought back by the first transaction after which
-- every part of it is in (restore.c): pg_restore -j, --single-transaction
-- and --data-only restore the parts in other orders than a plain dump.
-- Each of these tables' writes may be the last part.
CREATE FUNCTION continuous._restore_check()
RETURNS trigger
AS 'MODULE_PATHNAME', 'continuous_restore_check'
LANGUAGE C;
CREATE TRIGGER view_catalog_restore_check AFTER INSERT ON continuous.view_catalog
    FOR EACH STATEMENT EXECUTE FUNCTION continuous._restore_check();
CREATE TRIGGER stream_catalog_restore_check AFTER INSERT ON continuous.stream_catalog
    FOR EACH STATEMENT EXECUTE FUNCTION continuous._restore_check();
CREATE TRIGGER view_stats_restore_check AFTER INSERT ON continuous.view_stats
    FOR EACH STATEMENT EXECUTE FUNCTION continuous._restore_check();
CREATE TRIGGER stream_stats_restore_check AFTER INSERT ON continuous.stream_stats
    FOR EACH STATEMENT EXECUTE FUNCTION continuous._restore_check();
CREATE TRIGGER kafka_offsets_restore_check AFTER INSERT ON continuous.kafka_offsets
    FOR EACH STATEMENT EXECUTE FUNCTION continuous._restore_check();
-- The worker writes the statistics of a stream or view whose catalog row it
-- decoded, and may do so before the restore copies the dumped ones in: the
-- restore's row replaces the worker's, instead of failing on its key.
CREATE FUNCTION continuous._restore_replaces()
RETURNS trigger
AS 'MODULE_PATHNAME', 'continuous_restore_replaces'
LANGUAGE C;
CREATE TRIGGER view_stats_restore_replaces BEFORE INSERT ON continuous.view_stats
    FOR EACH ROW EXECUTE FUNCTION continuous._restore_replaces();
CREATE TRIGGER stream_stats_restore_replaces BEFORE INSERT ON continuous.stream_stats
    FOR EACH ROW EXECUTE FUNCTION continuous._restore_replaces();
ALTER TABLE continuous.view_stats ENABLE ALWAYS TRIGGER view_stats_restore_replaces;
ALTER TABLE continuous.stream_stats ENABLE ALWAYS TRIGGER stream_stats_restore_replaces;
ALTER TABLE continuous.view_catalog ENABLE ALWAYS TRIGGER view_catalog_restore_check;
ALTER TABLE continuous.stream_catalog ENABLE ALWAYS TRIGGER stream_catalog_restore_check;
ALTER TABLE continuous.view_stats ENABLE ALWAYS TRIGGER view_stats_restore_check;
ALTER TABLE continuous.stream_stats ENABLE ALWAYS TRIGGER stream_stats_restore_check;
ALTER TABLE continuous.kafka_offsets ENABLE ALWAYS TRIGGER kafka_offsets_restore_check;

SELECT pg_catalog.pg_extension_config_dump('continuous.stream_catalog', '');
SELECT pg_catalog.pg_extension_config_dump('continuous.view_catalog', '');
SELECT pg_catalog.pg_extension_config_dump('continuous.stream_stats', '');
SELECT pg_catalog.pg_extension_config_dump('continuous.view_stats', '');
SELECT pg_catalog.pg_extension_config_dump('continuous.kafka_offsets', '');
SELECT pg_catalog.pg_extension_config_dump('continuous.dead_letters', '');
SELECT pg_catalog.pg_extension_config_dump('continuous.dead_letters_id_seq', '');

/* ------------------------------------------------------------------------
 * A lock on one view's relations holds back that view only
 * (src/view_progress.c)
 *
 * A flush takes the locks it needs on each view's storage, table of counts
 * and late_events table without waiting.  A view whose relations another
 * transaction has locked (an uncommitted DROP VIEW, a LOCK on its
 * late_events table) is left behind, 'waiting', while the others go on;
 * once the lock is gone the worker decodes its events again.  Every view is
 * applied up to frontier except those in behind_views, each up to its
 * behind_lsns entry; lsn, where decoding resumes, is the least of them.
 * ------------------------------------------------------------------------ */

ALTER TABLE continuous.decoder_position
    ADD COLUMN frontier pg_lsn,
    ADD COLUMN behind_views oid[] NOT NULL DEFAULT '{}',
    ADD COLUMN behind_lsns pg_lsn[] NOT NULL DEFAULT '{}';

ALTER TABLE continuous.view_stats
    DROP CONSTRAINT view_stats_status_check,
    ADD CONSTRAINT view_stats_status_check
        CHECK (status IN ('active', 'failed', 'waiting'));

/* ------------------------------------------------------------------------
 * A lock on a view of a Kafka stream holds back that view only
 * (src/kafka_source.c, src/view_progress.c)
 *
 * continuous.kafka_offsets is where the stream stands: every view of it is
 * applied up to there, except those with rows here, each applied up to its
 * own offset on those partitions.  A view whose relations another
 * transaction has locked gets its rows in the flush that first leaves it
 * out, and the stream goes on for its other views.  Once the lock is gone
 * the stream's consumer reads again from the view's offsets, feeding the
 * messages before the stream's offsets to that view only, and the flush
 * that brings the view level with the stream deletes its rows.  Written by
 * the flushes that write the state, so exact through crashes; dumped with
 * kafka_offsets, so a view restored while it was held catches up too.
 * ------------------------------------------------------------------------ */

CREATE TABLE continuous.kafka_view_offsets (
    view            pg_catalog.regclass NOT NULL,
    stream          pg_catalog.regclass NOT NULL,
    "partition"     int NOT NULL,
    next_offset     bigint NOT NULL,        -- the view counts from here
    PRIMARY KEY (view, "partition")
);

SELECT pg_catalog.pg_extension_config_dump('continuous.kafka_view_offsets', '');

-- committed_offset and lag are the stream's; these say which views are
-- behind it on the partition (held back by a lock, or catching up after
-- one), and the lag of the one furthest behind
CREATE OR REPLACE VIEW continuous.kafka_partitions AS
SELECT o.stream::pg_catalog.regclass   AS stream,
       (SELECT option_value FROM pg_catalog.pg_options_to_table(f.ftoptions)
         WHERE option_name OPERATOR(pg_catalog.=) 'topic') AS topic,
       o."partition",
       o.next_offset                    AS committed_offset,
       o.high_watermark,
       greatest(o.high_watermark OPERATOR(pg_catalog.-) o.next_offset, 0) AS lag,
       o.max_event_time OPERATOR(pg_catalog.-) c.watermark_delay AS watermark,
       s.last_error,
       o.updated_at,
       o.worker,
       b.views                          AS views_behind,
       greatest(o.high_watermark OPERATOR(pg_catalog.-) b.next_offset, 0) AS views_behind_lag
  FROM continuous.kafka_offsets o
  JOIN continuous.stream_catalog c USING (stream)
  LEFT JOIN continuous.stream_stats s USING (stream)
  LEFT JOIN pg_catalog.pg_foreign_table f ON f.ftrelid OPERATOR(pg_catalog.=) o.stream
  LEFT JOIN LATERAL (
       SELECT pg_catalog.array_agg(k.view ORDER BY k.view) AS views,
              pg_catalog.min(k.next_offset) AS next_offset
         FROM continuous.kafka_view_offsets k
        WHERE k.stream OPERATOR(pg_catalog.=) o.stream
          AND k."partition" OPERATOR(pg_catalog.=) o."partition") b ON true;

/* ------------------------------------------------------------------------
 * Deduplication of stream events (src/exec/stage_dedup.c,
 * src/ddl/dedup_options.c)
 *
 * create_stream(..., unique_key => 'event_id', dedup_within => '1 hour'):
 * an event whose key was already seen within dedup_within of event time
 * (processing time without event time) is dropped before every view of
 * the stream.  Each view keeps the keys it has seen in dedup_keys, written
 * in the flush transaction that writes its state (exactly once with it),
 * and deleted once the watermark passes seen_at + dedup_within.  Keys are
 * the key columns' text forms: one table serves every view, and a dump
 * carries it like the other state of Kafka views (a view of a table
 * stream is computed again from its table on restore).
 * ------------------------------------------------------------------------ */

-- the unique key's columns, by name (renames follow them, stream_guard.c),
-- and how long a key is remembered; both NULL: no deduplication
ALTER TABLE continuous.stream_catalog
    ADD COLUMN unique_key name[],
    ADD COLUMN dedup_within interval;

-- events a view dropped as duplicates
ALTER TABLE continuous.view_stats
    ADD COLUMN duplicates bigint NOT NULL DEFAULT 0;

-- The keys each view has seen, with the event time (or processing time)
-- they were seen at.  Only the worker reads and writes it.  key is the
-- text of a text[] of the key columns' text forms, compared as bytes:
-- cheaper to index than the array.
CREATE TABLE continuous.dedup_keys (
    view    pg_catalog.regclass NOT NULL,
    key     text COLLATE "C" NOT NULL,
    seen_at timestamptz NOT NULL,
    PRIMARY KEY (view, key)
);
CREATE INDEX dedup_keys_expiry ON continuous.dedup_keys (view, seen_at);
SELECT pg_catalog.pg_extension_config_dump('continuous.dedup_keys', '');

-- a view's seen keys go with its catalog row, however it is deleted
-- (DROP VIEW, drop_stream(cascade => true), DROP EXTENSION of the stream)
CREATE FUNCTION continuous._dedup_keys_forget()
RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    DELETE FROM continuous.dedup_keys k WHERE k.view OPERATOR(pg_catalog.=) OLD.view;
    RETURN NULL;
END
$$;
CREATE TRIGGER view_catalog_dedup_keys AFTER DELETE ON continuous.view_catalog
    FOR EACH ROW EXECUTE FUNCTION continuous._dedup_keys_forget();
ALTER TABLE continuous.view_catalog ENABLE ALWAYS TRIGGER view_catalog_dedup_keys;

-- the new arguments default to NULL, so existing calls keep working
DROP FUNCTION continuous.create_stream(regclass, name, interval, interval);
CREATE FUNCTION continuous.create_stream(stream regclass,
                                         event_time name DEFAULT NULL,
                                         watermark_delay interval DEFAULT '0',
                                         max_future interval DEFAULT '1 day',
                                         unique_key text DEFAULT NULL,
                                         dedup_within interval DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'continuous_create_stream'
LANGUAGE C;

-- continuous.streams.duplicates after ignored_changes, and
-- continuous.views.duplicates after late_events: their own definitions
-- with the column added.  A stream's duplicates are those of its view that
-- dropped the most (each view deduplicates the events it reads; views
-- created later count from their start).
DO $$
DECLARE
    s_old text := 'COALESCE(s.ignored_changes, (0)::bigint) AS ignored_changes,';
    v_old text := 'COALESCE(s.late_events, (0)::bigint) AS late_events,';
    s_def text := pg_catalog.pg_get_viewdef('continuous.streams'::pg_catalog.regclass);
    v_def text := pg_catalog.pg_get_viewdef('continuous.views'::pg_catalog.regclass);
BEGIN
    IF pg_catalog.strpos(s_def, s_old) OPERATOR(pg_catalog.=) 0
       OR pg_catalog.strpos(v_def, v_old) OPERATOR(pg_catalog.=) 0 THEN
        RAISE EXCEPTION 'continuous.streams or continuous.views is not as 0.2 defines it';
    END IF;
    DROP VIEW continuous.streams, continuous.views;
    EXECUTE 'CREATE VIEW continuous.streams AS '
         OPERATOR(pg_catalog.||) pg_catalog.replace(s_def, s_old, s_old
            OPERATOR(pg_catalog.||) ' COALESCE((SELECT pg_catalog.max(d.duplicates) '
            OPERATOR(pg_catalog.||) 'FROM continuous.view_catalog dv '
            OPERATOR(pg_catalog.||) 'JOIN continuous.view_stats d ON d.view OPERATOR(pg_catalog.=) dv.view '
            OPERATOR(pg_catalog.||) 'WHERE dv.stream OPERATOR(pg_catalog.=) c.stream), 0) AS duplicates,');
    EXECUTE 'CREATE VIEW continuous.views AS '
         OPERATOR(pg_catalog.||) pg_catalog.replace(v_def, v_old, v_old
            OPERATOR(pg_catalog.||) ' COALESCE(s.duplicates, 0) AS duplicates,');
    GRANT SELECT ON continuous.streams, continuous.views TO PUBLIC;
END
$$;

/* ------------------------------------------------------------------------
 * Continuous transforms
 *
 * A continuous view without aggregates, GROUP BY or HAVING keeps each
 * event's output rows (stage_append.c): view_catalog says which kind a
 * view is, and continuous.views shows it in a last column.
 * ------------------------------------------------------------------------ */

ALTER TABLE continuous.view_catalog
    ADD COLUMN kind text NOT NULL DEFAULT 'aggregate'
        CHECK (kind IN ('aggregate', 'transform'));

-- the column goes last, after the SELECT list as it stands
-- continuous.views with more columns after its SELECT list as it stands,
-- for the sections below that add some; dropped at the end of the script
CREATE FUNCTION continuous._views_add_columns(columns text)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    def text := pg_catalog.pg_get_viewdef('continuous.views'::pg_catalog.regclass);
    pos int := pg_catalog.strpos(def, E'\n   FROM ');
BEGIN
    IF pos OPERATOR(pg_catalog.=) 0 THEN
        RAISE EXCEPTION 'continuous.views has no FROM clause where expected';
    END IF;
    EXECUTE 'CREATE OR REPLACE VIEW continuous.views AS '
         OPERATOR(pg_catalog.||) pg_catalog.substr(def, 1, pos OPERATOR(pg_catalog.-) 1)
         OPERATOR(pg_catalog.||) E',\n    ' OPERATOR(pg_catalog.||) columns
         OPERATOR(pg_catalog.||) pg_catalog.substr(def, pos);
END
$$;

SELECT continuous._views_add_columns(
    'c.kind');

/* ------------------------------------------------------------------------
 * Views over views (src/ddl/view_chain.c, src/state/chain_emit.c)
 *
 * A continuous view may read an emit = 'window_close' view: the first such
 * reader gives the read view an emission table,
 * continuous_storage.<view>_closed, with the read view's columns, which is
 * a table stream (event_time: the window column).  The worker appends the
 * final rows of the windows a flush closes, in that flush, and the readers
 * are views of that table stream.  emitted_upto says how far: every window
 * that closes (start + size + allowed_lateness) at or before it is in the
 * emission table, none after; written with the rows, so nothing is emitted
 * twice or skipped across crashes.  Written by the worker in its flushes:
 * not part of view_catalog, whose writes make the worker load its catalog
 * again.
 * ------------------------------------------------------------------------ */

CREATE TABLE continuous.view_emissions (
    view          pg_catalog.regclass PRIMARY KEY,  -- the emit = 'window_close' view
    emission      pg_catalog.regclass NOT NULL,     -- its emission table (a stream)
    window_column smallint NOT NULL,    -- the window's column, in both;
                                        -- a transform's event-time column
    -- the watermark up to which closed windows are in the emission table;
    -- NULL for a transform, whose storage is its emission table
    emitted_upto  timestamptz
);

SELECT pg_catalog.pg_extension_config_dump('continuous.view_emissions', '');

-- a dropped view or emission table leaves it through continuous._on_sql_drop()
-- (redefined in the section on a restore's notes, below)

-- continuous.views names the view a view reads, not its emission table
DO $$
DECLARE
    old text := 'c.stream,';
    def text := pg_catalog.pg_get_viewdef('continuous.views'::pg_catalog.regclass);
BEGIN
    IF pg_catalog.strpos(def, old) OPERATOR(pg_catalog.=) 0 THEN
        RAISE EXCEPTION 'continuous.views has no column stream as expected';
    END IF;
    EXECUTE 'CREATE OR REPLACE VIEW continuous.views AS '
         OPERATOR(pg_catalog.||) pg_catalog.regexp_replace(def, '\mc\.stream,',
            'COALESCE((SELECT e.view FROM continuous.view_emissions e '
            'WHERE e.emission OPERATOR(pg_catalog.=) c.stream), c.stream) AS stream,');
END
$$;

/* ------------------------------------------------------------------------
 * Interval joins
 *
 * A continuous view over two table streams joined on a key and a bounded
 * event-time condition (stage_interval_join.c) keeps each stream's rows
 * until the other stream's watermark passes their bound.  Those rows are
 * state like the aggregates: written in the flush transaction that writes
 * the view's state, deleted once the watermark passes them, loaded back
 * when the worker loads the view.  A row is its stream's columns' text
 * forms (NULL for a NULL or dropped column); side 0 is the stream first in
 * FROM, 1 the second.  continuous.views shows how many rows each side
 * holds, in two last columns.
 * ------------------------------------------------------------------------ */

-- the second stream of a view that joins two; NULL for the others
-- (continuous.drop_stream() of either stream finds the view)
ALTER TABLE continuous.view_catalog ADD COLUMN join_stream pg_catalog.regclass;

CREATE TABLE continuous.interval_join_rows (
    view       pg_catalog.regclass NOT NULL,
    side       int2 NOT NULL CHECK (side IN (0, 1)),
    event_time timestamptz NOT NULL,
    row        text[] NOT NULL
);
CREATE INDEX interval_join_rows_expiry
    ON continuous.interval_join_rows (view, side, event_time);
-- Not dumped: a restored view of table streams is computed again from its
-- tables, its kept rows with it (backfill.c); dumped rows, copied in after
-- that (pg_restore -j), would pair a second time.

-- a view's kept rows go with its catalog row, however it is deleted
CREATE FUNCTION continuous._interval_join_rows_forget()
RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    DELETE FROM continuous.interval_join_rows j
     WHERE j.view OPERATOR(pg_catalog.=) OLD.view;
    RETURN NULL;
END
$$;
CREATE TRIGGER view_catalog_interval_join_rows AFTER DELETE ON continuous.view_catalog
    FOR EACH ROW EXECUTE FUNCTION continuous._interval_join_rows_forget();
ALTER TABLE continuous.view_catalog ENABLE ALWAYS TRIGGER view_catalog_interval_join_rows;

-- join_rows_left, join_rows_right go last, after the columns as they stand
SELECT continuous._views_add_columns(
    E'(SELECT pg_catalog.count(*) FROM continuous.interval_join_rows j'
    OPERATOR(pg_catalog.||) ' WHERE j.view OPERATOR(pg_catalog.=) c.view AND j.side OPERATOR(pg_catalog.=) 0) AS join_rows_left'
    OPERATOR(pg_catalog.||) E',\n    (SELECT pg_catalog.count(*) FROM continuous.interval_join_rows j'
    OPERATOR(pg_catalog.||) ' WHERE j.view OPERATOR(pg_catalog.=) c.view AND j.side OPERATOR(pg_catalog.=) 1) AS join_rows_right');

/* ------------------------------------------------------------------------
 * Large transactions aggregated while they stream
 *
 * The worker runs a large transaction's rows through the views that can
 * take them as the transaction streams, before it commits, and at commit
 * combines what it aggregated (early_aggregation.c).  The events a view
 * took that way are counted; continuous.views shows them in a last column.
 * ------------------------------------------------------------------------ */

ALTER TABLE continuous.view_stats
    ADD COLUMN events_before_commit bigint NOT NULL DEFAULT 0;

SELECT continuous._views_add_columns(
    'COALESCE(s.events_before_commit, 0::bigint) AS events_before_commit');

DROP FUNCTION continuous._views_add_columns(text);

/* ------------------------------------------------------------------------
 * A restore's notes do not outlive their relations (src/ddl/restore.c)
 *
 * continuous.restore_loaded notes the relations a restore has copied rows
 * into, by oid, and only while a restore is going on.  A relation dropped
 * meanwhile loses its note: its oid may come back as a table of the
 * restore that has no rows yet, which its note would count as loaded.
 * ------------------------------------------------------------------------ */

-- The one sql_drop trigger of 0.1 forgets, besides the catalog rows of 0.1,
-- the emissions of dropped views and emission tables (views over views,
-- above) and the notes of dropped relations.
CREATE OR REPLACE FUNCTION continuous._on_sql_drop()
RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
    dropped oid[] := ARRAY(SELECT d.objid FROM pg_event_trigger_dropped_objects() d
                            WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0);
BEGIN
    DELETE FROM continuous.view_catalog v
     WHERE v.view = ANY (dropped) OR v.stream = ANY (dropped);
    DELETE FROM continuous.stream_catalog s WHERE s.stream = ANY (dropped);
    DELETE FROM continuous.view_stats s
     WHERE NOT EXISTS (SELECT 1 FROM continuous.view_catalog v WHERE v.view = s.view);
    -- a Kafka stream lives as long as its views: a new first view starts
    -- again at the foreign table's start_offset
    DELETE FROM continuous.stream_catalog c
     WHERE c.kind = 'kafka'
       AND NOT EXISTS (SELECT 1 FROM continuous.view_catalog v WHERE v.stream = c.stream);
    DELETE FROM continuous.stream_stats s
     WHERE NOT EXISTS (SELECT 1 FROM continuous.stream_catalog c WHERE c.stream = s.stream);
    DELETE FROM continuous.kafka_offsets o
     WHERE NOT EXISTS (SELECT 1 FROM continuous.stream_catalog c WHERE c.stream = o.stream);
    DELETE FROM continuous.view_emissions e
     WHERE e.view = ANY (dropped) OR e.emission = ANY (dropped);
    DELETE FROM continuous.restore_loaded l WHERE l.relation = ANY (dropped);
END
$$;
-- as the extension's table triggers, whatever session_replication_role says
ALTER EVENT TRIGGER continuous_on_sql_drop ENABLE ALWAYS;

/* ------------------------------------------------------------------------
 * Dead letters of streams under row-level security
 *
 * A dead letter holds its event's row: a role that may SELECT from the
 * stream but whose rows the stream's row-level security filters would
 * read through it rows the policies hide from it.  Such a role sees none
 * (t/046_hostile_tenant_features.pl).
 * ------------------------------------------------------------------------ */

ALTER POLICY dead_letters_read ON continuous.dead_letters
    USING (coalesce(pg_catalog.has_table_privilege(stream, 'SELECT')
                    AND NOT pg_catalog.row_security_active(stream), false));

/* ------------------------------------------------------------------------
 * A large transaction flushed in parts (src/worker/worker.c,
 * src/source/decoder.c)
 *
 * Rows of a transaction past continuous.large_transaction_memory wait on
 * disk, and are read back after its commit a part at a time, each part
 * flushed: the views' memory stays bounded whatever the transaction's
 * size.  part_lsn says how far the transaction part_xid is applied: the
 * rows of its WAL records up to part_lsn, by the views that stand in it.
 * Those are the views behind whose behind_parts entry is part_lsn (they
 * stand at its commit: it is decoded again for views held back before it);
 * or, if there are none, every view at frontier, where it commits.  After
 * a crash it is decoded again from its commit, passing over those rows,
 * and a view that stands before it waits until it is through.  NULL: no
 * transaction is part applied; a behind_parts entry of 0/0: that view
 * stands between transactions.
 * ------------------------------------------------------------------------ */

ALTER TABLE continuous.decoder_position
    ADD COLUMN part_xid xid,
    ADD COLUMN part_lsn pg_lsn,
    ADD COLUMN behind_parts pg_lsn[];
