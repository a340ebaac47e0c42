/*-------------------------------------------------------------------------
 *
 * restore.c
 *	  Continuous views brought back by pg_restore or psql from a dump.
 *
 * Pipeline position: DDL, in the restoring session.  pg_dump writes a
 * continuous view as ordinary objects: the read view (first as a
 * placeholder, at the end of the dump by CREATE OR REPLACE VIEW, since it
 * and its storage depend on each other), the storage table and the table
 * of counts with their rows and indexes, the definition view, and the
 * extension's catalog as data of its configuration tables, relations
 * named by regclass.  It writes no dependency of pg_depend.
 *
 * So a catalog row restored by COPY comes without the dependencies that
 * CREATE VIEW records first, and a trigger marks it restore_pending
 * (pg_continuous--0.1--0.2.sql).  The worker leaves pending views alone;
 * storage_guard.c lets a superuser restore into storage relations that no
 * view claims yet.  The relations a superuser copies rows into (COPY, or
 * INSERT into such storage) or empties (TRUNCATE: pg_restore -j loads a
 * table it created in the transaction that empties it) are noted in
 * continuous.restore_loaded, while a restore is going on: a view is
 * pending, or a relation of continuous_storage is claimed by no view (a
 * restore creates the storage before it copies any rows, and a view claims
 * it as it comes back).  Outside a restore nothing is noted, and the
 * commit after which no restore is going on any more forgets every note:
 * an admin's COPY of every day leaves none, and a note from before a
 * restore cannot count a stream table of that restore as loaded before
 * its rows are in.  Nor does a note outlive its relation (the sql_drop
 * event trigger of pg_continuous--0.1--0.2.sql), whose oid a later
 * relation may get.  Rows a superuser writes into a stream table between
 * a --schema-only restore and its --data-only one are the restore's to
 * it, as a table that has rows is (stream_loaded()).
 *
 * A pending view comes back at the commit of the first transaction after
 * which every part of it is in: its catalog row, its stream's, its
 * statistics (and a Kafka stream's offsets), the rows of its storage and
 * table of counts, their unique indexes, and the read view's CREATE OR
 * REPLACE VIEW over the storage.  A plain restore brings the read view
 * last; pg_restore -j, --single-transaction and --data-only (after a
 * --schema-only restore) bring the parts in other orders, and each part
 * may be the last (triggers on the catalog, the utility hook, the COPY's
 * permission check).  In that transaction:
 *
 *	 - its dependencies are recorded again (view_dependencies.c), its
 *	   relations given to the bootstrap superuser (the dump names the old
 *	   cluster's, whose name need not exist here), and its owner's SELECT
 *	   on the storage granted;
 *	 - a view of a table stream is computed again from the restored table
 *	   (both, for an interval join: it waits for the second stream's rows
 *	   too, and the kept rows the dump brought are computed again),
 *	   as CREATE VIEW's backfill does (backfill.c): with the rows this
 *	   transaction wrote, and the view begins after this transaction, which
 *	   the worker sees as the view's creation;
 *	 - a view of a Kafka stream keeps its dumped state, watermark and
 *	   offsets, which the worker wrote in one transaction and pg_dump read
 *	   in one snapshot, and resumes from those offsets;
 *	 - restore_pending is cleared; the worker sees that change of its
 *	   catalog in the WAL (a worker that does not decode, by the
 *	   invalidation it sends) and loads the view.  A worker without a
 *	   replication slot yet (a restore in one transaction) would not: it
 *	   owes the views of table streams a rebuild once it has one.
 *
 * The worker writes the statistics of a view or stream whose catalog row
 * it decodes, and may do so before the restore copies the dumped ones in;
 * these then replace the worker's (continuous_restore_replaces()).
 *
 * A view whose restore left a part out waits; continuous.rebuild() brings
 * a view of a table stream back at once from what its table holds
 * (restore_bring_back()).
 *
 * The extension's own triggers and relations are not the restore's to
 * change: --disable-triggers' ALTER TABLE ... DISABLE/ENABLE TRIGGER on
 * them, the dump's ALTER ... OWNER TO of unclaimed storage, and its ALTER
 * SCHEMA continuous OWNER TO a role that is no superuser here change
 * nothing (restore_check_utility()).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/index.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "base/extension_catalog.h"
#include "base/privileges.h"
#include "base/shmem.h"
#include "ddl/ddl_catalog.h"
#include "ddl/restore.h"
#include "ddl/storage_grants.h"
#include "ddl/view_definition.h"
#include "ddl/view_dependencies.h"
#include "source/kafka/kafka_options.h"
#include "state/rebuild.h"

/*
 * Of a row v of view_catalog: are its stream's catalog row, its statistics
 * (a Kafka stream's offsets, if it consumed anything), its definition view,
 * its read view over the storage and the table of counts' unique index in?
 */
