/*-------------------------------------------------------------------------
 *
 * batch.c
 *	  Partial aggregation of a batch of stream events, per continuous view.
 *
 * Pipeline position: batch.  For each event of the view's stream: WHERE,
 * then one projection that computes the group keys and every aggregate's
 * arguments, then a hash lookup of the group (group_table.c) and the
 * transition functions.  In a view with a window, an event whose window
 * the watermark had closed before the batch is late: it is dropped and
 * counted instead.  The view's windows take part through their kinds'
 * callbacks (window_kind.h): a window that fans out (a hop) has the keys
 * and arguments computed once per window of the event, and the event is
 * late only if all of them had closed; a window may judge an event late by
 * more than its end (a session), or number it (a count window).  An event
 * whose event time is NULL cannot be placed in a window: a view with a
 * window makes it a dead letter of its own, a view without one counts it,
 * as its SELECT would.  The states of a batch are merged into storage by
 * flush.c, once per group per batch.
 *
 * Errors: the whole batch runs in one subtransaction.  If an event raises an
 * error (a division by zero, a bad cast), the batch state is thrown away and
 * the batch runs again event by event, each in its own subtransaction; the
 * failing events become dead letters, written in the same transaction as
 * the state, and the rest count.  Errors that strike between transition
 * functions of one event cannot be undone in place, so the careful run
 * starts over without that event.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/resowner.h"

#include "base/memory.h"
#include "base/privileges.h"
#include "base/subxact.h"
#include "exec/batch.h"
#include "plan/plan.h"
#include "state/storage_key.h"
#include "state/storage_layout.h"
#include "window/window_kind.h"

/* Where an event failed, so the careful run knows what to do with it. */
typedef enum EventOutcome
{
	EVENT_OK,
	EVENT_SKIPPED,				/* filtered out by WHERE */
	EVENT_LATE,					/* its window had closed: dropped */
	EVENT_NO_TIME,				/* no event time for the view's window */
	EVENT_FAILED_EVALUATION,	/* no state was touched */
	EVENT_FAILED_TRANSITION		/* some states may have been advanced */
} EventOutcome;

static Expr *view_key_input(ContinuousPlan *plan, int keyno, Expr *expr);
static Node *view_bind_windows(ContinuousPlan *plan, Node *expr);
static void view_windows_create(ViewRuntime *vr);
static EventOutcome view_apply_event(ViewRuntime *vr, StreamEvent *event,
									 bool *in_transition);
static EventOutcome view_apply_keys(ViewRuntime *vr, bool *in_transition);
static TupleTableSlot *view_input_slot(ViewRuntime *vr, StreamEvent *event);
static GroupStates *view_group_lookup(ViewRuntime *vr, TupleTableSlot *proj);
static bool view_process_all(ViewRuntime *vr, StreamEvents *events);
static void view_process_carefully(ViewRuntime *vr, StreamEvents *events);
static int	view_first_event(ViewRuntime *vr, StreamEvents *events);

