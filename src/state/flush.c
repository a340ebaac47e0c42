/*-------------------------------------------------------------------------
 *
 * flush.c
 *	  Merging a batch's partial aggregate states into storage tables, with
 *	  the decoder position, statistics and dead letters, in one transaction.
 *
 * Pipeline position: flush.  Each changed group of a view is looked up in
 * its storage table through the unique index on the group keys; a stored
 * state is deserialised, combined with the batch's state by the aggregate's
 * combine function, serialised and written back (a HOT update: the state
 * columns are not indexed).  New groups are inserted a chunk at a time; a
 * group that group_locations.c knows is not stored is inserted without the
 * search.  No row locks are taken: a view's storage has one writer at a
 * time (with several workers per database, their flushes of a view take
 * turns, worker.c); readers see the previous version until the flush
 * commits.
 *
 * Because the decoder position commits in the same transaction, a crash
 * before the commit loses the batch and its position together, and the
 * batch is decoded again: exactly once.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/hio.h"
#include "access/nbtree.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "nodes/makefuncs.h"
#include "replication/origin.h"
#include "access/sysattr.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/pg_lsn.h"
#include "utils/sortsupport.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "base/privileges.h"
#include "exec/view_groups.h"
#include "state/flush.h"
#include "state/group_locations.h"
#include "state/storage_key.h"
#include "window/window_kind.h"

static void flush_groups(ViewRuntime *vr, StorageTarget *target);
static bool storage_find_group(ViewRuntime *vr, StorageLayout *layout,
							   IndexScanDesc iscan, TableScanDesc sscan,
							   TupleTableSlot *keys, TupleTableSlot *found);
static void spi_exec(const char *sql, int nargs, Oid *argtypes, Datum *values,
					 const char *nulls);

void
flush_view_state(ViewRuntime *vr, WindowRuntime *windows, int nwindows)
{
	StorageTarget target;
	SavedPrivileges saved;
	WindowRuntime *merging = NULL;
	RepOriginId saved_origin = replorigin_session_origin;
	int			i;

	if (!storage_target_open(vr, &target))
		return;
	for (i = 0; i < nwindows; i++)
	{
		if (windows[i].kind->flush_groups != NULL)
			merging = &windows[i];
	}

	/*
	 * The rows written here are of no stream: marked with the do-not-
	 * replicate origin, the worker's decoding skips them (decoder.c).
	 * Whatever else the flush writes (an emission table, a transform's
	 * target, which may be streams) is written without it.
	 */
	replorigin_session_origin = DoNotReplicateId;
	PG_TRY();
	{
		/*
		 * The aggregates' combine and (de)serialisation functions are the
		 * view owner's code.  Storage is written through the table AM,
		 * which checks no privileges, and its index compares keys with
		 * operator classes, which only superusers create.
		 */
		privileges_become(vr->owner, vr->search_path, &saved);
		if (merging != NULL)
			merging->kind->flush_groups(vr, merging, &target);
		else
			flush_groups(vr, &target);
		privileges_restore(&saved);
		storage_target_close(&target);
		/* what the windows keep beside the groups is state too */
		for (i = 0; i < nwindows; i++)
		{
			if (windows[i].kind->flush_side_state != NULL)
				windows[i].kind->flush_side_state(vr, &windows[i]);
		}
	}
	PG_FINALLY();
	{
		replorigin_session_origin = saved_origin;
	}
	PG_END_TRY();
	CommandCounterIncrement();
}

/* A group of the batch, with its keys, in the order the flush writes it. */
typedef struct FlushGroup
{
	Datum	   *values;			/* the keys, in plan order */
	bool	   *isnull;
	GroupStates *states;
} FlushGroup;

/* How groups_in_flush_order() compares two groups: the index's order. */
typedef struct GroupOrder
{
	StorageLayout *layout;
	int			nkeys;
	SortSupport sort;			/* one per index column */
} GroupOrder;

static FlushGroup *groups_in_flush_order(ViewRuntime *vr,
										 StorageLayout *layout,
										 int *ngroups);
static int64 groups_windows(ViewRuntime *vr, FlushGroup *groups, int n);

/* what groups_in_flush_order() allocated at most, since it was taken */
static Size sort_memory_peak = 0;
static int	compare_in_index_order(const void *a, const void *b, void *arg);

/*
 * The same order where there are one or two index columns, each comparing
 * as a signed integer (integers, dates, timestamps: their operator
 * classes' sort support is PostgreSQL's ssup_datum_int32_cmp or
 * ssup_datum_signed_cmp), and no NULL among the keys: most views group by
 * such keys, a window start and one more.  The keys are copied beside
 * each group and compared inline, so that the sort neither calls a
 * comparator per key nor reads a key through a pointer, which in a batch
 * of many groups was a cache miss at nearly every comparison.
 */
