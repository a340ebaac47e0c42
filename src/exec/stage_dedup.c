/*-------------------------------------------------------------------------
 *
 * stage_dedup.c
 *	  The dedup stage: drops the events whose unique key the view has seen
 *	  within the stream's dedup_within.
 *
 * Pipeline position: batch, the first stage of every view of a stream with
 * a unique key (create_stream(unique_key => ..., dedup_within => ...),
 * dedup_options.c), ahead of the filter: a duplicate is dropped before the
 * view's WHERE sees it, so the view equals its SELECT over the events
 * with duplicates removed (SELECT DISTINCT ON (key) ..., the first
 * delivered kept).
 *
 * Each view keeps the keys it has seen, in memory (a hash table: key ->
 * the event time it was seen at), and in continuous.dedup_keys, written in
 * the flush transaction that writes the view's state: the seen keys are
 * state like the aggregates, exactly once with them across crashes, and a
 * view that advances at its own position (backfill, rebuild, a Kafka view
 * catching up) has keys of its own position.  They are loaded back when
 * the view is loaded.  Memory is the keys times the views of the stream.
 *
 * An event is a duplicate if a key equal to its own (by the default hash
 * operator class of each column's type) was seen at an event time less
 * than dedup_within away from its own.  A key seen at t is forgotten once
 * the stream's watermark before a batch passes t + dedup_within: in
 * memory as the batch begins, in the table as it flushes, both by the same
 * cutoff.  A walk over every key costs time in proportion to them, so it
 * is taken only once the cutoff has moved by a sixteenth of dedup_within
 * since the last (a key is kept at most that much longer).  Without event
 * time, the time is the batch's processing time, and keys are forgotten
 * by the clock.  A key with a NULL column, or an event with a NULL event
 * time, is never a duplicate (as a UNIQUE constraint treats NULL).
 *
 * A batch thrown away (reset, committed = false) forgets what it added: a
 * key it saw first is removed, a key it saw again gets its old time back.
 * An accepted event moves state a rollback does not undo, so if a later
 * stage fails on it, the careful run starts over without it (batch.c):
 * a dead letter's key is not seen.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/hash.h"
#include "catalog/pg_am.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "common/hashfn.h"
#include "common/int.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "base/privileges.h"
#include "exec/stage.h"
#include "exec/view_input.h"
#include "source/watermark.h"

struct DedupStage;

/* A seen key. */
typedef struct DedupEntry
{
	Datum	   *key;			/* its values, in the stage's key memory */
	TimestampTz seen;			/* the event (or processing) time seen at */
	uint32		hash;
	char		status;			/* simplehash's */
	bool		touched;		/* the current batch accepted it: */
	bool		existed;		/* it was seen before the batch, */
	TimestampTz seen_before;	/* at this time */
} DedupEntry;

static uint32 dedup_hash_key(struct DedupStage *dd, Datum *key);
static bool dedup_keys_equal(struct DedupStage *dd, Datum *a, Datum *b);

#define SH_PREFIX seen
#define SH_ELEMENT_TYPE DedupEntry
#define SH_KEY_TYPE Datum *
#define SH_KEY key
#define SH_HASH_KEY(tb, k) dedup_hash_key((struct DedupStage *) (tb)->private_data, k)
#define SH_EQUAL(tb, a, b) dedup_keys_equal((struct DedupStage *) (tb)->private_data, a, b)
#define SH_SCOPE static inline
#define SH_STORE_HASH
#define SH_GET_HASH(tb, a) ((a)->hash)
#define SH_DEFINE
#define SH_DECLARE
#include "lib/simplehash.h"

