/*-------------------------------------------------------------------------
 *
 * window_session.c
 *	  Session windows: GROUP BY key, continuous.session(ts, gap).
 *
 * Pipeline position: windows, from CREATE VIEW (recognition and checks)
 * through batch (lateness) to flush (merging sessions).
 *
 * Meaning.  As in Flink, an event at t has its own window [t, t + gap), and
 * windows of one group that overlap merge: two events of a group are in one
 * session exactly when a chain of events links them in which consecutive
 * event times differ by less than gap.  A session is [start, end): start is
 * its earliest event time, end its latest plus gap.  The value of
 * continuous.session() is the start.  As batch SQL, over the stream table:
 *
 *	 a new session begins at an event whose distance to the previous event of
 *	 its group (by event time) is >= gap, or that has no previous event:
 *	 ts - lag(ts) OVER (PARTITION BY key ORDER BY ts) >= gap
 *
 * and the session's start is the event time of the event that began it.
 * Outside a continuous view continuous.session() raises an error that says
 * so: a session's start depends on other rows, so it is no function of one.
 *
 * State.  The storage table has, after the aggregate states, a column
 * holding the session's end (PlanWindow.end_column), which the read view
 * does not show; the unique index is on the other keys and then the start,
 * so the stored sessions of a group are an index range ordered by start.
 * The stored sessions of a group never overlap, so their ends are in the
 * same order as their starts.
 *
 * Batch.  For an event the worker evaluates the session key as the event
 * time itself: the batch's groups are (keys, event time), each a partial
 * session [t, t + gap) with its partial aggregate states.
 *
 * Flush (session_flush_groups), in the flush transaction, so a crash loses
 * a merge together with the batch and the decoder position: the partial
 * sessions are sorted by keys and start; for each group of keys, one
 * backward index scan reads the stored sessions that can touch its partials
 * (start before the last partial's end, back to the first session that
 * starts at or before the first partial); one sweep over both, by start,
 * merges whatever overlaps.  Each merged session that holds at least one
 * partial is written: its states are the combine of all its members' states
 * (combine functions, as any flush), the stored row with the same start is
 * updated in place (its key does not change, so the update can be HOT), the
 * other stored members are deleted, or a new row is inserted.
 *
 * Watermark and lateness.  A session closes when the watermark reaches
 * end + allowed_lateness; the read view of emit = 'window_close' shows it
 * from then on (end + allowed_lateness <= continuous._watermark(stream),
 * over the stored end).  An event is late if its own window has closed
 * (t + gap + allowed_lateness <= the watermark before the batch, the test
 * stage_aggregate.c applies to every window), and also if it would join a stored
 * session that has closed: merging it would change a row that emit =
 * 'window_close' has shown as final, and keeping it apart would make two
 * sessions less than a gap apart.  Only an event with t + allowed_lateness
 * <= watermark can touch a closed session, so only those events look at
 * storage (session_event_joins_closed).  Late events are dropped and
 * counted; so a closed session never changes, and the view always equals
 * the batch query over the events that were not late.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/nbtree.h"
#include "access/relscan.h"
#include "access/skey.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "nodes/nodeFuncs.h"
#include "parser/parsetree.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/sortsupport.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "base/extension_catalog.h"
#include "ddl/ddl_catalog.h"
#include "exec/view_groups.h"
#include "window/window_kind.h"

PG_FUNCTION_INFO_V1(continuous_session);

/* Reading a group's stored sessions through the unique index. */
typedef struct SessionIndex
{
	Relation	rel;
	Relation	index;
	int			nkeys;
	int		   *index_key;		/* plan key of each index column */
	FmgrInfo   *index_eq;		/* = of each index column */
	FmgrInfo	start_lt;		/* < of the last index column, the start */
	AttrNumber	start_attno;
	AttrNumber	end_attno;
} SessionIndex;

/* What a batch of a session view keeps open to judge lateness. */
typedef struct SessionProbe
{
	StorageTarget target;
	SessionIndex index;
} SessionProbe;

