/*-------------------------------------------------------------------------
 *
 * upgrade.c
 *	  A new library meeting an older catalog: waiting for ALTER EXTENSION
 *	  pg_continuous UPDATE.
 *
 * Pipeline position: none of its own.  It stands in front of the workers'
 * start (worker.c), of DDL that writes the extension's catalog
 * (ddl_catalog.c) and of continuous.sync() (sync.c).
 *
 * Installing a new version of pg_continuous replaces the library at once,
 * for every database, when the server restarts; the catalog of a database
 * (the extension's tables, src/sql/) changes only when ALTER EXTENSION
 * pg_continuous UPDATE runs the update scripts there.  In between, the
 * library's code meets a catalog of an older version.  Rather than teach
 * every module every older catalog, the library works with the catalog of
 * its own version only (CONTINUOUS_CATALOG_VERSION):
 *
 *	 - a worker whose database's extension is at another version waits
 *	   before it opens its replication slot, says once in the log what to
 *	   run, looks again every second, and starts as usual once the update
 *	   has committed.  Nothing is lost meanwhile and nothing counts twice:
 *	   the replication slot keeps the WAL of every event since the last
 *	   flush, Kafka streams resume at the offsets stored with the state,
 *	   and the views resume at the positions stored with theirs;
 *	 - DDL that would write the catalog (CREATE VIEW ... WITH (continuous),
 *	   create_stream(), DDL on streams that the catalog follows) and
 *	   continuous.sync() fail with an error that says the same.
 *
 * The update scripts run inside ALTER EXTENSION, on a catalog on its way to
 * the library's version: no check applies to them.
 *
 * What the update scripts do in C is in upgrade_scripts.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_extension.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "base/extension_catalog.h"
#include "base/shmem.h"
#include "ddl/upgrade.h"

/* how often a waiting worker looks at the extension's version again */
#define UPGRADE_CHECK_MS		1000

/* Versions released before this library's: ALTER EXTENSION UPDATE goes on. */
static const char *const older_versions[] = {"0.1", NULL};

static char *installed_version(void);
static bool is_older_version(const char *version);

void
upgrade_require_current_catalog(void)
{
	char	   *version;

	if (upgrade_in_own_script())
		return;
	version = installed_version();
	if (version == NULL || strcmp(version, CONTINUOUS_CATALOG_VERSION) == 0)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("pg_continuous in this database is at version %s, but the server runs its library of version %s",
					version, CONTINUOUS_CATALOG_VERSION),
			 errdetail("Until they match, the continuous views of this database are not maintained, and streams and continuous views cannot be created or changed."),
			 is_older_version(version) ?
			 errhint("Run ALTER EXTENSION pg_continuous UPDATE in this database; the views then catch up with every event committed meanwhile.") :
			 errhint("Install pg_continuous %s, whose library matches, and restart the server.",
					 version)));
}

void
upgrade_wait_for_catalog(DatabaseSlot *slot, bool report)
{
	bool		reported = false;

	for (;;)
	{
		char	   *version;
		char	   *dbname;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (slot->pause_requested)
		{
			ereport(LOG,
					(errmsg("pg_continuous: worker exiting for DROP DATABASE")));
			proc_exit(0);
		}

		StartTransactionCommand();
		version = installed_version();
		dbname = get_database_name(MyDatabaseId);
		if (version == NULL || strcmp(version, CONTINUOUS_CATALOG_VERSION) == 0)
		{
			if (reported && version != NULL)
				ereport(LOG,
						(errmsg("pg_continuous: the extension in database \"%s\" is now at version %s; its worker starts",
								dbname, version)));
			CommitTransactionCommand();
			return;
		}
		if (report && !reported)
		{
			ereport(WARNING,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("pg_continuous: the extension in database \"%s\" is at version %s, but the library is version %s; its worker waits",
							dbname, version, CONTINUOUS_CATALOG_VERSION),
					 errdetail("The continuous views of the database are not maintained meanwhile. Events are not lost: the worker applies them once it starts."),
					 is_older_version(version) ?
					 errhint("Run ALTER EXTENSION pg_continuous UPDATE in database \"%s\".",
							 dbname) :
					 errhint("Install pg_continuous %s, whose library matches, and restart the server.",
							 version)));
			reported = true;
		}
		CommitTransactionCommand();
		pgstat_report_activity(STATE_IDLE, NULL);

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 UPGRADE_CHECK_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* This database's pg_continuous version, or NULL without the extension. */
static char *
installed_version(void)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	char	   *version = NULL;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber,
				F_NAMEEQ, CStringGetDatum(CONTINUOUS_EXTENSION_NAME));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
	{
		bool		isnull;
		Datum		value = heap_getattr(tuple, Anum_pg_extension_extversion,
										 RelationGetDescr(rel), &isnull);

		if (!isnull)
			version = text_to_cstring(DatumGetTextPP(value));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return version;
}

/* Inside CREATE or ALTER EXTENSION pg_continuous: its scripts run. */
bool
upgrade_in_own_script(void)
{
	return creating_extension &&
		CurrentExtensionObject == continuous_extension_oid(true);
}

static bool
is_older_version(const char *version)
{
	int			i;

	for (i = 0; older_versions[i] != NULL; i++)
		if (strcmp(version, older_versions[i]) == 0)
			return true;
	return false;
}