typedef struct IntegerOrder
{
	int			nkeys;			/* 1 or 2 */
	int		   *index_key;		/* as StorageLayout's */
	bool		is32[2];		/* an int32 in the Datum, else an int64 */
} IntegerOrder;

typedef struct IntegerSortItem
{
	int64		keys[2];
	FlushGroup *group;
} IntegerSortItem;

/* sorted, the items become the groups in their order, in place */
StaticAssertDecl(sizeof(IntegerSortItem) >= sizeof(FlushGroup),
				 "a FlushGroup fits where its IntegerSortItem was");

static bool integer_order(GroupOrder *order, IntegerOrder *integers);

static inline int
compare_integer_items(const IntegerSortItem *a, const IntegerSortItem *b)
{
	if (a->keys[0] != b->keys[0])
		return a->keys[0] < b->keys[0] ? -1 : 1;
	if (a->keys[1] != b->keys[1])
		return a->keys[1] < b->keys[1] ? -1 : 1;
	return 0;
}

#define ST_SORT sort_integer_items
#define ST_ELEMENT_TYPE IntegerSortItem
#define ST_COMPARE(a, b) compare_integer_items(a, b)
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

static bool sort_by_integers(FlushGroup *groups, int n, IntegerOrder *order);

/*
 * New groups wait here to be inserted together: the heap rows with one
 * call (table_multi_insert, which fills a page at a time), then their
 * index entries.
 */
#define FLUSH_INSERT_CHUNK 1000

/*
 * The groups are written in index order, but their keys and states lie in
 * the order the group table gave them: in a batch of many groups each is
 * a cache miss, fetched this many groups ahead.
 */
#define FLUSH_PREFETCH_AHEAD 8
#if defined(__GNUC__) || defined(__clang__)
#define flush_prefetch(p) __builtin_prefetch(p)
#else
#define flush_prefetch(p) ((void) (p))
#endif

typedef struct FlushInserts
{
	ViewRuntime *vr;
	StorageTarget *target;
	TupleTableSlot *slots[FLUSH_INSERT_CHUNK];
	int			nslots;			/* waiting */
	int			nmade;			/* slots made so far */
	BulkInsertState bistate;
	MemoryContext cxt;			/* index insertion's, per chunk */
} FlushInserts;

static void flush_inserts_add(FlushInserts *ins, TupleTableSlot *row);
static void flush_inserts_write(FlushInserts *ins);
static void flush_inserts_context(void *arg);

