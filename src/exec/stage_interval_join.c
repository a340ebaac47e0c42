/*-------------------------------------------------------------------------
 *
 * stage_interval_join.c
 *	  The interval join stage: events of two streams joined on a key and a
 *	  bounded event-time condition, each side's rows kept until the other
 *	  stream's watermark passes their bound.
 *
 * Pipeline position: batch, the first stage of a view whose FROM joins
 * two streams (plan_interval.c), before the filter (WHERE and the rest of
 * ON read both streams' columns).  The worker hands such a view the events
 * of both streams merged in commit order, each event knowing its stream
 * (worker_process.c, worker_join_batch()), with both streams' watermarks before the
 * batch (vr->stream_watermark, the left stream's; vr->join_watermark, the
 * right's).
 *
 * Per event of one side: its key probes the other side's rows kept (a hash
 * table by key), and each kept row whose time satisfies the bound
 * (right.t - left.t in [lo, hi]) makes one joined row, passed on: the left
 * stream's columns, then the right's, as the plan's expressions read them
 * once bound (continuous_plan_bind_interval_join()).  Then the event is
 * kept, if a later event of the other side can still match it.  Each pair
 * is made once, by whichever of its two events comes second.
 *
 * Watermarks, with wL and wR the streams' watermarks before the batch:
 *	 a left row at t is kept while t >= wR - hi (a right event not late,
 *	 at or after wR, can still match it); a right row while t >= wL + lo;
 *	 an event is late if its time is before its own stream's watermark
 *	 (its partners on the other side may have gone): counted, written to
 *	 the late_events table (by column name, of its own stream), not joined;
 *	 the view's windows (on the left stream's event time) are judged by
 *	 min(wL, wR - hi), which no joined row to come can precede.
 *
 * The rows kept are state like the aggregates: in the flush transaction
 * the batch's new rows go to continuous.interval_join_rows (their columns'
 * text forms) and the rows its watermarks passed are deleted, both in one
 * statement each; they are loaded back as the view is loaded.  A batch
 * thrown away (reset, committed = false) forgets the rows it added and the
 * expiry it decided.  Rows before the cutoff are skipped at once; memory
 * drops them in a walk over every row after the commit, taken once the
 * cutoff has moved by a sixteenth of the bound's width (at least a second)
 * since the last.  A kept row moves state a rollback does not undo, so
 * if a later stage fails on the event, the careful run starts over
 * without it (batch.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "base/privileges.h"
#include "exec/stage.h"
#include "exec/view_input.h"
#include "plan/plan_interval.h"

/* A row kept: its event time and its stream's columns. */
typedef struct KeptRow
{
	TimestampTz t;
	Datum	   *values;
	bool	   *isnull;
} KeptRow;

/* The rows of one side with one key; those past ncommitted are the batch's. */
typedef struct KeyRows
{
	int			nrows;
	int			ncommitted;
	int			capacity;
	bool		touched;		/* in the side's touched list */
	KeptRow   **rows;
} KeyRows;

typedef struct JoinSide
{
	int			side;			/* 0: left, 1: right */
	Oid			relid;
	TupleDesc	desc;			/* the stream's row type */
	TupleTableSlot *slot;
	TupleDesc	seen_desc;		/* an event descriptor compared already, */
	bool		seen_desc_matches;	/* and whether it equals desc */
	AttrNumber	time;			/* event-time column */
	ExprState **keys;			/* over the stream's row */
	TupleHashTable rows;		/* key -> KeyRows */
	MemoryContext cxt;			/* the rows kept */
	List	   *touched;		/* KeyRows the batch added to */
	List	   *added;			/* KeptRow the batch added */
	bool		cut;			/* rows before cutoff go (this batch) */
	TimestampTz cutoff;
	bool		committed_cut;	/* as the last committed flush left it */
	TimestampTz committed_cutoff;
	bool		walked;			/* memory dropped the rows before */
	TimestampTz walked_cutoff;
	FmgrInfo   *out_fns;
	FmgrInfo   *in_fns;
	Oid		   *ioparams;
} JoinSide;