typedef struct DedupStage
{
	int			nkeys;
	AttrNumber *attnums;		/* in the stream's current row */
	FmgrInfo   *hash_fns;		/* the default hash opclass's, per column */
	FmgrInfo   *eq_fns;
	Oid		   *collations;
	int16	   *typlens;
	bool	   *typbyvals;
	FmgrInfo   *out_fns;		/* text forms, for continuous.dedup_keys */
	FmgrInfo   *in_fns;
	Oid		   *typioparams;

	/*
	 * Events are read as rows of the stream's type, in a slot of the
	 * stage's own: a later stage may give the view another input row type
	 * (the lookup join's joined row, stage_lookup_join.c).
	 */
	TupleDesc	stream_desc;
	TupleTableSlot *stream_slot;
	TupleDesc	seen_desc;		/* an event descriptor compared already, */
	bool		seen_desc_matches;	/* and whether it is stream_desc */

	AttrNumber	event_time;		/* InvalidAttrNumber: processing time */
	int64		within_us;		/* dedup_within */

	seen_hash  *seen;
	MemoryContext key_cxt;		/* the seen keys' values */
	TimestampTz oldest;			/* no key was seen earlier */
	bool		expired_once;	/* keys were forgotten up to last_cutoff */
	TimestampTz last_cutoff;

	/* the batch */
	TimestampTz now;			/* its processing time */
	bool		expire;			/* keys seen at or before cutoff are gone */
	TimestampTz cutoff;
	List	   *touched;		/* Datum *: keys it accepted, in state_cxt */
	int64		duplicates;		/* events it dropped */
	char	   *upsert;			/* writes the touched keys */
} DedupStage;

static bool dedup_applies(ContinuousPlan *plan);
static void *dedup_create(ViewRuntime *vr);
static void dedup_destroy(ViewRuntime *vr, void *state);
static void dedup_batch_begin(ViewRuntime *vr, void *state);
static void dedup_process(ViewRuntime *vr, void *state, StageBatch *batch);
static void dedup_flush(ViewRuntime *vr, void *state);
static void dedup_reset(ViewRuntime *vr, void *state, bool committed);
static void dedup_load(ViewRuntime *vr, DedupStage *dd);
static DedupEntry *dedup_remember(DedupStage *dd, Datum *probe,
								  TimestampTz seen);
static void dedup_forget(DedupStage *dd, DedupEntry *entry);
static bool within(TimestampTz a, TimestampTz b, int64 span);
static void dedup_spi(ViewRuntime *vr, const char *sql, int nargs,
					  Oid *types, Datum *args, int expected,
					  const char *what);

const StageRoutine dedup_stage = {
	.name = "dedup",
	.applies = dedup_applies,
	.create = dedup_create,
	.destroy = dedup_destroy,
	.batch_begin = dedup_batch_begin,
	.process = dedup_process,
	.flush = dedup_flush,
	.reset = dedup_reset,
};

static bool
dedup_applies(ContinuousPlan *plan)
{
	return plan->unique_key != NIL;
}

