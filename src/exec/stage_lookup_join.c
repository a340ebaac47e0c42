/*-------------------------------------------------------------------------
 *
 * stage_lookup_join.c
 *	  The lookup join stage: each event joined with the rows of the tables
 *	  a continuous view joins to its stream.
 *
 * Pipeline position: batch, the first stage of a view whose FROM joins
 * tables to its stream (plan_join.c), before the filter, since WHERE may
 * read the tables' columns.  Per event it passes on one joined row per
 * matching table row (none for an INNER join without a match, one with
 * the table's columns NULL for a LEFT join), in the events' order.
 *
 * Semantics: an event is joined with the table rows visible to the
 * transaction that applies it, under its snapshot (the worker's flush
 * transaction, or the backfill's); a later change to a table does not
 * revise the events counted already.  Lookups never scan a table per
 * event: per run of events and per table, the distinct keys not yet
 * looked up are fetched in one query, "... WHERE t.key = ANY ($1)" (see
 * join_step_sql()), which PostgreSQL runs through the table's index; the
 * rows found are kept in a hash table keyed by the join key for as long as
 * the snapshot they were read with is the one that applies the events (the
 * rest of a worker's batch; all the chunks of a backfill) and they fit in
 * maintenance_work_mem.  The rest of the ON clause is checked per candidate row.  The
 * query runs as the view's owner, like every expression of the view, with
 * qualified names only; an error (say, the owner lost SELECT on the table)
 * fails the run, and batch.c makes its events dead letters.
 *
 * The joined row: the stream's columns keep their numbers, the columns of
 * each table the query reads follow (continuous_plan_bind_joins()), so
 * that the later stages and the window kinds read it as the stream's row.
 * The stage makes the view's input row type (vr->input_desc) that joined
 * row type as the view is loaded, and reads the stream's row itself.  A
 * joined row is a StreamEvent of its own, a copy of its event's position
 * with values of the joined row type, in memory that lives until reset()
 * (late rows keep pointers to it until the flush).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_operator.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/ruleutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

#include "exec/stage.h"
#include "exec/view_input.h"
#include "plan/plan_join.h"

/* The rows of a table that match one key, found once per batch. */
typedef struct JoinMatches
{
	MinimalTuple key;			/* the key, in the hash table's memory */
	bool		fetched;		/* looked up already in this batch */
	uint64		queued_run;		/* the run whose pending list has it */
	int			nrows;
	Datum	  **values;			/* per row: the columns the view reads */
	bool	  **isnull;
} JoinMatches;

/* One joined table at run time. */
typedef struct JoinStep
{
	PlanJoin   *join;
	int			nkeys;
	ExprState **key_exprs;		/* over the joined row */
	Oid		   *key_types;
	ExprState  *quals;			/* the rest of ON; NULL: none */
	int			ncolumns;
	TupleDesc	key_desc;		/* the keys, as the hash table's rows */
	TupleTableSlot *key_slot;
	TupleHashTable matches;		/* key -> JoinMatches, for the batch */
	bool		by_any;			/* look up with "column = ANY (keys)" */
	List	   *pending;		/* JoinMatches to fetch in this run */
} JoinStep;

/* One row on its way through the joins. */
typedef struct JoinedRow
{
	StreamEvent *event;
	Datum	   *values;
	bool	   *isnull;
} JoinedRow;

typedef struct LookupJoinStage
{
	int			nsteps;
	JoinStep   *steps;
	TupleDesc	stream_desc;	/* the stream's row, for the events */
	TupleTableSlot *stream_slot;
	TupleDesc	seen_desc;		/* an event descriptor compared already, */
	bool		seen_desc_matches;	/* and whether it is stream_desc */
	TupleDesc	joined_desc;	/* the view's input from here on */
	TupleTableSlot *joined_slot;
	int			natts;			/* of joined_desc */
	MemoryContext rows_cxt;		/* the batch's joined rows */
	MemoryContext matches_cxt;	/* the table rows found (JoinMatches) */
	LocalTransactionId matches_lxid;	/* they hold for this transaction */
	TransactionId matches_xmin; /* and snapshot */
	TransactionId matches_xmax;
	MemoryContext run_cxt;		/* what one process() call needs */
	uint64		run;			/* process() calls so far */
} LookupJoinStage;

