/*-------------------------------------------------------------------------
 *
 * batch.c
 *	  A continuous view at run time, and the run of a batch of stream events
 *	  through the view's stages.
 *
 * Pipeline position: batch.  As a view is loaded, the stage registry
 * (stage_registry.c) composes its pipeline from its plan: today a filter
 * for its WHERE clause (stage_filter.c), then the partial aggregate that
 * places events in windows and groups and advances their states
 * (stage_aggregate.c), or for a view without aggregates the append stage
 * that keeps its output rows (stage_append.c).  This module hands each batch to the stages in
 * order, each taking what the one before it passed on (stage.h), asks
 * them to write their state at flush, and to forget the batch after it.
 * It knows no stage by name.
 *
 * A large transaction's rows may also run through the stages before it
 * commits, into an EarlyBatch of its own (early_aggregation.c decides
 * when): this module swaps the batch fields of the view with the
 * EarlyBatch's around the run, and at commit combines its groups into the
 * view's batch instead of running those events again, if every window of
 * it is still open.
 *
 * Errors: the whole batch runs in one subtransaction.  If an event raises an
 * error (a division by zero, a bad cast), the batch state is thrown away and
 * the batch runs again event by event, each in its own subtransaction and
 * through every stage; the failing events become dead letters, written in
 * the same transaction as the state, and the rest count.  Errors that
 * strike after a stage moved state that a rollback does not undo (between
 * transition functions of one event) cannot be undone in place, so the
 * careful run starts over without that event.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/xact.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/resowner.h"

#include "base/memory.h"
#include "base/privileges.h"
#include "base/subxact.h"
#include "exec/batch.h"
#include "exec/quarantine.h"
#include "exec/stage_registry.h"
#include "exec/view_access.h"
#include "plan/plan.h"
#include "state/storage_layout.h"

/* How many events the fast path hands the stages at a time. */
#define STAGE_RUN_EVENTS 1024

/* The stages' callbacks other than process. */
typedef enum StageStep
{
	STAGE_BATCH_BEGIN,
	STAGE_BATCH_END,
	STAGE_FLUSH,
	STAGE_RESET_COMMITTED,
	STAGE_RESET_DISCARDED,
	STAGE_DESTROY
} StageStep;

/*
 * The batch state of one streamed transaction's events for one view: what
 * a batch fills in ViewRuntime, kept apart until the transaction commits.
 * Its groups are combined with the view's batch then, by
 * view_process_events, instead of running the events again; or it is
 * thrown away.  early_batch_swap() exchanges the fields below with the
 * view's, so that the stages, which know only the view, fill it.
 */
struct EarlyBatch
{
	MemoryContext cxt;			/* everything of it, and its states */
	bool		failed;			/* an event was late or failed: useless */

	/* while not swapped in: its own */
	MemoryContext state_cxt;
	GroupTable *groups;
	GroupStates *global;
	int64		late_events;
	List	   *late_rows;
	List	   *dead_letters;
	bool		judge_lateness;
	TimestampTz watermark_before;
	bool		had_stream_watermark;
	TimestampTz stream_watermark;

	/* the earliest end of its windows, once asked for (early_batch_open) */
	bool		close_known;
	bool		has_close;
	TimestampTz earliest_close;
};

static void view_stages_step(ViewRuntime *vr, StageStep step);
static void view_run_stages(ViewRuntime *vr, StageBatch *batch);
static void view_batch_forget(ViewRuntime *vr, bool committed);
static void view_run_batch(ViewRuntime *vr, StreamEvents *events, int first,
						   StreamClock *clock, List *early, EarlyBatch *folded);
static bool view_process_all(ViewRuntime *vr, StreamEvents *events, int first,
							 List *early, EarlyBatch *folded);
static void view_take_folded(ViewRuntime *vr, EarlyBatch *folded);
static void view_run_events(ViewRuntime *vr, StreamEvents *events, int from,
							int to);