/* A session of one group: a partial one of the batch, or a stored one. */
typedef struct SessionPart
{
	Datum	   *keys;			/* every plan key; the window key is start */
	bool	   *nulls;
	TimestampTz start;
	TimestampTz end;
	GroupStates *states;		/* partial session: its batch states */
	HeapTuple	stored;			/* stored session: its row */
} SessionPart;

/* Order of partial sessions: the other keys, then the start. */
typedef struct SessionOrder
{
	int			nkeys;
	int			window_key;
	SortSupportData *ssup;
} SessionOrder;

/* session_check_walker() */
typedef struct SessionCheck
{
	ContinuousPlan *plan;
	PlanWindow *session;		/* the plan's session window, or NULL */
	ParseState *pstate;
	AttrNumber	event_time;
	bool		allowed;		/* may the session key appear here? */
} SessionCheck;

static bool session_recognise(ContinuousPlan *plan, PlanWindow *window);
static void session_check_view(ParseState *pstate, ContinuousPlan *plan);
static Expr *session_key_input(PlanWindow *window, Expr *expr);
static void session_batch_begin(ViewRuntime *vr, WindowRuntime *wr);
static bool session_event_joins_closed(ViewRuntime *vr, WindowRuntime *wr,
									   TupleTableSlot *proj);
static void session_batch_end(ViewRuntime *vr, WindowRuntime *wr);
static void session_flush_groups(ViewRuntime *vr, WindowRuntime *wr,
								 StorageTarget *target);
static PlanWindow *session_of_plan(ContinuousPlan *plan);
static bool is_session_call(Node *node);
static const char *session_gap(FuncExpr *call, Interval *gap);
static bool uses_event_time_walker(Node *node, AttrNumber *event_time);
static bool session_check_walker(Node *node, SessionCheck *check);
static void session_refuse(SessionCheck *check, FuncExpr *call);
static TimestampTz session_add(ContinuousPlan *plan, PlanWindow *window,
							   TimestampTz t, const Interval *span);
static void session_index_init(ViewRuntime *vr, PlanWindow *window,
							   StorageTarget *target, SessionIndex *si);
static IndexScanDesc session_scan(SessionIndex *si, Datum *keys, bool *nulls,
								  TimestampTz before);
static bool session_row_bounds(SessionIndex *si, TupleTableSlot *slot,
							   TimestampTz *start, TimestampTz *end);
static void session_order_init(ViewRuntime *vr, PlanWindow *window,
							   SessionOrder *order);
static int	session_part_cmp(const void *a, const void *b, void *arg);
static int	session_keys_cmp(const SessionPart *a, const SessionPart *b,
							 SessionOrder *order);
static void session_flush_group(ViewRuntime *vr, PlanWindow *window,
								StorageTarget *target, SessionIndex *si,
								SessionPart *parts, int n,
								TupleTableSlot *merged);
static void session_write(ViewRuntime *vr, PlanWindow *window,
						  StorageTarget *target, SessionIndex *si,
						  SessionPart *items, int n, TimestampTz end,
						  TupleTableSlot *merged);

/*
 * A session is a tumbling window of its own per event, merged at flush;
 * the plan's window whatever other keys there are (check_view refuses any
 * other over the event time).  Described as "session <gap>".
 */
const WindowKind session_window_kind = {
	.name = "session",
	.exclusive = true,
	.recognise = session_recognise,
	.check_view = session_check_view,
	.key_input = session_key_input,
	.batch_begin = session_batch_begin,
	.event_late = session_event_joins_closed,
	.batch_end = session_batch_end,
	.flush_groups = session_flush_groups,
};

/* ------------------------------------------------------------------------
 * The SQL function
 * ------------------------------------------------------------------------
 */

/* continuous.session(ts, gap): meaningful only as a continuous view's key */
Datum
continuous_session(PG_FUNCTION_ARGS)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("continuous.session() can only be used in a continuous view"),
			 errdetail("A session's start depends on the other events of its group, so it is not a function of one row."),
			 errhint("Group by continuous.session(ts, gap) in CREATE VIEW ... WITH (continuous). In a batch query, a session begins where ts - lag(ts) OVER (PARTITION BY key ORDER BY ts) >= gap.")));
	PG_RETURN_NULL();
}