static void *
dedup_create(ViewRuntime *vr)
{
	DedupStage *dd = palloc0(sizeof(DedupStage));
	ContinuousPlan *plan = vr->plan;
	StringInfoData sql;
	ListCell   *lc;
	int			i;

	dd->nkeys = list_length(plan->unique_key);
	dd->attnums = palloc(sizeof(AttrNumber) * dd->nkeys);
	dd->hash_fns = palloc(sizeof(FmgrInfo) * dd->nkeys);
	dd->eq_fns = palloc(sizeof(FmgrInfo) * dd->nkeys);
	dd->collations = palloc(sizeof(Oid) * dd->nkeys);
	dd->typlens = palloc(sizeof(int16) * dd->nkeys);
	dd->typbyvals = palloc(sizeof(bool) * dd->nkeys);
	dd->out_fns = palloc(sizeof(FmgrInfo) * dd->nkeys);
	dd->in_fns = palloc(sizeof(FmgrInfo) * dd->nkeys);
	dd->typioparams = palloc(sizeof(Oid) * dd->nkeys);
	foreach(lc, plan->unique_key)
	{
		AttrNumber	attnum = lfirst_int(lc);
		Form_pg_attribute att;
		Oid			opclass;
		Oid			opfamily;
		Oid			opcintype;
		Oid			eqop;
		Oid			hashproc;
		Oid			func;
		bool		isvarlena;

		i = foreach_current_index(lc);
		if (attnum <= 0 || attnum > vr->input_desc->natts ||
			TupleDescAttr(vr->input_desc, attnum - 1)->attisdropped)
			elog(ERROR, "unique key column %d of the stream of continuous view \"%s\" does not exist",
				 attnum, vr->name);
		att = TupleDescAttr(vr->input_desc, attnum - 1);
		dd->attnums[i] = attnum;
		dd->collations[i] = att->attcollation;
		dd->typlens[i] = att->attlen;
		dd->typbyvals[i] = att->attbyval;

		opclass = GetDefaultOpClass(att->atttypid, HASH_AM_OID);
		if (!OidIsValid(opclass))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FUNCTION),
					 errmsg("could not identify a hash operator class for type %s",
							format_type_be(att->atttypid))));
		opfamily = get_opclass_family(opclass);
		opcintype = get_opclass_input_type(opclass);
		eqop = get_opfamily_member(opfamily, opcintype, opcintype,
								   HTEqualStrategyNumber);
		hashproc = get_opfamily_proc(opfamily, opcintype, opcintype,
									 HASHSTANDARD_PROC);
		if (!OidIsValid(eqop) || !OidIsValid(hashproc))
			elog(ERROR, "hash operator class %u is missing its equality or hash function",
				 opclass);
		fmgr_info_cxt(get_opcode(eqop), &dd->eq_fns[i], CurrentMemoryContext);
		fmgr_info_cxt(hashproc, &dd->hash_fns[i], CurrentMemoryContext);

		getTypeOutputInfo(att->atttypid, &func, &isvarlena);
		fmgr_info_cxt(func, &dd->out_fns[i], CurrentMemoryContext);

		/*
		 * The seen keys were values of the column's type: read back with
		 * its base type's input, so that no domain's CHECK (its owner's
		 * code) runs as the extension's owner.
		 */
		getTypeInputInfo(getBaseType(att->atttypid), &func,
						 &dd->typioparams[i]);
		fmgr_info_cxt(func, &dd->in_fns[i], CurrentMemoryContext);
	}
	dd->stream_desc = vr->input_desc;
	dd->stream_slot = MakeSingleTupleTableSlot(vr->input_desc, &TTSOpsHeapTuple);
	dd->event_time = plan->event_time_attnum;
	dd->within_us = interval_span_us(plan->dedup_within);
	dd->key_cxt = AllocSetContextCreate(CurrentMemoryContext,
										"pg_continuous seen keys",
										ALLOCSET_DEFAULT_SIZES);
	dd->seen = seen_create(CurrentMemoryContext, 256, dd);
	dd->oldest = DT_NOEND;

	/* the keys and times of a batch go in as arrays, one per column */
	initStringInfo(&sql);
	appendStringInfoString(&sql,
						   "INSERT INTO continuous.dedup_keys AS d (view, key, seen_at) "
						   "SELECT $1, pg_catalog.array_out(ARRAY[");
	for (i = 0; i < dd->nkeys; i++)
		appendStringInfo(&sql, "%su.k%d", i > 0 ? ", " : "", i);
	appendStringInfoString(&sql, "])::pg_catalog.text, u.seen_at "
						   "FROM ROWS FROM (pg_catalog.unnest($2)");
	for (i = 0; i < dd->nkeys; i++)
		appendStringInfo(&sql, ", pg_catalog.unnest($%d)", i + 3);
	appendStringInfoString(&sql, ") AS u(seen_at");
	for (i = 0; i < dd->nkeys; i++)
		appendStringInfo(&sql, ", k%d", i);
	appendStringInfoString(&sql, ") ON CONFLICT (view, key) DO UPDATE "
						   "SET seen_at = excluded.seen_at");
	dd->upsert = sql.data;

	dedup_load(vr, dd);
	return dd;
}

/*
 * The keys the view's committed state has seen, read through a cursor a
 * chunk at a time, so that a million keys do not stand in memory twice.
 */