static bool lookup_join_applies(ContinuousPlan *plan);
static void *lookup_join_create(ViewRuntime *vr);
static void lookup_join_destroy(ViewRuntime *vr, void *state);
static void lookup_join_process(ViewRuntime *vr, void *state,
								StageBatch *batch);
static void lookup_join_reset(ViewRuntime *vr, void *state, bool committed);
static void lookup_join_matches_check(LookupJoinStage *lj);

static void join_step_create(ViewRuntime *vr, LookupJoinStage *lj,
							 JoinStep *step, PlanJoin *join);
static JoinedRow *join_rows_begin(ViewRuntime *vr, LookupJoinStage *lj,
								  StageBatch *batch);
static JoinMatches *join_step_key(ViewRuntime *vr, LookupJoinStage *lj,
								  JoinStep *step, JoinedRow *row);
static void join_step_fetch(ViewRuntime *vr, LookupJoinStage *lj,
							JoinStep *step);
static char *join_step_sql(JoinStep *step);
static int	join_step_apply(ViewRuntime *vr, LookupJoinStage *lj,
							JoinStep *step, JoinedRow *rows, int nrows,
							JoinMatches **found, JoinedRow **out);
static void joined_slot_store(LookupJoinStage *lj, JoinedRow *row);
static char *operator_qualified_name(Oid opno);

const StageRoutine lookup_join_stage = {
	.name = "lookup join",
	.applies = lookup_join_applies,
	.create = lookup_join_create,
	.destroy = lookup_join_destroy,
	.process = lookup_join_process,
	.reset = lookup_join_reset,
};

static bool
lookup_join_applies(ContinuousPlan *plan)
{
	return plan->joins != NIL;
}

/* ------------------------------------------------------------------------
 * The stage for a view
 * ------------------------------------------------------------------------
 */

static void *
lookup_join_create(ViewRuntime *vr)
{
	LookupJoinStage *lj = palloc0(sizeof(LookupJoinStage));
	AttrNumber	attno;
	ListCell   *lc;
	int			i;

	lj->stream_desc = vr->input_desc;
	lj->stream_slot = vr->input_slot;
	lj->rows_cxt = AllocSetContextCreate(vr->cxt, "pg_continuous lookup join rows",
										 ALLOCSET_DEFAULT_SIZES);
	lj->matches_cxt = AllocSetContextCreate(vr->cxt, "pg_continuous lookup join matches",
											ALLOCSET_DEFAULT_SIZES);
	lj->run_cxt = AllocSetContextCreate(vr->cxt, "pg_continuous lookup join run",
										ALLOCSET_DEFAULT_SIZES);

	/* every expression of the view reads the joined row from here on */
	continuous_plan_bind_joins(vr->plan, lj->stream_desc->natts);

	lj->natts = lj->stream_desc->natts;
	foreach(lc, vr->plan->joins)
		lj->natts += list_length(((PlanJoin *) lfirst(lc))->columns);
	lj->joined_desc = CreateTemplateTupleDesc(lj->natts);
	for (i = 0; i < lj->stream_desc->natts; i++)
		TupleDescCopyEntry(lj->joined_desc, i + 1, lj->stream_desc, i + 1);
	attno = lj->stream_desc->natts;
	foreach(lc, vr->plan->joins)
	{
		PlanJoin   *join = lfirst(lc);
		ListCell   *cc;

		foreach(cc, join->columns)
		{
			Oid			type;
			int32		typmod;
			Oid			collation;

			get_atttypetypmodcoll(join->relid, lfirst_int(cc), &type, &typmod,
								  &collation);
			attno++;
			TupleDescInitEntry(lj->joined_desc, attno,
							   get_attname(join->relid, lfirst_int(cc), false),
							   type, typmod, 0);
			TupleDescInitEntryCollation(lj->joined_desc, attno, collation);
		}
	}
	lj->joined_slot = MakeSingleTupleTableSlot(lj->joined_desc,
											   &TTSOpsVirtual);

	/* the later stages' row */
	vr->input_desc = lj->joined_desc;
	vr->input_slot = MakeSingleTupleTableSlot(lj->joined_desc, &TTSOpsVirtual);
	vr->econtext->ecxt_scantuple = vr->input_slot;

	lj->nsteps = list_length(vr->plan->joins);
	lj->steps = palloc0(sizeof(JoinStep) * lj->nsteps);
	foreach(lc, vr->plan->joins)
		join_step_create(vr, lj, &lj->steps[foreach_current_index(lc)],
						 lfirst(lc));
	return lj;
}

