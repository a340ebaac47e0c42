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
 * View definitions that survive pg_upgrade (src/view_definition.c)
 *
 * 0.1 kept each continuous view's analysed SELECT as nodeToString() text in
 * view_catalog.query: PostgreSQL's internal format, which changes between
 * major versions, naming functions and operators by OIDs that pg_upgrade
 * and restores do not keep.  From 0.2 on, the SELECT is an internal view,
 * continuous_storage.<view>_query, stored, renamed, dumped and upgraded by
 * PostgreSQL like any view; query_view names it.  The views made from 0.1's
 * text here (on the major version that wrote it) hold the same Query, so
 * every view goes on counting where its state and position stand.
 * ------------------------------------------------------------------------ */

-- the internal view holding the analysed defining SELECT
ALTER TABLE continuous.view_catalog ADD COLUMN query_view oid;

CREATE FUNCTION continuous._upgrade_view_definitions()
RETURNS void
AS 'MODULE_PATHNAME', 'continuous_upgrade_view_definitions'
LANGUAGE C;
SELECT continuous._upgrade_view_definitions();
DROP FUNCTION continuous._upgrade_view_definitions();

ALTER TABLE continuous.view_catalog ALTER COLUMN query_view SET NOT NULL;
ALTER TABLE continuous.view_catalog DROP COLUMN query;