typedef struct IntervalJoinStage
{
	PlanIntervalJoin *ij;
	JoinSide	sides[2];
	int			nkeys;
	TupleDesc	key_desc;
	TupleTableSlot *key_slot;
	TupleDesc	joined_desc;	/* the view's input from here on */
	int			natts;
	MemoryContext batch_cxt;	/* joined rows and lists of the batch */
	StreamEvent **out;			/* the run's joined rows */
	int			out_capacity;
	int64		walk_every;		/* cutoff moves between walks over the rows */
	bool		flushed;		/* the batch's flush wrote the expiry */
} IntervalJoinStage;

static bool interval_join_applies(ContinuousPlan *plan);
static void *interval_join_create(ViewRuntime *vr);
static void interval_join_destroy(ViewRuntime *vr, void *state);
static void interval_join_batch_begin(ViewRuntime *vr, void *state);
static void interval_join_process(ViewRuntime *vr, void *state,
								  StageBatch *batch);
static void interval_join_flush(ViewRuntime *vr, void *state);
static void interval_join_reset(ViewRuntime *vr, void *state, bool committed);

static void side_create(ViewRuntime *vr, IntervalJoinStage *st, int side,
						Oid relid, AttrNumber time, List *keys);
static bool side_key(ViewRuntime *vr, IntervalJoinStage *st, JoinSide *js,
					 TupleTableSlot *slot);
static void side_keep(IntervalJoinStage *st, JoinSide *js, TimestampTz t,
					  TupleTableSlot *slot);
static void side_load(ViewRuntime *vr, IntervalJoinStage *st);
static void side_expire(JoinSide *js);
static void kept_row_free(KeptRow *row);
static void emit(IntervalJoinStage *st, StreamEvent *event, int *nout,
				 Datum *lvalues, bool *lnull, Datum *rvalues, bool *rnull);

const StageRoutine interval_join_stage = {
	.name = "interval join",
	.applies = interval_join_applies,
	.create = interval_join_create,
	.destroy = interval_join_destroy,
	.batch_begin = interval_join_batch_begin,
	.process = interval_join_process,
	.flush = interval_join_flush,
	.reset = interval_join_reset,
};

static bool
interval_join_applies(ContinuousPlan *plan)
{
	return plan->interval_join != NULL;
}

/* ------------------------------------------------------------------------
 * The stage for a view
 * ------------------------------------------------------------------------
 */

static void *
interval_join_create(ViewRuntime *vr)
{
	IntervalJoinStage *st = palloc0(sizeof(IntervalJoinStage));
	PlanIntervalJoin *ij = vr->plan->interval_join;
	Relation	rel;
	ListCell   *lc;
	int			i;

	st->ij = ij;
	/* kept rows stay in memory at most a sixteenth of the bound longer */
	st->walk_every = Max((ij->hi - ij->lo) / 16, USECS_PER_SEC);
	st->batch_cxt = AllocSetContextCreate(vr->cxt, "pg_continuous interval join batch",
										  ALLOCSET_DEFAULT_SIZES);

	/* the keys, as the rows of both hash tables */
	st->nkeys = list_length(ij->left_keys);
	st->key_desc = CreateTemplateTupleDesc(st->nkeys);
	foreach(lc, ij->left_keys)
	{
		Expr	   *expr = lfirst(lc);

		i = foreach_current_index(lc);
		TupleDescInitEntry(st->key_desc, i + 1, NULL, exprType((Node *) expr),
						   -1, 0);
		TupleDescInitEntryCollation(st->key_desc, i + 1,
									exprCollation((Node *) expr));
	}
	st->key_slot = MakeSingleTupleTableSlot(st->key_desc, &TTSOpsVirtual);

	/* the left stream's row is batch.c's input row */
	side_create(vr, st, 0, vr->stream, ij->left_time, ij->left_keys);
	rel = RelationIdGetRelation(ij->right_stream);
	if (!RelationIsValid(rel))
		elog(ERROR, "could not open stream %u of continuous view \"%s\"",
			 ij->right_stream, vr->name);
	st->sides[1].desc = CreateTupleDescCopy(RelationGetDescr(rel));
	RelationClose(rel);
	side_create(vr, st, 1, ij->right_stream, ij->right_time, ij->right_keys);

	/* every expression of the view reads the joined row from here on */
	continuous_plan_bind_interval_join(vr->plan, st->sides[0].desc->natts);
	st->natts = st->sides[0].desc->natts + st->sides[1].desc->natts;
	st->joined_desc = CreateTemplateTupleDesc(st->natts);
	for (i = 0; i < st->sides[0].desc->natts; i++)
		TupleDescCopyEntry(st->joined_desc, i + 1, st->sides[0].desc, i + 1);
	for (i = 0; i < st->sides[1].desc->natts; i++)
		TupleDescCopyEntry(st->joined_desc, st->sides[0].desc->natts + i + 1,
						   st->sides[1].desc, i + 1);
	vr->input_desc = st->joined_desc;
	vr->input_slot = MakeSingleTupleTableSlot(st->joined_desc, &TTSOpsVirtual);
	vr->econtext->ecxt_scantuple = vr->input_slot;

	side_load(vr, st);
	return st;
}