/* Each batch group: combined with its stored row, or inserted. */
static void
flush_groups(ViewRuntime *vr, StorageTarget *target)
{
	Relation	rel = target->rel;
	StorageLayout layout = target->layout;
	EState	   *estate = target->estate;
	ResultRelInfo *rri = target->rri;
	TupleTableSlot *stored;
	TupleTableSlot *merged;
	IndexScanDesc iscan = NULL;
	TableScanDesc sscan = NULL;
	TupleTableSlot *keys;
	GroupStates *states;
	MemoryContext group_cxt;
	MemoryContext oldcxt;
	Snapshot	snapshot = GetActiveSnapshot();
	FlushGroup *groups;
	GroupLocations *locations;
	FlushInserts ins;
	int			ngroups;
	int			g;
	int			i;

	stored = table_slot_create(rel, NULL);
	merged = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsVirtual);
	keys = MakeSingleTupleTableSlot(vr->key_desc, &TTSOpsVirtual);
	if (layout.index)
		iscan = index_beginscan(rel, layout.index, snapshot, vr->nkeys, 0);
	else
		sscan = table_beginscan(rel, snapshot, 0, NULL);
	memset(&ins, 0, sizeof(ins));
	ins.vr = vr;
	ins.target = target;

	group_cxt = AllocSetContextCreate(CurrentMemoryContext,
									  "pg_continuous flush group",
									  ALLOCSET_DEFAULT_SIZES);
	groups = groups_in_flush_order(vr, &layout, &ngroups);
	locations = layout.index && vr->locations != NULL ?
		group_locations_begin(vr, rel, &layout, ngroups,
							  groups_windows(vr, groups, ngroups)) : NULL;
	for (g = 0; g < ngroups; g++)
	{
		bool		found;

		if (g + FLUSH_PREFETCH_AHEAD < ngroups)
		{
			flush_prefetch(groups[g + FLUSH_PREFETCH_AHEAD].values);
			flush_prefetch(groups[g + FLUSH_PREFETCH_AHEAD].states);
		}
		ExecClearTuple(keys);
		memcpy(keys->tts_values, groups[g].values, sizeof(Datum) * vr->nkeys);
		memcpy(keys->tts_isnull, groups[g].isnull, sizeof(bool) * vr->nkeys);
		ExecStoreVirtualTuple(keys);
		states = groups[g].states;

		/* the scan keeps its buffers in the flush's context, not per group */
		if (locations != NULL &&
			group_locations_lookup(locations, keys->tts_values,
								   keys->tts_isnull) == GROUP_ABSENT)
			found = false;
		else
			found = storage_find_group(vr, &layout, iscan, sscan, keys, stored);

		MemoryContextReset(group_cxt);
		oldcxt = MemoryContextSwitchTo(group_cxt);

		ExecClearTuple(merged);
		memset(merged->tts_isnull, true, sizeof(bool) * merged->tts_tupleDescriptor->natts);
		for (i = 0; i < vr->nkeys; i++)
		{
			merged->tts_values[layout.key_attnos[i] - 1] = keys->tts_values[i];
			merged->tts_isnull[layout.key_attnos[i] - 1] = keys->tts_isnull[i];
		}
		for (i = 0; i < vr->naggs; i++)
		{
			AggSupport *agg = vr->aggs[i];
			Datum		state = states->values[i];
			bool		isnull = states->isnull[i];
			AttrNumber	attno = layout.state_attnos[i];

			if (found)
			{
				bool		stored_isnull;
				Datum		stored_state;

				agg_support_set_context(agg, group_cxt);
				stored_state = slot_getattr(stored, attno, &stored_isnull);
				stored_state = agg_from_storage(agg, stored_state, stored_isnull);
				state = agg_combine(agg, stored_state, &stored_isnull,
									state, isnull);
				isnull = stored_isnull;
			}
			merged->tts_values[attno - 1] = agg_to_storage(agg, state, isnull);
			merged->tts_isnull[attno - 1] = isnull;
		}
		ExecStoreVirtualTuple(merged);

		if (found)
		{
			bool		update_indexes;

			simple_table_tuple_update(rel, &stored->tts_tid, merged, snapshot,
									  &update_indexes);
			if (update_indexes && rri->ri_NumIndices > 0)
				ExecInsertIndexTuples(rri, merged, estate, true, false, NULL, NIL);
		}
		else
		{
			MemoryContextSwitchTo(oldcxt);
			flush_inserts_add(&ins, merged);
		}
		MemoryContextSwitchTo(oldcxt);
	}
	flush_inserts_write(&ins);
	if (locations != NULL)
		group_locations_end(locations);

	for (i = 0; i < vr->naggs; i++)
		agg_support_set_context(vr->aggs[i], vr->state_cxt);
	MemoryContextDelete(group_cxt);
	if (iscan)
		index_endscan(iscan);
	if (sscan)
		table_endscan(sscan);
	for (i = 0; i < ins.nmade; i++)
		ExecDropSingleTupleTableSlot(ins.slots[i]);
	if (ins.bistate)
	{
		FreeBulkInsertState(ins.bistate);
		table_finish_bulk_insert(rel, 0);
	}
	if (ins.cxt)
		MemoryContextDelete(ins.cxt);
	ExecDropSingleTupleTableSlot(stored);
	ExecDropSingleTupleTableSlot(merged);
	ExecDropSingleTupleTableSlot(keys);
	pfree(groups);
}

/* A new group's row (copied) waits for the chunk's insert. */
static void
flush_inserts_add(FlushInserts *ins, TupleTableSlot *row)
{
	if (ins->nslots == ins->nmade)
		ins->slots[ins->nmade++] = table_slot_create(ins->target->rel, NULL);
	ExecCopySlot(ins->slots[ins->nslots++], row);
	if (ins->nslots == FLUSH_INSERT_CHUNK)
		flush_inserts_write(ins);
}

static void
flush_inserts_write(FlushInserts *ins)
{
	StorageTarget *target = ins->target;
	ErrorContextCallback errcallback;
	MemoryContext oldcxt;
	int			i;

	if (ins->nslots == 0)
		return;
	if (ins->bistate == NULL)
	{
		ins->bistate = GetBulkInsertState();

		/*
		 * Not the ring of buffers of a bulk load: the next flushes update
		 * these rows, and should find their pages in shared buffers.
		 */
		FreeAccessStrategy(ins->bistate->strategy);
		ins->bistate->strategy = NULL;
		ins->cxt = AllocSetContextCreate(CurrentMemoryContext,
										 "pg_continuous flush inserts",
										 ALLOCSET_DEFAULT_SIZES);
	}
	table_multi_insert(target->rel, ins->slots, ins->nslots,
					   target->estate->es_output_cid, 0, ins->bistate);

	/* a group stored twice is refused by the unique index, and said so */
	errcallback.callback = flush_inserts_context;
	errcallback.arg = ins->vr;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;
	oldcxt = MemoryContextSwitchTo(ins->cxt);
	for (i = 0; i < ins->nslots; i++)
	{
		if (target->rri->ri_NumIndices > 0)
			ExecInsertIndexTuples(target->rri, ins->slots[i], target->estate,
								  false, false, NULL, NIL);
		ExecClearTuple(ins->slots[i]);
	}
	MemoryContextSwitchTo(oldcxt);
	MemoryContextReset(ins->cxt);
	error_context_stack = errcallback.previous;
	ins->nslots = 0;
}