static List *view_early_usable(ViewRuntime *vr, List *early, int first);
static void early_batch_swap(ViewRuntime *vr, EarlyBatch *early);
static void fold_keep_rows(EarlyBatch *into, EarlyBatch *run);
static void fold_take_round(ViewRuntime *vr, EarlyBatch *round);
static void view_process_carefully(ViewRuntime *vr, StreamEvents *events,
								   int first, EarlyBatch *folded);
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
	/* expressions built by the stages point into the query: keep it */
	vr->plan = continuous_plan_build(copyObject(query));
	storage_layout_bind(vr->plan, storage, vr->name);
	vr->allowed_lateness = *allowed_lateness;
	if (vr->plan->interval_join != NULL)
		vr->join_stream = vr->plan->interval_join->right_stream;
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

	vr->stages = stage_registry_compose(vr);
	elog(DEBUG1, "continuous view \"%s\" runs the stages: %s",
		 vr->name, stage_registry_describe(vr->stages));

	MemoryContextSwitchTo(oldcxt);
	vr->setup_memory = MemoryContextMemAllocated(cxt, true);
	return vr;
}

Size
view_batch_memory(ViewRuntime *vr)
{
	Size		all = MemoryContextMemAllocated(vr->cxt, true);

	return all > vr->setup_memory ? all - vr->setup_memory : 0;
}

void
view_runtime_destroy(ViewRuntime *vr)
{
	view_stages_step(vr, STAGE_DESTROY);
	ExecDropSingleTupleTableSlot(vr->input_slot);
	FreeExprContext(vr->econtext, false);
	MemoryContextDelete(vr->cxt);
}

/* The batch is thrown away: it will run again, or not at all. */
void
view_batch_reset(ViewRuntime *vr)
{
	view_batch_forget(vr, false);
}

/* The batch's flush has committed. */
void
view_batch_committed(ViewRuntime *vr)
{
	view_batch_forget(vr, true);
}

static void
view_batch_forget(ViewRuntime *vr, bool committed)
{
	view_stages_step(vr, committed ? STAGE_RESET_COMMITTED :
					 STAGE_RESET_DISCARDED);
	MemoryContextReset(vr->state_cxt);
	/* what ran before the flush is kept until the flush commits */
	if (committed && vr->folded != NULL)
	{
		early_batch_destroy(vr->folded);
		vr->folded = NULL;
		vr->folded_events = 0;
	}
	vr->seen_desc = NULL;
	vr->events = 0;
	vr->events_before_commit = 0;
	vr->late_events = 0;
	vr->late_rows = NIL;
	vr->dead_letters = NIL;
}

/* The stages' writes of a batch that had events of the view. */
void
view_flush_stages(ViewRuntime *vr)
{
	if (vr->events > 0)
		view_stages_step(vr, STAGE_FLUSH);
}

/* One of the stages' callbacks, for each stage in pipeline order. */
static void
view_stages_step(ViewRuntime *vr, StageStep step)
{
	ListCell   *lc;

	foreach(lc, vr->stages)
	{
		Stage	   *stage = lfirst(lc);
		const StageRoutine *routine = stage->routine;
		void		(*callback) (ViewRuntime *vr, void *state);

		if (step == STAGE_RESET_COMMITTED || step == STAGE_RESET_DISCARDED)
		{
			if (routine->reset != NULL)
				routine->reset(vr, stage->state,
							   step == STAGE_RESET_COMMITTED);
			continue;
		}
		switch (step)
		{
			case STAGE_BATCH_BEGIN:
				callback = routine->batch_begin;
				break;
			case STAGE_BATCH_END:
				callback = routine->batch_end;
				break;
			case STAGE_FLUSH:
				callback = routine->flush;
				break;
			default:
				callback = routine->destroy;
				break;
		}
		if (callback != NULL)
			callback(vr, stage->state);
	}
}

/* ------------------------------------------------------------------------
 * Processing
 * ------------------------------------------------------------------------
 */