static void
side_create(ViewRuntime *vr, IntervalJoinStage *st, int side, Oid relid,
			AttrNumber time, List *keys)
{
	JoinSide   *js = &st->sides[side];
	AttrNumber *keycols = palloc(sizeof(AttrNumber) * st->nkeys);
	Oid		   *eqfuncs = palloc(sizeof(Oid) * st->nkeys);
	Oid		   *collations = palloc(sizeof(Oid) * st->nkeys);
	FmgrInfo   *hashfuncs = palloc(sizeof(FmgrInfo) * st->nkeys);
	ListCell   *lc;
	int			i;

	js->side = side;
	js->relid = relid;
	if (side == 0)
	{
		js->desc = vr->input_desc;
		js->slot = vr->input_slot;
	}
	else
		js->slot = MakeSingleTupleTableSlot(js->desc, &TTSOpsHeapTuple);
	js->time = time;
	js->cxt = AllocSetContextCreate(vr->cxt, "pg_continuous interval join rows",
									ALLOCSET_DEFAULT_SIZES);
	js->keys = palloc(sizeof(ExprState *) * st->nkeys);
	foreach(lc, keys)
	{
		Expr	   *expr = lfirst(lc);
		TypeCacheEntry *tc;
		Oid			hashfn;

		i = foreach_current_index(lc);
		js->keys[i] = ExecInitExpr(expression_planner(expr), NULL);
		tc = lookup_type_cache(exprType((Node *) expr), TYPECACHE_EQ_OPR);
		if (!OidIsValid(tc->eq_opr) ||
			!get_op_hash_functions(tc->eq_opr, &hashfn, NULL))
			elog(ERROR, "could not identify a hash function for type %s",
				 format_type_be(tc->type_id));
		keycols[i] = i + 1;
		eqfuncs[i] = get_opcode(tc->eq_opr);
		collations[i] = exprCollation((Node *) expr);
		fmgr_info(hashfn, &hashfuncs[i]);
	}
	js->rows = BuildTupleHashTableExt(NULL, st->key_desc, st->nkeys, keycols,
									  eqfuncs, hashfuncs, collations, 256, 0,
									  vr->cxt, js->cxt,
									  vr->econtext->ecxt_per_tuple_memory,
									  false);

	/* text forms of the columns, for the table */
	js->out_fns = palloc0(sizeof(FmgrInfo) * js->desc->natts);
	js->in_fns = palloc0(sizeof(FmgrInfo) * js->desc->natts);
	js->ioparams = palloc0(sizeof(Oid) * js->desc->natts);
	for (i = 0; i < js->desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(js->desc, i);
		Oid			fn;
		bool		varlena;

		if (att->attisdropped)
			continue;
		getTypeOutputInfo(att->atttypid, &fn, &varlena);
		fmgr_info(fn, &js->out_fns[i]);
		getTypeInputInfo(att->atttypid, &fn, &js->ioparams[i]);
		fmgr_info(fn, &js->in_fns[i]);
	}
}

