/*-------------------------------------------------------------------------
 *
 * plan.c
 *	  What a continuous view computes: its group keys, its distinct
 *	  aggregate calls and its WHERE, derived from the analysed SELECT.
 *
 * Pipeline position: shared by both ends.  At CREATE VIEW, ddl_view.c
 * creates the storage table from this plan, laid out as storage_layout.c
 * says (key columns, then one state column per aggregate), and builds the
 * read view over it; at run time the worker
 * evaluates the same keys, aggregate arguments and WHERE for each event
 * (stage_filter.c, stage_aggregate.c) and writes the same columns
 * (flush.c).  The order of keys and aggregates is therefore part of the storage format: keys in GROUP BY
 * order, aggregates in order of first appearance in the SELECT list and
 * then HAVING.
 *
 * A view that joins tables to its stream has them described in plan->joins
 * (plan_join.c); its expressions read the joined row once the lookup join
 * stage has bound them (continuous_plan_bind_joins()).
 *
 * The window kinds (window_registry.c) recognise the view's windows among
 * its keys.  The worker judges lateness by the one the watermark closes
 * (stage_aggregate.c) and the read view of emit = 'window_close' shows a window
 * once it has closed (ddl_view.c); both ask continuous_window_closes_at()
 * when that is.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "common/int.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "parser/scansup.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/timestamp.h"

#include "base/extension_catalog.h"
#include "ddl/ddl_catalog.h"
#include "plan/agg_support.h"
#include "plan/plan.h"
#include "plan/plan_interval.h"
#include "plan/plan_join.h"
#include "window/window_registry.h"

static Oid	plan_stream_relid(Query *query, List *joins);
static List *plan_keys(Query *query, List **used_names);
static char *stream_column_name(Query *query, Var *var);
static List *plan_aggregates(Query *query, List **used_names);
static const char *aggregate_resname(Query *query, Aggref *aggref);
static bool collect_aggrefs_walker(Node *node, List **aggrefs);
static bool resname_is_unique(Query *query, const char *resname);
static char *unique_column_name(const char *base, List *used_names);
static void plan_event_time(ContinuousPlan *plan);
static void plan_unique_key(ContinuousPlan *plan);
static void plan_window_columns(ContinuousPlan *plan, List *used_names);
static void plan_outputs(ContinuousPlan *plan, List **used_names);

ContinuousPlan *
continuous_plan_build(Query *query)
{
	ContinuousPlan *plan = palloc0(sizeof(ContinuousPlan));
	List	   *used_names = NIL;
	List	   *residual;

	plan->query = query;
	plan->interval_join = plan_interval_join_build(query, &residual);
	if (plan->interval_join != NULL)
	{
		/* tables joined to the two streams are looked up */
		plan->joins = plan_joins_build(query,
									   plan->interval_join->right_rtindex);
		plan->stream = rt_fetch(plan->interval_join->left_rtindex,
								query->rtable)->relid;
	}
	else
	{
		plan->joins = plan_joins_build(query, 0);
		plan->stream = plan_stream_relid(query, plan->joins);
	}
	plan->keys = plan_keys(query, &used_names);
	plan->aggregates = plan_aggregates(query, &used_names);
	plan->where = (Expr *) query->jointree->quals;
	/* the rest of an interval join's ON, on the joined row */
	if (residual != NIL)
		plan->where = make_ands_explicit(plan->where != NULL ?
										 lappend(residual, plan->where) :
										 residual);
	plan_event_time(plan);
	plan_unique_key(plan);
	plan->transform = continuous_query_is_transform(query);
	if (plan->transform)
		plan_outputs(plan, &used_names);
	window_registry_recognise(plan);
	plan_window_columns(plan, used_names);

	return plan;
}

/* The stream's event-time column, by which windows are recognised. */
static void
plan_event_time(ContinuousPlan *plan)
{
	plan->event_time = ddl_catalog_stream_event_time(plan->stream);
	if (plan->event_time != NULL)
		plan->event_time_attnum = get_attnum(plan->stream, plan->event_time);
}

/* The stream's unique key, by which the dedup stage drops duplicates. */
static void
plan_unique_key(ContinuousPlan *plan)
{
	ListCell   *lc;

	foreach(lc, ddl_catalog_stream_dedup(plan->stream, &plan->dedup_within))
	{
		AttrNumber	attnum = get_attnum(plan->stream, lfirst(lc));

		if (attnum == InvalidAttrNumber)
			elog(ERROR, "column \"%s\" of the unique key of stream %u does not exist",
				 (char *) lfirst(lc), plan->stream);
		plan->unique_key = lappend_int(plan->unique_key, attnum);
	}
}

