/*-------------------------------------------------------------------------
 *
 * batch.c
 *	  Partial aggregation of a batch of stream events, per continuous view.
 *
 * Pipeline position: batch.  For each event of the view's stream: WHERE,
 * then one projection that computes the group keys and every aggregate's
 * arguments, then a hash lookup of the group (group_table.c) and the
 * transition functions.  In a view with a window,
 * an event whose window the watermark had closed before the batch is late:
 * it is dropped and counted instead.  With a hop (window_hop.c) the keys
 * and arguments are computed once per window of the event, and the event
 * is late only if all of them had closed; a count window (window_count.c)
 * numbers the event by its key's running count.  An event whose event time
 * is NULL cannot be placed in a window: a view with a window makes it a
 * dead letter of its own, a view without one counts it, as its SELECT
 * would.  The states of a batch are
 * merged into storage by flush.c, once per group per batch.
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

#include "batch.h"
#include "memory.h"
#include "subxact.h"
#include "privileges.h"
#include "storage_key.h"
#include "window_session.h"

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

static void view_build_groups(ViewRuntime *vr);
static void view_key_eqops(ViewRuntime *vr, Oid *eqops);
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
	continuous_plan_bind_storage(vr->plan, storage, vr->name);
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
		Expr	   *expr = i == vr->plan->count_key ?
			count_window_placeholder() :
			session_key_input(vr->plan, i,
							  (Expr *) hop_bind_window_column(vr->plan->hop,
															  (Node *) key->expr));

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

			Node	   *expr = hop_bind_window_column(vr->plan->hop,
														  (Node *) argtle->expr);

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
	view_build_groups(vr);
	if (vr->plan->hop)
		vr->hop = hop_runtime_create(vr->plan->hop, vr->econtext);
	if (vr->plan->count_key >= 0)
		vr->counts = count_window_runtime_create(vr);

	MemoryContextSwitchTo(oldcxt);
	return vr;
}

void
view_runtime_destroy(ViewRuntime *vr)
{
	ExecDropSingleTupleTableSlot(vr->input_slot);
	if (vr->groups)
		group_table_destroy(vr->groups);
	ExecDropSingleTupleTableSlot(vr->project->pi_state.resultslot);
	if (vr->hop)
		hop_runtime_destroy(vr->hop);
	FreeExprContext(vr->econtext, false);
	MemoryContextDelete(vr->cxt);
}

/* The groups of a batch, by their keys; none without GROUP BY. */
static void
view_build_groups(ViewRuntime *vr)
{
	Oid		   *eqops;

	vr->groups = NULL;
	if (vr->nkeys == 0)
		return;
	eqops = palloc(sizeof(Oid) * vr->nkeys);
	view_key_eqops(vr, eqops);
	vr->groups = group_table_create(vr->key_desc,
									group_table_binary_keys(vr->key_desc, eqops) ?
									NULL : view_key_hash_table(vr),
									vr->cxt);
	pfree(eqops);
}

/* The equality operator of each group key, from the query's GROUP BY. */
static void
view_key_eqops(ViewRuntime *vr, Oid *eqops)
{
	ListCell   *lc;

	foreach(lc, vr->plan->keys)
	{
		ContinuousKey *key = lfirst(lc);
		SortGroupClause *sgc = NULL;
		ListCell   *g;

		foreach(g, vr->plan->query->groupClause)
		{
			SortGroupClause *candidate = lfirst(g);

			if (candidate->tleSortGroupRef == key->sortgroupref)
				sgc = candidate;
		}
		if (sgc == NULL)
			elog(ERROR, "group key %d of continuous view \"%s\" has no GROUP BY clause",
				 foreach_current_index(lc) + 1, vr->name);
		eqops[foreach_current_index(lc)] = sgc->eqop;
	}
}

/* PostgreSQL's hash table over the keys, with the GROUP BY's operators. */
TupleHashTable
view_key_hash_table(ViewRuntime *vr)
{
	AttrNumber *keycols;
	Oid		   *eqops;
	Oid		   *eqfuncs;
	Oid		   *collations;
	FmgrInfo   *hashfuncs;
	ListCell   *lc;

	keycols = palloc(sizeof(AttrNumber) * vr->nkeys);
	eqops = palloc(sizeof(Oid) * vr->nkeys);
	eqfuncs = palloc(sizeof(Oid) * vr->nkeys);
	collations = palloc(sizeof(Oid) * vr->nkeys);
	hashfuncs = palloc(sizeof(FmgrInfo) * vr->nkeys);
	view_key_eqops(vr, eqops);
	foreach(lc, vr->plan->keys)
	{
		ContinuousKey *key = lfirst(lc);
		int			i = foreach_current_index(lc);
		Oid			hashfn;

		if (!get_op_hash_functions(eqops[i], &hashfn, NULL))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("could not identify a hash function for type %s",
							format_type_be(key->type)),
					 errdetail("Continuous views group with hashing.")));
		keycols[i] = i + 1;
		eqfuncs[i] = get_opcode(eqops[i]);
		collations[i] = key->collation;
		fmgr_info(hashfn, &hashfuncs[i]);
	}

	return BuildTupleHashTableExt(NULL, vr->key_desc,
								  vr->nkeys, keycols, eqfuncs, hashfuncs,
								  collations, 1024, 0,
								  vr->cxt, vr->state_cxt,
								  vr->econtext->ecxt_per_tuple_memory,
								  false);
}