static void
interval_join_destroy(ViewRuntime *vr, void *state)
{
	IntervalJoinStage *st = state;

	/* vr->input_slot, the joined row's, is batch.c's to drop */
	ExecDropSingleTupleTableSlot(st->sides[0].slot);
	ExecDropSingleTupleTableSlot(st->sides[1].slot);
	ExecDropSingleTupleTableSlot(st->key_slot);
}

/*
 * The rows the view's committed state keeps, read through a cursor a
 * chunk at a time, as the extension (the table is its own), and made
 * values again as the view's owner.
 */
static void
side_load(ViewRuntime *vr, IntervalJoinStage *st)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(vr->view)};
	ExtensionPrivileges saved;
	SavedPrivileges owner;
	MemoryContext rowcxt;
	Portal		portal;

	privileges_become_extension(&saved);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "pg_continuous kept row",
								   ALLOCSET_SMALL_SIZES);
	portal = SPI_cursor_open_with_args(NULL,
									   "SELECT side, event_time, row FROM continuous.interval_join_rows "
									   "WHERE view OPERATOR(pg_catalog.=) $1",
									   1, argtypes, args, NULL, false, 0);
	for (;;)
	{
		uint64		r;

		SPI_cursor_fetch(portal, true, 10000);
		if (SPI_processed == 0)
			break;

		/*
		 * The columns' input functions (a domain's CHECK) and the join
		 * key's expressions are the owner's code: run as the view's owner,
		 * as the batches run them.
		 */
		privileges_become(vr->owner, vr->search_path, &owner);
		for (r = 0; r < SPI_processed; r++)
		{
			HeapTuple	tuple = SPI_tuptable->vals[r];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			MemoryContext oldcxt = MemoryContextSwitchTo(rowcxt);
			bool		isnull;
			int			side = DatumGetInt16(SPI_getbinval(tuple, desc, 1, &isnull));
			TimestampTz t = DatumGetTimestampTz(SPI_getbinval(tuple, desc, 2, &isnull));
			JoinSide   *js = &st->sides[side != 0 ? 1 : 0];
			TupleTableSlot *slot = js->slot;
			Datum	   *texts;
			bool	   *nulls;
			int			ntexts;
			int			i;

			deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(tuple, desc, 3, &isnull)),
							  TEXTOID, -1, false, TYPALIGN_INT, &texts, &nulls,
							  &ntexts);
			ExecClearTuple(slot);
			for (i = 0; i < js->desc->natts; i++)
			{
				slot->tts_isnull[i] = i >= ntexts || nulls[i] ||
					TupleDescAttr(js->desc, i)->attisdropped;
				slot->tts_values[i] = slot->tts_isnull[i] ? (Datum) 0 :
					InputFunctionCall(&js->in_fns[i], TextDatumGetCString(texts[i]),
									  js->ioparams[i],
									  TupleDescAttr(js->desc, i)->atttypmod);
			}
			/* a heap slot: the values as a tuple */
			{
				HeapTuple	row = heap_form_tuple(js->desc, slot->tts_values,
												  slot->tts_isnull);

				ExecStoreHeapTuple(row, slot, true);
			}
			slot_getallattrs(slot);
			if (side_key(vr, st, js, slot))
				side_keep(st, js, t, slot);
			ExecClearTuple(slot);
			MemoryContextSwitchTo(oldcxt);
			MemoryContextReset(rowcxt);
		}
		privileges_restore(&owner);
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	SPI_finish();				/* and rowcxt with it */
	privileges_leave_extension(&saved);

	/* what was loaded is committed */
	st->flushed = true;
	interval_join_reset(vr, st, true);
}