#define PARTS_IN \
	"(EXISTS (SELECT FROM continuous.stream_catalog s " \
	"         WHERE s.stream OPERATOR(pg_catalog.=) v.stream) " \
	" AND EXISTS (SELECT FROM continuous.view_stats s " \
	"             WHERE s.view OPERATOR(pg_catalog.=) v.view) " \
	" AND EXISTS (SELECT FROM pg_catalog.pg_rewrite r " \
	"             JOIN pg_catalog.pg_depend d " \
	"               ON d.objid OPERATOR(pg_catalog.=) r.oid " \
	"              AND d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_rewrite'::pg_catalog.regclass " \
	"             WHERE r.ev_class OPERATOR(pg_catalog.=) v.view " \
	"               AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass " \
	"               AND d.refobjid OPERATOR(pg_catalog.=) v.storage) " \
	" AND EXISTS (SELECT FROM pg_catalog.pg_class c " \
	"             WHERE c.oid OPERATOR(pg_catalog.=) v.query_view) " \
	" AND (v.counts_table IS NULL " \
	"      OR EXISTS (SELECT FROM pg_catalog.pg_index i " \
	"                 WHERE i.indrelid OPERATOR(pg_catalog.=) v.counts_table AND i.indisunique) " \
	"      OR (SELECT pg_catalog.count(*) FROM pg_catalog.pg_attribute a " \
	"          WHERE a.attrelid OPERATOR(pg_catalog.=) v.counts_table " \
	"            AND a.attnum OPERATOR(pg_catalog.>) 0 " \
	"            AND NOT a.attisdropped) OPERATOR(pg_catalog.=) 1) " \
	" AND (NOT EXISTS (SELECT FROM pg_catalog.pg_class c " \
	"                  WHERE c.oid OPERATOR(pg_catalog.=) v.stream " \
	"                    AND c.relkind OPERATOR(pg_catalog.=) 'f') " \
	"      OR EXISTS (SELECT FROM continuous.stream_stats s " \
	"                 WHERE s.stream OPERATOR(pg_catalog.=) v.stream " \
	"                   AND (s.events OPERATOR(pg_catalog.=) 0 " \
	"                        OR EXISTS (SELECT FROM continuous.kafka_offsets o " \
	"                                   WHERE o.stream OPERATOR(pg_catalog.=) v.stream)))) " \
	" AND " SOURCE_BACK ")"
/*
 * A view over a view (view_chain.c) comes back after the view it reads,
 * and once the row that names that view's emission table is in: the view
 * read may compute its rows again as it comes back (a transform appends
 * them anew), which the reader would count a second time.
 */
#define SOURCE_BACK \
	"(NOT EXISTS (SELECT FROM pg_catalog.pg_class c " \
	"             WHERE c.oid OPERATOR(pg_catalog.=) v.stream " \
	"               AND c.relnamespace OPERATOR(pg_catalog.=) " \
	"                   'continuous_storage'::pg_catalog.regnamespace) " \
	" OR EXISTS (SELECT FROM continuous.view_emissions e " \
	"            JOIN continuous.view_catalog s ON s.view OPERATOR(pg_catalog.=) e.view " \
	"            WHERE e.emission OPERATOR(pg_catalog.=) v.stream " \
	"              AND NOT s.restore_pending))"
/* has its storage a unique index (which it needs if the view has group keys)? */
#define STORAGE_INDEXED \
	"EXISTS (SELECT FROM pg_catalog.pg_index i " \
	"        WHERE i.indrelid OPERATOR(pg_catalog.=) v.storage AND i.indisunique)"
/*
 * Is a restore going on: is a view pending, or a table or view of
 * continuous_storage claimed by no view (restore_storage_unclaimed())?
 * The relations of the schema are found by their dependency on it, which
 * an index finds.
 */
#define RESTORE_GOING_ON \
	"(EXISTS (SELECT FROM continuous.view_catalog v WHERE v.restore_pending) " \
	" OR EXISTS (SELECT FROM pg_catalog.pg_depend n " \
	"            JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) n.objid " \
	"            WHERE n.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_namespace'::pg_catalog.regclass " \
	"              AND n.refobjid OPERATOR(pg_catalog.=) 'continuous_storage'::pg_catalog.regnamespace " \
	"              AND n.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass " \
	"              AND c.relkind OPERATOR(pg_catalog.=) ANY ('{r,p,v}'::pg_catalog.\"char\"[]) " \
	"              AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d " \
	"                              WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass " \
	"                                AND d.objid OPERATOR(pg_catalog.=) c.oid " \
	"                                AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass " \
	"                                AND d.deptype OPERATOR(pg_catalog.=) 'i')))"
