/*-------------------------------------------------------------------------
 *
 * window_hop.c
 *	  Hopping windows: continuous.hop(ts, size, slide [, origin]), a
 *	  set-returning SQL function, and the same windows in the worker.
 *
 * Pipeline position: windows.  A view with hopping windows reads
 *
 *	   FROM stream CROSS JOIN LATERAL continuous.hop(ts, size, slide) AS w
 *	   GROUP BY w.window_start, ...
 *
 * which, run as a batch query, counts each event once in every window of
 * length size (one starts every slide, from origin) that contains it.  The
 * worker does the same without a join: for each event it computes the
 * windows with hop_windows(), the function the SQL function uses too, and
 * evaluates the view's keys and aggregate arguments once per window, with
 * the window start in the expression context's inner tuple where the
 * query had a reference to the function's column (hop_bind_window_column).
 * Each window is judged late on its own (stage_aggregate.c): an event counts in
 * those of its windows still open, and is late only if all were closed.
 *
 * Size and slide are any positive lengths, as in Flink: a size that is not
 * a multiple of the slide gives some events one window fewer than others,
 * and a size below the slide leaves gaps whose events are in no window.  A
 * day is 24 hours, as in date_bin(); months and years have no fixed length
 * and are refused.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/int.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "funcapi.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "utils/builtins.h"
#include "miscadmin.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "base/extension_catalog.h"
#include "window/window_kind.h"

/*
 * The most windows one event may fall into in a continuous view: the
 * worker evaluates the view's keys and aggregates once per window.
 */
#define HOP_MAX_WINDOWS_PER_EVENT	10000

/*
 * FROM stream CROSS JOIN LATERAL continuous.hop(ts, size, slide, origin):
 * the function's range table entry and its constant arguments
 * (PlanWindow.private).
 */
typedef struct HopSpec
{
	Index		rtindex;		/* of the function in the query's range table */
	Expr	   *ts;				/* its first argument, over the stream */
	Oid			ts_type;		/* timestamptz or timestamp */
	Interval	size;			/* as written, for continuous.views */
	Interval	slide;
	int64		size_us;		/* a day is 24 hours, as in date_bin() */
	int64		slide_us;
	TimestampTz origin;			/* microseconds, whatever ts_type */
} HopSpec;

/* A view's hop at run time (WindowRuntime.state). */
typedef struct HopRuntime
{
	HopSpec    *spec;
	ExprState  *ts;				/* the hop's first argument */
	TupleTableSlot *window;		/* the inner tuple: one window start */
	TimestampTz first;			/* of the current event's windows */
} HopRuntime;

/* Per call of the SQL function */
typedef struct HopCall
{
	TimestampTz first;
	int64		count;
	int64		slide_us;
} HopCall;

PG_FUNCTION_INFO_V1(continuous_hop);

static bool hop_is_function(Oid funcid);
static const char *hop_function_hint(Oid funcid);
static HopSpec *hop_spec_of_query(Query *query);
static RangeTblRef *hop_check_from(Query *query);
static bool hop_recognise(ContinuousPlan *plan, PlanWindow *window);
static bool hop_is_window_column(HopSpec *hop, Expr *expr);
static char *hop_describe(ContinuousPlan *plan, PlanWindow *window);
static Node *hop_bind_window_column(PlanWindow *window, Node *node);
static void *hop_runtime_create(ViewRuntime *vr, WindowRuntime *wr);
static void hop_runtime_destroy(WindowRuntime *wr);
static int	hop_event_windows(WindowRuntime *wr, ExprContext *econtext);
static void hop_bind_window(WindowRuntime *wr, ExprContext *econtext, int i);
static int64 hop_interval_usecs(Interval *interval, const char *what);
static int64 hop_windows(TimestampTz ts, int64 size_us, int64 slide_us,
						 TimestampTz origin, TimestampTz *first);
static Const *hop_constant_argument(FuncExpr *func, int argno,
									const char *what);
static bool reads_only_relation(Node *node, Index rtindex);
static bool reads_window_walker(Node *node, HopSpec *hop);
static Node *bind_window_mutator(Node *node, HopSpec *hop);