/* ------------------------------------------------------------------------
 * Recognition and checks (plan.c, ddl_view.c)
 * ------------------------------------------------------------------------
 */

/* The plan's session window, or NULL. */
static PlanWindow *
session_of_plan(ContinuousPlan *plan)
{
	if (plan->window != NULL && plan->window->kind == &session_window_kind)
		return plan->window;
	return NULL;
}

static bool
is_session_call(Node *node)
{
	FuncExpr   *func = (FuncExpr *) node;

	return node != NULL && IsA(node, FuncExpr) &&
		continuous_function_is(func->funcid, "session") &&
		list_length(func->args) == 2;
}

/*
 * The call's gap as microseconds (a day is 24 hours, as when intervals are
 * compared, so "distance < gap" means what the batch query's comparison
 * means); or why it is not a valid gap.
 */
static const char *
session_gap(FuncExpr *call, Interval *gap)
{
	Const	   *c = lsecond(call->args);
	Interval   *value;
	int64		usecs;

	if (!IsA(c, Const) || c->consttype != INTERVALOID)
		return "the gap of continuous.session() must be a constant";
	if (c->constisnull)
		return "the gap of continuous.session() must not be null";
	value = DatumGetIntervalP(c->constvalue);
	if (value->month != 0)
		return "the gap of continuous.session() cannot contain months or years";
	if (pg_mul_s64_overflow((int64) value->day, USECS_PER_DAY, &usecs) ||
		pg_add_s64_overflow(usecs, value->time, &usecs))
		return "the gap of continuous.session() is out of range";
	if (usecs <= 0)
		return "the gap of continuous.session() must be greater than zero";
	memset(gap, 0, sizeof(Interval));
	gap->time = usecs;
	return NULL;
}

static bool
session_recognise(ContinuousPlan *plan, PlanWindow *window)
{
	ListCell   *lc;

	foreach(lc, plan->keys)
	{
		ContinuousKey *key = lfirst(lc);
		FuncExpr   *call = (FuncExpr *) key->expr;
		Interval	gap;

		if (!is_session_call((Node *) call) ||
			!window_is_event_time(plan, linitial(call->args),
								  plan->event_time_attnum) ||
			session_gap(call, &gap) != NULL)
			continue;
		window->key = foreach_current_index(lc);
		window->size = palloc(sizeof(Interval));
		*window->size = gap;
		window->end_column = "session_end";
		return true;
	}
	return false;
}

static void
session_check_view(ParseState *pstate, ContinuousPlan *plan)
{
	Query	   *query = plan->query;
	SessionCheck check;
	ListCell   *lc;

	check.plan = plan;
	check.session = session_of_plan(plan);
	check.pstate = pstate;
	check.event_time = plan->event_time ?
		get_attnum(plan->stream, plan->event_time) : InvalidAttrNumber;

	/* a session is a run of one group's events: no other key may split it */
	if (check.session)
	{
		foreach(lc, plan->keys)
		{
			ContinuousKey *key = lfirst(lc);

			if (foreach_current_index(lc) != check.session->key &&
				uses_event_time_walker((Node *) key->expr, &check.event_time))
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("a continuous view with a session window cannot group by another expression of the event time"),
						 errdetail("A session is a run of events of one group; a group key computed from the event time would cut it up, and a view has at most one window."),
						 errhint("Remove that expression from GROUP BY, or create a separate continuous view for it."),
						 parser_errposition(pstate, exprLocation((Node *) key->expr))));
		}
	}

	check.allowed = true;
	(void) session_check_walker((Node *) query->targetList, &check);
	(void) session_check_walker(query->havingQual, &check);
	check.allowed = false;
	(void) session_check_walker(query->jointree->quals, &check);
}

static bool
uses_event_time_walker(Node *node, AttrNumber *event_time)
{
	if (node == NULL)
		return false;
	if (IsA(node, Var))
		return ((Var *) node)->varlevelsup == 0 &&
			((Var *) node)->varattno == *event_time;
	return expression_tree_walker(node, uses_event_time_walker, event_time);
}