ViewRuntime *
view_runtime_create(Oid view, Oid stream, Oid storage, Oid owner,
					const char *search_path, Query *query,
					Interval *allowed_lateness)
{
	ViewRuntime *vr;
	MemoryContext cxt;
	MemoryContext oldcxt;
	Relation	streamrel;
	List	   *tlist = NIL;
	TupleDesc	projdesc;
	TupleDesc	keydesc;
	AttrNumber	resno = 1;
	ListCell   *lc;
	int			i;

	cxt = AllocSetContextCreate(continuous_memory_context(), "pg_continuous view",
								ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(cxt);

	vr = palloc0(sizeof(ViewRuntime));
	vr->view = view;
	vr->stream = stream;
	vr->storage = storage;
	vr->owner = owner;
	vr->search_path = pstrdup(search_path);
	vr->cxt = cxt;
	vr->name = get_rel_name(view);
	MemoryContextSetIdentifier(cxt, vr->name);
	vr->state_cxt = AllocSetContextCreate(cxt, "pg_continuous view batch state",
										  ALLOCSET_DEFAULT_SIZES);
	/* expressions built below point into the query: keep it with them */
	vr->plan = continuous_plan_build(copyObject(query));
	storage_layout_bind(vr->plan, storage, vr->name);
	vr->allowed_lateness = *allowed_lateness;
	vr->nkeys = list_length(vr->plan->keys);
	vr->naggs = list_length(vr->plan->aggregates);

	/*
	 * The stream's row type, read without a lock: its owner may hold one
	 * for long, and the worker loads every view of the database at once.
	 * Events carry the descriptor they were decoded with anyway.
	 */
	streamrel = RelationIdGetRelation(stream);
	if (!RelationIsValid(streamrel))
		elog(ERROR, "could not open stream %u of continuous view \"%s\"",
			 stream, vr->name);
	vr->input_desc = CreateTupleDescCopy(RelationGetDescr(streamrel));
	RelationClose(streamrel);
	vr->input_slot = MakeSingleTupleTableSlot(vr->input_desc, &TTSOpsHeapTuple);
	vr->econtext = CreateStandaloneExprContext();
	vr->econtext->ecxt_scantuple = vr->input_slot;

	/* default arguments, constant folding: what the planner would do */
	if (vr->plan->where)
		vr->where = ExecInitQual(make_ands_implicit(expression_planner(vr->plan->where)),
								 NULL);

	/* one projection: keys first, then the arguments of each aggregate */
	i = 0;
	foreach(lc, vr->plan->keys)
	{
		ContinuousKey *key = lfirst(lc);
		Expr	   *expr = view_key_input(vr->plan, i, key->expr);

		i++;
		tlist = lappend(tlist, makeTargetEntry(expression_planner(expr),
											   resno++, NULL, false));
	}
	vr->aggs = palloc(sizeof(AggSupport *) * Max(vr->naggs, 1));
	vr->arg_offset = palloc(sizeof(int) * Max(vr->naggs, 1));
	i = 0;
	foreach(lc, vr->plan->aggregates)
	{
		ContinuousAggregate *agg = lfirst(lc);
		ListCell   *arg;

		vr->aggs[i] = agg_support_create(agg->aggref);
		agg_support_set_context(vr->aggs[i], vr->state_cxt);
		vr->arg_offset[i] = resno - 1;
		foreach(arg, agg->aggref->args)
		{
			TargetEntry *argtle = lfirst(arg);

			Node	   *expr = view_bind_windows(vr->plan, (Node *) argtle->expr);

			tlist = lappend(tlist, makeTargetEntry(expression_planner((Expr *) expr),
												   resno++, NULL, false));
		}
		i++;
	}
	projdesc = ExecTypeFromTL(tlist);
	vr->project = ExecBuildProjectionInfo(tlist, vr->econtext,
										  MakeSingleTupleTableSlot(projdesc, &TTSOpsVirtual),
										  NULL, vr->input_desc);

	keydesc = CreateTemplateTupleDesc(vr->nkeys);
	for (i = 0; i < vr->nkeys; i++)
		TupleDescCopyEntry(keydesc, i + 1, projdesc, i + 1);
	vr->key_desc = keydesc;

	vr->key_check = storage_key_check_create(storage, vr->plan->keys, vr->name);
	view_groups_create(vr);
	view_windows_create(vr);

	MemoryContextSwitchTo(oldcxt);
	return vr;
}

/*
 * What the worker evaluates for group key keyno: its expression with the
 * windows bound, or what the window it is evaluates in its place.
 */
static Expr *
view_key_input(ContinuousPlan *plan, int keyno, Expr *expr)
{
	ListCell   *lc;

	expr = (Expr *) view_bind_windows(plan, (Node *) expr);
	foreach(lc, plan->windows)
	{
		PlanWindow *window = lfirst(lc);

		if (window->key == keyno && window->kind->key_input != NULL)
			expr = window->kind->key_input(window, expr);
	}
	return expr;
}

/* An expression of the view as the windows make the worker read it. */
static Node *
view_bind_windows(ContinuousPlan *plan, Node *expr)
{
	ListCell   *lc;

	foreach(lc, plan->windows)
	{
		PlanWindow *window = lfirst(lc);

		if (window->kind->bind_expr != NULL)
			expr = window->kind->bind_expr(window, expr);
	}
	return expr;
}

/* The windows' states for the view, in its memory. */
static void
view_windows_create(ViewRuntime *vr)
{
	ListCell   *lc;

	vr->nwindows = list_length(vr->plan->windows);
	vr->windows = palloc0(sizeof(WindowRuntime) * Max(vr->nwindows, 1));
	foreach(lc, vr->plan->windows)
	{
		WindowRuntime *wr = &vr->windows[foreach_current_index(lc)];

		wr->window = lfirst(lc);
		wr->kind = wr->window->kind;
		if (wr->kind->runtime_create != NULL)
			wr->state = wr->kind->runtime_create(vr, wr);
		if (wr->kind->event_windows != NULL)
			vr->fanout = wr;
		if (wr->window == vr->plan->window)
			vr->window = wr;
	}
}

void
view_runtime_destroy(ViewRuntime *vr)
{
	int			i;

	ExecDropSingleTupleTableSlot(vr->input_slot);
	if (vr->groups)
		group_table_destroy(vr->groups);
	ExecDropSingleTupleTableSlot(vr->project->pi_state.resultslot);
	for (i = 0; i < vr->nwindows; i++)
	{
		if (vr->windows[i].kind->runtime_destroy != NULL)
			vr->windows[i].kind->runtime_destroy(&vr->windows[i]);
	}
	FreeExprContext(vr->econtext, false);
	MemoryContextDelete(vr->cxt);
}

void
view_batch_reset(ViewRuntime *vr)
{
	int			i;

	if (vr->groups)
		group_table_reset(vr->groups);
	for (i = 0; i < vr->nwindows; i++)
	{
		if (vr->windows[i].kind->batch_reset != NULL)
			vr->windows[i].kind->batch_reset(vr, &vr->windows[i]);
	}
	MemoryContextReset(vr->state_cxt);
	vr->global = NULL;
	vr->seen_desc = NULL;
	vr->events = 0;
	vr->late_events = 0;
	vr->late_rows = NIL;
	vr->dead_letters = NIL;
}

/* ------------------------------------------------------------------------
 * Processing
 * ------------------------------------------------------------------------
 */

void
view_process_events(ViewRuntime *vr, StreamEvents *events, StreamClock *clock)
{
	SavedPrivileges saved;
	int			i;

	vr->judge_lateness = vr->plan->window != NULL && clock != NULL &&
		clock->had_watermark_before;
	if (vr->judge_lateness)
		vr->watermark_before = clock->watermark_before;

	/* the view's expressions run with its owner's privileges */
	privileges_become(vr->owner, vr->search_path, &saved);

	for (i = 0; i < vr->nwindows; i++)
	{
		if (vr->windows[i].kind->batch_begin != NULL)
			vr->windows[i].kind->batch_begin(vr, &vr->windows[i]);
	}
	if (!view_process_all(vr, events))
	{
		view_batch_reset(vr);
		view_process_carefully(vr, events);
	}
	for (i = 0; i < vr->nwindows; i++)
	{
		if (vr->windows[i].kind->batch_end != NULL)
			vr->windows[i].kind->batch_end(vr, &vr->windows[i]);
	}

	privileges_restore(&saved);
}

/* The first event that is the view's: events are in commit order. */
static int
view_first_event(ViewRuntime *vr, StreamEvents *events)
{
	int			i;

	/*
	 * A view counts the Kafka messages flushed while it exists, and every
	 * row its backfill reads.
	 */
	if (events->kafka || events->backfill)
		return 0;
	if (vr->active_from == InvalidXLogRecPtr)
		return events->nevents;
	for (i = 0; i < events->nevents; i++)
		if (events->events[i].commit_lsn >= vr->active_from)
			return i;
	return events->nevents;
}

/* The fast path: every event, one subtransaction.  False if any failed. */
static bool
view_process_all(ViewRuntime *vr, StreamEvents *events)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	bool		ok = true;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		bool		in_transition;
		int			i;

		for (i = view_first_event(vr, events); i < events->nevents; i++)
		{
			(void) view_apply_event(vr, &events->events[i], &in_transition);
			CHECK_FOR_INTERRUPTS();
		}
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(oldcxt);
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		ok = false;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(oldcxt);
	CurrentResourceOwner = oldowner;
	return ok;
}

