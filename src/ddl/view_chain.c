/*-------------------------------------------------------------------------
 *
 * view_chain.c
 *	  Views over views: CREATE VIEW of a continuous view that reads an
 *	  emit = 'window_close' continuous view or a continuous transform.
 *
 * Pipeline position: DDL.  The rows of an emit = 'window_close' view are
 * final once they appear, so they can be a stream: the first continuous
 * view that reads one gives it an emission table,
 * continuous_storage.<view>_closed, with exactly the view's columns (names,
 * types, order), internal to the view and registered as a table stream
 * whose event time is the window column.  The worker appends the rows of
 * the windows each flush closes (chain_emit.c); the reader is an ordinary
 * view of that table stream: plan.c takes the emission table for its
 * stream, while its definition goes on naming the view read, so that
 * pg_dump, \d and dependencies name it (dropping the view read needs
 * CASCADE).  Its backfill reads the emission table.
 *
 * The emission table is made in the reader's CREATE VIEW and filled with
 * the windows already closed: those that close at or before the watermark
 * the view's stream has when the filling reads it, which becomes
 * emitted_upto; windows closed are final, so any later snapshot shows them
 * as the watermark's did.  The worker learns of the table when it decodes
 * that transaction, and emits from emitted_upto on.
 *
 * A transform's storage is an append-only table of final rows already: it
 * is its own emission table, registered as a table stream whose event time
 * is the output column that shows the stream's event time, with the
 * watermark delay of the transform's stream (its rows are appended as
 * events arrive, in no order of event time tighter than its stream's), and
 * nothing to emit (emitted_upto NULL).
 *
 * An emit = 'changes' view is refused: its rows change.  So are windows
 * whose close is not a fixed time after their start (sessions, count
 * windows), and transforms that do not show their event time.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "catalog/toasting.h"
#include "commands/defrem.h"
#include "commands/tablecmds.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "parser/parsetree.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "base/extension_catalog.h"
#include "base/privileges.h"
#include "ddl/ddl_catalog.h"
#include "ddl/view_chain.h"
#include "ddl/view_definition.h"
#include "plan/plan.h"
#include "state/chain_emit.h"
#include "window/window_registry.h"
#include "worker/sync.h"

/* the catalog row of a continuous view read by another */
typedef struct SourceView
{
	Oid			view;
	Oid			stream;
	Oid			storage;
	bool		transform;		/* a continuous transform */
	Interval	watermark_delay;	/* its stream's */
	char	   *emit;
	Interval	lateness;
	Oid			query_view;
	char	   *search_path;
	bool		restore_pending;
	TimestampTz watermark;		/* its stream's, as committed; */
	bool		has_watermark;	/* false: none yet */
} SourceView;

static bool read_source(Oid view, SourceView *source);
static AttrNumber window_output_column(ContinuousPlan *plan);
static AttrNumber event_time_output_column(ContinuousPlan *plan);
static void check_transform_source(Oid view, SourceView *source);
static bool reads_stream(ContinuousPlan *plan, Var *var);
static Oid	create_emission_table(Oid view);
static void record_emission_dependency(Oid emission, Oid view);

/*
 * A continuous view in a continuous view's FROM: refuse what cannot be
 * read as a stream.  False if view is not continuous at all.
 */
bool
view_chain_check_source(Oid view)
{
	SourceView	source;
	ContinuousPlan *plan;
	const char *name = get_rel_name(view);

	if (!read_source(view, &source))
		return false;
	if (source.transform)
	{
		check_transform_source(view, &source);
		return true;
	}
	if (strcmp(source.emit, "window_close") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("continuous view \"%s\" cannot be read by a continuous view",
						name),
				 errdetail("Its emit is '%s': the rows of its open windows change as events arrive.",
						   source.emit),
				 errhint("Read a continuous view created WITH (continuous, emit = 'window_close'), or a continuous transform: their rows are final once they appear.")));
	if (source.restore_pending)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("continuous view \"%s\" is being restored", name),
				 errhint("Create the view once its restore has completed.")));

	plan = continuous_plan_build(view_definition_query(source.query_view));
	if (plan->window == NULL || plan->window->size == NULL ||
		plan->window->end_column != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("continuous view \"%s\" cannot be read by a continuous view",
						name),
				 errdetail("Its window is %s; a continuous view can read views of tumbling and hopping windows only, which close a fixed time after they start.",
						   plan->window ? window_registry_describe(plan) : "none")));
	if (window_output_column(plan) == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("continuous view \"%s\" cannot be read by a continuous view",
						name),
				 errdetail("Its SELECT list does not show its window, which would be the event time of the views that read it."),
				 errhint("Create the view again with its window in the SELECT list.")));
	if (wal_level < WAL_LEVEL_LOGICAL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("continuous views over continuous views require wal_level = logical"),
				 errdetail("The closed windows of the view read are a table stream."),
				 errhint("Set wal_level = logical in postgresql.conf and restart the server.")));
	return true;
}