/*
 * A hop fans each event out to its windows; it is the view's window if
 * its time is the stream's event time (then windows close by the
 * watermark), and fans out all the same if not.
 */
const WindowKind hop_window_kind = {
	.name = "hop",
	.places_alone = true,
	.check_from = hop_check_from,
	.function_hint = hop_function_hint,
	.recognise = hop_recognise,
	.describe = hop_describe,
	.bind_expr = hop_bind_window_column,
	.runtime_create = hop_runtime_create,
	.runtime_destroy = hop_runtime_destroy,
	.event_windows = hop_event_windows,
	.bind_window = hop_bind_window,
};

/* ------------------------------------------------------------------------
 * The windows of a timestamp
 * ------------------------------------------------------------------------
 */

/*
 * continuous.hop(ts, size, slide, origin), for timestamptz and timestamp
 * alike: both are microseconds, and windows of fixed length need no time
 * zone.  Window starts come oldest first.
 */
Datum
continuous_hop(PG_FUNCTION_ARGS)
{
	FuncCallContext *funcctx;
	HopCall    *call;

	if (SRF_IS_FIRSTCALL())
	{
		TimestampTz ts = PG_GETARG_TIMESTAMPTZ(0);
		int64		size_us = hop_interval_usecs(PG_GETARG_INTERVAL_P(1), "size");
		int64		slide_us = hop_interval_usecs(PG_GETARG_INTERVAL_P(2), "slide");
		TimestampTz origin = PG_GETARG_TIMESTAMPTZ(3);

		funcctx = SRF_FIRSTCALL_INIT();
		call = MemoryContextAlloc(funcctx->multi_call_memory_ctx,
								  sizeof(HopCall));
		call->slide_us = slide_us;
		call->count = TIMESTAMP_NOT_FINITE(ts) ? 0 :
			hop_windows(ts, size_us, slide_us, origin, &call->first);
		funcctx->user_fctx = call;
	}

	funcctx = SRF_PERCALL_SETUP();
	call = funcctx->user_fctx;
	if ((int64) funcctx->call_cntr < call->count)
	{
		/* computed first: SRF_RETURN_NEXT advances call_cntr before it */
		TimestampTz start = call->first +
			(int64) funcctx->call_cntr * call->slide_us;

		SRF_RETURN_NEXT(funcctx, TimestampTzGetDatum(start));
	}
	SRF_RETURN_DONE(funcctx);
}

/* The length of a window size or slide; errors out unless it is fixed and positive. */
static int64
hop_interval_usecs(Interval *interval, const char *what)
{
	int64		usecs;

	if (interval->month != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("hopping window %s cannot contain months or years", what),
				 errdetail("Windows of continuous.hop() have a fixed length; a day is 24 hours."),
				 errhint("For calendar months use date_trunc('month', ts) instead.")));
	if (pg_mul_s64_overflow(interval->day, USECS_PER_DAY, &usecs) ||
		pg_add_s64_overflow(usecs, interval->time, &usecs))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("hopping window %s out of range", what)));
	if (usecs <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hopping window %s must be greater than zero", what)));
	return usecs;
}

/*
 * The windows [start, start + size) with start = origin + k * slide that
 * contain ts: sets the oldest start and returns how many there are (none
 * when ts falls into a gap between windows shorter than the slide).
 * Windows that would start before the earliest timestamp are left out.
 */
static int64
hop_windows(TimestampTz ts, int64 size_us, int64 slide_us,
			TimestampTz origin, TimestampTz *first)
{
	int64		diff;
	int64		offset;
	int64		count;

	if (pg_sub_s64_overflow(ts, origin, &diff))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));

	/* ts - offset is the latest window start at or before ts */
	offset = diff % slide_us;
	if (offset < 0)
		offset += slide_us;
	if (offset >= size_us)
		return 0;

	/* starts ts - offset - k * slide, while k * slide < size - offset */
	count = (size_us - offset - 1) / slide_us + 1;
	*first = ts - offset - (count - 1) * slide_us;
	if (*first < MIN_TIMESTAMP)
	{
		int64		skip = (MIN_TIMESTAMP - *first + slide_us - 1) / slide_us;

		*first += skip * slide_us;
		count -= skip;
	}
	return count;
}