/* have the rows of its storage and table of counts been copied in? */
#define STORAGE_LOADED \
	"(EXISTS (SELECT FROM continuous.restore_loaded l " \
	"         WHERE l.relation OPERATOR(pg_catalog.=) v.storage) " \
	" AND (v.counts_table IS NULL " \
	"      OR EXISTS (SELECT FROM continuous.restore_loaded l " \
	"                 WHERE l.relation OPERATOR(pg_catalog.=) v.counts_table)))"

PG_FUNCTION_INFO_V1(continuous_restore_check);
PG_FUNCTION_INFO_V1(continuous_restore_replaces);

/* this transaction wrote a part of a restored view: look at commit */
static bool check_at_commit = false;
static bool callback_registered = false;
/* relations a superuser copied rows into in this transaction */
static List *loaded_at_commit = NIL;

static void restore_at_commit(XactEvent event, void *arg);
static bool restore_going_on(void);
static void record_loaded(void);
static void forget_notes_unless_restoring(void);
static void activate_ready_views(void);
static bool activate_view(Oid view, bool forced, int64 *rows);
static bool read_ready_entry(Oid view, bool forced, ViewCatalogEntry *entry);
static void claim_relation(Oid relid);
static void owe_rebuild_unless_decoding(void);
static bool extension_relation(Oid relid, const char *schema);
static bool keeps_schema_owner(AlterOwnerStmt *stmt);
static List *stream_tables(Oid stream);
static bool stream_loaded(Oid stream);
static bool noted_loaded(Oid relid);
static bool has_rows(Oid relid);
static void run_as_extension(const char *sql, int nargs, Oid *argtypes,
							 Datum *values, int expected);
static List *select_as_extension(const char *sql, int nargs, Oid *argtypes,
								 Datum *values);

/*
 * Is relid (a relation of continuous_storage, or an index of one) part of
 * no continuous view yet, as while a restore builds it?  Every storage
 * table, table of counts and definition view is internal to its view or
 * its storage from CREATE VIEW on.
 */
bool
restore_storage_unclaimed(Oid relid)
{
	Relation	depend;
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tuple;
	bool		claimed = false;

	if (get_rel_relkind(relid) == RELKIND_INDEX)
		relid = IndexGetRelation(relid, false);

	depend = table_open(DependRelationId, AccessShareLock);
	ScanKeyInit(&key[0], Anum_pg_depend_classid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(RelationRelationId));
	ScanKeyInit(&key[1], Anum_pg_depend_objid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(relid));
	scan = systable_beginscan(depend, DependDependerIndexId, true, NULL, 2, key);
	while ((tuple = systable_getnext(scan)) != NULL)
	{
		Form_pg_depend dep = (Form_pg_depend) GETSTRUCT(tuple);

		if (dep->deptype == DEPENDENCY_INTERNAL &&
			dep->refclassid == RelationRelationId)
		{
			claimed = true;
			break;
		}
	}
	systable_endscan(scan);
	table_close(depend, AccessShareLock);
	return !claimed;
}

/* Is view a continuous view restored from a dump and not yet brought back? */
bool
restore_view_pending(Oid view)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(view)};

	return OidIsValid(view) &&
		select_as_extension("SELECT FROM continuous.view_catalog v "
							"WHERE v.view OPERATOR(pg_catalog.=) $1 AND v.restore_pending",
							1, argtypes, values) != NIL;
}

/* This transaction wrote a part of a restored view: look at its commit. */
void
restore_check_at_commit(void)
{
	if (!callback_registered)
	{
		RegisterXactCallback(restore_at_commit, NULL);
		callback_registered = true;
	}
	check_at_commit = true;
}

/*
 * A superuser's COPY into relid, which may be a stream table whose views a
 * restore brings back, or INSERT into unclaimed storage relid: noted in
 * continuous.restore_loaded at commit, if a restore is going on then.
 */
void
restore_note_loaded(Oid relid)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(TopTransactionContext);

	loaded_at_commit = list_append_unique_oid(loaded_at_commit, relid);
	MemoryContextSwitchTo(oldcxt);
	restore_check_at_commit();
}