/*
 * A transform's storage columns: one per column of the SELECT list, named
 * as the view's column (made unique: "?column?" may repeat in a SELECT),
 * then the event's time, if the stream has one, under a name no output
 * column takes.  Like keys, named from the stored query only.
 */
static void
plan_outputs(ContinuousPlan *plan, List **used_names)
{
	ListCell   *lc;

	foreach(lc, plan->query->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);
		ContinuousOutput *output;

		if (tle->resjunk)
			continue;
		output = palloc0(sizeof(ContinuousOutput));
		output->expr = tle->expr;
		output->type = exprType((Node *) tle->expr);
		output->typmod = exprTypmod((Node *) tle->expr);
		output->collation = exprCollation((Node *) tle->expr);
		output->name = tle->resname ? tle->resname :
			psprintf("column_%d", list_length(plan->outputs) + 1);
		output->column = unique_column_name(output->name, *used_names);
		*used_names = lappend(*used_names, output->column);
		plan->outputs = lappend(plan->outputs, output);
	}
	if (plan->event_time != NULL)
	{
		plan->event_time_column = unique_column_name("_event_time",
													 *used_names);
		*used_names = lappend(*used_names, plan->event_time_column);
	}
}

/*
 * A window that stores its end names that column as its kind proposed,
 * made unique among the storage table's columns.
 */
static void
plan_window_columns(ContinuousPlan *plan, List *used_names)
{
	ListCell   *lc;

	foreach(lc, plan->windows)
	{
		PlanWindow *window = lfirst(lc);

		if (window->end_column == NULL)
			continue;
		window->end_column = unique_column_name(window->end_column, used_names);
		used_names = lappend(used_names, window->end_column);
	}
}

TimestampTz
continuous_window_closes_at(ContinuousPlan *plan, Datum window_start,
							const Interval *lateness)
{
	ContinuousKey *key = list_nth(plan->keys, plan->window->key);
	Interval   *size = plan->window->size;
	TimestampTz start = DatumGetTimestampTz(window_start);
	PGFunction	plus;
	Datum		end;

	if (TIMESTAMP_NOT_FINITE(start))
		return start;

	/* the common case, without calendar arithmetic: once per event */
	if (size->month == 0 && size->day == 0 &&
		lateness->month == 0 && lateness->day == 0)
	{
		int64		result;

		if (pg_add_s64_overflow(start, size->time, &result) ||
			pg_add_s64_overflow(result, lateness->time, &result) ||
			!IS_VALID_TIMESTAMP(result))
			return DT_NOEND;	/* never closes */
		return result;
	}

	/*
	 * Calendar days: timestamp arithmetic needs no time zone, timestamptz
	 * arithmetic uses the worker's, as the key's date_trunc() did.
	 */
	plus = key->type == TIMESTAMPOID ? timestamp_pl_interval :
		timestamptz_pl_interval;
	end = DirectFunctionCall2(plus, window_start, IntervalPGetDatum(size));
	end = DirectFunctionCall2(plus, end, IntervalPGetDatum((Interval *) lateness));
	return DatumGetTimestampTz(end);
}

/* The one relation a continuous view's query reads, other than joined tables. */
static Oid
plan_stream_relid(Query *query, List *joins)
{
	Oid			stream = InvalidOid;
	ListCell   *lc;

	foreach(lc, query->rtable)
	{
		RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);
		ListCell   *jc;

		if (rte->rtekind != RTE_RELATION)
			continue;
		foreach(jc, joins)
			if (((PlanJoin *) lfirst(jc))->rtindex == foreach_current_index(lc) + 1)
				break;
		if (jc != NULL)
			continue;
		if (OidIsValid(stream))
			elog(ERROR, "continuous view query reads more than one relation");
		stream = rte->relid;

		/*
		 * A view over an emit = 'window_close' view reads the table its
		 * closed windows are appended to (view_chain.c); the query goes on
		 * naming the view, whose columns that table has, in order.
		 */
		if (rte->relkind == RELKIND_VIEW)
		{
			stream = ddl_catalog_emission_of_view(rte->relid);
			if (!OidIsValid(stream))
				elog(ERROR, "continuous view query reads view \"%s\", which emits no closed windows",
					 get_rel_name(rte->relid));
		}
	}
	if (!OidIsValid(stream))
		elog(ERROR, "continuous view query reads no stream");
	return stream;
}

/*
 * One key per GROUP BY item.  A key keeps the name the user gave it in the
 * SELECT list when that name identifies it; a key that is not selected is
 * named after its column, or by position if it is an expression.
 */