/* ------------------------------------------------------------------------
 * The hop of a view's query
 * ------------------------------------------------------------------------
 */

static bool
hop_is_function(Oid funcid)
{
	return continuous_function_is(funcid, "hop");
}

/* continuous.hop() where a set-returning function is not allowed */
static const char *
hop_function_hint(Oid funcid)
{
	if (!hop_is_function(funcid))
		return NULL;
	return "Join continuous.hop() in FROM: FROM stream CROSS JOIN LATERAL continuous.hop(ts, size, slide) AS w, and GROUP BY w.window_start.";
}

/*
 * The hop of an analysed query, or NULL if its FROM has none.  Errors out
 * on arguments no window can be built from (sizes that are not constant,
 * not positive, or in months).
 */
static HopSpec *
hop_spec_of_query(Query *query)
{
	ListCell   *lc;
	Index		rtindex = 0;

	foreach(lc, query->rtable)
	{
		RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);
		RangeTblFunction *rtfunc;
		FuncExpr   *func;
		HopSpec    *hop;

		rtindex++;
		if (rte->rtekind != RTE_FUNCTION || list_length(rte->functions) != 1)
			continue;
		rtfunc = linitial_node(RangeTblFunction, rte->functions);
		if (!IsA(rtfunc->funcexpr, FuncExpr) ||
			!hop_is_function(((FuncExpr *) rtfunc->funcexpr)->funcid))
			continue;

		/* defaults filled in and constant arguments folded, as the planner would */
		func = (FuncExpr *) eval_const_expressions(NULL,
												   copyObject(rtfunc->funcexpr));
		if (!IsA(func, FuncExpr) || list_length(func->args) != 4)
			elog(ERROR, "unexpected form of continuous.hop() call");

		hop = palloc0(sizeof(HopSpec));
		hop->rtindex = rtindex;
		hop->ts = linitial(func->args);
		hop->ts_type = exprType((Node *) hop->ts);
		hop->size = *DatumGetIntervalP(hop_constant_argument(func, 1, "size")->constvalue);
		hop->slide = *DatumGetIntervalP(hop_constant_argument(func, 2, "slide")->constvalue);
		hop->origin = DatumGetTimestampTz(hop_constant_argument(func, 3, "origin")->constvalue);
		hop->size_us = hop_interval_usecs(&hop->size, "size");
		hop->slide_us = hop_interval_usecs(&hop->slide, "slide");
		return hop;
	}
	return NULL;
}

/* The windows of an event must be a function of its time alone. */
static Const *
hop_constant_argument(FuncExpr *func, int argno, const char *what)
{
	Const	   *c = list_nth(func->args, argno);

	if (!IsA(c, Const) || c->constisnull)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the %s of continuous.hop() must be a constant in a continuous view",
						what),
				 errdetail("The windows of an event must depend on its time alone.")));
	return c;
}

/*
 * For CREATE VIEW: NULL if the FROM clause holds no continuous.hop();
 * otherwise the stream's entry of "stream CROSS JOIN LATERAL hop(...)",
 * after refusing every other shape, WHERE clauses that use the window, and
 * a window start that is not a group key.
 */