/* The statement trigger on the catalog tables a restore fills. */
Datum
continuous_restore_check(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "continuous._restore_check() is a trigger function");
	/* the worker's flushes and the extension's own writes are no restore */
	if (!IsBackgroundWorker && !privileges_acting_as_extension())
		restore_check_at_commit();
	return PointerGetDatum(NULL);
}

/*
 * The row trigger on view_stats and stream_stats: a restore's row replaces
 * the one the worker wrote when it decoded the view's or stream's catalog
 * row (the key is the first column).  The replacement is one upsert, run
 * here in place of the restore's INSERT: a delete followed by the INSERT
 * would miss a row that the worker inserts but has not committed yet, and
 * the INSERT would then fail on the key once the worker commits.
 */
Datum
continuous_restore_replaces(PG_FUNCTION_ARGS)
{
	TriggerData *trigger = (TriggerData *) fcinfo->context;
	Relation	rel;
	TupleDesc	desc;
	StringInfoData sql;
	const char *key_column;
	Oid			argtypes[1];
	Datum		row[1];
	bool		first = true;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "continuous._restore_replaces() is a trigger function");
	rel = trigger->tg_relation;
	/* the upsert below, and the worker's and extension's own rows, go in */
	if (IsBackgroundWorker || privileges_acting_as_extension())
		return PointerGetDatum(trigger->tg_trigtuple);

	desc = RelationGetDescr(rel);
	key_column = quote_identifier(NameStr(TupleDescAttr(desc, 0)->attname));
	initStringInfo(&sql);
	appendStringInfo(&sql, "INSERT INTO %s SELECT ($1).* ON CONFLICT (%s) DO UPDATE SET ",
					 quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
												RelationGetRelationName(rel)),
					 key_column);
	for (int i = 1; i < desc->natts; i++)
	{
		const char *column;

		if (TupleDescAttr(desc, i)->attisdropped)
			continue;
		column = quote_identifier(NameStr(TupleDescAttr(desc, i)->attname));
		appendStringInfo(&sql, "%s%s = EXCLUDED.%s", first ? "" : ", ", column, column);
		first = false;
	}
	if (first)
		appendStringInfo(&sql, "%s = EXCLUDED.%s", key_column, key_column);

	argtypes[0] = RelationGetForm(rel)->reltype;
	row[0] = heap_copy_tuple_as_datum(trigger->tg_trigtuple, desc);
	run_as_extension(sql.data, 1, argtypes, row, SPI_OK_INSERT);
	pfree(sql.data);
	return PointerGetDatum(NULL);	/* the upsert stored it */
}

/*
 * A superuser's utility statement, before it runs: an index of storage or
 * a read view's CREATE OR REPLACE VIEW may be the last part of a restored
 * view (pg_restore -j brings them in any order); and true for a statement
 * of a restore that is to change nothing, so that the restore goes on (see
 * the header comment).
 */
