/*-------------------------------------------------------------------------
 *
 * pg_continuous.c
 *	  Module entry: settings, hooks, shared memory and the launcher.
 *
 * Pipeline position: none of its own.  _PG_init() wires the pieces in: in
 * every process that loads the library, the ProcessUtility hook that turns
 * CREATE VIEW ... WITH (continuous) into a continuous view (ddl_view.c),
 * the one in front of it that follows or refuses DDL on streams
 * (stream_guard.c), the guard of the storage tables (storage_guard.c) and
 * the hints for commands users bring from other systems (error_hints.c);
 * when the library is preloaded, also the settings, the shared memory the
 * processes coordinate through (shmem.c), and the launcher that starts the
 * workers of each database (launcher.c).  Under pg_upgrade it does
 * nothing at all.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"

#include "catalog/namespace.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"

#include "error_hints.h"
#include "pg_continuous.h"
#include "shmem.h"
#include "storage_guard.h"
#include "stream_guard.h"

PG_MODULE_MAGIC;

/* GUCs */
int			continuous_flush_interval_ms = 200;
int			continuous_state_memory_kb = 64 * 1024;
int			continuous_batch_events = 100000;
int			continuous_workers = 1;

bool		continuous_loaded_via_preload = false;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

void		_PG_init(void);
static void continuous_define_settings(void);
static void continuous_request_shmem(void);
static void continuous_startup_shmem(void);

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
	continuous_install_utility_hook();
	storage_guard_install();
	stream_guard_install();
	error_hints_install();

	if (!process_shared_preload_libraries_in_progress)
		return;
	continuous_loaded_via_preload = true;

	continuous_define_settings();

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = continuous_request_shmem;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = continuous_startup_shmem;

	continuous_launcher_register();
}

static void
continuous_define_settings(void)
{
	DefineCustomIntVariable("continuous.flush_interval",
							"Longest time between an event's commit and its effect being visible in continuous views.",
							NULL,
							&continuous_flush_interval_ms,
							200, 1, 60 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("continuous.state_memory",
							"Memory for aggregate state not yet flushed to storage, per database worker.",
							"When it is full, the worker flushes early.",
							&continuous_state_memory_kb,
							64 * 1024, 1024, INT_MAX / 2,
							PGC_POSTMASTER,
							GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("continuous.batch_events",
							"Events a worker gathers before it flushes, whatever the flush interval.",
							NULL,
							&continuous_batch_events,
							100000, 1, INT_MAX,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("continuous.workers",
							"Worker processes per database.",
							"The first also reads the table streams; the partitions of Kafka streams are spread over all of them.",
							&continuous_workers,
							1, 1, CONTINUOUS_MAX_WORKERS,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("continuous");
}

static void
continuous_request_shmem(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	continuous_shmem_request();
}

static void
continuous_startup_shmem(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	continuous_shmem_startup();
}

/*
 * Functions that need the workers call this first, so that a missing
 * shared_preload_libraries entry is reported as such.
 */
void
continuous_require_preload(void)
{
	if (!continuous_loaded_via_preload || ContinuousShmem == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pg_continuous must be loaded via shared_preload_libraries"),
				 errdetail("Its background workers and shared memory can only be set up when the server starts."),
				 errhint("Add pg_continuous to shared_preload_libraries in postgresql.conf and restart the server.")));
}

Oid
continuous_schema_oid(void)
{
	return get_namespace_oid(CONTINUOUS_SCHEMA, false);
}

/* Relid of one of the extension's catalog tables in schema continuous. */
Oid
continuous_catalog_relid(const char *name)
{
	Oid			relid = get_relname_relid(name, continuous_schema_oid());

	if (!OidIsValid(relid))
		elog(ERROR, "pg_continuous catalog table continuous.%s is missing", name);
	return relid;
}

ErrorData *
continuous_abort_subtransaction(MemoryContext cxt)
{
	ErrorData  *edata;

	MemoryContextSwitchTo(cxt);
	edata = CopyErrorData();
	FlushErrorState();
	RollbackAndReleaseCurrentSubTransaction();
	return edata;
}