void
view_process_events(ViewRuntime *vr, StreamEvents *events, StreamClock *clock,
					List *early)
{
	SavedPrivileges saved;
	int			first = view_first_event(vr, events);

	/* its owner may still read all its events (view_access.c) */
	view_access_check(vr->plan, vr->owner, vr->name);

	/* the view's expressions run with its owner's privileges */
	privileges_become(vr->owner, vr->search_path, &saved);
	view_run_batch(vr, events, first, clock, early, vr->folded);
	privileges_restore(&saved);

	/* whatever the stages passed over, the view read them all */
	vr->events = events->nevents - first + vr->folded_events;
	if (vr->folded != NULL)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(vr->state_cxt);

		/* dead letters are attached after the last reset, late rows too */
		vr->dead_letters = list_concat(vr->dead_letters,
									   vr->folded->dead_letters);
		vr->late_rows = list_concat(vr->late_rows, vr->folded->late_rows);
		vr->late_events += vr->folded->late_events;
		MemoryContextSwitchTo(oldcxt);
	}
}

/*
 * The events from first on into the view's batch state, judged by the
 * clock's watermark before the batch; the runs of early it can take
 * (view_early_usable) and folded as view_process_all takes them.  As the
 * view's owner.
 */
static void
view_run_batch(ViewRuntime *vr, StreamEvents *events, int first,
			   StreamClock *clock, List *early, EarlyBatch *folded)
{
	vr->judge_lateness = vr->plan->window != NULL && clock != NULL &&
		clock->had_watermark_before;
	if (vr->judge_lateness)
		vr->watermark_before = clock->watermark_before;
	vr->had_stream_watermark = clock != NULL && clock->had_watermark_before;
	vr->stream_watermark = vr->had_stream_watermark ?
		clock->watermark_before : 0;

	view_stages_step(vr, STAGE_BATCH_BEGIN);
	early = view_early_usable(vr, early, first);
	if (!view_process_all(vr, events, first, early, folded))
		view_process_carefully(vr, events, first, folded);
	list_free(early);
	view_stages_step(vr, STAGE_BATCH_END);
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
	for (i = 0; i < events->nevents; i++)
		if (view_takes_commit(vr, events->events[i].commit_lsn))
			return i;
	return events->nevents;
}

/* Does the view count the events of the transaction that committed there? */
bool
view_takes_commit(ViewRuntime *vr, XLogRecPtr commit_lsn)
{
	return vr->active_from != InvalidXLogRecPtr &&
		commit_lsn >= vr->active_from;
}

/* The events through each stage in turn, as far as each passes them on. */
static void
view_run_stages(ViewRuntime *vr, StageBatch *batch)
{
	ListCell   *lc;

	foreach(lc, vr->stages)
	{
		Stage	   *stage = lfirst(lc);

		if (batch->nevents == 0)
			break;
		stage->routine->process(vr, stage->state, batch);
	}
}

/*
 * The fast path: every event, one subtransaction.  False if any failed.
 * The runs of events that an EarlyBatch of early (EarlyEvents, in their
 * order) holds aggregated are not run again: its groups are combined
 * instead.  So are folded's (NULL: none), the batch's events that ran
 * before the flush.
 */
static bool
view_process_all(ViewRuntime *vr, StreamEvents *events, int first, List *early,
				 EarlyBatch *folded)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	bool		ok = true;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		ListCell   *lc;
		int			i = first;

		view_take_folded(vr, folded);
		foreach(lc, early)
		{
			EarlyEvents *run = lfirst(lc);

			view_run_events(vr, events, i, run->first);
			view_groups_combine(vr, run->early->groups, run->early->global);
			vr->events_before_commit += run->count;
			i = run->first + run->count;
		}
		view_run_events(vr, events, i, events->nevents);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		/* out of time: the view's error, not its events' (quarantine.c) */
		if (quarantine_time_is_up())
			ReThrowError(continuous_abort_subtransaction(oldcxt));
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
 * Events from .. to-1 through the stages, in runs of STAGE_RUN_EVENTS: few
 * enough that a run's rows are still in the CPU's cache when the next
 * stage reads them, and the array of a run lives on the stack.
 */
static void
view_run_events(ViewRuntime *vr, StreamEvents *events, int from, int to)
{
	StreamEvent *run[STAGE_RUN_EVENTS];
	StageBatch	batch = {run, 0, false};
	int			i = from;

	while (i < to)
	{
		/* a stage may have handed on an array of its own */
		batch.events = run;
		batch.nevents = 0;
		while (i < to && batch.nevents < STAGE_RUN_EVENTS)
			run[batch.nevents++] = &events->events[i++];
		view_run_stages(vr, &batch);
	}
}