static void
flush_inserts_context(void *arg)
{
	ViewRuntime *vr = arg;

	errcontext("inserting the new groups of continuous view \"%s\" into its storage",
			   vr->name);
}

/*
 * The batch's groups, with their keys, in the order of the storage index
 * where there is one: consecutive lookups and inserts then descend to
 * neighbouring leaf pages, whose path down the tree is still in the CPU's
 * caches, instead of to pages spread over the whole index in the hash
 * table's order.  By-reference keys stay where the group table holds them.
 * One palloc'd chunk in the flush's memory.
 */
static FlushGroup *
groups_in_flush_order(ViewRuntime *vr, StorageLayout *layout, int *ngroups)
{
	int			capacity = vr->groups ? group_table_count(vr->groups) : 1;
	FlushGroup *groups;
	Datum	   *values;
	bool	   *isnull;
	GroupTableIterator iter;
	TupleTableSlot *keys;
	GroupStates *states;
	int			n = 0;
	Size		bytes = MAXALIGN(sizeof(FlushGroup) * capacity) +
		MAXALIGN(sizeof(Datum) * vr->nkeys * capacity) +
		sizeof(bool) * vr->nkeys * capacity;

	groups = palloc(bytes);
	values = (Datum *) ((char *) groups + MAXALIGN(sizeof(FlushGroup) * capacity));
	isnull = (bool *) ((char *) values + MAXALIGN(sizeof(Datum) * vr->nkeys * capacity));
	view_groups_begin(vr, &iter);
	while (view_groups_next(vr, &iter, &keys, &states))
	{
		FlushGroup *group = &groups[n];

		Assert(n < capacity);
		group->values = values + n * vr->nkeys;
		group->isnull = isnull + n * vr->nkeys;
		if (vr->nkeys > 0)
		{
			memcpy(group->values, keys->tts_values, sizeof(Datum) * vr->nkeys);
			memcpy(group->isnull, keys->tts_isnull, sizeof(bool) * vr->nkeys);
		}
		group->states = states;
		n++;
	}

	if (layout->index != NULL && n > 1)
	{
		GroupOrder	order;
		IntegerOrder integers;
		int			i;

		order.layout = layout;
		order.nkeys = vr->nkeys;
		order.sort = palloc0(sizeof(SortSupportData) * vr->nkeys);
		for (i = 0; i < vr->nkeys; i++)
		{
			SortSupport sort = &order.sort[i];

			sort->ssup_cxt = CurrentMemoryContext;
			sort->ssup_collation = layout->index->rd_indcollation[i];
			sort->ssup_nulls_first = false;
			sort->ssup_attno = i + 1;
			PrepareSortSupportFromIndexRel(layout->index, BTLessStrategyNumber,
										   sort);
		}
		if (integer_order(&order, &integers) &&
			sort_by_integers(groups, n, &integers))
			bytes += sizeof(IntegerSortItem) * n;
		else
			qsort_arg(groups, n, sizeof(FlushGroup), compare_in_index_order,
					  &order);
		pfree(order.sort);
	}
	sort_memory_peak = Max(sort_memory_peak, bytes);
	*ngroups = n;
	return groups;
}

/*
 * How many windows the groups, in flush order, are in: a window's groups
 * are next to each other when the window leads the index, as it does
 * where group_locations.c keeps its filters (a window start is compared
 * as its bits there); otherwise each change of window counts, too many
 * rather than too few.  0 without a window.
 */
static int64
groups_windows(ViewRuntime *vr, FlushGroup *groups, int n)
{
	int			k = vr->plan->window != NULL ? vr->plan->window->key : -1;
	int64		windows = 0;
	int			g;

	if (k < 0)
		return 0;
	for (g = 0; g < n; g++)
	{
		if (g == 0 ||
			groups[g].isnull[k] != groups[g - 1].isnull[k] ||
			groups[g].values[k] != groups[g - 1].values[k])
			windows++;
	}
	return windows;
}

/* One or two columns, each comparing as a signed integer, ascending? */
static bool
integer_order(GroupOrder *order, IntegerOrder *integers)
{
	int			i;

	if (order->nkeys > 2)
		return false;
	integers->nkeys = order->nkeys;
	integers->index_key = order->layout->index_key;
	for (i = 0; i < order->nkeys; i++)
	{
		SortSupport sort = &order->sort[i];

		if (sort->ssup_reverse || sort->abbreviate)
			return false;
		if (sort->comparator == ssup_datum_int32_cmp)
			integers->is32[i] = true;
		else if (sort->comparator == ssup_datum_signed_cmp)
			integers->is32[i] = false;
		else
			return false;
	}
	return true;
}

