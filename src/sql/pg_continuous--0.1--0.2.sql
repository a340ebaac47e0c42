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