static List *
plan_keys(Query *query, List **used_names)
{
	List	   *keys = NIL;
	ListCell   *lc;
	int			keyno = 0;

	foreach(lc, query->groupClause)
	{
		SortGroupClause *sgc = lfirst_node(SortGroupClause, lc);
		TargetEntry *tle = get_sortgroupclause_tle(sgc, query->targetList);
		ContinuousKey *key = palloc0(sizeof(ContinuousKey));
		char	   *base;

		keyno++;
		key->expr = tle->expr;
		key->sortgroupref = sgc->tleSortGroupRef;
		key->type = exprType((Node *) tle->expr);
		key->typmod = exprTypmod((Node *) tle->expr);
		key->collation = exprCollation((Node *) tle->expr);

		if (!tle->resjunk && tle->resname != NULL &&
			resname_is_unique(query, tle->resname))
			base = tle->resname;
		else if (IsA(tle->expr, Var) && ((Var *) tle->expr)->varattno > 0)
			base = stream_column_name(query, (Var *) tle->expr);
		else
			base = psprintf("key_%d", keyno);
		key->column = unique_column_name(base, *used_names);
		*used_names = lappend(*used_names, key->column);

		keys = lappend(keys, key);
	}
	return keys;
}

/*
 * The column's name as the query saw it when analysed: names must not
 * change when the stream's columns are renamed later, for the worker finds
 * storage columns by name.
 */
static char *
stream_column_name(Query *query, Var *var)
{
	RangeTblEntry *rte = rt_fetch(var->varno, query->rtable);

	return strVal(list_nth(rte->eref->colnames, var->varattno - 1));
}

/*
 * One state column per distinct aggregate call.  An aggregate that is a
 * whole column of the SELECT list is named after that column, others by
 * position.  Like key names, these come from the stored query only, never
 * from catalog names that ALTER ... RENAME could change.
 */
static List *
plan_aggregates(Query *query, List **used_names)
{
	List	   *aggrefs = NIL;
	List	   *aggregates = NIL;
	ListCell   *lc;
	int			aggno = 0;

	(void) collect_aggrefs_walker((Node *) query->targetList, &aggrefs);
	(void) collect_aggrefs_walker(query->havingQual, &aggrefs);

	foreach(lc, aggrefs)
	{
		Aggref	   *aggref = lfirst_node(Aggref, lc);
		ContinuousAggregate *agg = palloc0(sizeof(ContinuousAggregate));
		const char *resname = aggregate_resname(query, aggref);
		char	   *base;

		aggno++;
		agg->aggref = aggref;
		agg->storage_type = agg_support_create(aggref)->storage_type;

		if (resname != NULL)
			base = makeObjectName(resname, NULL, "state");
		else
			base = psprintf("state_%d", aggno);
		agg->column = unique_column_name(base, *used_names);
		*used_names = lappend(*used_names, agg->column);

		aggregates = lappend(aggregates, agg);
	}
	return aggregates;
}

/* The name of the first SELECT-list column that is exactly aggref, or NULL. */
static const char *
aggregate_resname(Query *query, Aggref *aggref)
{
	ListCell   *lc;

	foreach(lc, query->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);

		if (!tle->resjunk && tle->resname != NULL &&
			equal(tle->expr, aggref))
			return tle->resname;
	}
	return NULL;
}

/*
 * Distinct Aggref nodes in order of appearance.  Arguments of an aggregate
 * cannot contain another aggregate of the same query level, so there is no
 * need to look inside one.
 */
static bool
collect_aggrefs_walker(Node *node, List **aggrefs)
{
	if (node == NULL)
		return false;
	if (IsA(node, Aggref))
	{
		ListCell   *lc;

		foreach(lc, *aggrefs)
		{
			if (equal(lfirst(lc), node))
				return false;
		}
		*aggrefs = lappend(*aggrefs, node);
		return false;
	}
	return expression_tree_walker(node, collect_aggrefs_walker, aggrefs);
}

static bool
resname_is_unique(Query *query, const char *resname)
{
	ListCell   *lc;
	int			count = 0;

	foreach(lc, query->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);

		if (!tle->resjunk && tle->resname != NULL &&
			strcmp(tle->resname, resname) == 0)
			count++;
	}
	return count == 1;
}

/*
 * base, or base with a number appended (kept within NAMEDATALEN), so that it
 * differs from every name in used_names.
 */
static char *
unique_column_name(const char *base, List *used_names)
{
	char	   *name = makeObjectName(base, NULL, NULL);
	int			suffix = 0;

	for (;;)
	{
		ListCell   *lc;
		bool		taken = false;
		char		number[32];

		foreach(lc, used_names)
		{
			if (strcmp((char *) lfirst(lc), name) == 0)
			{
				taken = true;
				break;
			}
		}
		if (!taken)
			return name;

		snprintf(number, sizeof(number), "%d", ++suffix);
		name = makeObjectName(base, NULL, number);
	}
}