static void
join_step_create(ViewRuntime *vr, LookupJoinStage *lj, JoinStep *step,
				 PlanJoin *join)
{
	AttrNumber *keycols;
	Oid		   *eqfuncs;
	Oid		   *collations;
	FmgrInfo   *hashfuncs;
	ListCell   *lc;
	int			i;

	step->join = join;
	step->nkeys = list_length(join->key_exprs);
	step->by_any = true;
	step->ncolumns = list_length(join->columns);
	step->key_exprs = palloc(sizeof(ExprState *) * step->nkeys);
	step->key_types = palloc(sizeof(Oid) * step->nkeys);
	step->key_desc = CreateTemplateTupleDesc(step->nkeys);
	keycols = palloc(sizeof(AttrNumber) * step->nkeys);
	eqfuncs = palloc(sizeof(Oid) * step->nkeys);
	collations = palloc(sizeof(Oid) * step->nkeys);
	hashfuncs = palloc(sizeof(FmgrInfo) * step->nkeys);
	foreach(lc, join->key_exprs)
	{
		Expr	   *expr = lfirst(lc);
		TypeCacheEntry *tc;
		Oid			hashfn;

		i = foreach_current_index(lc);
		step->key_exprs[i] = ExecInitExpr(expression_planner(expr), NULL);
		step->key_types[i] = exprType((Node *) expr);
		TupleDescInitEntry(step->key_desc, i + 1, NULL, step->key_types[i],
						   exprTypmod((Node *) expr), 0);
		TupleDescInitEntryCollation(step->key_desc, i + 1,
									exprCollation((Node *) expr));

		/* the key's own type's equality: equal keys find the same rows */
		tc = lookup_type_cache(step->key_types[i], TYPECACHE_EQ_OPR);
		if (!OidIsValid(tc->eq_opr) ||
			!get_op_hash_functions(tc->eq_opr, &hashfn, NULL))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("could not identify a hash function for join key type %s",
							format_type_be(step->key_types[i])),
					 errdetail("Continuous views look joined rows up by hashing their keys.")));
		keycols[i] = i + 1;
		eqfuncs[i] = get_opcode(tc->eq_opr);
		/* the column is of the key's type, compared by its equality */
		if (tc->eq_opr != list_nth_oid(join->key_ops, i) ||
			get_atttype(join->relid, list_nth_int(join->key_attnos, i)) !=
			step->key_types[i])
			step->by_any = false;
		collations[i] = exprCollation((Node *) expr);
		fmgr_info(hashfn, &hashfuncs[i]);
	}
	if (join->quals != NULL)
		step->quals = ExecInitQual(make_ands_implicit(expression_planner(join->quals)),
								   NULL);
	step->key_slot = MakeSingleTupleTableSlot(step->key_desc, &TTSOpsVirtual);
	step->matches = BuildTupleHashTableExt(NULL, step->key_desc, step->nkeys,
										   keycols, eqfuncs, hashfuncs,
										   collations, 256, 0,
										   vr->cxt, lj->matches_cxt,
										   vr->econtext->ecxt_per_tuple_memory,
										   false);
}