/*
 * The slow path: one subtransaction per event.  A failure before any state
 * moved is a dead letter and the run goes on; a failure between transition
 * functions restarts the run without that event.
 */
static void
view_process_carefully(ViewRuntime *vr, StreamEvents *events)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	bool	   *skip = palloc0(sizeof(bool) * events->nevents);
	char	  **errors = palloc0(sizeof(char *) * events->nevents);
	bool		restart;
	int			i;

	do
	{
		restart = false;
		view_batch_reset(vr);
		for (i = view_first_event(vr, events); i < events->nevents && !restart; i++)
		{
			bool		in_transition = false;

			if (skip[i])
				continue;
			BeginInternalSubTransaction(NULL);
			MemoryContextSwitchTo(oldcxt);
			PG_TRY();
			{
				(void) view_apply_event(vr, &events->events[i], &in_transition);
				ReleaseCurrentSubTransaction();
			}
			PG_CATCH();
			{
				ErrorData  *edata = continuous_abort_subtransaction(oldcxt);

				skip[i] = true;
				errors[i] = edata->message;
				restart = in_transition;
			}
			PG_END_TRY();
			MemoryContextSwitchTo(oldcxt);
			CurrentResourceOwner = oldowner;
		}
	} while (restart);

	/* dead letters are attached after the last reset */
	for (i = 0; i < events->nevents; i++)
	{
		if (skip[i])
		{
			MemoryContext cxt = MemoryContextSwitchTo(vr->state_cxt);

			vr->dead_letters = lappend(vr->dead_letters,
									   stream_event_dead_letter(&events->events[i],
																errors[i]));
			MemoryContextSwitchTo(cxt);
		}
	}
	vr->events = events->nevents - view_first_event(vr, events);
	pfree(skip);
	pfree(errors);
}