Oid
view_chain_prepare_source(Oid view)
{
	SourceView	source;
	ChainSource src;
	Oid			emission;
	TimestampTz watermark;
	Interval	zero = {0};
	Interval	max_future = {0};

	/*
	 * The worker's replication slot decodes the table's rows; it waits for
	 * writers when it is made, so before any lock.
	 */
	continuous_wait_for_decoder();
	/* self-conflicting, not blocking readers nor the worker */
	LockRelationOid(view, ShareUpdateExclusiveLock);
	emission = ddl_catalog_emission_of_view(view);
	if (OidIsValid(emission))
		return emission;

	if (!read_source(view, &source))
		elog(ERROR, "continuous view \"%s\" has no catalog row", get_rel_name(view));

	/*
	 * The event times are those of events the view's stream accepted (a
	 * transform's rows), or their windows' starts: that stream's max_future
	 * judged them already, by an earlier clock, and they are not judged
	 * again.  (A transform's storage had max_future 0 at first: its readers
	 * made a dead letter of each row dated ahead of their flush's clock.)
	 */
	max_future.month = 12 * 100;
	if (source.transform)
	{
		AttrNumber	column;

		column = event_time_output_column(continuous_plan_build(view_definition_query(source.query_view)));
		ddl_catalog_add_stream(source.storage, "table",
							   get_attname(source.storage, column, false),
							   &source.watermark_delay, NULL, &max_future);
		ddl_catalog_add_emission(view, source.storage, column, NULL);
		CommandCounterIncrement();
		return source.storage;
	}

	src.view = view;
	src.plan = continuous_plan_build(view_definition_query(source.query_view));
	src.window_column = window_output_column(src.plan);
	src.lateness = source.lateness;
	src.owner = ddl_relation_owner(view);
	src.search_path = source.search_path;
	src.emission = emission = create_emission_table(view);

	ddl_catalog_add_stream(emission, "table",
						   get_attname(emission, src.window_column, false),
						   &zero, NULL, &max_future);

	/*
	 * The windows closed already; the worker emits the later ones.  Closed
	 * windows never change, so the view shows them as they were when the
	 * watermark was read, in any later snapshot.
	 */
	watermark = source.has_watermark ? source.watermark : DT_NOBEGIN;
	(void) chain_emit_windows(&src, DT_NOBEGIN, watermark);
	ddl_catalog_add_emission(view, emission, src.window_column, &watermark);
	CommandCounterIncrement();
	return emission;
}