static RangeTblRef *
hop_check_from(Query *query)
{
	HopSpec    *hop = hop_spec_of_query(query);
	List	   *fromlist = query->jointree->fromlist;
	RangeTblRef *stream = NULL;
	RangeTblRef *function = NULL;
	RangeTblEntry *rte;
	ListCell   *lc;
	int			hops = 0;

	if (hop == NULL)
		return NULL;

	foreach(lc, query->rtable)
	{
		rte = lfirst_node(RangeTblEntry, lc);
		if (rte->rtekind == RTE_FUNCTION)
			hops++;
	}

	/* stream CROSS JOIN LATERAL hop(...), or stream, LATERAL hop(...) */
	if (list_length(fromlist) == 1 && IsA(linitial(fromlist), JoinExpr))
	{
		JoinExpr   *join = linitial(fromlist);

		if (join->jointype == JOIN_INNER && join->alias == NULL &&
			join->usingClause == NIL &&
			(join->quals == NULL ||
			 (IsA(join->quals, Const) &&
			  !((Const *) join->quals)->constisnull &&
			  DatumGetBool(((Const *) join->quals)->constvalue))) &&
			IsA(join->larg, RangeTblRef) && IsA(join->rarg, RangeTblRef))
		{
			stream = (RangeTblRef *) join->larg;
			function = (RangeTblRef *) join->rarg;
		}
	}
	else if (list_length(fromlist) == 2 &&
			 IsA(linitial(fromlist), RangeTblRef) &&
			 IsA(lsecond(fromlist), RangeTblRef))
	{
		stream = linitial(fromlist);
		function = lsecond(fromlist);
	}
	if (stream == NULL || function->rtindex != hop->rtindex || hops != 1 ||
		rt_fetch(stream->rtindex, query->rtable)->rtekind != RTE_RELATION)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("continuous.hop() must be joined to the stream with CROSS JOIN LATERAL"),
				 errdetail("A continuous view reads one stream, and may window it with one continuous.hop() call."),
				 errhint("Write FROM stream CROSS JOIN LATERAL continuous.hop(ts, size, slide) AS w, and GROUP BY w.window_start.")));

	rte = rt_fetch(hop->rtindex, query->rtable);
	if (rte->funcordinality)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("WITH ORDINALITY is not supported for continuous.hop() in continuous views")));
	if (!reads_only_relation((Node *) hop->ts, stream->rtindex))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the time of continuous.hop() must be computed from the stream's columns")));
	if (reads_window_walker(query->jointree->quals, hop))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("WHERE cannot use the window start of continuous.hop() in a continuous view"),
				 errdetail("WHERE filters events, before they are assigned to windows."),
				 errhint("Filter windows with HAVING.")));

	/* a transform keeps a row per event and window (stage_append.c) */
	lc = NULL;
	foreach(lc, query->groupClause)
	{
		SortGroupClause *sgc = lfirst_node(SortGroupClause, lc);

		if (hop_is_window_column(hop, (Expr *) get_sortgroupclause_expr(sgc, query->targetList)))
			break;
	}
	if (lc == NULL && !continuous_query_is_transform(query))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a continuous view with continuous.hop() must group by its window start"),
				 errdetail("Each event is in several windows; without the window as a group key, the view would count it several times."),
				 errhint("Add the function's column, such as w.window_start, to GROUP BY.")));

	if ((hop->size_us - 1) / hop->slide_us + 1 > HOP_MAX_WINDOWS_PER_EVENT)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("continuous.hop() puts each event into more than %d windows",
						HOP_MAX_WINDOWS_PER_EVENT),
				 errdetail("The worker aggregates each event once per window."),
				 errhint("Use a longer slide, or a shorter size.")));

	return stream;
}

/* Do the Vars of node all belong to relation rtindex of this query level? */
static bool
reads_only_relation(Node *node, Index rtindex)
{
	List	   *vars = pull_var_clause(node, PVC_RECURSE_PLACEHOLDERS);
	ListCell   *lc;

	foreach(lc, vars)
	{
		Var		   *var = lfirst_node(Var, lc);

		if (var->varlevelsup == 0 && var->varno != rtindex)
			return false;
	}
	return true;
}

static bool
reads_window_walker(Node *node, HopSpec *hop)
{
	if (node == NULL)
		return false;
	if (IsA(node, Var))
	{
		Var		   *var = (Var *) node;

		return var->varno == hop->rtindex && var->varlevelsup == 0;
	}
	return expression_tree_walker(node, reads_window_walker, hop);
}

/*
 * The hop in FROM, with the group key that is its window start; its size
 * (a day being 24 hours, as the hop computes windows) if the hop is over
 * the event time, so that the watermark closes its windows.
 */