static void
lookup_join_destroy(ViewRuntime *vr, void *state)
{
	LookupJoinStage *lj = state;
	int			i;

	/* vr->input_slot, the joined row's, is batch.c's to drop */
	ExecDropSingleTupleTableSlot(lj->stream_slot);
	ExecDropSingleTupleTableSlot(lj->joined_slot);
	for (i = 0; i < lj->nsteps; i++)
		ExecDropSingleTupleTableSlot(lj->steps[i].key_slot);
}

/*
 * The batch is over: its joined rows go.  The table rows it found stay for
 * the next batch if it runs under the same snapshot (a backfill's chunks);
 * lookup_join_matches_check() decides.
 */
static void
lookup_join_reset(ViewRuntime *vr, void *state, bool committed)
{
	LookupJoinStage *lj = state;
	int			i;

	for (i = 0; i < lj->nsteps; i++)
		lj->steps[i].pending = NIL;
	MemoryContextReset(lj->rows_cxt);
	MemoryContextReset(lj->run_cxt);
	lj->seen_desc = NULL;
}

/*
 * The table rows found so far hold for the transaction and snapshot that
 * found them (its command counter aside: between batches, the transaction
 * applying them writes only the views' state, never a joined table), and
 * as long as they take less than maintenance_work_mem (a backfill may look
 * up a whole table); otherwise they go, to be looked up again.
 */
static void
lookup_join_matches_check(LookupJoinStage *lj)
{
	Snapshot	snapshot = ActiveSnapshotSet() ? GetActiveSnapshot() : NULL;
	int			i;

	if (snapshot != NULL && lj->matches_lxid == MyProc->lxid &&
		lj->matches_xmin == snapshot->xmin &&
		lj->matches_xmax == snapshot->xmax &&
		MemoryContextMemAllocated(lj->matches_cxt, true) <=
		maintenance_work_mem * (Size) 1024)
		return;
	for (i = 0; i < lj->nsteps; i++)
		ResetTupleHashTable(lj->steps[i].matches);
	MemoryContextReset(lj->matches_cxt);
	lj->matches_lxid = snapshot != NULL ? MyProc->lxid : InvalidLocalTransactionId;
	lj->matches_xmin = snapshot != NULL ? snapshot->xmin : InvalidTransactionId;
	lj->matches_xmax = snapshot != NULL ? snapshot->xmax : InvalidTransactionId;
}

/* ------------------------------------------------------------------------
 * A run of events
 * ------------------------------------------------------------------------
 */

static void
lookup_join_process(ViewRuntime *vr, void *state, StageBatch *batch)
{
	LookupJoinStage *lj = state;
	MemoryContext oldcxt = CurrentMemoryContext;
	JoinedRow  *rows;
	int			nrows = batch->nevents;
	int			s;
	int			i;

	MemoryContextReset(lj->run_cxt);
	lookup_join_matches_check(lj);
	lj->run++;
	for (s = 0; s < lj->nsteps; s++)
		lj->steps[s].pending = NIL;
	/* scratch of the run in its own memory */
	MemoryContextSwitchTo(lj->run_cxt);
	rows = join_rows_begin(vr, lj, batch);

	for (s = 0; s < lj->nsteps && nrows > 0; s++)
	{
		JoinStep   *step = &lj->steps[s];
		JoinMatches **found;
		JoinedRow  *out;

		/* the distinct keys of the run that the batch has not looked up */
		found = MemoryContextAlloc(lj->run_cxt, sizeof(JoinMatches *) * nrows);
		for (i = 0; i < nrows; i++)
		{
			found[i] = join_step_key(vr, lj, step, &rows[i]);
			CHECK_FOR_INTERRUPTS();
		}
		if (step->pending != NIL)
			join_step_fetch(vr, lj, step);

		nrows = join_step_apply(vr, lj, step, rows, nrows, found, &out);
		rows = out;
	}

	/* the joined rows, as the events the next stages read */
	batch->events = MemoryContextAlloc(lj->run_cxt,
									   sizeof(StreamEvent *) * Max(nrows, 1));
	MemoryContextSwitchTo(lj->rows_cxt);
	for (i = 0; i < nrows; i++)
	{
		StreamEvent *joined = palloc(sizeof(StreamEvent));

		*joined = *rows[i].event;
		joined->tuple = NULL;
		joined->values = rows[i].values;
		joined->isnull = rows[i].isnull;
		joined->desc = lj->joined_desc;
		batch->events[i] = joined;
	}
	batch->nevents = nrows;
	MemoryContextSwitchTo(oldcxt);
}

