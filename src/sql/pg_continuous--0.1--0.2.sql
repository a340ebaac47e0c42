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
