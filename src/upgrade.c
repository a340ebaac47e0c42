/*-------------------------------------------------------------------------
 *
 * upgrade.c
 *	  A new library meeting an older catalog: waiting for ALTER EXTENSION
 *	  pg_continuous UPDATE, and the work of the update scripts that needs C.
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
 * 0.1 -> 0.2 (src/sql/pg_continuous--0.1--0.2.sql): each continuous view's
 * analysed SELECT moves from nodeToString() text in view_catalog.query to
 * a definition view (view_definition.c), and its read view names its
 * aggregates by signature instead of OID.  That text can only be read by
 * the PostgreSQL major version that wrote it: the update must run before
 * pg_upgrade to a later major (README, Upgrading).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/pg_class.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "commands/view.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "parser/parse_func.h"
#include "pgstat.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "pg_continuous.h"
#include "shmem.h"
#include "upgrade.h"
#include "view_definition.h"
#include "view_dependencies.h"

/* how often a waiting worker looks at the extension's version again */
#define UPGRADE_CHECK_MS		1000

PG_FUNCTION_INFO_V1(continuous_upgrade_view_definitions);

/* Versions released before this library's: ALTER EXTENSION UPDATE goes on. */
static const char *const older_versions[] = {"0.1", NULL};

static void read_view_name_aggregates(Oid view, Oid finalize);
static Node *name_aggregates_mutator(Node *node, Oid *finalize);
static char *installed_version(void);
static bool in_own_script(void);
static bool is_older_version(const char *version);

void
upgrade_require_current_catalog(void)
{
	char	   *version;

	if (in_own_script())
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

/*
 * 0.1 -> 0.2, called once by the update script: every continuous view gets
 * its definition view, made from the nodeToString() text that 0.1 kept in
 * view_catalog.query, and view_catalog.query_view names it.  The views'
 * state, statistics and positions are not touched.
 */
Datum
continuous_upgrade_view_definitions(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = CurrentMemoryContext;
	List	   *views = NIL;
	List	   *queries = NIL;
	ListCell   *vc;
	ListCell   *qc;
	Oid			finalize_argtypes[3] = {OIDOID, ANYOID, ANYELEMENTOID};
	Oid			finalize;
	uint64		i;

	if (!in_own_script())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("continuous views' definitions are converted by ALTER EXTENSION pg_continuous UPDATE only")));

	finalize = LookupFuncName(list_make2(makeString(CONTINUOUS_SCHEMA),
										 makeString("finalize")),
							  3, finalize_argtypes, false);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("SELECT view, query FROM continuous.view_catalog ORDER BY view",
					false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read continuous.view_catalog");
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		MemoryContext spicxt = MemoryContextSwitchTo(cxt);

		views = lappend_oid(views,
							DatumGetObjectId(SPI_getbinval(row, desc, 1, &isnull)));
		queries = lappend(queries,
						  TextDatumGetCString(SPI_getbinval(row, desc, 2, &isnull)));
		MemoryContextSwitchTo(spicxt);
	}

	forboth(vc, views, qc, queries)
	{
		Oid			view = lfirst_oid(vc);
		Query	   *query = castNode(Query, stringToNode(lfirst(qc)));
		ViewCatalogEntry entry = {0};
		Oid			argtypes[2] = {OIDOID, OIDOID};
		Datum		values[2];

		entry.view = view;
		entry.query_view = view_definition_create(view, query);

		/*
		 * A relation created by an extension's script becomes a member of
		 * the extension; the definition view belongs to the user's view,
		 * which 0.1 made depend on the rest already.
		 */
		(void) deleteDependencyRecordsForClass(RelationRelationId,
											   entry.query_view,
											   ExtensionRelationId,
											   DEPENDENCY_EXTENSION);
		view_dependencies_record(&entry, NULL);
		read_view_name_aggregates(view, finalize);
		values[0] = ObjectIdGetDatum(view);
		values[1] = ObjectIdGetDatum(entry.query_view);
		if (SPI_execute_with_args("UPDATE continuous.view_catalog SET query_view = $2"
								  " WHERE view OPERATOR(pg_catalog.=) $1",
								  2, argtypes, values, NULL, false, 0) != SPI_OK_UPDATE ||
			SPI_processed != 1)
			elog(ERROR, "could not record the definition view of continuous view %u",
				 view);
	}
	SPI_finish();
	CommandCounterIncrement();
	PG_RETURN_VOID();
}

/*
 * The read view of a 0.1 continuous view names each aggregate by OID,
 * continuous.finalize('2803'::oid, ...), which pg_upgrade does not keep
 * for functions, nor a restore for anything.  0.2 writes the same value by
 * signature, 'count()'::regprocedure (ddl_view.c); so is the view's rule
 * rewritten, nothing else changing.
 */
static void
read_view_name_aggregates(Oid view, Oid finalize)
{
	Relation	rel = relation_open(view, AccessExclusiveLock);
	TupleDesc	desc = RelationGetDescr(rel);
	Query	   *query = view_rule_query(rel);
	ListCell   *lc;
	int			attno = 0;

	query->targetList = (List *) name_aggregates_mutator((Node *) query->targetList,
														 &finalize);
	query->jointree = (FromExpr *) name_aggregates_mutator((Node *) query->jointree,
														   &finalize);

	/* ALTER VIEW ... RENAME COLUMN renames the view's columns, not its rule's */
	foreach(lc, query->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);

		if (!tle->resjunk)
			tle->resname = pstrdup(NameStr(TupleDescAttr(desc, attno++)->attname));
	}
	relation_close(rel, NoLock);

	StoreViewQuery(view, query, true);
	CommandCounterIncrement();
}

static Node *
name_aggregates_mutator(Node *node, Oid *finalize)
{
	FuncExpr   *call;
	Const	   *aggregate;

	if (node == NULL)
		return NULL;
	if (!IsA(node, FuncExpr) || ((FuncExpr *) node)->funcid != *finalize)
		return expression_tree_mutator(node, name_aggregates_mutator, finalize);

	call = (FuncExpr *) expression_tree_mutator(node, name_aggregates_mutator,
												finalize);
	aggregate = linitial(call->args);
	if (IsA(aggregate, Const) && aggregate->consttype == OIDOID)
		linitial(call->args) =
			makeRelabelType((Expr *) makeConst(REGPROCEDUREOID, -1, InvalidOid,
											   sizeof(Oid), aggregate->constvalue,
											   aggregate->constisnull, true),
							OIDOID, -1, InvalidOid, COERCE_IMPLICIT_CAST);
	return (Node *) call;
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
static bool
in_own_script(void)
{
	return creating_extension &&
		CurrentExtensionObject == get_extension_oid(CONTINUOUS_EXTENSION_NAME,
													true);
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