/* view_catalog's row of view, read with the catalog owner's rights */
static bool
read_source(Oid view, SourceView *source)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(view)};
	MemoryContext callercxt = CurrentMemoryContext;
	ExtensionPrivileges saved;
	bool		found = false;

	privileges_become_extension(&saved);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT v.stream, v.emit, v.allowed_lateness, v.query_view, "
							  "v.search_path, v.restore_pending, s.watermark, "
							  "v.storage, v.kind OPERATOR(pg_catalog.=) 'transform', "
							  "c.watermark_delay "
							  "FROM continuous.view_catalog v "
							  "LEFT JOIN continuous.stream_stats s "
							  "  ON s.stream OPERATOR(pg_catalog.=) v.stream "
							  "LEFT JOIN continuous.stream_catalog c "
							  "  ON c.stream OPERATOR(pg_catalog.=) v.stream "
							  "WHERE v.view OPERATOR(pg_catalog.=) $1",
							  1, argtypes, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read continuous.view_catalog");
	if (SPI_processed == 1)
	{
		HeapTuple	row = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		MemoryContext spicxt = MemoryContextSwitchTo(callercxt);
		bool		isnull;
		Datum		delay;

		source->view = view;
		source->stream = DatumGetObjectId(SPI_getbinval(row, desc, 1, &isnull));
		source->emit = SPI_getvalue(row, desc, 2);
		source->lateness = *DatumGetIntervalP(SPI_getbinval(row, desc, 3, &isnull));
		source->query_view = DatumGetObjectId(SPI_getbinval(row, desc, 4, &isnull));
		source->search_path = SPI_getvalue(row, desc, 5);
		source->restore_pending = DatumGetBool(SPI_getbinval(row, desc, 6, &isnull));
		source->watermark = DatumGetTimestampTz(SPI_getbinval(row, desc, 7, &isnull));
		source->has_watermark = !isnull;
		source->storage = DatumGetObjectId(SPI_getbinval(row, desc, 8, &isnull));
		source->transform = DatumGetBool(SPI_getbinval(row, desc, 9, &isnull));
		delay = SPI_getbinval(row, desc, 10, &isnull);
		memset(&source->watermark_delay, 0, sizeof(Interval));
		if (!isnull)
			source->watermark_delay = *DatumGetIntervalP(delay);
		MemoryContextSwitchTo(spicxt);
		found = true;
	}
	SPI_finish();
	privileges_leave_extension(&saved);
	return found;
}

/*
 * The column of the view (and of its emission table) that shows its
 * window, or InvalidAttrNumber.
 */
static AttrNumber
window_output_column(ContinuousPlan *plan)
{
	ContinuousKey *key = list_nth(plan->keys, plan->window->key);
	AttrNumber	column = 0;
	ListCell   *lc;

	if (key->type != TIMESTAMPTZOID && key->type != TIMESTAMPOID)
		return InvalidAttrNumber;
	foreach(lc, plan->query->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);

		if (tle->resjunk)
			continue;
		column++;
		if (tle->ressortgroupref == key->sortgroupref &&
			exprType((Node *) tle->expr) == key->type)
			return column;
	}
	return InvalidAttrNumber;
}

/*
 * The checks of a transform read by a continuous view: it must show its
 * stream's event time, which is the reader's.
 */
static void
check_transform_source(Oid view, SourceView *source)
{
	const char *name = get_rel_name(view);

	if (source->restore_pending)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("continuous view \"%s\" is being restored", name),
				 errhint("Create the view once its restore has completed.")));
	if (event_time_output_column(continuous_plan_build(view_definition_query(source->query_view))) == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("continuous transform \"%s\" cannot be read by a continuous view",
						name),
				 errdetail("Its SELECT list does not show its stream's event-time column, which would be the event time of the views that read it."),
				 errhint("Create the transform again with its stream's event-time column in the SELECT list.")));
	if (wal_level < WAL_LEVEL_LOGICAL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("continuous views over continuous views require wal_level = logical"),
				 errdetail("The rows of the transform read are a table stream."),
				 errhint("Set wal_level = logical in postgresql.conf and restart the server.")));
}

/*
 * The column of a transform (and of its storage) that shows its stream's
 * event-time column as it is, or InvalidAttrNumber.
 */
static AttrNumber
event_time_output_column(ContinuousPlan *plan)
{
	AttrNumber	column = 0;
	ListCell   *lc;

	if (plan->event_time_attnum == InvalidAttrNumber)
		return InvalidAttrNumber;
	foreach(lc, plan->outputs)
	{
		ContinuousOutput *output = lfirst(lc);
		Var		   *var = (Var *) output->expr;

		column++;
		if (IsA(var, Var) && var->varattno == plan->event_time_attnum &&
			var->varlevelsup == 0 && reads_stream(plan, var) &&
			(output->type == TIMESTAMPTZOID || output->type == TIMESTAMPOID))
			return column;
	}
	return InvalidAttrNumber;
}

/* Is var a column of the plan's stream (or of the view it reads)? */
static bool
reads_stream(ContinuousPlan *plan, Var *var)
{
	RangeTblEntry *rte = rt_fetch(var->varno, plan->query->rtable);

	return rte->rtekind == RTE_RELATION &&
		(rte->relid == plan->stream ||
		 ddl_catalog_emission_of_view(rte->relid) == plan->stream);
}