/* ------------------------------------------------------------------------
 * A batch
 * ------------------------------------------------------------------------
 */

/*
 * The rows the watermarks before the batch have passed go (in memory at
 * the commit, in the table at the flush); the view's windows are judged
 * by the earliest time a joined row to come can have.
 */
static void
interval_join_batch_begin(ViewRuntime *vr, void *state)
{
	IntervalJoinStage *st = state;
	PlanIntervalJoin *ij = st->ij;
	JoinSide   *left = &st->sides[0];
	JoinSide   *right = &st->sides[1];
	TimestampTz cut;

	/* left rows: no right event at or after wR can match before wR - hi */
	if (vr->had_join_watermark &&
		!pg_sub_s64_overflow(vr->join_watermark, ij->hi, &cut) &&
		(!left->cut || cut > left->cutoff))
	{
		left->cut = true;
		left->cutoff = cut;
	}
	/* right rows: no left event at or after wL can match before wL + lo */
	if (vr->had_stream_watermark &&
		!pg_add_s64_overflow(vr->stream_watermark, ij->lo, &cut) &&
		(!right->cut || cut > right->cutoff))
	{
		right->cut = true;
		right->cutoff = cut;
	}

	vr->judge_lateness = vr->plan->window != NULL &&
		vr->had_stream_watermark && vr->had_join_watermark &&
		!pg_sub_s64_overflow(vr->join_watermark, ij->hi, &cut);
	if (vr->judge_lateness)
		vr->watermark_before = Min(vr->stream_watermark, cut);
}

static void
interval_join_process(ViewRuntime *vr, void *state, StageBatch *batch)
{
	IntervalJoinStage *st = state;
	PlanIntervalJoin *ij = st->ij;
	ExprContext *econtext = vr->econtext;
	MemoryContext oldcxt = CurrentMemoryContext;
	int			nout = 0;
	int			e;

	for (e = 0; e < batch->nevents; e++)
	{
		StreamEvent *event = batch->events[e];
		JoinSide   *js;
		JoinSide   *other;
		TupleTableSlot *slot;
		TupleHashEntry entry;
		TimestampTz t;
		bool		isnull;
		bool		late;

		if (event->relid == vr->stream)
			js = &st->sides[0];
		else if (event->relid == vr->join_stream)
			js = &st->sides[1];
		else
			elog(ERROR, "an event of relation %u is of neither stream of continuous view \"%s\"",
				 event->relid, vr->name);
		other = &st->sides[1 - js->side];

		ResetExprContext(econtext);
		MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
		if (event->desc != js->seen_desc)
		{
			js->seen_desc = event->desc;
			js->seen_desc_matches = equalTupleDescs(event->desc, js->desc);
		}
		slot = view_input_store(event, js->seen_desc_matches, js->desc,
								js->slot);
		slot_getallattrs(slot);

		/* no time: no bound holds */
		t = DatumGetTimestampTz(slot_getattr(slot, js->time, &isnull));
		if (isnull)
		{
			ExecClearTuple(slot);
			continue;
		}

		/* before its own stream's watermark: partners may have gone */
		late = js->side == 0 ?
			vr->had_stream_watermark && t < vr->stream_watermark :
			vr->had_join_watermark && t < vr->join_watermark;
		if (late)
		{
			vr->late_events++;
			/* into the late_events table by column name, either side's */
			if (OidIsValid(vr->late_table))
			{
				MemoryContextSwitchTo(vr->state_cxt);
				vr->late_rows = lappend(vr->late_rows, event);
			}
			ExecClearTuple(slot);
			continue;
		}

		/* the key; NULL matches nothing */
		if (!side_key(vr, st, js, slot))
		{
			ExecClearTuple(slot);
			continue;
		}

		/* the other side's rows of the key, within the bound */
		entry = LookupTupleHashEntry(other->rows, st->key_slot, NULL, NULL);
		if (entry != NULL)
		{
			KeyRows    *kr = entry->additional;
			int			i;

			for (i = 0; i < kr->nrows; i++)
			{
				KeptRow    *row = kr->rows[i];
				int64		d;

				if (other->cut && row->t < other->cutoff)
					continue;
				/* right.t - left.t */
				if (pg_sub_s64_overflow(js->side == 0 ? row->t : t,
										js->side == 0 ? t : row->t, &d) ||
					d < ij->lo || (d == ij->lo && ij->lo_strict) ||
					d > ij->hi || (d == ij->hi && ij->hi_strict))
					continue;
				if (js->side == 0)
					emit(st, event, &nout, slot->tts_values, slot->tts_isnull,
						 row->values, row->isnull);
				else
					emit(st, event, &nout, row->values, row->isnull,
						 slot->tts_values, slot->tts_isnull);
			}
		}

		/* kept while the other side can still match it */
		if (!js->cut || t >= js->cutoff)
		{
			side_keep(st, js, t, slot);
			batch->state_moved = true;
		}
		ExecClearTuple(slot);
		CHECK_FOR_INTERRUPTS();
	}
	MemoryContextSwitchTo(oldcxt);
	batch->events = st->out;
	batch->nevents = nout;
}

