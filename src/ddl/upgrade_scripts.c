/*-------------------------------------------------------------------------
 *
 * upgrade_scripts.c
 *	  The work of the update scripts that needs C.
 *
 * Pipeline position: none of its own.  ALTER EXTENSION pg_continuous
 * UPDATE runs the update scripts (src/sql/) on a catalog on its way to the
 * library's version (upgrade.c); a script calls these functions where SQL
 * cannot do the work, and nothing else may.
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

#include "access/relation.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/pg_class.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/view.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "utils/builtins.h"
#include "utils/rel.h"

#include "base/extension_catalog.h"
#include "ddl/upgrade.h"
#include "ddl/view_definition.h"
#include "ddl/view_dependencies.h"

PG_FUNCTION_INFO_V1(continuous_upgrade_view_definitions);

static void read_view_name_aggregates(Oid view, Oid finalize);
static Node *name_aggregates_mutator(Node *node, Oid *finalize);

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

	if (!upgrade_in_own_script())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("continuous views' definitions are converted by ALTER EXTENSION pg_continuous UPDATE only")));

	finalize = continuous_function_oid("finalize", 3, finalize_argtypes);
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
	continuous_catalog_changed();
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