/* Sorted, unless a key is NULL (false: groups are as they were) */
static bool
sort_by_integers(FlushGroup *groups, int n, IntegerOrder *order)
{
	IntegerSortItem *items = palloc(sizeof(IntegerSortItem) * n);
	FlushGroup *sorted;
	int			g;
	int			i;

	for (g = 0; g < n; g++)
	{
		items[g].keys[1] = 0;
		items[g].group = &groups[g];
		for (i = 0; i < order->nkeys; i++)
		{
			int			k = order->index_key[i];

			if (groups[g].isnull[k])
			{
				pfree(items);
				return false;
			}
			items[g].keys[i] = order->is32[i] ?
				(int64) DatumGetInt32(groups[g].values[k]) :
				DatumGetInt64(groups[g].values[k]);
		}
	}
	sort_integer_items(items, n);
	/* item g is read before the group takes its place */
	sorted = (FlushGroup *) items;
	for (g = 0; g < n; g++)
	{
		FlushGroup	group = *items[g].group;

		sorted[g] = group;
	}
	memcpy(groups, sorted, sizeof(FlushGroup) * n);
	pfree(items);
	return true;
}

Size
flush_memory_peak_take(void)
{
	Size		peak = sort_memory_peak;

	sort_memory_peak = 0;
	return peak;
}

static int
compare_in_index_order(const void *a, const void *b, void *arg)
{
	const FlushGroup *ga = a;
	const FlushGroup *gb = b;
	GroupOrder *order = arg;
	int			i;

	for (i = 0; i < order->nkeys; i++)
	{
		int			k = order->layout->index_key[i];
		int			c = ApplySortComparator(ga->values[k], ga->isnull[k],
											gb->values[k], gb->isnull[k],
											&order->sort[i]);

		if (c != 0)
			return c;
	}
	return 0;
}

static bool
storage_find_group(ViewRuntime *vr, StorageLayout *layout, IndexScanDesc iscan,
				   TableScanDesc sscan, TupleTableSlot *keys,
				   TupleTableSlot *found)
{
	ScanKeyData skeys[INDEX_MAX_KEYS];
	int			i;

	if (iscan == NULL)
	{
		/* the one row of a view without GROUP BY */
		table_rescan(sscan, NULL);
		return table_scan_getnextslot(sscan, ForwardScanDirection, found);
	}

	for (i = 0; i < vr->nkeys; i++)
	{
		int			k = layout->index_key[i];
		bool		isnull = keys->tts_isnull[k];

		ScanKeyEntryInitializeWithInfo(&skeys[i],
									   isnull ? (SK_ISNULL | SK_SEARCHNULL) : 0,
									   i + 1,
									   BTEqualStrategyNumber,
									   InvalidOid,
									   layout->index->rd_indcollation[i],
									   &layout->index_eq[i],
									   isnull ? (Datum) 0 : keys->tts_values[k]);
	}
	index_rescan(iscan, skeys, vr->nkeys, NULL, 0);
	return index_getnext_slot(iscan, ForwardScanDirection, found);
}

/* ------------------------------------------------------------------------
 * Bookkeeping through SPI: a few statements per flush, not per event
 * ------------------------------------------------------------------------
 */

static void
spi_exec(const char *sql, int nargs, Oid *argtypes, Datum *values,
		 const char *nulls)
{
	int			rc = SPI_execute_with_args(sql, nargs, argtypes, values, nulls,
										   false, 0);

	if (rc < 0)
		elog(ERROR, "pg_continuous: SPI_execute_with_args failed: %s", sql);
}

/* One dead letter; view is InvalidOid for those of the stream itself. */
void
flush_dead_letter(Oid stream, Oid view, DeadLetter *dl)
{
	Oid			types[7] = {OIDOID, OIDOID, TEXTOID, TEXTOID, TEXTOID, INT4OID, INT8OID};
	Datum		values[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};

	values[0] = ObjectIdGetDatum(stream);
	values[1] = ObjectIdGetDatum(view);
	if (!OidIsValid(view))
		nulls[1] = 'n';
	if (dl->partition >= 0)
	{
		values[2] = CStringGetTextDatum(psprintf("partition %d offset " INT64_FORMAT,
												 dl->partition, dl->offset));
		values[5] = Int32GetDatum(dl->partition);
		values[6] = Int64GetDatum(dl->offset);
	}
	else
	{
		values[2] = CStringGetTextDatum(psprintf("%X/%X", LSN_FORMAT_ARGS(dl->commit_lsn)));
		nulls[5] = nulls[6] = 'n';
	}
	values[3] = CStringGetTextDatum(dl->payload);
	values[4] = CStringGetTextDatum(dl->error);
	spi_exec("INSERT INTO continuous.dead_letters "
			 "(stream, view, position, payload, error, \"partition\", \"offset\") "
			 "VALUES ($1::regclass, $2::regclass, $3, $4, $5, $6, $7)",
			 7, types, values, nulls);
}