/*
 * The events' stream rows, as joined rows whose tables' columns are NULL
 * yet.  Values stay where the event holds them (the decoded batch, which
 * outlives the batch's stages); a row converted from an older row type is
 * made in the batch's rows.
 */
static JoinedRow *
join_rows_begin(ViewRuntime *vr, LookupJoinStage *lj, StageBatch *batch)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(lj->rows_cxt);
	JoinedRow  *rows = MemoryContextAlloc(lj->run_cxt,
										  sizeof(JoinedRow) * Max(batch->nevents, 1));
	int			natts = lj->stream_desc->natts;
	int			i;

	for (i = 0; i < batch->nevents; i++)
	{
		StreamEvent *event = batch->events[i];
		TupleTableSlot *slot;

		if (event->desc != lj->seen_desc)
		{
			lj->seen_desc = event->desc;
			lj->seen_desc_matches = equalTupleDescs(event->desc,
													lj->stream_desc);
		}
		slot = view_input_store(event, lj->seen_desc_matches, lj->stream_desc,
								lj->stream_slot);
		slot_getallattrs(slot);
		rows[i].event = event;
		rows[i].values = palloc(sizeof(Datum) * lj->natts);
		rows[i].isnull = palloc(sizeof(bool) * lj->natts);
		memcpy(rows[i].values, slot->tts_values, sizeof(Datum) * natts);
		memcpy(rows[i].isnull, slot->tts_isnull, sizeof(bool) * natts);
		memset(rows[i].isnull + natts, true, lj->natts - natts);
		ExecClearTuple(slot);
	}
	MemoryContextSwitchTo(oldcxt);
	return rows;
}

static void
joined_slot_store(LookupJoinStage *lj, JoinedRow *row)
{
	TupleTableSlot *slot = lj->joined_slot;

	ExecClearTuple(slot);
	memcpy(slot->tts_values, row->values, sizeof(Datum) * lj->natts);
	memcpy(slot->tts_isnull, row->isnull, sizeof(bool) * lj->natts);
	ExecStoreVirtualTuple(slot);
}

/*
 * The row's key for the step's table, and its entry in the batch's
 * matches; NULL if a key is NULL, which no equality matches.  A key the
 * batch meets for the first time is pending until join_step_fetch().
 */
static JoinMatches *
join_step_key(ViewRuntime *vr, LookupJoinStage *lj, JoinStep *step,
			  JoinedRow *row)
{
	ExprContext *econtext = vr->econtext;
	TupleTableSlot *key = step->key_slot;
	TupleHashEntry entry;
	JoinMatches *m;
	MemoryContext oldcxt;
	bool		isnew;
	int			k;

	ResetExprContext(econtext);
	oldcxt = MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
	joined_slot_store(lj, row);
	econtext->ecxt_scantuple = lj->joined_slot;
	ExecClearTuple(key);
	for (k = 0; k < step->nkeys; k++)
	{
		key->tts_values[k] = ExecEvalExpr(step->key_exprs[k], econtext,
										  &key->tts_isnull[k]);
		if (key->tts_isnull[k])
		{
			MemoryContextSwitchTo(oldcxt);
			return NULL;
		}
	}
	ExecStoreVirtualTuple(key);
	entry = LookupTupleHashEntry(step->matches, key, &isnew, NULL);
	if (isnew)
	{
		m = MemoryContextAllocZero(lj->matches_cxt, sizeof(JoinMatches));
		m->key = entry->firstTuple;
		entry->additional = m;
	}
	m = entry->additional;
	/* new, or left unfetched by a run that failed */
	if (!m->fetched && m->queued_run != lj->run)
	{
		m->queued_run = lj->run;
		MemoryContextSwitchTo(lj->run_cxt);
		step->pending = lappend(step->pending, m);
	}
	MemoryContextSwitchTo(oldcxt);
	return m;
}