/*
 * Every continuous.session() call must be the view's session key: in the
 * SELECT list or HAVING, where the read view takes its stored value, but
 * not in WHERE or inside an aggregate, where the worker would call it.
 */
static bool
session_check_walker(Node *node, SessionCheck *check)
{
	ContinuousPlan *plan = check->plan;

	if (node == NULL)
		return false;
	if (check->allowed && check->session &&
		equal(node, ((ContinuousKey *) list_nth(plan->keys,
												check->session->key))->expr))
		return false;
	if (IsA(node, Aggref))
	{
		bool		saved = check->allowed;

		check->allowed = false;
		(void) expression_tree_walker(node, session_check_walker, check);
		check->allowed = saved;
		return false;
	}
	if (is_session_call(node))
		session_refuse(check, (FuncExpr *) node);
	return expression_tree_walker(node, session_check_walker, check);
}

static void
session_refuse(SessionCheck *check, FuncExpr *call)
{
	ContinuousPlan *plan = check->plan;
	Interval	gap;
	const char *bad_gap;

	if (plan->event_time == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("continuous.session() requires a stream with an event time"),
				 errdetail("Stream %s has no event_time column, so its sessions never end.",
						   ddl_relation_display_name(plan->stream)),
				 errhint("Create the stream with continuous.create_stream(stream, event_time => 'column')."),
				 parser_errposition(check->pstate, call->location)));
	if (!window_is_event_time(plan, linitial(call->args), check->event_time))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("continuous.session() must be over the event time of stream %s",
						ddl_relation_display_name(plan->stream)),
				 errhint("Use continuous.session(%s, gap).",
						 quote_identifier(plan->event_time)),
				 parser_errposition(check->pstate, call->location)));
	bad_gap = session_gap(call, &gap);
	if (bad_gap != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s", bad_gap),
				 parser_errposition(check->pstate, call->location)));
	if (!check->allowed)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("continuous.session() can only be used as a GROUP BY expression"),
				 errdetail("A session's start is known only once events are grouped, not for one event in WHERE or in an aggregate's arguments."),
				 parser_errposition(check->pstate, call->location)));
	if (check->session)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a continuous view can have only one session window"),
				 parser_errposition(check->pstate, call->location)));
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("continuous.session() must be a GROUP BY expression of its own"),
			 errhint("Group by continuous.session(%s, gap) itself; the SELECT list can compute with its value.",
					 quote_identifier(plan->event_time)),
			 parser_errposition(check->pstate, call->location)));
}

/* The worker evaluates the session key as the event time itself. */
static Expr *
session_key_input(PlanWindow *window, Expr *expr)
{
	return linitial(((FuncExpr *) expr)->args);
}

/* ------------------------------------------------------------------------
 * Time arithmetic and the index
 * ------------------------------------------------------------------------
 */

/*
 * t + span, as continuous_window_closes_at() and the read view compute it;
 * DT_NOEND when out of range (such a session never closes).
 */
static TimestampTz
session_add(ContinuousPlan *plan, PlanWindow *window, TimestampTz t,
			const Interval *span)
{
	ContinuousKey *key = list_nth(plan->keys, window->key);
	int64		result;

	if (TIMESTAMP_NOT_FINITE(t))
		return t;
	if (span->month == 0 && span->day == 0)
	{
		if (pg_add_s64_overflow(t, span->time, &result) ||
			!IS_VALID_TIMESTAMP(result))
			return DT_NOEND;
		return result;
	}
	return DatumGetTimestampTz(DirectFunctionCall2(key->type == TIMESTAMPOID ?
												   timestamp_pl_interval :
												   timestamptz_pl_interval,
												   TimestampTzGetDatum(t),
												   IntervalPGetDatum((Interval *) span)));
}