bool
restore_check_utility(Node *parsetree)
{
	AlterTableStmt *stmt;
	Oid			relid;
	bool		triggers = true;
	bool		owner = true;
	ListCell   *lc;

	if (creating_extension || !IsTransactionState() ||
		privileges_acting_as_extension() || !superuser())
		return false;
	if (IsA(parsetree, IndexStmt))
	{
		if (extension_relation(RangeVarGetRelid(((IndexStmt *) parsetree)->relation,
												NoLock, true),
							   CONTINUOUS_STORAGE_SCHEMA))
			restore_check_at_commit();
		return false;
	}
	if (IsA(parsetree, CopyStmt))
	{
		CopyStmt   *copy = (CopyStmt *) parsetree;
		Oid			copied;

		/* a stream table's rows, before its views come back */
		if (copy->is_from && copy->relation != NULL &&
			OidIsValid(continuous_extension_oid(true)) &&
			OidIsValid(copied = RangeVarGetRelid(copy->relation, NoLock, true)) &&
			!extension_relation(copied, CONTINUOUS_SCHEMA))
			restore_note_loaded(copied);
		return false;
	}
	if (IsA(parsetree, TruncateStmt))
	{
		/*
		 * pg_restore -j empties a table it created in the transaction that
		 * loads it, by COPY or by the INSERTs of a dump made with --inserts,
		 * which are not noted: noted so, that transaction's commit looks
		 * for views to bring back, as has_rows() expects of it.
		 */
		if (OidIsValid(continuous_extension_oid(true)))
			foreach(lc, ((TruncateStmt *) parsetree)->relations)
			{
				Oid			emptied = RangeVarGetRelid(lfirst_node(RangeVar, lc),
													   NoLock, true);

				if (OidIsValid(emptied) &&
					!extension_relation(emptied, CONTINUOUS_SCHEMA))
					restore_note_loaded(emptied);
			}
		return false;
	}
	if (IsA(parsetree, ViewStmt) && ((ViewStmt *) parsetree)->replace)
	{
		if (OidIsValid(continuous_extension_oid(true)))
			restore_check_at_commit();
		return false;
	}
	if (IsA(parsetree, AlterOwnerStmt))
		return keeps_schema_owner((AlterOwnerStmt *) parsetree);
	if (!IsA(parsetree, AlterTableStmt))
		return false;
	stmt = (AlterTableStmt *) parsetree;
	relid = RangeVarGetRelid(stmt->relation, NoLock, true);
	if (!extension_relation(relid, CONTINUOUS_SCHEMA) &&
		!extension_relation(relid, CONTINUOUS_STORAGE_SCHEMA))
		return false;

	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

		switch (cmd->subtype)
		{
			case AT_EnableTrig:
			case AT_EnableAlwaysTrig:
			case AT_EnableReplicaTrig:
			case AT_EnableTrigAll:
			case AT_EnableTrigUser:
			case AT_DisableTrig:
			case AT_DisableTrigAll:
			case AT_DisableTrigUser:
				owner = false;
				break;
			case AT_ChangeOwner:
				triggers = false;
				break;
			default:
				return false;
		}
	}
	if (triggers)
	{
		/* only the extension's triggers are there; they keep firing */
		ereport(DEBUG1,
				(errmsg_internal("pg_continuous: \"%s\" keeps its triggers as they are",
								 get_rel_name(relid))));
		return true;
	}
	if (owner && extension_relation(relid, CONTINUOUS_STORAGE_SCHEMA) &&
		restore_storage_unclaimed(relid))
	{
		/* its view gives it to the bootstrap superuser when it comes back */
		ereport(DEBUG1,
				(errmsg_internal("pg_continuous: \"%s\" keeps its owner until its view is restored",
								 get_rel_name(relid))));
		return true;
	}
	return false;
}

/*
 * The dump's ALTER SCHEMA continuous OWNER TO the old cluster's bootstrap
 * superuser, a name that may not exist here, or be an ordinary role: the
 * schema of pg_continuous's catalog stays with the restoring superuser.
 */
static bool
keeps_schema_owner(AlterOwnerStmt *stmt)
{
	Oid			owner;

	if (stmt->objectType != OBJECT_SCHEMA ||
		strcmp(strVal(stmt->object), CONTINUOUS_SCHEMA) != 0)
		return false;
	owner = get_rolespec_oid(stmt->newowner, true);
	if (OidIsValid(owner) && superuser_arg(owner))
		return false;
	ereport(NOTICE,
			(errmsg("schema \"%s\" keeps its owner", CONTINUOUS_SCHEMA),
			 errdetail("It holds the catalog of pg_continuous, which only a superuser may own.")));
	return true;
}

/* Is relid a relation of the extension's schema (see base/extension_catalog.h)? */
static bool
extension_relation(Oid relid, const char *schema)
{
	return OidIsValid(relid) &&
		get_rel_namespace(relid) == get_namespace_oid(schema, true) &&
		OidIsValid(continuous_extension_oid(true));
}

static void
restore_at_commit(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PRE_PREPARE:
			if (!check_at_commit)
				return;
			check_at_commit = false;
			/* a DROP EXTENSION later in the transaction took it all */
			if (!OidIsValid(continuous_extension_oid(true)))
				return;
			CommandCounterIncrement();
			PushActiveSnapshot(GetTransactionSnapshot());
			if (!restore_going_on())
			{
				/* no view to bring back, and nothing of a restore to note */
				loaded_at_commit = NIL;
				forget_notes_unless_restoring();
				PopActiveSnapshot();
				break;
			}
			record_loaded();
			PopActiveSnapshot();
			CommandCounterIncrement();

			/*
			 * Restoring sessions look one after the other, each after the
			 * commit of the one before: of two that bring a view's last
			 * parts at once, the second sees the first's.
			 */
			LockRelationOid(get_relname_relid("restore_loaded",
											  get_namespace_oid(CONTINUOUS_SCHEMA, false)),
							ShareUpdateExclusiveLock);
			PushActiveSnapshot(GetTransactionSnapshot());
			activate_ready_views();
			forget_notes_unless_restoring();
			PopActiveSnapshot();
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_ABORT:
			check_at_commit = false;
			loaded_at_commit = NIL;
			break;
		default:
			break;
	}
}

/* Is a restore going on (RESTORE_GOING_ON)? */
static bool
restore_going_on(void)
{
	return select_as_extension("SELECT WHERE " RESTORE_GOING_ON, 0, NULL, NULL) != NIL;
}