static bool
hop_recognise(ContinuousPlan *plan, PlanWindow *window)
{
	HopSpec    *hop = hop_spec_of_query(plan->query);
	ListCell   *lc;

	if (hop == NULL)
		return false;
	window->private = hop;
	foreach(lc, plan->keys)
	{
		ContinuousKey *key = lfirst(lc);

		if (!hop_is_window_column(hop, key->expr))
			continue;
		window->key = foreach_current_index(lc);
		if (window_is_event_time(plan, (Node *) hop->ts,
								 plan->event_time_attnum))
		{
			window->size = palloc0(sizeof(Interval));
			window->size->time = hop->size_us;
		}
		break;
	}
	return true;
}

/* Is expr the hop's window start, as a group key? */
static bool
hop_is_window_column(HopSpec *hop, Expr *expr)
{
	Var		   *var = (Var *) expr;

	return hop != NULL && expr != NULL && IsA(expr, Var) &&
		var->varno == hop->rtindex && var->varattno == 1 &&
		var->varlevelsup == 0;
}

/*
 * "hop 00:10:00 every 00:01:00": the sizes as written, in the postgres
 * interval style whatever the session's, like tumbling windows'.
 */
static char *
hop_describe(ContinuousPlan *plan, PlanWindow *window)
{
	HopSpec    *hop = window->private;

	if (window->size == NULL)
		return NULL;			/* not over the event time: no window */
	return psprintf("hop %s every %s", window_interval_text(&hop->size),
					window_interval_text(&hop->slide));
}

/* ------------------------------------------------------------------------
 * Run time
 * ------------------------------------------------------------------------
 */

/*
 * Expressions of the query that read the window start read it from
 * econtext's inner tuple instead, which hop_bind_window() fills in for
 * each window of an event in turn.
 */
static Node *
hop_bind_window_column(PlanWindow *window, Node *node)
{
	return bind_window_mutator(node, window->private);
}

static Node *
bind_window_mutator(Node *node, HopSpec *hop)
{
	if (node == NULL)
		return NULL;
	if (IsA(node, Var) && ((Var *) node)->varno == hop->rtindex &&
		((Var *) node)->varlevelsup == 0)
	{
		Var		   *var = (Var *) copyObject(node);

		var->varno = INNER_VAR;
		return (Node *) var;
	}
	return expression_tree_mutator(node, bind_window_mutator, hop);
}

static void *
hop_runtime_create(ViewRuntime *vr, WindowRuntime *wr)
{
	HopSpec    *hop = wr->window->private;
	ExprContext *econtext = vr->econtext;
	HopRuntime *hr = palloc0(sizeof(HopRuntime));
	TupleDesc	desc = CreateTemplateTupleDesc(1);

	hr->spec = hop;
	hr->ts = ExecInitExpr(expression_planner(copyObject(hop->ts)), NULL);
	TupleDescInitEntry(desc, 1, "window_start", hop->ts_type, -1, 0);
	hr->window = MakeSingleTupleTableSlot(desc, &TTSOpsVirtual);
	econtext->ecxt_innertuple = hr->window;
	return hr;
}

static void
hop_runtime_destroy(WindowRuntime *wr)
{
	HopRuntime *hr = wr->state;

	ExecDropSingleTupleTableSlot(hr->window);
}

/* Windows of the event in econtext's scan tuple; per-tuple memory. */
static int
hop_event_windows(WindowRuntime *wr, ExprContext *econtext)
{
	HopRuntime *hr = wr->state;
	bool		isnull;
	Datum		ts = ExecEvalExpr(hr->ts, econtext, &isnull);

	if (isnull || TIMESTAMP_NOT_FINITE(DatumGetTimestampTz(ts)))
		return 0;
	return (int) hop_windows(DatumGetTimestampTz(ts), hr->spec->size_us,
							 hr->spec->slide_us, hr->spec->origin, &hr->first);
}

/* Make window i (0 .. windows - 1, oldest first) the current one. */
static void
hop_bind_window(WindowRuntime *wr, ExprContext *econtext, int i)
{
	HopRuntime *hr = wr->state;
	TupleTableSlot *slot = hr->window;

	ExecClearTuple(slot);
	slot->tts_values[0] = TimestampTzGetDatum(hr->first + i * hr->spec->slide_us);
	slot->tts_isnull[0] = false;
	ExecStoreVirtualTuple(slot);
	econtext->ecxt_innertuple = slot;
}