/*
 * The table's rows for the pending keys, in one query: the keys as arrays,
 * one per key column, joined to the table.  Run as the view's owner
 * (batch.c), under the snapshot of the transaction that applies the batch.
 */
static void
join_step_fetch(ViewRuntime *vr, LookupJoinStage *lj, JoinStep *step)
{
	int			nkeys = step->nkeys;
	int			npending = list_length(step->pending);
	Datum	  **keyvals = palloc(sizeof(Datum *) * nkeys);
	Datum	   *arrays = palloc(sizeof(Datum) * nkeys);
	Oid		   *argtypes = palloc(sizeof(Oid) * nkeys);
	char	   *sql = join_step_sql(step);
	TupleTableSlot *keyslot = MakeSingleTupleTableSlot(step->key_desc,
													   &TTSOpsMinimalTuple);
	SPIPlanPtr	plan;
	bool		pushed = false;
	ListCell   *lc;
	uint64		r;
	int			k;

	for (k = 0; k < nkeys; k++)
		keyvals[k] = palloc(sizeof(Datum) * npending);
	foreach(lc, step->pending)
	{
		JoinMatches *m = lfirst(lc);

		ExecStoreMinimalTuple(m->key, keyslot, false);
		slot_getallattrs(keyslot);
		for (k = 0; k < nkeys; k++)
			keyvals[k][foreach_current_index(lc)] = keyslot->tts_values[k];
		m->nrows = 0;			/* what a failed fetch left */
	}
	for (k = 0; k < nkeys; k++)
	{
		int16		typlen;
		bool		typbyval;
		char		typalign;

		get_typlenbyvalalign(step->key_types[k], &typlen, &typbyval, &typalign);
		arrays[k] = PointerGetDatum(construct_array(keyvals[k], npending,
													step->key_types[k],
													typlen, typbyval,
													typalign));
		argtypes[k] = get_array_type(step->key_types[k]);
	}

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pg_continuous: SPI_connect failed");
	if (!ActiveSnapshotSet())
	{
		PushActiveSnapshot(GetTransactionSnapshot());
		pushed = true;
	}
	plan = SPI_prepare(sql, nkeys, argtypes);
	if (plan == NULL)
		elog(ERROR, "pg_continuous: could not prepare \"%s\": %s", sql,
			 SPI_result_code_string(SPI_result));
	/* read only: the rows the transaction's snapshot sees */
	if (SPI_execute_plan(plan, arrays, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "pg_continuous: could not look up rows for continuous view \"%s\"",
			 vr->name);

	for (r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		TupleHashEntry entry;
		JoinMatches *m;
		MemoryContext oldcxt;
		int			c;

		ExecClearTuple(step->key_slot);
		for (k = 0; k < nkeys; k++)
			step->key_slot->tts_values[k] =
				SPI_getbinval(tuple, desc, k + 1, &step->key_slot->tts_isnull[k]);
		ExecStoreVirtualTuple(step->key_slot);
		entry = LookupTupleHashEntry(step->matches, step->key_slot, NULL, NULL);
		if (entry == NULL)
			continue;
		m = entry->additional;
		/* "= ANY" of several keys finds combinations no event has */
		if (m->fetched || m->queued_run != lj->run)
			continue;

		oldcxt = MemoryContextSwitchTo(lj->matches_cxt);
		if (m->nrows == 0)
		{
			m->values = palloc(sizeof(Datum *));
			m->isnull = palloc(sizeof(bool *));
		}
		else if ((m->nrows & (m->nrows - 1)) == 0)
		{
			/* a power of two: double */
			m->values = repalloc(m->values, sizeof(Datum *) * m->nrows * 2);
			m->isnull = repalloc(m->isnull, sizeof(bool *) * m->nrows * 2);
		}
		m->values[m->nrows] = palloc(sizeof(Datum) * Max(step->ncolumns, 1));
		m->isnull[m->nrows] = palloc(sizeof(bool) * Max(step->ncolumns, 1));
		for (c = 0; c < step->ncolumns; c++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, nkeys + c);
			Datum		value = SPI_getbinval(tuple, desc, nkeys + c + 1,
											  &m->isnull[m->nrows][c]);

			m->values[m->nrows][c] = m->isnull[m->nrows][c] ? (Datum) 0 :
				datumCopy(value, att->attbyval, att->attlen);
		}
		m->nrows++;
		MemoryContextSwitchTo(oldcxt);
	}

	if (pushed)
		PopActiveSnapshot();
	SPI_finish();
	ExecDropSingleTupleTableSlot(keyslot);
	foreach(lc, step->pending)
		((JoinMatches *) lfirst(lc))->fetched = true;
	step->pending = NIL;
}