static void
session_index_init(ViewRuntime *vr, PlanWindow *window, StorageTarget *target,
				   SessionIndex *si)
{
	Relation	index = target->layout.index;
	int			last = vr->nkeys - 1;
	Oid			lt;

	if (index == NULL || target->layout.index_key[last] != window->key)
		elog(ERROR, "unique index of continuous view \"%s\" does not end with the session start",
			 vr->name);
	lt = get_opfamily_member(index->rd_opfamily[last], index->rd_opcintype[last],
							 index->rd_opcintype[last], BTLessStrategyNumber);
	if (!OidIsValid(lt))
		elog(ERROR, "missing ordering operator for the session start of continuous view \"%s\"",
			 vr->name);
	si->rel = target->rel;
	si->index = index;
	si->nkeys = vr->nkeys;
	si->index_key = target->layout.index_key;
	si->index_eq = target->layout.index_eq;
	fmgr_info(get_opcode(lt), &si->start_lt);
	si->start_attno = target->layout.key_attnos[window->key];
	si->end_attno = get_attnum(vr->storage, window->end_column);
	if (si->end_attno == InvalidAttrNumber)
		elog(ERROR, "storage of continuous view \"%s\" has no column \"%s\"",
			 vr->name, window->end_column);
}

/*
 * The stored sessions of the group whose keys are given (the session key's
 * value is ignored) that start before "before"; read them backwards, latest
 * first.
 */
static IndexScanDesc
session_scan(SessionIndex *si, Datum *keys, bool *nulls, TimestampTz before)
{
	ScanKeyData skeys[INDEX_MAX_KEYS];
	IndexScanDesc scan;
	int			i;

	for (i = 0; i < si->nkeys - 1; i++)
	{
		int			k = si->index_key[i];

		ScanKeyEntryInitializeWithInfo(&skeys[i],
									   nulls[k] ? (SK_ISNULL | SK_SEARCHNULL) : 0,
									   i + 1, BTEqualStrategyNumber, InvalidOid,
									   si->index->rd_indcollation[i],
									   &si->index_eq[i],
									   nulls[k] ? (Datum) 0 : keys[k]);
	}
	ScanKeyEntryInitializeWithInfo(&skeys[i], 0, i + 1, BTLessStrategyNumber,
								   InvalidOid, si->index->rd_indcollation[i],
								   &si->start_lt, TimestampTzGetDatum(before));
	scan = index_beginscan(si->rel, si->index, GetActiveSnapshot(), si->nkeys, 0);
	index_rescan(scan, skeys, si->nkeys, NULL, 0);
	return scan;
}

static bool
session_row_bounds(SessionIndex *si, TupleTableSlot *slot, TimestampTz *start,
				   TimestampTz *end)
{
	bool		start_null;
	bool		end_null;
	Datum		s = slot_getattr(slot, si->start_attno, &start_null);
	Datum		e = slot_getattr(slot, si->end_attno, &end_null);

	if (start_null || end_null)
		return false;			/* not written by this module: not a session */
	*start = DatumGetTimestampTz(s);
	*end = DatumGetTimestampTz(e);
	return true;
}

/* ------------------------------------------------------------------------
 * Lateness (stage_aggregate.c)
 * ------------------------------------------------------------------------
 */

static void
session_batch_begin(ViewRuntime *vr, WindowRuntime *wr)
{
	SessionProbe *probe;

	wr->state = NULL;
	if (!vr->judge_lateness)
		return;
	probe = palloc0(sizeof(SessionProbe));
	if (!storage_target_open(vr, &probe->target))
	{
		pfree(probe);
		return;
	}
	session_index_init(vr, wr->window, &probe->target, &probe->index);
	wr->state = probe;
}

static void
session_batch_end(ViewRuntime *vr, WindowRuntime *wr)
{
	SessionProbe *probe = wr->state;

	if (probe == NULL)
		return;
	storage_target_close(&probe->target);
	pfree(probe);
	wr->state = NULL;
}

/*
 * Would the event (its keys, the session key being its event time t) join
 * a stored session that had closed before the batch?  A session [s, e)
 * closed if e + lateness <= watermark; the event touches it if s < t + gap
 * and t < e.  Runs in the event's subtransaction: the scan and its buffer
 * pins end here.
 */
