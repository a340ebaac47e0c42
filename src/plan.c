/*-------------------------------------------------------------------------
 *
 * plan.c
 *	  What a continuous view computes: its group keys, its distinct
 *	  aggregate calls and its WHERE, derived from the analysed SELECT.
 *
 * Pipeline position: shared by both ends.  At CREATE VIEW, ddl_view.c lays
 * out the storage table from this plan (key columns, then one state column
 * per aggregate) and builds the read view over it; at run time the worker
 * evaluates the same keys, aggregate arguments and WHERE for each event
 * (batch.c) and writes the same columns (flush.c).  The order of keys and
 * aggregates is therefore part of the storage format: keys in GROUP BY
 * order, aggregates in order of first appearance in the SELECT list and
 * then HAVING.
 *
 * The plan also recognises the view's window: a group key that maps the
 * stream's event time to the start of a fixed-length window, or the window
 * start of a continuous.hop() over the event time in FROM (window_hop.c),
 * and a continuous.count_window() key (window_count.c).  The
 * worker judges lateness by it (batch.c) and the read view of emit =
 * 'window_close' shows a window once it has closed (ddl_view.c); both ask
 * continuous_window_closes_at() when that is.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "common/int.h"
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

#include "agg_support.h"
#include "ddl_catalog.h"
#include "extension_catalog.h"
#include "plan.h"
#include "window_session.h"
#include "window_count.h"
#include "window_hop.h"

static Oid	plan_stream_relid(Query *query);
static List *plan_keys(Query *query, List **used_names);
static char *stream_column_name(Query *query, Var *var);
static List *plan_aggregates(Query *query, List **used_names);
static const char *aggregate_resname(Query *query, Aggref *aggref);
static bool collect_aggrefs_walker(Node *node, List **aggrefs);
static bool resname_is_unique(Query *query, const char *resname);
static char *unique_column_name(const char *base, List *used_names);
static void plan_window(ContinuousPlan *plan);
static bool window_of_key(ContinuousPlan *plan, Expr *expr,
						  AttrNumber event_time, Interval **size,
						  const char **function, char **variable_unit);
static bool is_event_time(ContinuousPlan *plan, Node *node,
						  AttrNumber event_time);
static Interval *date_trunc_unit_length(const char *unit);
static char *bind_storage_column(Relation storage, int *attno, Oid type,
								 const char *view_name);

ContinuousPlan *
continuous_plan_build(Query *query)
{
	ContinuousPlan *plan = palloc0(sizeof(ContinuousPlan));
	List	   *used_names = NIL;

	plan->query = query;
	plan->stream = plan_stream_relid(query);
	plan->keys = plan_keys(query, &used_names);
	plan->aggregates = plan_aggregates(query, &used_names);
	plan->where = (Expr *) query->jointree->quals;
	plan->hop = hop_spec_of_query(query);
	plan_window(plan);
	if (plan->session)
		plan->session_end_column = unique_column_name("session_end", used_names);
	count_window_plan(plan);

	return plan;
}

/*
 * The worker's plan names its columns after the storage table's, by
 * position: keys, then aggregate states, then a session's end, as
 * ddl_view.c laid the table out.  The names derived above come from the
 * query, and a query analysed again from its SQL (pg_upgrade, a restore:
 * view_definition.c) names a group key that is not in the SELECT list
 * after the stream column's current name, while the storage column keeps
 * the name the stream column had at CREATE VIEW.  The types must agree,
 * or the storage was not laid out for this plan.
 */
void
continuous_plan_bind_storage(ContinuousPlan *plan, Oid storage,
							 const char *view_name)
{
	Relation	rel = RelationIdGetRelation(storage);
	int			attno = 0;
	ListCell   *lc;

	if (!RelationIsValid(rel))
		elog(ERROR, "could not open the storage of continuous view \"%s\"",
			 view_name);
	foreach(lc, plan->keys)
	{
		ContinuousKey *key = lfirst(lc);

		key->column = bind_storage_column(rel, &attno, key->type, view_name);
	}
	foreach(lc, plan->aggregates)
	{
		ContinuousAggregate *agg = lfirst(lc);

		agg->column = bind_storage_column(rel, &attno, agg->storage_type,
										  view_name);
	}
	if (plan->session)
		plan->session_end_column =
			bind_storage_column(rel, &attno,
								((ContinuousKey *) list_nth(plan->keys,
															plan->window_key))->type,
								view_name);
	/* and no column after them */
	(void) bind_storage_column(rel, &attno, InvalidOid, view_name);
	RelationClose(rel);
}

