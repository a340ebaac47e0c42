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