static bool
session_event_joins_closed(ViewRuntime *vr, WindowRuntime *wr,
						   TupleTableSlot *proj)
{
	SessionProbe *probe = wr->state;
	ContinuousPlan *plan = vr->plan;
	PlanWindow *window = wr->window;
	TimestampTz t;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	bool		closed = false;

	if (probe == NULL || proj->tts_isnull[window->key])
		return false;
	t = DatumGetTimestampTz(proj->tts_values[window->key]);
	/* a closed session ends after t, at or before watermark - lateness */
	if (session_add(plan, window, t, &vr->allowed_lateness) > vr->watermark_before)
		return false;

	slot = MakeSingleTupleTableSlot(RelationGetDescr(probe->index.rel),
									table_slot_callbacks(probe->index.rel));
	scan = session_scan(&probe->index, proj->tts_values, proj->tts_isnull,
						session_add(plan, window, t, window->size));
	while (index_getnext_slot(scan, BackwardScanDirection, slot))
	{
		TimestampTz start;
		TimestampTz end;

		if (!session_row_bounds(&probe->index, slot, &start, &end))
			continue;
		if (end <= t)
			break;				/* this and every earlier session end before t */
		if (session_add(plan, window, end, &vr->allowed_lateness) <= vr->watermark_before)
		{
			closed = true;
			break;
		}
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	return closed;
}

/* ------------------------------------------------------------------------
 * Flush (flush.c)
 * ------------------------------------------------------------------------
 */

static void
session_flush_groups(ViewRuntime *vr, WindowRuntime *wr, StorageTarget *target)
{
	ContinuousPlan *plan = vr->plan;
	PlanWindow *window = wr->window;
	int			wk = window->key;
	SessionIndex si;
	SessionOrder order;
	SessionPart *parts;
	int			nparts = 0;
	int			capacity = 64;
	GroupTableIterator iter;
	TupleTableSlot *keys;
	GroupStates *states;
	TupleTableSlot *merged;
	MemoryContext group_cxt;
	MemoryContext oldcxt;
	int			i;
	int			j;
	int			k;

	session_index_init(vr, window, target, &si);
	session_order_init(vr, window, &order);

	/* the batch's partial sessions: one per keys and event time */
	parts = palloc(sizeof(SessionPart) * capacity);
	view_groups_begin(vr, &iter);
	while (view_groups_next(vr, &iter, &keys, &states))
	{
		SessionPart *part;

		if (keys->tts_isnull[wk])
			elog(ERROR, "continuous view \"%s\" has a session without event time",
				 vr->name);
		if (nparts == capacity)
		{
			capacity *= 2;
			parts = repalloc(parts, sizeof(SessionPart) * capacity);
		}
		part = &parts[nparts++];
		/* by-reference keys point into the batch's hash table: stable */
		part->keys = palloc(sizeof(Datum) * vr->nkeys);
		part->nulls = palloc(sizeof(bool) * vr->nkeys);
		memcpy(part->keys, keys->tts_values, sizeof(Datum) * vr->nkeys);
		memcpy(part->nulls, keys->tts_isnull, sizeof(bool) * vr->nkeys);
		part->start = DatumGetTimestampTz(keys->tts_values[wk]);
		part->end = session_add(plan, window, part->start, window->size);
		part->states = states;
		part->stored = NULL;
	}
	qsort_arg(parts, nparts, sizeof(SessionPart), session_part_cmp, &order);

	merged = MakeSingleTupleTableSlot(RelationGetDescr(target->rel),
									  &TTSOpsVirtual);
	group_cxt = AllocSetContextCreate(CurrentMemoryContext,
									  "pg_continuous session flush",
									  ALLOCSET_DEFAULT_SIZES);
	for (i = 0; i < nparts; i = j)
	{
		for (j = i + 1; j < nparts &&
			 session_keys_cmp(&parts[i], &parts[j], &order) == 0; j++)
			;
		MemoryContextReset(group_cxt);
		oldcxt = MemoryContextSwitchTo(group_cxt);
		for (k = 0; k < vr->naggs; k++)
			agg_support_set_context(vr->aggs[k], group_cxt);
		session_flush_group(vr, window, target, &si, parts + i, j - i, merged);
		MemoryContextSwitchTo(oldcxt);
	}

	for (i = 0; i < vr->naggs; i++)
		agg_support_set_context(vr->aggs[i], vr->state_cxt);
	MemoryContextDelete(group_cxt);
	ExecDropSingleTupleTableSlot(merged);
}

static void
session_order_init(ViewRuntime *vr, PlanWindow *window, SessionOrder *order)
{
	ListCell   *lc;

	order->nkeys = vr->nkeys;
	order->window_key = window->key;
	order->ssup = palloc0(sizeof(SortSupportData) * vr->nkeys);
	foreach(lc, vr->plan->keys)
	{
		ContinuousKey *key = lfirst(lc);
		SortSupport ssup = &order->ssup[foreach_current_index(lc)];
		TypeCacheEntry *type;

		if (foreach_current_index(lc) == order->window_key)
			continue;
		type = lookup_type_cache(key->type, TYPECACHE_LT_OPR);
		if (!OidIsValid(type->lt_opr))
			elog(ERROR, "no ordering operator for group key type %s",
				 format_type_be(key->type));
		ssup->ssup_cxt = CurrentMemoryContext;
		ssup->ssup_collation = key->collation;
		ssup->ssup_nulls_first = false;
		PrepareSortSupportFromOrderingOp(type->lt_opr, ssup);
	}
}

static int
session_keys_cmp(const SessionPart *a, const SessionPart *b,
				 SessionOrder *order)
{
	int			i;

	for (i = 0; i < order->nkeys; i++)
	{
		int			cmp;

		if (i == order->window_key)
			continue;
		cmp = ApplySortComparator(a->keys[i], a->nulls[i],
								  b->keys[i], b->nulls[i], &order->ssup[i]);
		if (cmp != 0)
			return cmp;
	}
	return 0;
}

static int
session_part_cmp(const void *a, const void *b, void *arg)
{
	const SessionPart *pa = a;
	const SessionPart *pb = b;
	int			cmp = session_keys_cmp(pa, pb, arg);

	if (cmp != 0)
		return cmp;
	return (pa->start > pb->start) - (pa->start < pb->start);
}

/*
 * One group's partial sessions (n > 0, by start) against its stored
 * sessions: merge what overlaps and write each merged session that holds a
 * partial one.
 */
static void
session_flush_group(ViewRuntime *vr, PlanWindow *window, StorageTarget *target,
					SessionIndex *si, SessionPart *parts, int n,
					TupleTableSlot *merged)
{
	SessionPart *stored;
	SessionPart *items;
	int			nstored = 0;
	int			capacity = 4;
	int			nitems = 0;
	int			p;
	int			s;
	int			a;
	int			b;
	IndexScanDesc scan;
	TupleTableSlot *slot;

	/*
	 * Stored sessions that start before the last partial ends, back to the
	 * first one that starts at or before the first partial: stored sessions
	 * do not overlap, so none before it can reach a partial.
	 */
	stored = palloc(sizeof(SessionPart) * capacity);
	slot = MakeSingleTupleTableSlot(RelationGetDescr(si->rel),
									table_slot_callbacks(si->rel));
	scan = session_scan(si, parts[0].keys, parts[0].nulls, parts[n - 1].end);
	while (index_getnext_slot(scan, BackwardScanDirection, slot))
	{
		SessionPart *part;
		TimestampTz start;
		TimestampTz end;

		if (!session_row_bounds(si, slot, &start, &end))
			continue;
		if (end <= parts[0].start)
			break;
		if (nstored == capacity)
		{
			capacity *= 2;
			stored = repalloc(stored, sizeof(SessionPart) * capacity);
		}
		part = &stored[nstored++];
		part->keys = parts[0].keys;
		part->nulls = parts[0].nulls;
		part->start = start;
		part->end = end;
		part->states = NULL;
		part->stored = ExecCopySlotHeapTuple(slot);
		part->stored->t_self = slot->tts_tid;
		if (start <= parts[0].start)
			break;
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);

	/* both lists by start (the stored one came latest first) */
	items = palloc(sizeof(SessionPart) * (n + nstored));
	p = 0;
	s = nstored - 1;
	while (p < n || s >= 0)
	{
		if (s < 0 || (p < n && parts[p].start <= stored[s].start))
			items[nitems++] = parts[p++];
		else
			items[nitems++] = stored[s--];
	}

	/* sessions overlap when one starts before the other ends */
	for (a = 0; a < nitems; a = b)
	{
		TimestampTz end = items[a].end;
		bool		has_partial = items[a].states != NULL;

		for (b = a + 1; b < nitems && items[b].start < end; b++)
		{
			end = Max(end, items[b].end);
			has_partial |= items[b].states != NULL;
		}
		if (has_partial)
			session_write(vr, window, target, si, items + a, b - a, end, merged);
	}
}

/*
 * Write one merged session: items[0].start to end, the combine of all its
 * members' states.  A stored member with that start is updated; the other
 * stored members are deleted.
 */
static void
session_write(ViewRuntime *vr, PlanWindow *window, StorageTarget *target,
			  SessionIndex *si, SessionPart *items, int n, TimestampTz end,
			  TupleTableSlot *merged)
{
	StorageLayout *layout = &target->layout;
	Relation	rel = target->rel;
	TupleDesc	desc = RelationGetDescr(rel);
	Snapshot	snapshot = GetActiveSnapshot();
	TimestampTz start = items[0].start;
	SessionPart *keep = NULL;
	AttrNumber	end_attno = si->end_attno;
	int			i;
	int			k;

	for (i = 0; i < n; i++)
		if (items[i].stored != NULL && items[i].start == start)
			keep = &items[i];

	ExecClearTuple(merged);
	memset(merged->tts_isnull, true, sizeof(bool) * desc->natts);
	for (k = 0; k < vr->nkeys; k++)
	{
		merged->tts_values[layout->key_attnos[k] - 1] = items[0].keys[k];
		merged->tts_isnull[layout->key_attnos[k] - 1] = items[0].nulls[k];
	}
	merged->tts_values[layout->key_attnos[window->key] - 1] =
		TimestampTzGetDatum(start);
	merged->tts_isnull[layout->key_attnos[window->key] - 1] = false;
	merged->tts_values[end_attno - 1] = TimestampTzGetDatum(end);
	merged->tts_isnull[end_attno - 1] = false;

	for (k = 0; k < vr->naggs; k++)
	{
		AggSupport *agg = vr->aggs[k];
		AttrNumber	attno = layout->state_attnos[k];
		bool		isnull;
		Datum		state = agg_initial_state(agg, &isnull);

		for (i = 0; i < n; i++)
		{
			if (items[i].states != NULL)
				state = agg_combine(agg, state, &isnull,
									items[i].states->values[k],
									items[i].states->isnull[k]);
			else
			{
				bool		stored_isnull;
				Datum		stored_state = heap_getattr(items[i].stored, attno,
														desc, &stored_isnull);

				stored_state = agg_from_storage(agg, stored_state, stored_isnull);
				state = agg_combine(agg, state, &isnull,
									stored_state, stored_isnull);
			}
		}
		merged->tts_values[attno - 1] = agg_to_storage(agg, state, isnull);
		merged->tts_isnull[attno - 1] = isnull;
	}
	ExecStoreVirtualTuple(merged);

	for (i = 0; i < n; i++)
		if (items[i].stored != NULL && &items[i] != keep)
			simple_table_tuple_delete(rel, &items[i].stored->t_self, snapshot);

	if (keep != NULL)
	{
		bool		update_indexes;

		simple_table_tuple_update(rel, &keep->stored->t_self, merged, snapshot,
								  &update_indexes);
		if (update_indexes && target->rri->ri_NumIndices > 0)
			ExecInsertIndexTuples(target->rri, merged, target->estate, true,
								  false, NULL, NIL);
	}
	else
	{
		simple_table_tuple_insert(rel, merged);
		if (target->rri->ri_NumIndices > 0)
			ExecInsertIndexTuples(target->rri, merged, target->estate, false,
								  false, NULL, NIL);
	}
}