/*
 * Once no restore is going on, its notes are of no use, and would count a
 * table of a later restore as loaded before its rows are in: forgotten.
 * One statement, which sees what this transaction changed before it.
 */
static void
forget_notes_unless_restoring(void)
{
	run_as_extension("DELETE FROM continuous.restore_loaded WHERE NOT " RESTORE_GOING_ON,
					 0, NULL, NULL, SPI_OK_DELETE);
}

/* continuous.restore_loaded gets the relations this transaction loaded. */
static void
record_loaded(void)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1];
	ListCell   *lc;

	foreach(lc, loaded_at_commit)
	{
		values[0] = ObjectIdGetDatum(lfirst_oid(lc));
		run_as_extension("INSERT INTO continuous.restore_loaded (relation) "
						 "VALUES ($1) ON CONFLICT DO NOTHING",
						 1, argtypes, values, SPI_OK_INSERT);
	}
	loaded_at_commit = NIL;
}

/* Every pending view that has all its parts now comes back. */
static void
activate_ready_views(void)
{
	ListCell   *lc;
	List	   *tried = NIL;
	bool		again = true;

	/*
	 * What one query can tell first: each commit of a restore looks; and
	 * again while views come back, whose readers may then come back too
	 * (each view tried once).
	 */
	while (again)
	{
		again = false;
		foreach(lc, select_as_extension("SELECT v.view FROM continuous.view_catalog v "
										"WHERE v.restore_pending AND " PARTS_IN
										" AND " STORAGE_LOADED " ORDER BY v.view",
										0, NULL, NULL))
		{
			Oid			view = lfirst_oid(lc);

			if (list_member_oid(tried, view))
				continue;
			tried = lappend_oid(tried, view);
			if (activate_view(view, false, NULL))
				again = true;
		}
		CommandCounterIncrement();
	}
}

/*
 * continuous.rebuild() of a pending view: it comes back now, computed from
 * what its stream table holds, or an error says what is missing.  Returns
 * the rows read.
 */
int64
restore_bring_back(Oid view)
{
	int64		rows = 0;

	LockRelationOid(get_relname_relid("restore_loaded",
									  get_namespace_oid(CONTINUOUS_SCHEMA, false)),
					ShareUpdateExclusiveLock);
	if (activate_view(view, true, &rows))
	{
		CommandCounterIncrement();
		forget_notes_unless_restoring();
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("continuous view \"%s\" cannot come back from its restore yet",
						get_rel_name(view)),
				 errdetail("Its stream's catalog row, its statistics, the unique index of its storage or its read view over the storage has not been restored."),
				 errhint("Restore the rest of the dump, or drop the view and create it again.")));
	return rows;
}

/*
 * Bring view back if all its parts are in (see the header comment), or
 * but the copied rows if forced; false if it did not.  *rows: the rows
 * its rebuild read.
 */
static bool
activate_view(Oid view, bool forced, int64 *rows)
{
	ViewCatalogEntry entry;
	Oid			argtypes[4] = {OIDOID, OIDOID, OIDOID, OIDOID};
	Datum		values[4] = {ObjectIdGetDatum(view)};
	int			i;

	/*
	 * No lock on the view before it is ready: a session that brings one of
	 * its parts holds the view, or its storage, and waits for the lock of
	 * restore_at_commit() that this session holds.
	 */
	if (!read_ready_entry(view, forced, &entry))
		return false;
	if (OidIsValid(entry.late_table) &&
		!OidIsValid(get_rel_namespace(entry.late_table)))
		entry.late_table = InvalidOid;

	view_dependencies_record(&entry, view_definition_query(entry.query_view));
	claim_relation(entry.storage);
	claim_relation(entry.counts_table);
	claim_relation(entry.query_view);
	storage_grant_reader(entry.storage, ddl_relation_owner(view));

	if (!kafka_is_stream_table(entry.stream))
	{
		int64		read;

		owe_rebuild_unless_decoding();
		read = rebuild_restored_view(view, entry.storage, entry.stream);

		if (rows)
			*rows = read;
	}

	/*
	 * its relations' notes; its stream's (both, for an interval join), once
	 * no other view waits for them
	 */
	values[2] = ObjectIdGetDatum(entry.storage);
	values[3] = ObjectIdGetDatum(entry.counts_table);
	for (i = 0; i < 2; i++)
	{
		values[1] = ObjectIdGetDatum(i == 0 ? entry.stream :
									 ddl_catalog_join_stream_of_view(view));
		if (i == 1 && !OidIsValid(DatumGetObjectId(values[1])))
			break;
		run_as_extension("DELETE FROM continuous.restore_loaded "
						 "WHERE relation OPERATOR(pg_catalog.=) $3 "
						 "OR relation OPERATOR(pg_catalog.=) $4 "
						 "OR (relation OPERATOR(pg_catalog.=) ANY "
						 "     (pg_catalog.array_append(ARRAY(SELECT i.inhrelid FROM pg_catalog.pg_inherits i "
						 "                                    WHERE i.inhparent OPERATOR(pg_catalog.=) $2), $2)) "
						 "    AND NOT EXISTS (SELECT FROM continuous.view_catalog v "
						 "                    WHERE (v.stream OPERATOR(pg_catalog.=) $2 "
						 "                           OR v.join_stream OPERATOR(pg_catalog.=) $2) "
						 "                      AND v.view OPERATOR(pg_catalog.<>) $1 "
						 "                      AND v.restore_pending))",
						 4, argtypes, values, SPI_OK_DELETE);
	}
	run_as_extension("UPDATE continuous.view_catalog SET restore_pending = false "
					 "WHERE view OPERATOR(pg_catalog.=) $1",
					 1, argtypes, values, SPI_OK_UPDATE);
	continuous_catalog_changed();
	CommandCounterIncrement();
	return true;
}