/* A joined row, as an event of the joined row type, in the batch's memory. */
static void
emit(IntervalJoinStage *st, StreamEvent *event, int *nout,
	 Datum *lvalues, bool *lnull, Datum *rvalues, bool *rnull)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(st->batch_cxt);
	int			lnatts = st->sides[0].desc->natts;
	StreamEvent *joined = palloc(sizeof(StreamEvent));
	int			i;

	*joined = *event;
	joined->tuple = NULL;
	joined->desc = st->joined_desc;
	joined->values = palloc(sizeof(Datum) * st->natts);
	joined->isnull = palloc(sizeof(bool) * st->natts);
	/* the values outlive the event's slot: copied */
	for (i = 0; i < st->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(st->joined_desc, i);
		bool		isnull = i < lnatts ? lnull[i] : rnull[i - lnatts];
		Datum		value = i < lnatts ? lvalues[i] : rvalues[i - lnatts];

		joined->isnull[i] = isnull;
		joined->values[i] = isnull ? (Datum) 0 :
			datumCopy(value, att->attbyval, att->attlen);
	}
	if (*nout == st->out_capacity)
	{
		int			capacity = Max(st->out_capacity * 2, 64);

		st->out = st->out == NULL ?
			palloc(sizeof(StreamEvent *) * capacity) :
			repalloc(st->out, sizeof(StreamEvent *) * capacity);
		st->out_capacity = capacity;
	}
	st->out[(*nout)++] = joined;
	MemoryContextSwitchTo(oldcxt);
}

/*
 * The key of the side's row in slot, into st->key_slot, evaluated in the
 * per-tuple memory; false if a column of it is NULL.
 */
static bool
side_key(ViewRuntime *vr, IntervalJoinStage *st, JoinSide *js,
		 TupleTableSlot *slot)
{
	ExprContext *econtext = vr->econtext;
	MemoryContext oldcxt = MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
	int			k;

	econtext->ecxt_scantuple = slot;
	ExecClearTuple(st->key_slot);
	for (k = 0; k < st->nkeys; k++)
	{
		st->key_slot->tts_values[k] =
			ExecEvalExpr(js->keys[k], econtext, &st->key_slot->tts_isnull[k]);
		if (st->key_slot->tts_isnull[k])
			break;
	}
	econtext->ecxt_scantuple = vr->input_slot;
	MemoryContextSwitchTo(oldcxt);
	if (k < st->nkeys)
		return false;
	ExecStoreVirtualTuple(st->key_slot);
	return true;
}

