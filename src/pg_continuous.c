/*-------------------------------------------------------------------------
 *
 * pg_continuous.c
 *	  Module entry: _PG_init() wires in hooks, settings, shared memory and
 *	  the launcher.
 *
 * Pipeline position: none of its own.  _PG_init() wires the pieces in: in
 * every process that loads the library, the ProcessUtility hook that leads
 * each utility statement through the extension's DDL steps
 * (utility_hook.c: CREATE VIEW ... WITH (continuous), the guards of
 * streams and storage, restores), the guard of the storage tables against
 * DML (storage_guard.c) and the hints for commands users bring from other
 * systems (error_hints.c);
 * when the library is preloaded, also the settings (guc.c), the shared
 * memory the processes coordinate through (shmem.c), and the launcher that
 * starts the workers of each database (launcher.c).  Under pg_upgrade it does
 * nothing at all.
 *
 * The pipeline, by folder of src/ (README.md, "Source layout"):
 *
 *	 ddl/		  create_stream, CREATE VIEW ... WITH (continuous), the catalog
 *				  rows, guards on streams and storage, dump and restore
 *	 worker/	  the launcher, and the worker's loop that drives every step
 *	 source/	  table streams by logical decoding, Kafka streams (kafka/),
 *				  watermarks
 *	 exec/		  per batch: WHERE, group keys, partial aggregation per view
 *	 window/	  the window kinds behind window_kind.h
 *	 state/		  the storage tables: layout, flush, finalize(), backfill
 *	 plan/		  what a view computes, and its aggregates' support functions
 *	 base/		  settings, cached OIDs, privileges, shared memory, memory
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"

#include "base/guc.h"
#include "base/shmem.h"
#include "ddl/error_hints.h"
#include "ddl/storage_guard.h"
#include "ddl/utility_hook.h"
#include "worker/launcher.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	/*
	 * pg_upgrade's restore (a server started with -b) recreates the old
	 * cluster's schema, the extension's catalog tables empty until the data
	 * files are copied in afterwards: no hook may second-guess that DDL by
	 * reading the catalog, and no worker may write into the tables being
	 * restored.  The library only has to be there for the functions.
	 */
	if (IsBinaryUpgrade)
		return;

	/*
	 * Loaded by a session rather than at server start (CREATE EXTENSION
	 * calls functions of the library): hooks only.  Settings that only the
	 * postmaster may define would end the session with a FATAL error, and
	 * the workers they configure do not run anyway; the functions that
	 * need them raise an ERROR that says to preload the library
	 * (continuous_require_preload()), so the session goes on.
	 */
	utility_hook_install();
	storage_guard_install();
	error_hints_install();

	if (!process_shared_preload_libraries_in_progress)
		return;
	continuous_loaded_via_preload = true;

	continuous_define_settings();

	continuous_shmem_install();

	continuous_launcher_register();
}