/*
 * The view begins after this transaction, which the worker sees as the
 * view's creation.  A worker that has no replication slot yet (a restore in
 * one transaction created the extension; a small restore outran the
 * worker's start) would not see it, nor the commits between it and its new
 * slot, which this rebuild does not read either: it computes the views of
 * table streams again when it has made its slot (worker.c, rebuild_owed).
 */
static void
owe_rebuild_unless_decoding(void)
{
	Oid			extension = continuous_extension_oid(false);
	DatabaseSlot *slot;
	bool		decoding;

	LWLockAcquire(ContinuousShmem->lock, LW_SHARED);
	slot = continuous_find_slot(MyDatabaseId);
	decoding = slot && slot->decoder_ready && slot->extension == extension;
	LWLockRelease(ContinuousShmem->lock);
	if (!decoding)
		run_as_extension("UPDATE continuous.decoder_position SET rebuild_owed = true",
						 0, NULL, NULL, SPI_OK_UPDATE);
}

/*
 * The dump names the old cluster's bootstrap superuser as the owner of the
 * storage; here it is this cluster's, whatever its name.
 */
static void
claim_relation(Oid relid)
{
	if (!OidIsValid(relid) || ddl_relation_owner(relid) == BOOTSTRAP_SUPERUSERID)
		return;
	run_as_extension(psprintf("ALTER TABLE %s OWNER TO %s",
							  quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
														 get_rel_name(relid)),
							  quote_identifier(GetUserNameFromId(BOOTSTRAP_SUPERUSERID, false))),
					 0, NULL, NULL, SPI_OK_UTILITY);
}

/*
 * The catalog row of view if it is pending a restore and every part of the
 * view is in.  The storage needs its unique index if the view has group
 * keys, the table of counts if it has more than the count.  forced: but
 * for the rows of a table stream's view's storage and stream, which a
 * restore that left them out does not bring (continuous.rebuild()).
 */
static bool
read_ready_entry(Oid view, bool forced, ViewCatalogEntry *entry)
{
	ExtensionPrivileges saved;
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(view)};
	bool		ready = false;
	bool		indexed = false;
	bool		loaded = false;

	memset(entry, 0, sizeof(*entry));
	privileges_become_extension(&saved);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT v.view, v.storage, v.query_view, v.counts_table, v.late_table, "
							  "v.stream, " PARTS_IN ", " STORAGE_INDEXED ", " STORAGE_LOADED " "
							  "FROM continuous.view_catalog v "
							  "WHERE v.view OPERATOR(pg_catalog.=) $1 AND v.restore_pending",
							  1, argtypes, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "pg_continuous: could not read continuous.view_catalog");
	if (SPI_processed == 1)
	{
		HeapTuple	row = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;

		ddl_catalog_read_view_row(row, desc, entry);
		entry->stream = DatumGetObjectId(SPI_getbinval(row, desc, 6, &isnull));
		ready = DatumGetBool(SPI_getbinval(row, desc, 7, &isnull));
		indexed = DatumGetBool(SPI_getbinval(row, desc, 8, &isnull));
		loaded = DatumGetBool(SPI_getbinval(row, desc, 9, &isnull));
	}
	SPI_finish();
	privileges_leave_extension(&saved);

	if (ready && !indexed)
		ready = view_definition_query(entry->query_view)->groupClause == NIL;
	/* a Kafka view's state is its storage: never without its rows */
	if (ready && kafka_is_stream_table(entry->stream))
		ready = loaded;
	else if (ready && !forced)
	{
		/* an interval join is computed from both streams' rows */
		Oid			join = ddl_catalog_join_stream_of_view(view);

		ready = loaded && stream_loaded(entry->stream) &&
			(!OidIsValid(join) || stream_loaded(join));
	}
	return ready;
}

