/*-------------------------------------------------------------------------
 *
 * upgrade.h
 *	  The library and the extension's catalog in each database must be of
 *	  the same version; ALTER EXTENSION ... UPDATE brings the catalog along.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_UPGRADE_H
#define CONTINUOUS_UPGRADE_H

struct DatabaseSlot;

/*
 * The extension version whose catalog this library reads and writes: the
 * default_version of pg_continuous.control.
 */
#define CONTINUOUS_CATALOG_VERSION	"0.2"

/*
 * ERROR unless this database's extension is at CONTINUOUS_CATALOG_VERSION
 * (or absent, or being created or updated by its own scripts); for DDL
 * that writes the catalog and for continuous.sync().
 */
extern void upgrade_require_current_catalog(void);

/*
 * A worker, before it starts: wait while the database's extension is at
 * another version, saying once in the log (report) what to run.  Returns
 * once it is current, or gone (the caller then finds out as usual).
 * Leaves for DROP DATABASE, as the worker's loop does.
 */
extern void upgrade_wait_for_catalog(struct DatabaseSlot *slot, bool report);

/* Inside CREATE or ALTER EXTENSION pg_continuous: its scripts run. */
extern bool upgrade_in_own_script(void);

#endif							/* CONTINUOUS_UPGRADE_H */
