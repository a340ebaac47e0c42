/*-------------------------------------------------------------------------
 *
 * stage_aggregate.c
 *	  The partial aggregate stage: windows, group keys and transition
 *	  functions, and the merge of the batch's groups at flush.
 *
 * Pipeline position: batch and flush, the last stage of every view that
 * aggregates (stage.h); a transform has the append stage instead.  For
 * each event: one projection that computes the group keys and every
 * aggregate's arguments and FILTER clause, then a hash lookup of the group
 * (group_table.c) and the transition functions.  In a view with a window,
 * an event whose window the watermark had closed before the batch is
 * late: it is dropped and counted instead.  The view's windows take part
 * through their kinds' callbacks (window_kind.h): a window that fans out
 * (a hop) has the keys and arguments computed once per window of the
 * event, and the event is late only if all of them had closed; a window
 * may judge an event late by more than its end (a session), or number it
 * (a count window).  An event whose event time is NULL cannot be placed in
 * a window: a view with a window makes it a dead letter of its own, a view
 * without one counts it, as its SELECT would.  The states of a batch are
 * merged into storage by flush.c, once per group per batch.
 *
 * Why window assignment is not a stage of its own: the window decides
 * which keys an event has (a hop's fan-out binds a window before the keys
 * are computed, lateness is judged on the computed key, a count window
 * numbers the event in its group), so a separate stage would hand on one
 * projected row per event and window, copied, where this one evaluates
 * and aggregates in place.  The window kinds are an interface of their
 * own (window_kind.h) that this stage drives.
 *
 * The batch's groups (vr->groups, vr->global) and the aggregates' support
 * (vr->aggs) stay in the view's ViewRuntime although this stage makes and
 * fills them: the window kinds and flush.c read them there.  The windows'
 * states, the projection and the key check are this stage's own.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/executor.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "utils/memutils.h"

#include "exec/stage.h"
#include "exec/view_groups.h"
#include "exec/view_input.h"
#include "plan/plan.h"
#include "state/flush.h"
#include "state/storage_key.h"
#include "window/window_kind.h"
#include "window/window_registry.h"

typedef struct AggregateStage
{
	ProjectionInfo *project;	/* keys, then every aggregate's arguments */
	int		   *arg_offset;		/* of each aggregate's args in the projection */
	int		   *filter_offset;	/* of each aggregate's FILTER, or -1: none */
	struct StorageKeyCheck *key_check;	/* do the keys fit storage? NULL:
										 * always */
	/* the plan's windows, in plan order; one of them may fan out */
	int			nwindows;
	WindowRuntime *windows;
	WindowRuntime *fanout;		/* places an event in several windows */
	WindowRuntime *window;		/* of plan->window, or NULL */
} AggregateStage;

/* The windows' callbacks around a batch (window_kind.h). */
typedef enum WindowsBatchStep
{
	WINDOWS_BEGIN,
	WINDOWS_END,
	WINDOWS_RESET
} WindowsBatchStep;

/* What became of an event (or of one of its windows). */
typedef enum EventOutcome
{
	EVENT_OK,
	EVENT_SKIPPED,				/* in no window */
	EVENT_LATE,					/* its window had closed: dropped */
	EVENT_NO_TIME				/* no event time for the view's window */
} EventOutcome;

static bool aggregate_applies(ContinuousPlan *plan);
static bool aggregate_before_commit(ContinuousPlan *plan);
static void *aggregate_create(ViewRuntime *vr);
static void aggregate_destroy(ViewRuntime *vr, void *state);
static void aggregate_batch_begin(ViewRuntime *vr, void *state);
static void aggregate_batch_end(ViewRuntime *vr, void *state);
static void aggregate_process(ViewRuntime *vr, void *state, StageBatch *batch);
static void aggregate_flush(ViewRuntime *vr, void *state);
static void aggregate_reset(ViewRuntime *vr, void *state, bool committed);

static void aggregate_windows_batch(ViewRuntime *vr, AggregateStage *agg,
									WindowsBatchStep step);
static Expr *aggregate_key_input(ContinuousPlan *plan, int keyno, Expr *expr);
static void aggregate_windows_create(ViewRuntime *vr, AggregateStage *agg);
static void aggregate_event(ViewRuntime *vr, AggregateStage *agg,
							StreamEvent *event, StageBatch *batch);
static EventOutcome aggregate_keys(ViewRuntime *vr, AggregateStage *agg,
								   StageBatch *batch);

const StageRoutine aggregate_stage = {
	.name = "partial aggregate",
	.applies = aggregate_applies,
	.create = aggregate_create,
	.destroy = aggregate_destroy,
	.batch_begin = aggregate_batch_begin,
	.batch_end = aggregate_batch_end,
	.process = aggregate_process,
	.flush = aggregate_flush,
	.reset = aggregate_reset,
	.before_commit = aggregate_before_commit,
};

/* ------------------------------------------------------------------------
 * The stage for a view
 * ------------------------------------------------------------------------
 */