static void
dedup_load(ViewRuntime *vr, DedupStage *dd)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(vr->view)};
	ExtensionPrivileges saved;
	SavedPrivileges owner;
	Datum	   *probe = palloc(sizeof(Datum) * dd->nkeys);
	MemoryContext rowcxt;
	MemoryContext oldcxt;
	Portal		portal;

	privileges_become_extension(&saved);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "pg_continuous seen key",
								   ALLOCSET_SMALL_SIZES);
	/* not read-only: a rebuild's deletion just before must be seen */
	portal = SPI_cursor_open_with_args(NULL,
									   "SELECT key::pg_catalog.text[], seen_at FROM continuous.dedup_keys "
									   "WHERE view OPERATOR(pg_catalog.=) $1",
									   1, argtypes, args, NULL, false, 0);
	for (;;)
	{
		uint64		row;

		SPI_cursor_fetch(portal, true, 10000);
		if (SPI_processed == 0)
			break;

		/*
		 * The key's input (a domain's CHECK, also inside an array or a
		 * composite type) and its hash and equality are the stream's
		 * types' code: run as the view's owner, as the batches run them.
		 */
		privileges_become(vr->owner, vr->search_path, &owner);
		for (row = 0; row < SPI_processed; row++)
		{
			HeapTuple	tuple = SPI_tuptable->vals[row];
			bool		isnull;
			Datum	   *texts;
			int			ntexts;
			int			i;

			oldcxt = MemoryContextSwitchTo(rowcxt);
			deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(tuple, SPI_tuptable->tupdesc,
															   1, &isnull)),
							  TEXTOID, -1, false, TYPALIGN_INT, &texts, NULL,
							  &ntexts);
			if (ntexts != dd->nkeys)
				elog(ERROR, "a seen key of continuous view \"%s\" has %d columns, not %d",
					 vr->name, ntexts, dd->nkeys);
			for (i = 0; i < dd->nkeys; i++)
				probe[i] = InputFunctionCall(&dd->in_fns[i], TextDatumGetCString(texts[i]),
											 dd->typioparams[i], -1);
			(void) dedup_remember(dd, probe,
								  DatumGetTimestampTz(SPI_getbinval(tuple, SPI_tuptable->tupdesc,
																	2, &isnull)));
			MemoryContextSwitchTo(oldcxt);
			MemoryContextReset(rowcxt);
		}
		privileges_restore(&owner);
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	SPI_finish();
	privileges_leave_extension(&saved);
	pfree(probe);
}

static void
dedup_destroy(ViewRuntime *vr, void *state)
{
	DedupStage *dd = state;

	seen_destroy(dd->seen);
	MemoryContextDelete(dd->key_cxt);
	ExecDropSingleTupleTableSlot(dd->stream_slot);
}

/* Forget the keys the stream's time has passed by dedup_within. */
static void
dedup_batch_begin(ViewRuntime *vr, void *state)
{
	DedupStage *dd = state;
	seen_iterator iter;
	DedupEntry *entry;
	TimestampTz oldest = DT_NOEND;
	int64		since;

	dd->now = GetCurrentTimestamp();
	if (dd->event_time != InvalidAttrNumber)
	{
		dd->expire = vr->had_stream_watermark;
		if (dd->expire &&
			pg_sub_s64_overflow(vr->stream_watermark, dd->within_us, &dd->cutoff))
			dd->expire = false;
	}
	else
		dd->expire = !pg_sub_s64_overflow(dd->now, dd->within_us, &dd->cutoff);

	/*
	 * Nothing to forget; or too little since the last time, for a walk over
	 * every key: memory and table forget together, once the time has moved
	 * a sixteenth of dedup_within since they last did.
	 */
	if (dd->expire &&
		(dd->cutoff < dd->oldest ||
		 (dd->expired_once &&
		  !pg_sub_s64_overflow(dd->cutoff, dd->last_cutoff, &since) &&
		  since < dd->within_us / 16)))
		dd->expire = false;
	if (!dd->expire)
		return;
	dd->expired_once = true;
	dd->last_cutoff = dd->cutoff;

	seen_start_iterate(dd->seen, &iter);
	while ((entry = seen_iterate(dd->seen, &iter)) != NULL)
	{
		/* a batch run again keeps what it saw until it is reset */
		if (entry->seen <= dd->cutoff && !entry->touched)
			dedup_forget(dd, entry);
		else if (entry->seen < oldest)
			oldest = entry->seen;
	}
	dd->oldest = oldest;
}