void
view_batch_reset(ViewRuntime *vr)
{
	if (vr->groups)
		group_table_reset(vr->groups);
	count_window_reset(vr);
	MemoryContextReset(vr->state_cxt);
	vr->global = NULL;
	vr->seen_desc = NULL;
	vr->events = 0;
	vr->late_events = 0;
	vr->late_rows = NIL;
	vr->dead_letters = NIL;
}

int64
view_batch_groups(ViewRuntime *vr)
{
	if (vr->groups)
		return group_table_count(vr->groups);
	return vr->global ? 1 : 0;
}

/* ------------------------------------------------------------------------
 * Processing
 * ------------------------------------------------------------------------
 */

void
view_process_events(ViewRuntime *vr, StreamEvents *events, StreamClock *clock)
{
	SavedPrivileges saved;

	vr->judge_lateness = vr->plan->window_key >= 0 && clock != NULL &&
		clock->had_watermark_before;
	if (vr->judge_lateness)
		vr->watermark_before = clock->watermark_before;

	/* the view's expressions run with its owner's privileges */
	privileges_become(vr->owner, vr->search_path, &saved);

	session_batch_begin(vr);
	if (!view_process_all(vr, events))
	{
		view_batch_reset(vr);
		view_process_carefully(vr, events);
	}
	session_batch_end(vr);

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
	else if (vr->plan->window_key >= 0 &&
			 slot_attisnull(econtext->ecxt_scantuple,
							vr->plan->event_time_attnum))
		outcome = EVENT_NO_TIME;
	else if (vr->hop == NULL)
		outcome = view_apply_keys(vr, in_transition);
	else
	{
		int			windows = hop_event_windows(vr->hop, econtext);
		int			w;

		/* late only if every one of its windows had closed */
		outcome = windows > 0 ? EVENT_LATE : EVENT_SKIPPED;
		for (w = 0; w < windows; w++)
		{
			hop_bind_window(vr->hop, econtext, w);
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
	if (vr->judge_lateness && !proj->tts_isnull[vr->plan->window_key] &&
		(continuous_window_closes_at(vr->plan,
									 proj->tts_values[vr->plan->window_key],
									 &vr->allowed_lateness) <= vr->watermark_before ||
		 session_event_joins_closed(vr, proj)))
		return EVENT_LATE;

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
	if (vr->counts)
		count_window_assign(vr, proj);

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

/* ------------------------------------------------------------------------
 * Iterating the groups of a batch, for flush.c
 * ------------------------------------------------------------------------
 */

void
view_groups_begin(ViewRuntime *vr, GroupTableIterator *iter)
{
	if (vr->groups)
		group_table_begin(vr->groups, iter);
	else
		memset(iter, 0, sizeof(GroupTableIterator));
}

bool
view_groups_next(ViewRuntime *vr, GroupTableIterator *iter,
				 TupleTableSlot **keys, GroupStates **states)
{
	if (vr->groups == NULL)
	{
		/* the single group of a view without GROUP BY, once */
		if (iter->next != 0 || vr->global == NULL)
			return false;
		iter->next = 1;
		*keys = NULL;
		*states = vr->global;
		return true;
	}
	return group_table_next(vr->groups, iter, keys, states);
}

Datum
stream_event_getattr(StreamEvent *event, int attnum, bool *isnull)
{
	if (event->tuple)
		return heap_getattr(event->tuple, attnum, event->desc, isnull);
	*isnull = event->isnull[attnum - 1];
	return event->values[attnum - 1];
}

void
stream_event_deform(StreamEvent *event, Datum *values, bool *isnull)
{
	if (event->tuple)
		heap_deform_tuple(event->tuple, event->desc, values, isnull);
	else
	{
		memcpy(values, event->values, sizeof(Datum) * event->desc->natts);
		memcpy(isnull, event->isnull, sizeof(bool) * event->desc->natts);
	}
}

HeapTuple
stream_event_tuple(StreamEvent *event)
{
	if (event->tuple)
		return event->tuple;
	return heap_form_tuple(event->desc, event->values, event->isnull);
}

DeadLetter *
stream_event_dead_letter(StreamEvent *event, const char *error)
{
	DeadLetter *dl = palloc(sizeof(DeadLetter));
	Datum		row = heap_copy_tuple_as_datum(stream_event_tuple(event),
											   event->desc);

	dl->commit_lsn = event->commit_lsn;
	dl->partition = event->partition;
	dl->offset = event->offset;
	/* the row as text */
	dl->payload = OidOutputFunctionCall(F_RECORD_OUT, row);
	dl->error = pstrdup(error);
	return dl;
}