/*
 * The slow path: one subtransaction per event, through every stage.  A
 * failure before any state moved is a dead letter and the run goes on; a
 * failure after restarts the run without that event.  folded (NULL: none)
 * is taken after every reset.
 */
static void
view_process_carefully(ViewRuntime *vr, StreamEvents *events, int first,
					   EarlyBatch *folded)
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
		view_take_folded(vr, folded);
		for (i = first; i < events->nevents && !restart; i++)
		{
			StreamEvent *event = &events->events[i];
			StageBatch	batch = {&event, 1, false};

			if (skip[i])
				continue;
			BeginInternalSubTransaction(NULL);
			MemoryContextSwitchTo(oldcxt);
			PG_TRY();
			{
				view_run_stages(vr, &batch);
				ReleaseCurrentSubTransaction();
			}
			PG_CATCH();
			{
				ErrorData  *edata = continuous_abort_subtransaction(oldcxt);

				if (quarantine_time_is_up())
					ReThrowError(edata);
				skip[i] = true;
				errors[i] = edata->message;
				restart = batch.state_moved;
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
	pfree(skip);
	pfree(errors);
}

/* ------------------------------------------------------------------------
 * A large transaction's events before it commits
 * ------------------------------------------------------------------------
 */

bool
view_runs_before_commit(ViewRuntime *vr)
{
	ListCell   *lc;

	foreach(lc, vr->stages)
	{
		const StageRoutine *routine = ((Stage *) lfirst(lc))->routine;

		if (routine->before_commit == NULL ||
			!routine->before_commit(vr->plan))
			return false;
	}
	return true;
}

EarlyBatch *
early_batch_create(ViewRuntime *vr)
{
	MemoryContext cxt = AllocSetContextCreate(vr->cxt,
											  "pg_continuous early batch",
											  ALLOCSET_DEFAULT_SIZES);
	EarlyBatch *early = MemoryContextAllocZero(vr->cxt, sizeof(EarlyBatch));
	MemoryContext oldcxt = MemoryContextSwitchTo(cxt);

	early->cxt = cxt;
	/* a context of its own, as the view's: the careful run resets it */
	early->state_cxt = AllocSetContextCreate(cxt, "pg_continuous early batch state",
											 ALLOCSET_DEFAULT_SIZES);
	early->groups = view_groups_table(vr, cxt);
	MemoryContextSwitchTo(oldcxt);
	return early;
}

void
early_batch_destroy(EarlyBatch *early)
{
	MemoryContextDelete(early->cxt);
	pfree(early);
}

Size
early_batch_memory(EarlyBatch *early)
{
	return MemoryContextMemAllocated(early->cxt, true);
}

/*
 * Exchange the batch fields of the view and of early: once to run events
 * into early, once more to put the view's back.
 */
static void
early_batch_swap(ViewRuntime *vr, EarlyBatch *early)
{
#define EARLY_SWAP(type, field) \
	do { type swapped = vr->field; vr->field = early->field; early->field = swapped; } while (0)
	int			i;

	EARLY_SWAP(MemoryContext, state_cxt);
	EARLY_SWAP(GroupTable *, groups);
	EARLY_SWAP(GroupStates *, global);
	EARLY_SWAP(int64, late_events);
	EARLY_SWAP(List *, late_rows);
	EARLY_SWAP(List *, dead_letters);
	EARLY_SWAP(bool, judge_lateness);
	EARLY_SWAP(TimestampTz, watermark_before);
	EARLY_SWAP(bool, had_stream_watermark);
	EARLY_SWAP(TimestampTz, stream_watermark);
#undef EARLY_SWAP
	for (i = 0; i < vr->naggs; i++)
		agg_support_set_context(vr->aggs[i], vr->state_cxt);
	/* descriptors of the transaction's rows are not the batch's */
	vr->seen_desc = NULL;
}

/* early_batch_process(): a run of events, and whether each was processed */
typedef struct EarlyRun
{
	StreamEvents *events;
	bool		ok;
} EarlyRun;

static void
early_batch_step(ViewRuntime *vr, void *arg)
{
	EarlyRun   *early_run = arg;
	SavedPrivileges saved;

	privileges_become(vr->owner, vr->search_path, &saved);
	view_stages_step(vr, STAGE_BATCH_BEGIN);
	early_run->ok = view_process_all(vr, early_run->events, 0, NIL, NULL);
	view_stages_step(vr, STAGE_BATCH_END);
	privileges_restore(&saved);
}

bool
early_batch_process(ViewRuntime *vr, EarlyBatch *early, StreamEvent *events,
					int nevents, StreamClock *clock)
{
	StreamEvents run;
	EarlyRun	early_run;

	if (early->failed)
		return false;
	memset(&run, 0, sizeof(run));
	run.relid = vr->stream;
	run.events = events;
	run.nevents = nevents;

	early_batch_swap(vr, early);

	/*
	 * Lateness by the watermark as it is now, which can only grow before
	 * the commit: an event late now would be late then (and
	 * view_process_events checks the windows again by the watermark of
	 * the batch the transaction commits in).
	 */
	vr->had_stream_watermark = clock != NULL && clock->has_watermark;
	vr->stream_watermark = vr->had_stream_watermark ? clock->watermark : 0;
	vr->judge_lateness = vr->plan->window != NULL && vr->had_stream_watermark;
	vr->watermark_before = vr->stream_watermark;

	/*
	 * Under continuous.view_time_limit, as every step of a view: a view
	 * that runs out of time here takes its rows at the commit, where it
	 * runs out of time again and fails.
	 */
	early_run.events = &run;
	early_run.ok = false;
	if (quarantine_attempt(early_batch_step, vr, &early_run) != NULL)
		early_run.ok = false;

	/* a late event or a dead letter is the commit's to judge, as a row */
	if (!early_run.ok || vr->late_events > 0 || vr->dead_letters != NIL)
		early->failed = true;
	early_batch_swap(vr, early);

	if (early->failed)
	{
		/* nothing of it will be used: give its memory back now */
		MemoryContextReset(early->cxt);
		early->state_cxt = NULL;	/* deleted with the reset */
		early->groups = NULL;
		early->global = NULL;
		early->late_rows = early->dead_letters = NIL;
	}
	return !early->failed;
}

/*
 * Are the windows of early's groups all still open by the watermark the
 * view judges its batch by?  If one has closed since its events were run,
 * they must be run again as the batch's, to be found late.
 */
static bool
early_batch_open(ViewRuntime *vr, EarlyBatch *early)
{
	if (!vr->judge_lateness || early->groups == NULL)
		return true;
	if (!early->close_known)
	{
		int			key = vr->plan->window->key;
		GroupTableIterator iter;
		TupleTableSlot *keys;
		GroupStates *states;

		group_table_begin(early->groups, &iter);
		while (group_table_next(early->groups, &iter, &keys, &states))
		{
			TimestampTz close;

			if (keys->tts_isnull[key])
				continue;
			close = continuous_window_closes_at(vr->plan, keys->tts_values[key],
												&vr->allowed_lateness);
			if (!early->has_close || close < early->earliest_close)
				early->earliest_close = close;
			early->has_close = true;
		}
		early->close_known = true;
	}
	return !early->has_close || early->earliest_close > vr->watermark_before;
}

/* The runs of early (EarlyEvents) that the view can take as they are. */
static List *
view_early_usable(ViewRuntime *vr, List *early, int first)
{
	List	   *usable = NIL;
	ListCell   *lc;
	int			next = first;

	foreach(lc, early)
	{
		EarlyEvents *run = lfirst(lc);

		if (run->first >= next && !run->early->failed &&
			early_batch_open(vr, run->early))
		{
			usable = lappend(usable, run);
			next = run->first + run->count;
		}
	}
	return usable;
}


/* ------------------------------------------------------------------------
 * A batch's events run before its flush
 * ------------------------------------------------------------------------
 */

/*
 * Can the view run a batch's committed events before the flush and keep
 * only their groups?  Only if its stages could take them before their
 * commit: they depend on nothing outside the batch, and its windows (if
 * any) place each event by itself.  A view of two streams takes its
 * events merged at the flush.  Each run judges lateness by the watermark
 * before it, as a batch of its own would; a window that closes after a
 * run took events into it gets them at the flush, as it would have had
 * them from that batch's.
 */
bool
view_folds_between_flushes(ViewRuntime *vr)
{
	return !OidIsValid(vr->join_stream) && view_runs_before_commit(vr);
}

/*
 * Into a batch state of their own, then combined with those run before:
 * the careful run resets the state it runs in, which must not take the
 * events run before with it.  The first run's state is kept as it is.
 */
void
view_fold_events(ViewRuntime *vr, StreamEvents *events, StreamClock *clock,
				 List *early)
{
	SavedPrivileges saved;
	int			first = view_first_event(vr, events);
	EarlyBatch *round;

	Assert(view_folds_between_flushes(vr));
	if (first == events->nevents)
		return;
	round = early_batch_create(vr);
	view_access_check(vr->plan, vr->owner, vr->name);
	privileges_become(vr->owner, vr->search_path, &saved);

	early_batch_swap(vr, round);
	view_run_batch(vr, events, first, clock, early, NULL);
	early_batch_swap(vr, round);
	vr->folded_events += events->nevents - first;
	fold_take_round(vr, round);
	privileges_restore(&saved);
}

/*
 * A run's batch state (round) into what the view keeps of its folds: the
 * first is kept as it is, the others combined into it and destroyed.  As
 * the view's owner.
 */
static void
fold_take_round(ViewRuntime *vr, EarlyBatch *round)
{
	if (vr->folded == NULL)
	{
		vr->folded = round;
		fold_keep_rows(round, round);
	}
	else
	{
		early_batch_swap(vr, vr->folded);
		view_groups_combine(vr, round->groups, round->global);
		early_batch_swap(vr, vr->folded);
		fold_keep_rows(vr->folded, round);
		early_batch_destroy(round);
	}
}

/*
 * Could the view take early (run before its events' commit, with none late
 * or failed) as a run of the batch that begins now, by the clock as it
 * stands before it: are its windows all still open?
 */
bool
view_early_open_now(ViewRuntime *vr, EarlyBatch *early, StreamClock *clock)
{
	bool		has = clock != NULL && clock->has_watermark;

	vr->judge_lateness = vr->plan->window != NULL && has;
	vr->watermark_before = has ? clock->watermark : 0;
	return !early->failed && early_batch_open(vr, early);
}

/*
 * early (NULL: none), which view_early_open_now() found the view could
 * take for nevents events, folded as view_fold_events() folds a run: it is
 * the view's now.
 */
void
view_fold_early(ViewRuntime *vr, EarlyBatch *early, int64 nevents)
{
	SavedPrivileges saved;

	Assert(view_folds_between_flushes(vr));
	view_access_check(vr->plan, vr->owner, vr->name);
	if (early != NULL)
	{
		privileges_become(vr->owner, vr->search_path, &saved);
		fold_take_round(vr, early);
		privileges_restore(&saved);
	}
	vr->folded_events += nevents;
	vr->events_before_commit += nevents;
}

/*
 * What a run leaves besides its groups, in into's memory: its dead
 * letters (their rows as text already), and its late events' count and
 * rows, which point into the events given back and are copied.
 */
static void
fold_keep_rows(EarlyBatch *into, EarlyBatch *run)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(into->state_cxt);
	List	   *late_rows = NIL;
	ListCell   *lc;

	foreach(lc, run->late_rows)
		late_rows = lappend(late_rows, stream_event_copy(lfirst(lc)));
	if (into == run)
		into->late_rows = late_rows;
	else
	{
		foreach(lc, run->dead_letters)
			into->dead_letters = lappend(into->dead_letters,
										 stream_event_dead_letter_copy(lfirst(lc)));
		into->late_events += run->late_events;
		into->late_rows = list_concat(into->late_rows, late_rows);
	}
	MemoryContextSwitchTo(oldcxt);
}

Size
view_folded_memory(ViewRuntime *vr)
{
	return vr->folded != NULL ? early_batch_memory(vr->folded) : 0;
}

/* The groups of folded (NULL: none) into the batch's. */
static void
view_take_folded(ViewRuntime *vr, EarlyBatch *folded)
{
	if (folded != NULL)
		view_groups_combine(vr, folded->groups, folded->global);
}