void
flush_view_bookkeeping(ViewRuntime *vr, double flush_ms, double latency_ms)
{
	ListCell   *lc;
	Oid			types[9];
	Datum		values[9];
	char		nulls[9] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};

	foreach(lc, vr->dead_letters)
		flush_dead_letter(vr->stream, vr->view, lfirst(lc));

	types[0] = OIDOID;
	values[0] = ObjectIdGetDatum(vr->view);
	types[1] = INT8OID;
	values[1] = Int64GetDatum(vr->events);
	types[2] = INT8OID;
	values[2] = Int64GetDatum(list_length(vr->dead_letters));
	types[3] = FLOAT8OID;
	values[3] = Float8GetDatum(flush_ms);
	types[4] = FLOAT8OID;
	values[4] = Float8GetDatum(latency_ms);
	types[5] = PG_LSNOID;
	values[5] = LSNGetDatum(vr->active_from);
	if (vr->active_from == InvalidXLogRecPtr)
		nulls[5] = 'n';
	types[6] = INT8OID;
	values[6] = Int64GetDatum(vr->late_events);
	/* the groups this flush carried from memory; kept while nothing comes */
	types[7] = INT8OID;
	values[7] = Int64GetDatum(view_batch_groups(vr));
	types[8] = INT8OID;
	values[8] = Int64GetDatum(vr->events_before_commit);
	spi_exec("INSERT INTO continuous.view_stats AS s "
			 "(view, events, errors, last_flush_at, flush_ms, latency_ms, active_from, "
			 "late_events, groups_in_memory, events_before_commit) "
			 "VALUES ($1, $2, $3, pg_catalog.now(), $4, $5, $6, $7, $8, $9) "
			 "ON CONFLICT (view) DO UPDATE SET "
			 "events = s.events OPERATOR(pg_catalog.+) excluded.events, "
			 "errors = s.errors OPERATOR(pg_catalog.+) excluded.errors, "
			 "last_flush_at = excluded.last_flush_at, "
			 "flush_ms = excluded.flush_ms, latency_ms = excluded.latency_ms, "
			 "active_from = coalesce(s.active_from, excluded.active_from), "
			 "late_events = s.late_events OPERATOR(pg_catalog.+) excluded.late_events, "
			 "groups_in_memory = CASE WHEN excluded.events OPERATOR(pg_catalog.>) 0 "
			 "THEN excluded.groups_in_memory ELSE s.groups_in_memory END, "
			 "events_before_commit = s.events_before_commit "
			 "OPERATOR(pg_catalog.+) excluded.events_before_commit",
			 9, types, values, nulls);
}