static EventOutcome
view_apply_event(ViewRuntime *vr, StreamEvent *event, bool *in_transition)
{
	ExprContext *econtext = vr->econtext;
	EventOutcome outcome;
	MemoryContext oldcxt;

	*in_transition = false;
	vr->events++;
	ResetExprContext(econtext);
	/* evaluation and transition functions leave garbage in per-event memory */
	oldcxt = MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
	econtext->ecxt_scantuple = view_input_slot(vr, event);

	if (vr->where && !ExecQual(vr->where, econtext))
		outcome = EVENT_SKIPPED;
	else if (vr->window != NULL &&
			 slot_attisnull(econtext->ecxt_scantuple,
							vr->plan->event_time_attnum))
		outcome = EVENT_NO_TIME;
	else if (vr->fanout == NULL)
		outcome = view_apply_keys(vr, in_transition);
	else
	{
		WindowRuntime *fanout = vr->fanout;
		int			windows = fanout->kind->event_windows(fanout, econtext);
		int			w;

		/* late only if every one of its windows had closed */
		outcome = windows > 0 ? EVENT_LATE : EVENT_SKIPPED;
		for (w = 0; w < windows; w++)
		{
			fanout->kind->bind_window(fanout, econtext, w);
			if (view_apply_keys(vr, in_transition) == EVENT_OK)
				outcome = EVENT_OK;
		}
	}
	if (outcome == EVENT_LATE)
	{
		vr->late_events++;
		if (OidIsValid(vr->late_table))
		{
			MemoryContextSwitchTo(vr->state_cxt);
			vr->late_rows = lappend(vr->late_rows, event);
		}
	}
	else if (outcome == EVENT_NO_TIME)
	{
		MemoryContextSwitchTo(vr->state_cxt);
		vr->dead_letters = lappend(vr->dead_letters,
								   stream_event_dead_letter(event,
															"event time is NULL"));
	}

	*in_transition = false;
	MemoryContextSwitchTo(oldcxt);
	return outcome;
}

/*
 * The event in econtext, with one set of group keys: the keys and
 * aggregate arguments are computed, and the group's states advance unless
 * its window had closed (EVENT_LATE, not counted here).  Sets
 * *in_transition once some state may have moved.
 */