static void
dedup_process(ViewRuntime *vr, void *state, StageBatch *batch)
{
	DedupStage *dd = state;
	ExprContext *econtext = vr->econtext;
	MemoryContext oldcxt = CurrentMemoryContext;
	Datum		probe[INDEX_MAX_KEYS];
	int			kept = 0;
	int			i;

	for (i = 0; i < batch->nevents; i++)
	{
		StreamEvent *event = batch->events[i];
		TupleTableSlot *slot;
		TimestampTz at = dd->now;
		DedupEntry *entry;
		bool		isnull = false;
		int			k;

		ResetExprContext(econtext);
		MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
		if (event->desc != dd->seen_desc)
		{
			dd->seen_desc = event->desc;
			dd->seen_desc_matches = equalTupleDescs(event->desc,
													dd->stream_desc);
		}
		slot = view_input_store(event, dd->seen_desc_matches, dd->stream_desc,
								dd->stream_slot);
		if (dd->event_time != InvalidAttrNumber)
			at = DatumGetTimestampTz(slot_getattr(slot, dd->event_time, &isnull));
		for (k = 0; k < dd->nkeys && !isnull; k++)
			probe[k] = slot_getattr(slot, dd->attnums[k], &isnull);
		MemoryContextSwitchTo(oldcxt);
		CHECK_FOR_INTERRUPTS();

		/* NULL in the key or the event time: never a duplicate */
		if (isnull)
		{
			batch->events[kept++] = event;
			continue;
		}

		entry = seen_lookup(dd->seen, probe);
		if (entry != NULL && within(entry->seen, at, dd->within_us))
		{
			dd->duplicates++;
			continue;
		}
		if (entry == NULL)
			entry = dedup_remember(dd, probe, at);
		else if (!entry->touched)
		{
			entry->existed = true;
			entry->seen_before = entry->seen;
		}
		if (!entry->touched)
		{
			MemoryContext cxt = MemoryContextSwitchTo(vr->state_cxt);

			entry->touched = true;
			dd->touched = lappend(dd->touched, entry->key);
			MemoryContextSwitchTo(cxt);
		}
		/* the key counts from the latest time it was accepted at */
		if (at > entry->seen)
			entry->seen = at;
		batch->state_moved = true;
		batch->events[kept++] = event;
	}
	batch->nevents = kept;
}

/* Are a and b less than span apart?  (Also for infinite times.) */
static bool
within(TimestampTz a, TimestampTz b, int64 span)
{
	int64		diff;

	if (pg_sub_s64_overflow(a, b, &diff))
		return false;
	return diff < span && diff > -span;
}

/* A new seen key, its values copied from probe. */
static DedupEntry *
dedup_remember(DedupStage *dd, Datum *probe, TimestampTz seen)
{
	DedupEntry *entry;
	bool		found;
	MemoryContext oldcxt = MemoryContextSwitchTo(dd->key_cxt);
	Datum	   *key = palloc(sizeof(Datum) * dd->nkeys);
	int			i;

	for (i = 0; i < dd->nkeys; i++)
		key[i] = datumCopy(probe[i], dd->typbyvals[i], dd->typlens[i]);
	MemoryContextSwitchTo(oldcxt);

	entry = seen_insert(dd->seen, key, &found);
	Assert(!found);
	entry->key = key;
	entry->seen = seen;
	entry->touched = false;
	entry->existed = false;
	if (seen < dd->oldest)
		dd->oldest = seen;
	return entry;
}

static void
dedup_forget(DedupStage *dd, DedupEntry *entry)
{
	Datum	   *key = entry->key;
	int			i;

	seen_delete_item(dd->seen, entry);
	for (i = 0; i < dd->nkeys; i++)
		if (!dd->typbyvals[i])
			pfree(DatumGetPointer(key[i]));
	pfree(key);
}

/*
 * In the flush transaction, SPI connected: the keys forgotten go, those
 * the batch accepted are written with their time, and the duplicates it
 * dropped are counted.
 */