/* every view that aggregates; a transform appends instead (stage_append.c) */
static bool
aggregate_applies(ContinuousPlan *plan)
{
	return !plan->transform;
}

/*
 * Partial states combine whatever the events' order, but a session or a
 * count window places an event by the others (window_kind.h).
 */
static bool
aggregate_before_commit(ContinuousPlan *plan)
{
	return window_registry_places_alone(plan);
}

static void *
aggregate_create(ViewRuntime *vr)
{
	AggregateStage *agg = palloc0(sizeof(AggregateStage));
	List	   *tlist = NIL;
	TupleDesc	projdesc;
	TupleDesc	keydesc;
	AttrNumber	resno = 1;
	ListCell   *lc;
	int			i;

	/* one projection: keys first, then the arguments of each aggregate */
	i = 0;
	foreach(lc, vr->plan->keys)
	{
		ContinuousKey *key = lfirst(lc);
		Expr	   *expr = aggregate_key_input(vr->plan, i, key->expr);

		i++;
		tlist = lappend(tlist, makeTargetEntry(expression_planner(expr),
											   resno++, NULL, false));
	}
	vr->aggs = palloc(sizeof(AggSupport *) * Max(vr->naggs, 1));
	agg->arg_offset = palloc(sizeof(int) * Max(vr->naggs, 1));
	agg->filter_offset = palloc(sizeof(int) * Max(vr->naggs, 1));
	i = 0;
	foreach(lc, vr->plan->aggregates)
	{
		ContinuousAggregate *aggregate = lfirst(lc);
		ListCell   *arg;

		vr->aggs[i] = agg_support_create(aggregate->aggref);
		agg_support_set_context(vr->aggs[i], vr->state_cxt);
		agg->arg_offset[i] = resno - 1;
		foreach(arg, aggregate->aggref->args)
		{
			TargetEntry *argtle = lfirst(arg);

			Node	   *expr = window_registry_bind_expr(vr->plan, (Node *) argtle->expr);

			tlist = lappend(tlist, makeTargetEntry(expression_planner((Expr *) expr),
												   resno++, NULL, false));
		}
		agg->filter_offset[i] = -1;
		if (aggregate->aggref->aggfilter != NULL)
		{
			Node	   *filter = window_registry_bind_expr(vr->plan,
														(Node *) aggregate->aggref->aggfilter);

			agg->filter_offset[i] = resno - 1;
			tlist = lappend(tlist, makeTargetEntry(expression_planner((Expr *) filter),
												   resno++, NULL, false));
		}
		i++;
	}
	projdesc = ExecTypeFromTL(tlist);
	agg->project = ExecBuildProjectionInfo(tlist, vr->econtext,
										   MakeSingleTupleTableSlot(projdesc, &TTSOpsVirtual),
										   NULL, vr->input_desc);

	keydesc = CreateTemplateTupleDesc(vr->nkeys);
	for (i = 0; i < vr->nkeys; i++)
		TupleDescCopyEntry(keydesc, i + 1, projdesc, i + 1);
	vr->key_desc = keydesc;

	agg->key_check = storage_key_check_create(vr->storage, vr->plan->keys,
											  vr->name);
	view_groups_create(vr);
	aggregate_windows_create(vr, agg);
	return agg;
}

/*
 * What the worker evaluates for group key keyno: its expression with the
 * windows bound, or what the window it is evaluates in its place.
 */
static Expr *
aggregate_key_input(ContinuousPlan *plan, int keyno, Expr *expr)
{
	ListCell   *lc;

	expr = (Expr *) window_registry_bind_expr(plan, (Node *) expr);
	foreach(lc, plan->windows)
	{
		PlanWindow *window = lfirst(lc);

		if (window->key == keyno && window->kind->key_input != NULL)
			expr = window->kind->key_input(window, expr);
	}
	return expr;
}

/* The windows' states for the view, in its memory. */
static void
aggregate_windows_create(ViewRuntime *vr, AggregateStage *agg)
{
	ListCell   *lc;

	agg->nwindows = list_length(vr->plan->windows);
	agg->windows = window_registry_runtimes_create(vr, &agg->fanout);
	foreach(lc, vr->plan->windows)
	{
		if (lfirst(lc) == vr->plan->window)
			agg->window = &agg->windows[foreach_current_index(lc)];
	}
}

static void
aggregate_destroy(ViewRuntime *vr, void *state)
{
	AggregateStage *agg = state;

	if (vr->groups)
		group_table_destroy(vr->groups);
	ExecDropSingleTupleTableSlot(agg->project->pi_state.resultslot);
	window_registry_runtimes_destroy(agg->windows, agg->nwindows);
}

/* ------------------------------------------------------------------------
 * A batch
 * ------------------------------------------------------------------------
 */

static void
aggregate_batch_begin(ViewRuntime *vr, void *state)
{
	aggregate_windows_batch(vr, state, WINDOWS_BEGIN);
}