/*
 * The relations a restore copies a table stream's rows into: the table,
 * or each partition that holds rows (pg_dump --load-via-partition-root
 * copies them into the partitioned table).
 */
static List *
stream_tables(Oid stream)
{
	List	   *tables = list_make1_oid(stream);
	ListCell   *lc;

	if (get_rel_relkind(stream) != RELKIND_PARTITIONED_TABLE)
		return tables;
	foreach(lc, find_all_inheritors(stream, NoLock, NULL))
		if (RELKIND_HAS_STORAGE(get_rel_relkind(lfirst_oid(lc))))
			tables = lappend_oid(tables, lfirst_oid(lc));
	return tables;
}

/*
 * Have the rows of stream been copied in?  A view of a table stream is
 * computed from them: rows copied after it comes back would be new events
 * to it, and late.  A dump made with --inserts copies nothing: there, a
 * table with rows counts as restored (its INSERTs come before the read
 * view in a serial restore); an empty one waits for continuous.rebuild().
 */
static bool
stream_loaded(Oid stream)
{
	List	   *tables = stream_tables(stream);
	ListCell   *lc;

	/* the table, or the partitioned table all at once, or each partition */
	if (noted_loaded(stream))
		return true;
	for_each_from(lc, tables, list_length(tables) > 1 ? 1 : 0)
	{
		if (!noted_loaded(lfirst_oid(lc)) && !has_rows(lfirst_oid(lc)))
			return false;
	}
	return true;
}

/* Has a restore copied rows into relid (continuous.restore_loaded)? */
static bool
noted_loaded(Oid relid)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};

	return select_as_extension("SELECT FROM continuous.restore_loaded l "
							   "WHERE l.relation OPERATOR(pg_catalog.=) $1",
							   1, argtypes, values) != NIL;
}

/*
 * Does table relid have a row (of its own, not of its partitions)?  Not if
 * another transaction holds a lock on it that readers wait for: that is a
 * restore loading it (pg_restore -j empties a table it created and copies
 * or inserts its rows in one transaction, noted by its TRUNCATE), whose own
 * commit looks for views to bring back after this one's
 * (restore_at_commit()).  Waiting here, holding the lock on
 * continuous.restore_loaded that its commit waits for, would be a deadlock.
 */
static bool
has_rows(Oid relid)
{
	if (!ConditionalLockRelationOid(relid, AccessShareLock))
		return false;
	return select_as_extension(psprintf("SELECT FROM ONLY %s LIMIT 1",
										quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
																   get_rel_name(relid))),
							   0, NULL, NULL) != NIL;
}

/* Runs sql with the extension's rights; ERROR unless SPI says expected. */
static void
run_as_extension(const char *sql, int nargs, Oid *argtypes, Datum *values,
				 int expected)
{
	ExtensionPrivileges saved;

	privileges_become_extension(&saved);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args(sql, nargs, argtypes, values, NULL, false, 0) != expected)
		elog(ERROR, "pg_continuous: could not run \"%s\"", sql);
	SPI_finish();
	privileges_leave_extension(&saved);
}

/*
 * The rows of a query run with the extension's rights, each its first
 * column as an Oid (InvalidOid for none or NULL); in the caller's memory
 * context.
 */
static List *
select_as_extension(const char *sql, int nargs, Oid *argtypes, Datum *values)
{
	ExtensionPrivileges saved;
	MemoryContext callercxt = CurrentMemoryContext;
	List	   *rows = NIL;
	uint64		i;

	privileges_become_extension(&saved);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args(sql, nargs, argtypes, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "pg_continuous: could not run \"%s\"", sql);
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull = true;
		Datum		d = SPI_tuptable->tupdesc->natts > 0 ?
			SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull) : (Datum) 0;
		MemoryContext spicxt = MemoryContextSwitchTo(callercxt);

		rows = lappend_oid(rows, isnull ? InvalidOid : DatumGetObjectId(d));
		MemoryContextSwitchTo(spicxt);
	}
	SPI_finish();
	privileges_leave_extension(&saved);
	return rows;
}