/*
 * The name of the next column of storage after *attno, which must be of
 * type (InvalidOid: there must be none; NULL is returned then).
 */
static char *
bind_storage_column(Relation storage, int *attno, Oid type,
					const char *view_name)
{
	TupleDesc	desc = RelationGetDescr(storage);
	Form_pg_attribute att = NULL;

	while (*attno < desc->natts)
	{
		att = TupleDescAttr(desc, (*attno)++);
		if (!att->attisdropped)
			break;
		att = NULL;
	}
	if (att == NULL && !OidIsValid(type))
		return NULL;
	if (att == NULL || att->atttypid != type)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("storage of continuous view \"%s\" does not match its definition",
						view_name),
				 att == NULL ?
				 errdetail("Storage table \"%s\" has fewer columns than the view's SELECT computes.",
						   RelationGetRelationName(storage)) :
				 !OidIsValid(type) ?
				 errdetail("Storage table \"%s\" has more columns than the view's SELECT computes.",
						   RelationGetRelationName(storage)) :
				 errdetail("Column \"%s\" of storage table \"%s\" is of type %s, where the view's SELECT computes %s.",
						   NameStr(att->attname),
						   RelationGetRelationName(storage),
						   format_type_be(att->atttypid),
						   format_type_be(type))));
	return pstrdup(NameStr(att->attname));
}

/*
 * The first group key that is a tumbling window over the stream's event
 * time.  Only calls whose size and origin are constants qualify: the window
 * of an event must be a function of its event time alone, or no watermark
 * could say when it is complete.
 */
static void
plan_window(ContinuousPlan *plan)
{
	AttrNumber	event_time;
	ListCell   *lc;
	int			i = 0;

	plan->window_key = -1;
	plan->event_time = ddl_catalog_stream_event_time(plan->stream);
	if (plan->event_time == NULL)
		return;
	event_time = get_attnum(plan->stream, plan->event_time);
	plan->event_time_attnum = event_time;
	if (event_time == InvalidAttrNumber)
		return;
	if (session_plan_window(plan, event_time))
		return;

	foreach(lc, plan->keys)
	{
		ContinuousKey *key = lfirst(lc);
		Interval   *size = NULL;
		const char *function = NULL;
		char	   *variable_unit = NULL;

		if (window_of_key(plan, key->expr, event_time, &size, &function,
						  &variable_unit))
		{
			plan->window_key = i;
			plan->window_size = size;
			plan->window_function = function;
			return;
		}
		if (variable_unit != NULL && plan->variable_window_unit == NULL)
			plan->variable_window_unit = variable_unit;
		i++;
	}
}

/*
 * Is expr the window start of continuous.hop(event_time, ...) in FROM (its
 * size taken as 24-hour days, as the hop computes windows), or
 * continuous.tumble(event_time, size [, origin]),
 * date_bin(size, event_time, origin) or date_trunc(unit, event_time)?  Sets
 * the window's size and the function's name if so; a date_trunc() whose
 * unit has no fixed length sets variable_unit instead.
 */