static void
aggregate_batch_end(ViewRuntime *vr, void *state)
{
	aggregate_windows_batch(vr, state, WINDOWS_END);
}

/* One of the windows' callbacks around a batch, for each window. */
static void
aggregate_windows_batch(ViewRuntime *vr, AggregateStage *agg,
						WindowsBatchStep step)
{
	int			i;

	for (i = 0; i < agg->nwindows; i++)
	{
		WindowRuntime *wr = &agg->windows[i];
		void		(*callback) (ViewRuntime *vr, WindowRuntime *wr);

		callback = step == WINDOWS_BEGIN ? wr->kind->batch_begin :
			step == WINDOWS_END ? wr->kind->batch_end : wr->kind->batch_reset;
		if (callback != NULL)
			callback(vr, wr);
	}
}

static void
aggregate_process(ViewRuntime *vr, void *state, StageBatch *batch)
{
	AggregateStage *agg = state;
	int			i;

	for (i = 0; i < batch->nevents; i++)
	{
		aggregate_event(vr, agg, batch->events[i], batch);
		CHECK_FOR_INTERRUPTS();
	}
	/* aggregated, late or dead letters: none goes further */
	batch->nevents = 0;
}

/*
 * The batch's groups, combined with their stored states (or as a window
 * kind merges them), and what the windows keep beside them.
 */
static void
aggregate_flush(ViewRuntime *vr, void *state)
{
	AggregateStage *agg = state;

	flush_view_state(vr, agg->windows, agg->nwindows);
}

static void
aggregate_reset(ViewRuntime *vr, void *state, bool committed)
{
	/* nothing of this stage outlives a batch: committed or not, all goes */
	if (vr->groups)
		group_table_reset(vr->groups);
	aggregate_windows_batch(vr, state, WINDOWS_RESET);
	vr->global = NULL;
}

/* ------------------------------------------------------------------------
 * An event
 * ------------------------------------------------------------------------
 */

static void
aggregate_event(ViewRuntime *vr, AggregateStage *agg, StreamEvent *event,
				StageBatch *batch)
{
	ExprContext *econtext = vr->econtext;
	EventOutcome outcome;
	MemoryContext oldcxt;

	ResetExprContext(econtext);
	/* evaluation and transition functions leave garbage in per-event memory */
	oldcxt = MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
	(void) view_input_bind(vr, event);

	if (agg->window != NULL &&
		slot_attisnull(econtext->ecxt_scantuple, vr->plan->event_time_attnum))
		outcome = EVENT_NO_TIME;
	else if (agg->fanout == NULL)
		outcome = aggregate_keys(vr, agg, batch);
	else
	{
		WindowRuntime *fanout = agg->fanout;
		int			windows = fanout->kind->event_windows(fanout, econtext);
		int			w;

		/* late only if every one of its windows had closed */
		outcome = windows > 0 ? EVENT_LATE : EVENT_SKIPPED;
		for (w = 0; w < windows; w++)
		{
			fanout->kind->bind_window(fanout, econtext, w);
			if (aggregate_keys(vr, agg, batch) == EVENT_OK)
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

	/* the event is in: nothing of it is left half done */
	batch->state_moved = false;
	MemoryContextSwitchTo(oldcxt);
}

/*
 * The event in econtext, with one set of group keys: the keys and
 * aggregate arguments are computed, and the group's states advance unless
 * its window had closed (EVENT_LATE, not counted here).  Sets
 * batch->state_moved once some state may have moved.
 */
static EventOutcome
aggregate_keys(ViewRuntime *vr, AggregateStage *agg, StageBatch *batch)
{
	TupleTableSlot *proj;
	GroupStates *group;
	int			i;

	proj = ExecProject(agg->project);
	slot_getallattrs(proj);

	/* keys come first in the projection */
	if (vr->judge_lateness)
	{
		WindowRuntime *window = agg->window;
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
	storage_key_check(agg->key_check, proj->tts_values, proj->tts_isnull);

	batch->state_moved = true;
	for (i = 0; i < agg->nwindows; i++)
	{
		if (agg->windows[i].kind->assign != NULL)
			agg->windows[i].kind->assign(vr, &agg->windows[i], proj);
	}

	/* the projection starts with the keys */
	group = view_groups_find(vr, proj->tts_values, proj->tts_isnull);
	for (i = 0; i < vr->naggs; i++)
	{
		int			filter = agg->filter_offset[i];

		/* FILTER (WHERE ...): only events for which it is true advance it */
		if (filter >= 0 &&
			(proj->tts_isnull[filter] || !DatumGetBool(proj->tts_values[filter])))
			continue;
		group->values[i] = agg_advance(vr->aggs[i], group->values[i],
									   &group->isnull[i],
									   &proj->tts_values[agg->arg_offset[i]],
									   &proj->tts_isnull[agg->arg_offset[i]]);
	}
	return EVENT_OK;
}