/*
 * The query that finds the table's rows for the keys $1, $2, ... (one
 * array per key column), with the names of now: a renamed table or
 * column is followed.  Its first columns are the keys, as the hash table
 * compares them; then the columns the view reads.
 *
 * When each key column is of its key's type and compared by that type's
 * equality (the usual case):
 *	 SELECT t.key, ..., t.col, ... FROM schema.table AS t
 *	 WHERE t.key OPERATOR(pg_catalog.=) ANY ($1) AND ...
 * which PostgreSQL runs as an index scan for the keys when the table has
 * an index on them, and as one scan otherwise.  Else the keys as they are
 * joined to the table:
 *	 SELECT k.k1, ..., t.col, ... FROM ROWS FROM (pg_catalog.unnest($1),
 *	 ...) AS k (k1, ...) JOIN schema.table AS t ON t.key OPERATOR(...) k.k1
 */
static char *
join_step_sql(JoinStep *step)
{
	PlanJoin   *join = step->join;
	StringInfoData sql;
	ListCell   *lc;
	int			k;

	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT ");
	for (k = 0; k < step->nkeys; k++)
	{
		if (step->by_any)
			appendStringInfo(&sql, "%st.%s", k > 0 ? ", " : "",
							 quote_identifier(get_attname(join->relid,
														  list_nth_int(join->key_attnos, k),
														  false)));
		else
			appendStringInfo(&sql, "%sk.k%d", k > 0 ? ", " : "", k + 1);
	}
	foreach(lc, join->columns)
		appendStringInfo(&sql, ", t.%s",
						 quote_identifier(get_attname(join->relid,
													  lfirst_int(lc), false)));
	if (step->by_any)
		appendStringInfoString(&sql, " FROM ");
	else
	{
		appendStringInfoString(&sql, " FROM ROWS FROM (");
		for (k = 0; k < step->nkeys; k++)
			appendStringInfo(&sql, "%spg_catalog.unnest($%d)",
							 k > 0 ? ", " : "", k + 1);
		appendStringInfoString(&sql, ") AS k (");
		for (k = 0; k < step->nkeys; k++)
			appendStringInfo(&sql, "%sk%d", k > 0 ? ", " : "", k + 1);
		appendStringInfoString(&sql, ") JOIN ");
	}
	appendStringInfo(&sql, "%s AS t %s ",
					 quote_qualified_identifier(get_namespace_name(get_rel_namespace(join->relid)),
												get_rel_name(join->relid)),
					 step->by_any ? "WHERE" : "ON");
	for (k = 0; k < step->nkeys; k++)
	{
		Oid			opno = list_nth_oid(join->key_ops, k);
		Oid			collation = list_nth_oid(join->key_collations, k);
		const char *column = quote_identifier(get_attname(join->relid,
														   list_nth_int(join->key_attnos, k),
														   false));

		appendStringInfo(&sql, "%s(t.%s", k > 0 ? " AND " : "", column);
		if (OidIsValid(collation))
			appendStringInfo(&sql, " COLLATE %s",
							 generate_collation_name(collation));
		if (step->by_any)
			appendStringInfo(&sql, " OPERATOR(%s) ANY ($%d))",
							 operator_qualified_name(opno), k + 1);
		else
			appendStringInfo(&sql, " OPERATOR(%s) k.k%d)",
							 operator_qualified_name(opno), k + 1);
	}
	return sql.data;
}