/*
 * continuous_storage.<view>_closed: the view's columns, owned by the
 * bootstrap superuser like storage, internal to the view (DROP VIEW drops
 * it, and nothing else may).
 */
static Oid
create_emission_table(Oid view)
{
	Oid			namespace = get_namespace_oid(CONTINUOUS_STORAGE_SCHEMA, false);
	CreateStmt *create = makeNode(CreateStmt);
	Relation	rel = relation_open(view, AccessShareLock);
	TupleDesc	desc = RelationGetDescr(rel);
	ExtensionPrivileges saved;
	ObjectAddress address;
	int			i;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped)
			elog(ERROR, "continuous view \"%s\" has a dropped column",
				 RelationGetRelationName(rel));
		create->tableElts = lappend(create->tableElts,
									makeColumnDef(NameStr(att->attname),
												  att->atttypid, att->atttypmod,
												  att->attcollation));
	}
	create->relation = makeRangeVar(CONTINUOUS_STORAGE_SCHEMA,
									ChooseRelationName(RelationGetRelationName(rel),
													   NULL, "closed",
													   namespace, false),
									-1);
	create->oncommit = ONCOMMIT_NOOP;
	create->accessMethod = DEFAULT_TABLE_ACCESS_METHOD;
	relation_close(rel, NoLock);

	privileges_become_extension(&saved);
	address = DefineRelation(create, RELKIND_RELATION, BOOTSTRAP_SUPERUSERID,
							 NULL, NULL);
	CommandCounterIncrement();
	NewRelationCreateToastTable(address.objectId, (Datum) 0);
	privileges_leave_extension(&saved);

	record_emission_dependency(address.objectId, view);
	return address.objectId;
}

/* The emission table is internal to the view: it goes with it. */
static void
record_emission_dependency(Oid emission, Oid view)
{
	ObjectAddress address;
	ObjectAddress view_address;

	ObjectAddressSet(address, RelationRelationId, emission);
	ObjectAddressSet(view_address, RelationRelationId, view);
	recordDependencyOn(&address, &view_address, DEPENDENCY_INTERNAL);
	CommandCounterIncrement();
}

/*
 * pg_dump carries no dependencies: the worker, when it starts, records
 * again those of emission tables that a restore or pg_upgrade left out,
 * as view_dependencies_restore() does for storage.
 */
void
view_chain_restore_dependencies(void)
{
	Oid			argtypes[2] = {OIDOID, CHAROID};
	Datum		values[2] = {ObjectIdGetDatum(RelationRelationId),
	CharGetDatum(DEPENDENCY_INTERNAL)};
	List	   *pairs = NIL;
	ListCell   *lc;
	uint64		i;

	if (SPI_execute_with_args("SELECT e.emission, e.view "
							  "FROM continuous.view_emissions e "
							  "WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_depend d "
							  "  WHERE d.classid OPERATOR(pg_catalog.=) $1 "
							  "    AND d.objid OPERATOR(pg_catalog.=) e.emission "
							  "    AND d.refclassid OPERATOR(pg_catalog.=) $1 "
							  "    AND d.refobjid OPERATOR(pg_catalog.=) e.view "
							  "    AND d.deptype OPERATOR(pg_catalog.=) $2) "
							  "ORDER BY e.view",
							  2, argtypes, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "pg_continuous: could not read continuous.view_emissions");
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		pairs = lappend_oid(pairs,
							DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
														   SPI_tuptable->tupdesc, 1, &isnull)));
		pairs = lappend_oid(pairs,
							DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
														   SPI_tuptable->tupdesc, 2, &isnull)));
	}
	for (lc = list_head(pairs); lc != NULL; lc = lnext(pairs, lnext(pairs, lc)))
	{
		Oid			emission = lfirst_oid(lc);
		Oid			view = lfirst_oid(lnext(pairs, lc));

		/* as DROP VIEW does, so that the view cannot go meanwhile */
		LockRelationOid(view, AccessExclusiveLock);
		if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(view)) ||
			!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(emission)))
			continue;
		record_emission_dependency(emission, view);
	}
}