/* Keep the slot's row under the key in st->key_slot. */
static void
side_keep(IntervalJoinStage *st, JoinSide *js, TimestampTz t,
		  TupleTableSlot *slot)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(js->cxt);
	TupleHashEntry entry;
	KeyRows    *kr;
	KeptRow    *row;
	bool		isnew;
	int			i;

	entry = LookupTupleHashEntry(js->rows, st->key_slot, &isnew, NULL);
	if (isnew)
		entry->additional = palloc0(sizeof(KeyRows));
	kr = entry->additional;

	row = palloc(sizeof(KeptRow));
	row->t = t;
	row->values = palloc(sizeof(Datum) * js->desc->natts);
	row->isnull = palloc(sizeof(bool) * js->desc->natts);
	for (i = 0; i < js->desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(js->desc, i);

		row->isnull[i] = slot->tts_isnull[i];
		row->values[i] = row->isnull[i] ? (Datum) 0 :
			datumCopy(slot->tts_values[i], att->attbyval, att->attlen);
	}
	if (kr->nrows == kr->capacity)
	{
		kr->capacity = Max(kr->capacity * 2, 4);
		kr->rows = kr->rows == NULL ?
			palloc(sizeof(KeptRow *) * kr->capacity) :
			repalloc(kr->rows, sizeof(KeptRow *) * kr->capacity);
	}
	kr->rows[kr->nrows++] = row;

	MemoryContextSwitchTo(st->batch_cxt);
	if (!kr->touched)
	{
		kr->touched = true;
		js->touched = lappend(js->touched, kr);
	}
	js->added = lappend(js->added, row);
	MemoryContextSwitchTo(oldcxt);
}

/* ------------------------------------------------------------------------
 * Flush and reset
 * ------------------------------------------------------------------------
 */

/*
 * In the flush transaction: the rows the watermarks passed go, the rows
 * the batch kept are written.
 */
static void
interval_join_flush(ViewRuntime *vr, void *state)
{
	IntervalJoinStage *st = state;
	int			s;

	st->flushed = true;
	for (s = 0; s < 2; s++)
	{
		JoinSide   *js = &st->sides[s];
		Oid			types[4] = {OIDOID, INT2OID, TIMESTAMPTZOID, TEXTARRAYOID};
		Datum		args[4];
		int			n = list_length(js->added);
		ListCell   *lc;

		args[0] = ObjectIdGetDatum(vr->view);
		args[1] = Int16GetDatum(s);
		if (js->cut && (!js->committed_cut || js->cutoff > js->committed_cutoff))
		{
			args[2] = TimestampTzGetDatum(js->cutoff);
			if (SPI_execute_with_args("DELETE FROM continuous.interval_join_rows "
									  "WHERE view OPERATOR(pg_catalog.=) $1::pg_catalog.regclass "
									  "AND side OPERATOR(pg_catalog.=) $2 "
									  "AND event_time OPERATOR(pg_catalog.<) $3",
									  3, types, args, NULL, false, 0) != SPI_OK_DELETE)
				elog(ERROR, "pg_continuous: could not expire the join rows of continuous view \"%s\"",
					 vr->name);
		}
		if (n == 0)
			continue;
		{
			Datum	   *times = palloc(sizeof(Datum) * n);
			Datum	   *rows = palloc(sizeof(Datum) * n);
			Datum	   *cols = palloc(sizeof(Datum) * Max(js->desc->natts, 1));
			bool	   *colnulls = palloc(sizeof(bool) * Max(js->desc->natts, 1));
			FmgrInfo	array_out;

			fmgr_info(F_ARRAY_OUT, &array_out);
			foreach(lc, js->added)
			{
				KeptRow    *row = lfirst(lc);
				int			r = foreach_current_index(lc);
				int			dims[1] = {js->desc->natts};
				int			lbs[1] = {1};
				int			i;

				times[r] = TimestampTzGetDatum(row->t);
				for (i = 0; i < js->desc->natts; i++)
				{
					colnulls[i] = row->isnull[i] ||
						TupleDescAttr(js->desc, i)->attisdropped;
					cols[i] = colnulls[i] ? (Datum) 0 :
						CStringGetTextDatum(OutputFunctionCall(&js->out_fns[i],
															   row->values[i]));
				}
				rows[r] = CStringGetTextDatum(OutputFunctionCall(&array_out,
																 PointerGetDatum(construct_md_array(cols, colnulls, 1, dims, lbs,
																									TEXTOID, -1, false,
																									TYPALIGN_INT))));
			}
			types[2] = TIMESTAMPTZARRAYOID;
			args[2] = PointerGetDatum(construct_array(times, n, TIMESTAMPTZOID,
													  sizeof(TimestampTz),
													  FLOAT8PASSBYVAL,
													  TYPALIGN_DOUBLE));
			args[3] = PointerGetDatum(construct_array(rows, n, TEXTOID, -1,
													  false, TYPALIGN_INT));
			if (SPI_execute_with_args("INSERT INTO continuous.interval_join_rows (view, side, event_time, row) "
									  "SELECT $1, $2, u.t, u.r::pg_catalog.text[] "
									  "FROM ROWS FROM (pg_catalog.unnest($3), pg_catalog.unnest($4)) AS u (t, r)",
									  4, types, args, NULL, false, 0) != SPI_OK_INSERT)
				elog(ERROR, "pg_continuous: could not write the join rows of continuous view \"%s\"",
					 vr->name);
		}
	}
}