static EventOutcome
view_apply_keys(ViewRuntime *vr, bool *in_transition)
{
	TupleTableSlot *proj;
	GroupStates *group;
	int			i;

	proj = ExecProject(vr->project);
	slot_getallattrs(proj);

	/* keys come first in the projection */
	if (vr->judge_lateness)
	{
		WindowRuntime *window = vr->window;
		int			key = window->window->key;

		if (!proj->tts_isnull[key] &&
			(continuous_window_closes_at(vr->plan, proj->tts_values[key],
										 &vr->allowed_lateness) <= vr->watermark_before ||
			 (window->kind->event_late != NULL &&
			  window->kind->event_late(vr, window, proj))))
			return EVENT_LATE;
	}

	/*
	 * An event whose group could not be stored is refused here, before any
	 * state moves, so that it is a dead letter at once.  Checking only when
	 * a new group is made would be cheaper per event, but would fail in the
	 * middle of a transition: the careful run would then start over once
	 * per such event, and a batch full of one huge key would cost a run per
	 * event.  The check is a loop over the sizes of the keys.
	 */
	storage_key_check(vr->key_check, proj->tts_values, proj->tts_isnull);

	*in_transition = true;
	for (i = 0; i < vr->nwindows; i++)
	{
		if (vr->windows[i].kind->assign != NULL)
			vr->windows[i].kind->assign(vr, &vr->windows[i], proj);
	}

	group = view_group_lookup(vr, proj);
	for (i = 0; i < vr->naggs; i++)
		group->values[i] = agg_advance(vr->aggs[i], group->values[i],
									   &group->isnull[i],
									   &proj->tts_values[vr->arg_offset[i]],
									   &proj->tts_isnull[vr->arg_offset[i]]);
	return EVENT_OK;
}

/*
 * The event as a row of the stream's current type.  Rows decoded before an
 * ALTER TABLE keep their old layout; columns are carried over by position
 * when their type is unchanged, NULL otherwise.
 */
static TupleTableSlot *
view_input_slot(ViewRuntime *vr, StreamEvent *event)
{
	TupleTableSlot *slot = vr->input_slot;
	TupleDesc	cur = vr->input_desc;
	TupleDesc	old = event->desc;
	Datum	   *values;
	bool	   *isnull;
	int			i;

	/* events of one batch share a few descriptors: compare each once */
	if (old != vr->seen_desc)
	{
		vr->seen_desc = old;
		vr->seen_desc_matches = equalTupleDescs(old, cur);
	}
	if (vr->seen_desc_matches && event->tuple)
	{
		ExecStoreHeapTuple(event->tuple, slot, false);
		return slot;
	}
	if (vr->seen_desc_matches)
	{
		ExecClearTuple(slot);
		memcpy(slot->tts_values, event->values, sizeof(Datum) * cur->natts);
		memcpy(slot->tts_isnull, event->isnull, sizeof(bool) * cur->natts);
		ExecStoreVirtualTuple(slot);
		return slot;
	}

	values = palloc(sizeof(Datum) * Max(old->natts, 1));
	isnull = palloc(sizeof(bool) * Max(old->natts, 1));
	stream_event_deform(event, values, isnull);
	{
		Datum	   *curvalues = palloc(sizeof(Datum) * cur->natts);
		bool	   *curnull = palloc(sizeof(bool) * cur->natts);
		HeapTuple	tuple;

		for (i = 0; i < cur->natts; i++)
		{
			Form_pg_attribute ca = TupleDescAttr(cur, i);

			curnull[i] = true;
			curvalues[i] = (Datum) 0;
			if (i < old->natts && !ca->attisdropped &&
				!TupleDescAttr(old, i)->attisdropped &&
				TupleDescAttr(old, i)->atttypid == ca->atttypid)
			{
				curvalues[i] = values[i];
				curnull[i] = isnull[i];
			}
		}
		tuple = heap_form_tuple(cur, curvalues, curnull);
		ExecStoreHeapTuple(tuple, slot, false);
	}
	return slot;
}

static GroupStates *
view_group_lookup(ViewRuntime *vr, TupleTableSlot *proj)
{
	GroupStates *group;
	MemoryContext oldcxt;
	int			i;

	if (vr->groups == NULL)
	{
		if (vr->global)
			return vr->global;
		oldcxt = MemoryContextSwitchTo(vr->state_cxt);
		group = vr->global = palloc(sizeof(GroupStates));
	}
	else
	{
		GroupStates **states;
		bool		isnew;

		/* the projection starts with the keys */
		states = group_table_lookup(vr->groups, proj->tts_values,
									proj->tts_isnull, &isnew);
		if (!isnew)
			return *states;
		oldcxt = MemoryContextSwitchTo(vr->state_cxt);
		group = *states = palloc(sizeof(GroupStates));
	}

	group->values = palloc(sizeof(Datum) * Max(vr->naggs, 1));
	group->isnull = palloc(sizeof(bool) * Max(vr->naggs, 1));
	for (i = 0; i < vr->naggs; i++)
		group->values[i] = agg_initial_state(vr->aggs[i], &group->isnull[i]);
	MemoryContextSwitchTo(oldcxt);
	return group;
}