/*
 * The step's joined rows: each row with each of its key's table rows that
 * passes the rest of ON, or for a LEFT join with none, the row itself (the
 * table's columns NULL).
 */
static int
join_step_apply(ViewRuntime *vr, LookupJoinStage *lj, JoinStep *step,
				JoinedRow *rows, int nrows, JoinMatches **found,
				JoinedRow **out)
{
	ExprContext *econtext = vr->econtext;
	int			first = step->join->first_attno - 1;
	int			capacity = nrows;
	int			nout = 0;
	int			i;

	*out = MemoryContextAlloc(lj->run_cxt, sizeof(JoinedRow) * Max(capacity, 1));
	for (i = 0; i < nrows; i++)
	{
		JoinMatches *m = found[i];
		int			kept = 0;
		int			j;

		for (j = 0; m != NULL && j < m->nrows; j++)
		{
			JoinedRow	joined;
			MemoryContext oldcxt;

			oldcxt = MemoryContextSwitchTo(lj->rows_cxt);
			joined.event = rows[i].event;
			joined.values = palloc(sizeof(Datum) * lj->natts);
			joined.isnull = palloc(sizeof(bool) * lj->natts);
			memcpy(joined.values, rows[i].values, sizeof(Datum) * lj->natts);
			memcpy(joined.isnull, rows[i].isnull, sizeof(bool) * lj->natts);
			memcpy(joined.values + first, m->values[j],
				   sizeof(Datum) * step->ncolumns);
			memcpy(joined.isnull + first, m->isnull[j],
				   sizeof(bool) * step->ncolumns);
			MemoryContextSwitchTo(oldcxt);

			if (step->quals != NULL)
			{
				bool		pass;

				ResetExprContext(econtext);
				oldcxt = MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
				joined_slot_store(lj, &joined);
				econtext->ecxt_scantuple = lj->joined_slot;
				pass = ExecQual(step->quals, econtext);
				MemoryContextSwitchTo(oldcxt);
				if (!pass)
					continue;
			}
			if (nout == capacity)
			{
				capacity *= 2;
				*out = repalloc(*out, sizeof(JoinedRow) * capacity);
			}
			(*out)[nout++] = joined;
			kept++;
		}
		if (kept == 0 && step->join->left)
		{
			if (nout == capacity)
			{
				capacity *= 2;
				*out = repalloc(*out, sizeof(JoinedRow) * capacity);
			}
			(*out)[nout++] = rows[i];
		}
		CHECK_FOR_INTERRUPTS();
	}
	return nout;
}

/* schema.name of an operator, for OPERATOR(...) */
static char *
operator_qualified_name(Oid opno)
{
	HeapTuple	tuple = SearchSysCache1(OPEROID, ObjectIdGetDatum(opno));
	Form_pg_operator form;
	char	   *name;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for operator %u", opno);
	form = (Form_pg_operator) GETSTRUCT(tuple);
	name = psprintf("%s.%s",
					quote_identifier(get_namespace_name(form->oprnamespace)),
					NameStr(form->oprname));
	ReleaseSysCache(tuple);
	return name;
}