/*
 * After the flush, the rows the batch kept stay and the rows it expired
 * go; a batch thrown away forgets the rows it kept and its expiry.
 */
static void
interval_join_reset(ViewRuntime *vr, void *state, bool committed)
{
	IntervalJoinStage *st = state;
	int			s;

	for (s = 0; s < 2; s++)
	{
		JoinSide   *js = &st->sides[s];
		ListCell   *lc;

		foreach(lc, js->touched)
		{
			KeyRows    *kr = lfirst(lc);

			kr->touched = false;
			if (committed)
				kr->ncommitted = kr->nrows;
			else
			{
				while (kr->nrows > kr->ncommitted)
					kept_row_free(kr->rows[--kr->nrows]);
			}
		}
		js->touched = NIL;
		js->added = NIL;
		/* an expiry the table has not seen (no flush) waits for one */
		if (!committed || !st->flushed)
		{
			js->cut = js->committed_cut;
			js->cutoff = js->committed_cutoff;
		}
		else if (js->cut && (!js->committed_cut ||
							 js->cutoff > js->committed_cutoff))
		{
			js->committed_cut = true;
			js->committed_cutoff = js->cutoff;
			/* a walk over every row, once the cutoff has moved enough */
			if (!js->walked ||
				js->cutoff - js->walked_cutoff >= st->walk_every)
			{
				side_expire(js);
				js->walked = true;
				js->walked_cutoff = js->cutoff;
			}
		}
	}
	MemoryContextReset(st->batch_cxt);
	st->flushed = false;
	st->out = NULL;
	st->out_capacity = 0;
	st->sides[0].seen_desc = NULL;
	st->sides[1].seen_desc = NULL;
}

static void
kept_row_free(KeptRow *row)
{
	pfree(row->values);
	pfree(row->isnull);
	pfree(row);
}

/* The rows before the cutoff go, and keys left without rows. */
static void
side_expire(JoinSide *js)
{
	TupleHashIterator iter;
	TupleHashEntry entry;

	InitTupleHashIterator(js->rows, &iter);
	while ((entry = ScanTupleHashTable(js->rows, &iter)) != NULL)
	{
		KeyRows    *kr = entry->additional;
		int			kept = 0;
		int			i;

		for (i = 0; i < kr->nrows; i++)
		{
			KeptRow    *row = kr->rows[i];

			if (row->t < js->cutoff)
				kept_row_free(row);
			else
				kr->rows[kept++] = row;
		}
		kr->nrows = kr->ncommitted = kept;
		if (kept == 0)
		{
			if (kr->rows != NULL)
				pfree(kr->rows);
			pfree(kr);
			pfree(entry->firstTuple);
			tuplehash_delete_item(js->rows->hashtab, entry);
		}
	}
	TermTupleHashIterator(&iter);
}