void
flush_stream_stats(StreamEvents *stream, StreamClock *clock)
{
	Oid			types[7] = {OIDOID, INT8OID, INT8OID, INT8OID, TIMESTAMPTZOID,
	INT8OID, TIMESTAMPTZOID};
	Datum		values[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
	ListCell   *lc;

	if (clock)
		foreach(lc, clock->dead_letters)
			flush_dead_letter(stream->relid, InvalidOid, lfirst(lc));

	values[0] = ObjectIdGetDatum(stream->relid);
	values[1] = Int64GetDatum(stream->nevents + stream->folded_events +
							  (clock ? list_length(clock->dead_letters) : 0));
	values[2] = Int64GetDatum(stream->bytes);
	values[3] = Int64GetDatum(stream->ignored_changes);
	if (stream->nevents > 0)
		values[4] = TimestampTzGetDatum(stream->events[stream->nevents - 1].commit_time);
	else if (stream->folded_events > 0)
		values[4] = TimestampTzGetDatum(stream->folded_last_commit_time);
	else
		nulls[4] = 'n';
	values[5] = Int64GetDatum(clock ? list_length(clock->dead_letters) : 0);
	if (clock && clock->has_watermark)
		values[6] = TimestampTzGetDatum(clock->watermark);
	else
		nulls[6] = 'n';
	spi_exec("INSERT INTO continuous.stream_stats AS s "
			 "(stream, events, bytes, ignored_changes, last_event_at, errors, watermark) "
			 "VALUES ($1, $2, $3, $4, $5, $6, $7) "
			 "ON CONFLICT (stream) DO UPDATE SET "
			 "events = s.events OPERATOR(pg_catalog.+) excluded.events, "
			 "bytes = s.bytes OPERATOR(pg_catalog.+) excluded.bytes, "
			 "ignored_changes = s.ignored_changes OPERATOR(pg_catalog.+) excluded.ignored_changes, "
			 "last_event_at = coalesce(excluded.last_event_at, s.last_event_at), "
			 "errors = s.errors OPERATOR(pg_catalog.+) excluded.errors, "
			 "watermark = greatest(s.watermark, excluded.watermark)",
			 7, types, values, nulls);
}

void
flush_insert_global_row(Oid storage, AggSupport **supports, int naggs)
{
	Relation	rel = table_open(storage, RowExclusiveLock);
	TupleDesc	desc = RelationGetDescr(rel);
	Datum	   *values = palloc0(sizeof(Datum) * desc->natts);
	bool	   *nulls = palloc0(sizeof(bool) * desc->natts);
	int			i;

	for (i = 0; i < naggs; i++)
	{
		Datum		state = agg_initial_state(supports[i], &nulls[i]);

		values[i] = agg_to_storage(supports[i], state, nulls[i]);
	}
	simple_heap_insert(rel, heap_form_tuple(desc, values, nulls));
	table_close(rel, NoLock);
}

/*
 * Views created (or rebuilt) by the transactions of this batch begin at
 * lsn, where the batch ends; written with the position, so that a restart
 * cannot resume past their creation without knowing where they begin.
 * A transaction may write a view's catalog row more than once (a restore
 * in one transaction copies it in and brings the view back).
 */
void
flush_write_view_starts(List *views, XLogRecPtr lsn)
{
	Oid			types[2] = {OIDARRAYOID, PG_LSNOID};
	Datum		values[2];
	Datum	   *oids;
	ListCell   *lc;

	if (views == NIL)
		return;
	oids = palloc(sizeof(Datum) * list_length(views));
	foreach(lc, views)
		oids[foreach_current_index(lc)] = ObjectIdGetDatum(lfirst_oid(lc));
	values[0] = PointerGetDatum(construct_array(oids, list_length(views), OIDOID,
												sizeof(Oid), true, TYPALIGN_INT));
	values[1] = LSNGetDatum(lsn);
	/*
	 * Only for the views still in the catalog: a DROP of one of them that
	 * is open now is waited for, and if it commits, no row is made for the
	 * view it dropped (its own statistics row, which it deleted, would
	 * otherwise be inserted again).
	 */
	spi_exec("INSERT INTO continuous.view_stats AS s (view, active_from) "
			 "SELECT c.view, $2 FROM continuous.view_catalog c "
			 "WHERE c.view OPERATOR(pg_catalog.=) ANY ($1) "
			 "FOR KEY SHARE OF c "
			 "ON CONFLICT (view) DO UPDATE SET active_from = excluded.active_from "
			 "WHERE s.active_from IS NULL",
			 2, types, values, NULL);

	/*
	 * A backfill moves its stream's watermark here, in commit order: events
	 * that committed before it were judged by the watermark of their time.
	 */
	spi_exec("INSERT INTO continuous.stream_stats AS s (stream, watermark) "
			 "SELECT c.stream, pg_catalog.max(v.backfill_watermark) "
			 "FROM continuous.view_stats v "
			 "JOIN continuous.view_catalog c ON c.view OPERATOR(pg_catalog.=) v.view "
			 "WHERE v.view OPERATOR(pg_catalog.=) ANY ($1) AND v.backfill_watermark IS NOT NULL "
			 "GROUP BY c.stream "
			 "ON CONFLICT (stream) DO UPDATE SET "
			 "watermark = greatest(s.watermark, excluded.watermark)",
			 1, types, values, NULL);
	spi_exec("UPDATE continuous.view_stats SET backfill_watermark = NULL "
			 "WHERE view OPERATOR(pg_catalog.=) ANY ($1) AND backfill_watermark IS NOT NULL",
			 1, types, values, NULL);
}

void
flush_write_progress(DecoderProgress *progress)
{
	Oid			types[7] = {PG_LSNOID, PG_LSNOID, OIDARRAYOID, PG_LSNARRAYOID,
	XIDOID, PG_LSNOID, PG_LSNARRAYOID};
	Datum		values[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
	Datum	   *views = palloc(sizeof(Datum) * Max(progress->nbehind, 1));
	Datum	   *lsns = palloc(sizeof(Datum) * Max(progress->nbehind, 1));
	Datum	   *parts = palloc(sizeof(Datum) * Max(progress->nbehind, 1));
	int			i;

	for (i = 0; i < progress->nbehind; i++)
	{
		views[i] = ObjectIdGetDatum(progress->behind_views[i]);
		lsns[i] = LSNGetDatum(progress->behind_lsns[i]);
		parts[i] = LSNGetDatum(progress->behind_parts[i]);
	}
	values[0] = LSNGetDatum(progress->restart);
	values[1] = LSNGetDatum(progress->frontier);
	values[2] = PointerGetDatum(construct_array(views, progress->nbehind, OIDOID,
												sizeof(Oid), true, TYPALIGN_INT));
	values[3] = PointerGetDatum(construct_array(lsns, progress->nbehind, PG_LSNOID,
												sizeof(XLogRecPtr), FLOAT8PASSBYVAL,
												TYPALIGN_DOUBLE));
	values[4] = TransactionIdGetDatum(progress->part_xid);
	values[5] = LSNGetDatum(progress->part_lsn);
	values[6] = PointerGetDatum(construct_array(parts, progress->nbehind, PG_LSNOID,
												sizeof(XLogRecPtr), FLOAT8PASSBYVAL,
												TYPALIGN_DOUBLE));
	if (!TransactionIdIsValid(progress->part_xid))
		nulls[4] = nulls[5] = 'n';
	spi_exec("UPDATE continuous.decoder_position "
			 "SET lsn = $1, frontier = $2, behind_views = $3, behind_lsns = $4, "
			 "part_xid = $5, part_lsn = $6, behind_parts = $7",
			 7, types, values, nulls);
}

void
flush_write_rebuild_owed(bool owed)
{
	Oid			type = BOOLOID;
	Datum		value = BoolGetDatum(owed);

	spi_exec("UPDATE continuous.decoder_position SET rebuild_owed = $1", 1, &type, &value, NULL);
}

bool
flush_read_rebuild_owed(void)
{
	bool		isnull;
	bool		owed = false;

	if (SPI_execute("SELECT rebuild_owed FROM continuous.decoder_position", true, 1) != SPI_OK_SELECT)
		elog(ERROR, "pg_continuous: could not read the decoder position");
	if (SPI_processed == 1)
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		owed = !isnull && DatumGetBool(d);
	}
	return owed;
}

void
flush_read_progress(DecoderProgress *progress)
{
	TupleDesc	desc;
	HeapTuple	row;
	bool		isnull;
	Datum		d;

	memset(progress, 0, sizeof(DecoderProgress));
	if (SPI_execute("SELECT lsn, frontier, behind_views, behind_lsns, part_xid, part_lsn, "
					"behind_parts FROM continuous.decoder_position", true, 1) != SPI_OK_SELECT)
		elog(ERROR, "pg_continuous: could not read the decoder position");
	if (SPI_processed != 1)
		return;
	desc = SPI_tuptable->tupdesc;
	row = SPI_tuptable->vals[0];
	d = SPI_getbinval(row, desc, 1, &isnull);
	if (!isnull)
		progress->restart = DatumGetLSN(d);
	d = SPI_getbinval(row, desc, 2, &isnull);
	progress->frontier = isnull ? progress->restart :
		Max(progress->restart, DatumGetLSN(d));
	d = SPI_getbinval(row, desc, 5, &isnull);
	if (!isnull)
	{
		progress->part_xid = DatumGetTransactionId(d);
		d = SPI_getbinval(row, desc, 6, &isnull);
		progress->part_lsn = isnull ? InvalidXLogRecPtr : DatumGetLSN(d);
	}
	d = SPI_getbinval(row, desc, 3, &isnull);
	if (!isnull)
	{
		Datum	   *views;
		Datum	   *lsns;
		Datum	   *parts = NULL;
		int			nviews;
		int			nlsns;
		int			nparts = 0;
		int			i;

		deconstruct_array(DatumGetArrayTypeP(d), OIDOID, sizeof(Oid), true,
						  TYPALIGN_INT, &views, NULL, &nviews);
		d = SPI_getbinval(row, desc, 4, &isnull);
		if (isnull)
			return;
		deconstruct_array(DatumGetArrayTypeP(d), PG_LSNOID, sizeof(XLogRecPtr),
						  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &lsns, NULL, &nlsns);
		d = SPI_getbinval(row, desc, 7, &isnull);
		if (!isnull)
			deconstruct_array(DatumGetArrayTypeP(d), PG_LSNOID, sizeof(XLogRecPtr),
							  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &parts, NULL, &nparts);
		progress->nbehind = Min(nviews, nlsns);
		progress->behind_views = palloc(sizeof(Oid) * Max(nviews, 1));
		progress->behind_lsns = palloc(sizeof(XLogRecPtr) * Max(nviews, 1));
		progress->behind_parts = palloc(sizeof(XLogRecPtr) * Max(nviews, 1));
		for (i = 0; i < progress->nbehind; i++)
		{
			progress->behind_views[i] = DatumGetObjectId(views[i]);
			progress->behind_lsns[i] = DatumGetLSN(lsns[i]);
			progress->behind_parts[i] = i < nparts ? DatumGetLSN(parts[i]) :
				InvalidXLogRecPtr;
		}
	}
}