static void
dedup_flush(ViewRuntime *vr, void *state)
{
	DedupStage *dd = state;
	int			n = list_length(dd->touched);
	Oid			types[2 + INDEX_MAX_KEYS];
	Datum		args[2 + INDEX_MAX_KEYS];
	ListCell   *lc;
	int			i;

	types[0] = OIDOID;
	args[0] = ObjectIdGetDatum(vr->view);
	if (dd->expire)
	{
		types[1] = TIMESTAMPTZOID;
		args[1] = TimestampTzGetDatum(dd->cutoff);
		dedup_spi(vr, "DELETE FROM continuous.dedup_keys "
				  "WHERE view OPERATOR(pg_catalog.=) $1::pg_catalog.regclass "
				  "AND seen_at OPERATOR(pg_catalog.<=) $2",
				  2, types, args, SPI_OK_DELETE, "forget the seen keys");
	}

	if (n > 0)
	{
		Datum	   *seen = palloc(sizeof(Datum) * n);
		Datum	  **texts = palloc(sizeof(Datum *) * dd->nkeys);

		for (i = 0; i < dd->nkeys; i++)
			texts[i] = palloc(sizeof(Datum) * n);
		foreach(lc, dd->touched)
		{
			int			row = foreach_current_index(lc);
			DedupEntry *entry = seen_lookup(dd->seen, lfirst(lc));

			Assert(entry != NULL);
			seen[row] = TimestampTzGetDatum(entry->seen);
			for (i = 0; i < dd->nkeys; i++)
				texts[i][row] = CStringGetTextDatum(OutputFunctionCall(&dd->out_fns[i],
																	   entry->key[i]));
		}
		types[1] = TIMESTAMPTZARRAYOID;
		args[1] = PointerGetDatum(construct_array(seen, n, TIMESTAMPTZOID,
												  sizeof(TimestampTz),
												  FLOAT8PASSBYVAL,
												  TYPALIGN_DOUBLE));
		for (i = 0; i < dd->nkeys; i++)
		{
			types[i + 2] = TEXTARRAYOID;
			args[i + 2] = PointerGetDatum(construct_array(texts[i], n, TEXTOID,
														  -1, false,
														  TYPALIGN_INT));
		}
		dedup_spi(vr, dd->upsert, dd->nkeys + 2, types, args, SPI_OK_INSERT,
				  "write the seen keys");
	}

	if (dd->duplicates > 0)
	{
		types[1] = INT8OID;
		args[1] = Int64GetDatum(dd->duplicates);
		dedup_spi(vr, "INSERT INTO continuous.view_stats AS s (view, duplicates) "
				  "VALUES ($1, $2) ON CONFLICT (view) DO UPDATE SET "
				  "duplicates = s.duplicates OPERATOR(pg_catalog.+) excluded.duplicates",
				  2, types, args, SPI_OK_INSERT, "count the duplicates");
	}
}

static void
dedup_spi(ViewRuntime *vr, const char *sql, int nargs, Oid *types,
		  Datum *args, int expected, const char *what)
{
	if (SPI_execute_with_args(sql, nargs, types, args, NULL, false, 0) != expected)
		elog(ERROR, "pg_continuous: could not %s of continuous view \"%s\"",
			 what, vr->name);
}

/*
 * After the flush, the keys the batch accepted stay as they are; a batch
 * thrown away gives each key it touched back its time before, or forgets
 * it if the batch saw it first.
 */
static void
dedup_reset(ViewRuntime *vr, void *state, bool committed)
{
	DedupStage *dd = state;
	ListCell   *lc;

	foreach(lc, dd->touched)
	{
		DedupEntry *entry = seen_lookup(dd->seen, lfirst(lc));

		Assert(entry != NULL);
		entry->touched = false;
		if (committed)
			continue;
		if (entry->existed)
			entry->seen = entry->seen_before;
		else
			dedup_forget(dd, entry);
	}
	dd->touched = NIL;			/* in state_cxt, which is reset next */
	dd->duplicates = 0;

	/*
	 * The batch may have forgotten keys its flush would have deleted: the
	 * next batch walks the keys and deletes from the table again.
	 */
	if (!committed)
	{
		dd->oldest = DT_NOBEGIN;
		dd->expired_once = false;
	}
}

/* ------------------------------------------------------------------------
 * The hash table's key functions
 * ------------------------------------------------------------------------
 */

static uint32
dedup_hash_key(DedupStage *dd, Datum *key)
{
	uint32		hash = 0;
	int			i;

	for (i = 0; i < dd->nkeys; i++)
		hash = hash_combine(hash,
							DatumGetUInt32(FunctionCall1Coll(&dd->hash_fns[i],
															 dd->collations[i],
															 key[i])));
	return hash;
}

static bool
dedup_keys_equal(DedupStage *dd, Datum *a, Datum *b)
{
	int			i;

	for (i = 0; i < dd->nkeys; i++)
		if (!DatumGetBool(FunctionCall2Coll(&dd->eq_fns[i], dd->collations[i],
											a[i], b[i])))
			return false;
	return true;
}