static bool
window_of_key(ContinuousPlan *plan, Expr *expr, AttrNumber event_time,
			  Interval **size, const char **function, char **variable_unit)
{
	FuncExpr   *func;
	Node	   *ts;
	Node	   *size_arg = NULL;
	Node	   *origin = NULL;
	Const	   *c;
	Interval   *length;

	/* a hop's window start, if the hop is over the event time */
	if (hop_is_window_column(plan->hop, expr))
	{
		if (!is_event_time(plan, (Node *) plan->hop->ts, event_time))
			return false;
		*size = palloc0(sizeof(Interval));
		(*size)->time = plan->hop->size_us;
		*function = "hop";
		return true;
	}

	if (!IsA(expr, FuncExpr))
		return false;
	func = (FuncExpr *) expr;

	if (func->funcid == F_DATE_TRUNC_TEXT_TIMESTAMPTZ ||
		func->funcid == F_DATE_TRUNC_TEXT_TIMESTAMP)
	{
		char	   *unit;

		c = (Const *) linitial(func->args);
		if (!IsA(c, Const) || c->constisnull ||
			!is_event_time(plan, lsecond(func->args), event_time))
			return false;
		unit = TextDatumGetCString(c->constvalue);
		length = date_trunc_unit_length(unit);
		if (length == NULL)
		{
			*variable_unit = unit;
			return false;
		}
		*size = length;
		*function = "date_trunc";
		return true;
	}

	if (func->funcid == F_DATE_BIN_INTERVAL_TIMESTAMPTZ_TIMESTAMPTZ ||
		func->funcid == F_DATE_BIN_INTERVAL_TIMESTAMP_TIMESTAMP)
	{
		size_arg = linitial(func->args);
		ts = lsecond(func->args);
		origin = lthird(func->args);
		*function = "date_bin";
	}
	else if (continuous_function_is(func->funcid, "tumble") &&
			 list_length(func->args) >= 2)
	{
		ts = linitial(func->args);
		size_arg = lsecond(func->args);
		if (list_length(func->args) > 2)
			origin = lthird(func->args);
		*function = "tumble";
	}
	else
		return false;

	if (!is_event_time(plan, ts, event_time))
		return false;
	if (origin != NULL && (!IsA(origin, Const) || ((Const *) origin)->constisnull))
		return false;
	c = (Const *) size_arg;
	if (!IsA(c, Const) || c->constisnull || c->consttype != INTERVALOID)
		return false;
	length = DatumGetIntervalP(c->constvalue);
	/* sizes that tumble() and date_bin() refuse for every event anyway */
	if (length->month != 0 || length->day * USECS_PER_DAY + length->time <= 0)
		return false;
	*size = palloc(sizeof(Interval));
	**size = *length;
	return true;
}

/* Is node the stream's event-time column, as it is? */
static bool
is_event_time(ContinuousPlan *plan, Node *node, AttrNumber event_time)
{
	Var		   *var = (Var *) node;

	return IsA(node, Var) && var->varlevelsup == 0 &&
		var->varattno == event_time &&
		rt_fetch(var->varno, plan->query->rtable)->relid == plan->stream;
}

/*
 * The length of date_trunc()'s unit, parsed as date_trunc() parses it; NULL
 * for units whose length varies (month, quarter, year and longer).  A day
 * is one calendar day: for timestamptz, date_trunc() and interval
 * arithmetic agree on it in the worker's time zone.
 */
static Interval *
date_trunc_unit_length(const char *unit)
{
	char	   *lowunits = downcase_truncate_identifier(unit, strlen(unit), false);
	Interval   *length = palloc0(sizeof(Interval));
	int			val;

	if (DecodeUnits(0, lowunits, &val) != UNITS)
		return NULL;
	switch (val)
	{
		case DTK_MICROSEC:
			length->time = 1;
			break;
		case DTK_MILLISEC:
			length->time = 1000;
			break;
		case DTK_SECOND:
			length->time = USECS_PER_SEC;
			break;
		case DTK_MINUTE:
			length->time = USECS_PER_MINUTE;
			break;
		case DTK_HOUR:
			length->time = USECS_PER_HOUR;
			break;
		case DTK_DAY:
			length->day = 1;
			break;
		case DTK_WEEK:
			length->day = 7;
			break;
		default:
			return NULL;
	}
	return length;
}

TimestampTz
continuous_window_closes_at(ContinuousPlan *plan, Datum window_start,
							const Interval *lateness)
{
	ContinuousKey *key = list_nth(plan->keys, plan->window_key);
	Interval   *size = plan->window_size;
	TimestampTz start = DatumGetTimestampTz(window_start);
	PGFunction	plus;
	Datum		end;

	Assert(plan->window_key >= 0);
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

/* The one relation a continuous view's query reads. */
static Oid
plan_stream_relid(Query *query)
{
	Oid			stream = InvalidOid;
	ListCell   *lc;

	foreach(lc, query->rtable)
	{
		RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);

		if (rte->rtekind != RTE_RELATION)
			continue;
		if (OidIsValid(stream))
			elog(ERROR, "continuous view query reads more than one relation");
		stream = rte->relid;
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
