/*-------------------------------------------------------------------------
 *
 * backfill.c
 *	  A continuous view's state computed from the rows of its stream table:
 *	  backfill at CREATE VIEW, and continuous.rebuild().
 *
 * Pipeline position: a second source, for one view.  The rows of the
 * stream table that a fresh snapshot sees go through the steps decoded
 * events go through (watermark.c for max_future, batch.c, flush.c), in
 * chunks, into the view's storage, in the caller's transaction: readers
 * see the view's old contents (none, for a new view) until it commits.  A
 * chunk holds at most continuous.batch_events rows and maintenance_work_mem
 * of them, as CREATE INDEX bounds its sort.  Where the view can take events
 * before its flush (a filter, the partial aggregate, tumbling or hopping
 * windows: batch.c, view_folds_between_flushes()), a chunk is folded into
 * the groups the view keeps, as a worker that is behind folds, and the
 * groups are written once, at the end or whenever they take half of
 * maintenance_work_mem.  Otherwise each chunk is written, and each group a
 * chunk changes is written once per chunk.  Writing the same groups once
 * per chunk, in the one transaction, left a version of each stored row per
 * chunk that no one could prune, and each write searched through them all:
 * 630,000 rows over 97 groups, in chunks of 500, took 90 s.
 *
 * Meeting the decoder exactly.  The worker gives a view the transactions
 * that commit after a point; the backfill must count exactly the rows of
 * those that committed before it.  Both callers first take a SHARE lock on
 * the stream table and its partitions until their transaction ends, as
 * CREATE INDEX does: the lock waits until no transaction writing the
 * stream is in progress (their commits are then in the WAL and in the
 * snapshot taken next), and transactions that write the stream later wait
 * until the backfill commits, so that the worker decodes them after it.
 *
 *	 - CREATE VIEW: the worker counts for the view the transactions that
 *	   commit after the creating one (worker.c).  The lock is taken by the
 *	   CREATE VIEW, and the backfill runs when its transaction commits, so
 *	   that it also counts every row that transaction wrote, before the
 *	   CREATE VIEW or after it.  A role that LOCK TABLE would not let take
 *	   that lock (one that may only read the stream) takes it only as the
 *	   backfill starts, so that it cannot hold another owner's writers up
 *	   for as long as it keeps its transaction open, and cannot PREPARE
 *	   the transaction; the rows committed meanwhile are in the backfill's
 *	   snapshot all the same.  continuous.rebuild(), which holds the lock
 *	   until the caller's transaction ends, needs that right.
 *	 - continuous.rebuild() (rebuild.c): after the lock, it waits until the
 *	   worker has applied every transaction that committed before, empties
 *	   the storage, and fills it here; the worker goes on with the
 *	   transactions that commit after the rebuild.  The rebuilding
 *	   transaction's own rows are left out: the worker counts them when it
 *	   commits.
 *
 * An interval join (stage_interval_join.c) reads both its streams, locked
 * alike: all of the first's rows, then all of the second's, each event
 * marked with its stream as worker_join_batch() marks them.  With no
 * watermark nothing is late or expires, so each pair within the bound is
 * made once, when its second stream's row comes; the rows kept are
 * written to continuous.interval_join_rows as a flush writes them, and
 * those the streams' stored watermarks have passed are deleted at the end
 * (backfill_join_trim()): the worker loads the others with the view.
 *
 * A backfill reads the table as one batch: no row is late, whatever its
 * event time, so that the view equals its SELECT over the table.  Then the
 * stream's watermark moves to the latest event time read minus
 * watermark_delay if that is ahead (when the worker decodes the backfill's
 * commit), and closes windows as a live batch would; retention applies.  Count windows number the rows in the order
 * they are read (the table's physical order).  A row dated further ahead of
 * the clock than max_future is a dead letter of the view.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/heaptoast.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/tupconvert.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "base/guc.h"
#include "base/memory.h"
#include "base/privileges.h"
#include "ddl/ddl_catalog.h"
#include "ddl/view_definition.h"
#include "exec/batch.h"
#include "plan/plan_types.h"
#include "source/watermark.h"
#include "state/backfill.h"
#include "state/backfill_progress.h"
#include "state/flush.h"
#include "window/window_expiry.h"

/* What a backfill reads of a stream's catalog rows. */
typedef struct BackfillStream
{
	char	   *event_time;		/* NULL: the stream has none */
	Interval	watermark_delay;
	Interval	max_future;
	bool		has_watermark;	/* the stream's, as stored */
	TimestampTz watermark;
} BackfillStream;

/* What a backfill needs of the catalog about the view and its stream. */
typedef struct BackfillTarget
{
	Oid			view;
	char	   *name;			/* schema-qualified as needed, for messages */
	Oid			stream;
	Oid			storage;
	Oid			owner;
	Oid			query_view;		/* view_catalog.query_view */
	char	   *search_path;
	Interval	allowed_lateness;
	Oid			late_table;
	Interval   *retention;
	/* an interval join's second stream (InvalidOid: none) */
	Oid			join_stream;
	/* of stream, then of join_stream */
	BackfillStream streams[2];
} BackfillTarget;

/* One backfill under way. */
typedef struct Backfill
{
	BackfillTarget target;
	ViewRuntime *vr;
	StreamClock *clock;			/* the stream's, or the stream being read */
	StreamClock *clocks[2];		/* an interval join's: each stream's */
	StreamEvents chunk;			/* rows read, not yet processed */
	MemoryContext rows_cxt;		/* holds them (a Generation context: rows
								 * are freed all at once); reset per chunk */
	MemoryContext chunk_cxt;	/* the chunk's processing; reset per chunk */
	MemoryContext events_cxt;	/* holds chunk.events, for all chunks */
	XLogRecPtr	position;		/* rows committed before this (dead letters) */
	TimestampTz read_at;
	TupleDesc	desc;			/* the stream's row type */
	List	   *kept_dead_letters;	/* the clock's, of chunks folded, in
									 * events_cxt */
	int64		rows;
	uint64		blocks_before;	/* of the tables read already */
} Backfill;

/*
 * Settings that change what a value prints or parses as: a backfill runs
 * with the database's own (what the worker has), not the session's, so that
 * a row gives the same group key and dead letter either way.
 */
static const char *const worker_formats[] = {
	"DateStyle", "IntervalStyle", "TimeZone", "extra_float_digits",
	"bytea_output", "lc_monetary", "lc_numeric", "lc_time"
};

/* views whose CREATE VIEW asked for a backfill, done at commit */
static List *backfills_at_commit = NIL;
/* one of them whose stream is locked only then: no PREPARE */
static Oid	backfill_locked_late = InvalidOid;
static bool backfill_callback_registered = false;

static void backfill_at_commit(XactEvent event, void *arg);
static void backfill_read_target(Oid view, BackfillTarget *target);
static void backfill_read_stream(Oid stream, BackfillStream *read);
static void backfill_table(Backfill *bf, Oid relid, Oid stream,
						   Snapshot snapshot);
static void backfill_chunk(Backfill *bf, bool last);
static bool backfill_may_fold(Backfill *bf);
static void backfill_chunk_done(Backfill *bf, MemoryContext oldcxt);
static Size backfill_chunk_bytes(Backfill *bf);
static void backfill_finish(Backfill *bf);
static void backfill_join_trim(Backfill *bf);
static uint64 heap_blocks(List *relids);

List *
backfill_lock_stream(Oid stream)
{
	List	   *relids;
	List	   *leaves = NIL;
	ListCell   *lc;

	LockRelationOid(stream, ShareLock);
	if (get_rel_relkind(stream) != RELKIND_PARTITIONED_TABLE)
		return list_make1_oid(stream);

	/* rows may be written straight into any partition */
	relids = find_all_inheritors(stream, ShareLock, NULL);
	foreach(lc, relids)
	{
		Oid			relid = lfirst_oid(lc);

		if (RELKIND_HAS_STORAGE(get_rel_relkind(relid)))
			leaves = lappend_oid(leaves, relid);
	}
	return leaves;
}

bool
backfill_may_lock_stream(Oid stream, Oid role)
{
	List	   *relids = find_all_inheritors(stream, NoLock, NULL);
	ListCell   *lc;

	foreach(lc, relids)
	{
		bool		gone = false;

		/* a partition dropped meanwhile is no partition to lock */
		if (pg_class_aclcheck_ext(lfirst_oid(lc), role,
								  ACL_UPDATE | ACL_DELETE | ACL_TRUNCATE,
								  &gone) != ACLCHECK_OK && !gone)
			return false;
	}
	return true;
}

void
backfill_view_at_commit(Oid view, Oid stream)
{
	Oid			join_stream = ddl_catalog_join_stream_of_view(view);
	MemoryContext oldcxt;

	/* writers of the stream(s) wait from now until the commit */
	if (backfill_may_lock_stream(stream, GetUserId()) &&
		(!OidIsValid(join_stream) ||
		 backfill_may_lock_stream(join_stream, GetUserId())))
	{
		(void) backfill_lock_stream(stream);
		if (OidIsValid(join_stream))
			(void) backfill_lock_stream(join_stream);
	}
	else
		backfill_locked_late = view;
	if (!backfill_callback_registered)
	{
		RegisterXactCallback(backfill_at_commit, NULL);
		backfill_callback_registered = true;
	}
	oldcxt = MemoryContextSwitchTo(TopTransactionContext);
	backfills_at_commit = lappend_oid(backfills_at_commit, view);
	MemoryContextSwitchTo(oldcxt);
}

/*
 * Right before the creating transaction commits (or is prepared), once
 * it has written all it will: the backfills it asked for, of the views it
 * still has (a rolled-back savepoint or a DROP VIEW may have removed one).
 */
static void
backfill_at_commit(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PRE_PREPARE:
			if (backfills_at_commit == NIL)
				return;
			if (event == XACT_EVENT_PRE_PREPARE &&
				OidIsValid(backfill_locked_late) &&
				list_member_oid(backfills_at_commit, backfill_locked_late))
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("cannot prepare a transaction that backfills continuous view \"%s\"",
								get_rel_name(backfill_locked_late)),
						 errdetail("The backfill would hold a SHARE lock on the view's stream, which the role may not hold (as LOCK TABLE needs UPDATE, DELETE or TRUNCATE), until the prepared transaction ends."),
						 errhint("Commit the transaction instead, or create the view WITH (backfill = false).")));
			CommandCounterIncrement();
			PushActiveSnapshot(GetTransactionSnapshot());
			while (backfills_at_commit != NIL)
			{
				Oid			view = linitial_oid(backfills_at_commit);

				backfills_at_commit = list_delete_first(backfills_at_commit);
				if (OidIsValid(ddl_catalog_storage_of_view(view)))
					(void) backfill_view(view, BACKFILL_CREATE);
			}
			PopActiveSnapshot();
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_ABORT:
			backfills_at_commit = NIL;
			backfill_locked_late = InvalidOid;
			break;
		default:
			break;
	}
}

int64
backfill_view(Oid view, BackfillKind kind)
{
	bool		rebuild = kind != BACKFILL_CREATE;
	Backfill	bf;
	List	   *tables;
	List	   *join_tables = NIL;
	Snapshot	snapshot;
	ListCell   *lc;
	SavedPrivileges saved;
	MemoryContext oldcxt = CurrentMemoryContext;

	int			guc_level;
	int			i;

	memset(&bf, 0, sizeof(Backfill));
	backfill_read_target(view, &bf.target);

	guc_level = NewGUCNestLevel();
	for (i = 0; i < lengthof(worker_formats); i++)
		(void) set_config_option(worker_formats[i],
								 GetConfigOptionResetString(worker_formats[i]),
								 PGC_SUSET, PGC_S_SESSION, GUC_ACTION_SAVE,
								 true, 0, false);
	tables = backfill_lock_stream(bf.target.stream);
	if (OidIsValid(bf.target.join_stream))
		join_tables = backfill_lock_stream(bf.target.join_stream);

	/*
	 * Every writer of the stream has ended: a snapshot taken now sees each
	 * row committed before the lock (also when this transaction's own
	 * snapshot is older, under REPEATABLE READ), and no later one.
	 */
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	if (kind == BACKFILL_REBUILD)
		snapshot->curcid = FirstCommandId;	/* nothing this transaction wrote */
	bf.position = GetXLogInsertRecPtr();
	bf.read_at = GetCurrentTimestamp();

	privileges_become(bf.target.owner, bf.target.search_path, &saved);
	bf.vr = view_runtime_create(view, bf.target.stream, bf.target.storage,
								bf.target.owner, bf.target.search_path,
								view_definition_query(bf.target.query_view),
								&bf.target.allowed_lateness);
	privileges_restore(&saved);
	/* freed with the transaction if anything below fails */
	MemoryContextSetParent(bf.vr->cxt, CurTransactionContext);
	bf.vr->late_table = bf.target.late_table;
	bf.vr->retention = bf.target.retention;
	/* a rebuild emptied the storage: the one row of a global aggregate too */
	if (rebuild && bf.vr->nkeys == 0 && !bf.vr->plan->transform)
		flush_insert_global_row(bf.target.storage, bf.vr->aggs, bf.vr->naggs);

	/* storage written so far is found by the chunks, each by the next */
	CommandCounterIncrement();
	PushCopiedSnapshot(GetLatestSnapshot());

	/* the view's own clock: no row is late within a backfill */
	for (i = 0; i < (OidIsValid(bf.target.join_stream) ? 2 : 1); i++)
	{
		BackfillStream *stream = &bf.target.streams[i];

		bf.clocks[i] = stream_clock_create(i == 0 ? bf.target.stream :
										   bf.target.join_stream,
										   stream->event_time,
										   &stream->watermark_delay,
										   &stream->max_future, false, 0);
	}
	bf.clock = bf.clocks[0];

	bf.rows_cxt = GenerationContextCreate(CurrentMemoryContext,
										  "pg_continuous backfill rows",
										  ALLOCSET_DEFAULT_SIZES);
	bf.chunk_cxt = AllocSetContextCreate(CurrentMemoryContext,
										 "pg_continuous backfill chunk",
										 ALLOCSET_DEFAULT_SIZES);
	{
		Relation	streamrel = table_open(bf.target.stream, NoLock);

		bf.desc = CreateTupleDescCopy(RelationGetDescr(streamrel));
		table_close(streamrel, NoLock);
	}
	bf.chunk.relid = bf.target.stream;
	bf.chunk.desc = bf.desc;
	bf.chunk.backfill = true;
	/* the array outlives the chunks: grown in the backfill's context */
	bf.chunk.capacity = 0;
	bf.chunk.events = NULL;
	bf.events_cxt = CurrentMemoryContext;

	backfill_progress_start(view, bf.target.name, bf.target.stream, rebuild,
							heap_blocks(list_concat_copy(tables, join_tables)));
	foreach(lc, tables)
		backfill_table(&bf, lfirst_oid(lc), bf.target.stream, snapshot);
	/* the last chunk writes what the chunks before it folded */
	if (bf.chunk.nevents > 0 || view_folded_memory(bf.vr) > 0)
		backfill_chunk(&bf, true);

	/*
	 * An interval join: the second stream's rows after all of the first's.
	 * Nothing is late or expires in a backfill (no watermark before it), so
	 * every row of the first stream is kept when the second's are read, and
	 * each pair within the bound is made once, by its second stream's row.
	 */
	if (OidIsValid(bf.target.join_stream))
	{
		Relation	joinrel = table_open(bf.target.join_stream, NoLock);

		bf.chunk.desc = CreateTupleDescCopy(RelationGetDescr(joinrel));
		table_close(joinrel, NoLock);
		bf.clock = bf.clocks[1];
		foreach(lc, join_tables)
			backfill_table(&bf, lfirst_oid(lc), bf.target.join_stream,
						   snapshot);
		if (bf.chunk.nevents > 0)
			backfill_chunk(&bf, true);
		bf.clock = bf.clocks[0];
		backfill_join_trim(&bf);
	}
	backfill_finish(&bf);

	PopActiveSnapshot();
	UnregisterSnapshot(snapshot);
	view_runtime_destroy(bf.vr);
	MemoryContextDelete(bf.chunk_cxt);
	MemoryContextDelete(bf.rows_cxt);
	AtEOXact_GUC(true, guc_level);
	MemoryContextSwitchTo(oldcxt);
	return bf.rows;
}

/* The catalog rows of the view and of its stream, read as the extension. */
static void
backfill_read_target(Oid view, BackfillTarget *target)
{
	ExtensionPrivileges saved;
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(view)};
	MemoryContext cxt = CurrentMemoryContext;
	HeapTuple	row;
	TupleDesc	desc;
	bool		isnull;
	Datum		d;

	privileges_become_extension(&saved);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT v.stream, v.storage, v.query_view, c.relowner, "
							  "v.search_path, v.allowed_lateness, v.late_table, v.retention, "
							  "s.kind OPERATOR(pg_catalog.=) 'kafka' "
							  "FROM continuous.view_catalog v "
							  "JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) v.view "
							  "JOIN continuous.stream_catalog s ON s.stream OPERATOR(pg_catalog.=) v.stream "
							  "WHERE v.view OPERATOR(pg_catalog.=) $1",
							  1, argtypes, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "pg_continuous: could not read continuous.view_catalog");
	if (SPI_processed != 1)
		elog(ERROR, "pg_continuous: view %u is not a continuous view", view);
	row = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	if (DatumGetBool(SPI_getbinval(row, desc, 9, &isnull)))
		elog(ERROR, "pg_continuous: view %u reads a Kafka stream", view);

	MemoryContextSwitchTo(cxt);
	target->view = view;
	target->name = ddl_relation_display_name(view);
	target->stream = DatumGetObjectId(SPI_getbinval(row, desc, 1, &isnull));
	target->storage = DatumGetObjectId(SPI_getbinval(row, desc, 2, &isnull));
	target->query_view = DatumGetObjectId(SPI_getbinval(row, desc, 3, &isnull));
	target->owner = DatumGetObjectId(SPI_getbinval(row, desc, 4, &isnull));
	target->search_path = TextDatumGetCString(SPI_getbinval(row, desc, 5, &isnull));
	target->allowed_lateness = *DatumGetIntervalP(SPI_getbinval(row, desc, 6, &isnull));
	d = SPI_getbinval(row, desc, 7, &isnull);
	target->late_table = isnull ? InvalidOid : DatumGetObjectId(d);
	d = SPI_getbinval(row, desc, 8, &isnull);
	if (!isnull)
	{
		target->retention = palloc(sizeof(Interval));
		*target->retention = *DatumGetIntervalP(d);
	}

	SPI_finish();
	privileges_leave_extension(&saved);

	backfill_read_stream(target->stream, &target->streams[0]);
	target->join_stream = ddl_catalog_join_stream_of_view(view);
	if (OidIsValid(target->join_stream))
		backfill_read_stream(target->join_stream, &target->streams[1]);
}

/* A stream's catalog and statistics rows, read as the extension. */
static void
backfill_read_stream(Oid stream, BackfillStream *read)
{
	ExtensionPrivileges saved;
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(stream)};
	MemoryContext cxt = CurrentMemoryContext;
	HeapTuple	row;
	TupleDesc	desc;
	bool		isnull;
	Datum		d;

	privileges_become_extension(&saved);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT s.event_time, s.watermark_delay, s.max_future, st.watermark "
							  "FROM continuous.stream_catalog s "
							  "LEFT JOIN continuous.stream_stats st ON st.stream OPERATOR(pg_catalog.=) s.stream "
							  "WHERE s.stream OPERATOR(pg_catalog.=) $1",
							  1, argtypes, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "pg_continuous: could not read continuous.stream_catalog");
	if (SPI_processed != 1)
		elog(ERROR, "pg_continuous: relation %u is not a stream", stream);
	row = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;

	MemoryContextSwitchTo(cxt);
	d = SPI_getbinval(row, desc, 1, &isnull);
	read->event_time = isnull ? NULL : pstrdup(NameStr(*DatumGetName(d)));
	read->watermark_delay = *DatumGetIntervalP(SPI_getbinval(row, desc, 2, &isnull));
	read->max_future = *DatumGetIntervalP(SPI_getbinval(row, desc, 3, &isnull));
	d = SPI_getbinval(row, desc, 4, &isnull);
	read->has_watermark = !isnull;
	read->watermark = isnull ? 0 : DatumGetTimestampTz(d);

	SPI_finish();
	privileges_leave_extension(&saved);
}

/* The heap blocks of the tables to read, for progress. */
static uint64
heap_blocks(List *relids)
{
	uint64		blocks = 0;
	ListCell   *lc;

	foreach(lc, relids)
	{
		Relation	rel = table_open(lfirst_oid(lc), NoLock);

		blocks += RelationGetNumberOfBlocks(rel);
		table_close(rel, NoLock);
	}
	return blocks;
}

/*
 * Read one table (the stream, or one of its partitions) into chunks, in
 * the stream's row type.
 */
static void
backfill_table(Backfill *bf, Oid relid, Oid stream, Snapshot snapshot)
{
	Relation	rel = table_open(relid, NoLock);
	TupleDesc	desc;
	TupleConversionMap *map = NULL;
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	TableScanDesc scan;
	uint64		blocks = RelationGetNumberOfBlocks(rel);

	/* in the row type of the stream read (bf->chunk.desc) */
	desc = bf->chunk.desc;

	/* a partition's columns may be in another order, or dropped */
	if (relid != stream)
		map = convert_tuples_by_name(RelationGetDescr(rel), desc);

	/* from the first block, so that progress means something */
	scan = table_beginscan_strat(rel, snapshot, 0, NULL, true, false);
	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(bf->rows_cxt);
		HeapTuple	tuple = ExecCopySlotHeapTuple(slot);
		StreamEvent *event;

		bf->chunk.events = continuous_room_for_one_more(bf->chunk.events,
														bf->chunk.nevents,
														&bf->chunk.capacity,
														sizeof(StreamEvent), false,
														bf->events_cxt);
		event = &bf->chunk.events[bf->chunk.nevents++];
		if (map)
			tuple = execute_attr_map_tuple(tuple, map);
		/* as decoded events are: no TOAST pointers */
		if (HeapTupleHasExternal(tuple))
			tuple = toast_flatten_tuple(tuple, desc);
		memset(event, 0, sizeof(StreamEvent));
		event->tuple = tuple;
		event->desc = desc;
		event->relid = stream;	/* as worker_join_batch() marks them */
		event->commit_lsn = bf->position;
		event->commit_time = bf->read_at;
		event->partition = -1;
		bf->chunk.bytes += tuple->t_len;
		MemoryContextSwitchTo(oldcxt);
		bf->rows++;

		if (bf->chunk.nevents >= continuous_batch_events ||
			backfill_chunk_bytes(bf) >= (Size) maintenance_work_mem * 1024)
		{
			backfill_chunk(bf, false);
			if (scan->rs_rd->rd_tableam == GetHeapamTableAmRoutine())
				backfill_progress_report(bf->rows, bf->blocks_before +
										 ((HeapScanDesc) scan)->rs_cblock + 1);
		}
		CHECK_FOR_INTERRUPTS();
	}
	table_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	if (map)
		free_conversion_map(map);
	table_close(rel, NoLock);
	bf->blocks_before += blocks;
	backfill_progress_report(bf->rows, bf->blocks_before);
}

/* The memory a chunk's rows take, with their events' array. */
static Size
backfill_chunk_bytes(Backfill *bf)
{
	return MemoryContextMemAllocated(bf->rows_cxt, false) +
		sizeof(StreamEvent) * bf->chunk.capacity;
}

/*
 * Process the rows read so far: fold them into the groups the view keeps
 * (not the last chunk, where the view can), or write them, with what was
 * folded before, as a flush does for a batch.
 */
static void
backfill_chunk(Backfill *bf, bool last)
{
	ViewRuntime *vr = bf->vr;
	StreamClock *clock = bf->clock;
	ExtensionPrivileges saved;
	bool		fold = !last && backfill_may_fold(bf);
	MemoryContext oldcxt;

	/* the dead letters of a fold outlive its chunk, until the write */
	oldcxt = MemoryContextSwitchTo(fold ? bf->events_cxt : bf->chunk_cxt);
	stream_clock_advance(clock, &bf->chunk);
	clock->had_watermark_before = false;
	/* rows ahead of the clock are the view's loss here, not the stream's */
	bf->kept_dead_letters = list_concat(bf->kept_dead_letters,
										clock->dead_letters);
	clock->dead_letters = NIL;
	MemoryContextSwitchTo(bf->chunk_cxt);
	if (fold)
	{
		view_fold_events(vr, &bf->chunk, clock, NIL);
		backfill_chunk_done(bf, oldcxt);
		return;
	}
	view_process_events(vr, &bf->chunk, clock, NIL);
	vr->dead_letters = list_concat(vr->dead_letters, bf->kept_dead_letters);
	bf->kept_dead_letters = NIL;

	privileges_become_extension(&saved);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	view_flush_stages(vr);
	flush_view_bookkeeping(vr, 0, 0);
	SPI_finish();
	privileges_leave_extension(&saved);

	view_batch_committed(vr);
	CommandCounterIncrement();
	UpdateActiveSnapshotCommandId();
	backfill_chunk_done(bf, oldcxt);
}

/*
 * Fold the next chunk?  While the groups kept take under half of
 * maintenance_work_mem: with its chunk's rows, a backfill then holds at
 * most one and a half times maintenance_work_mem, and one chunk's groups.
 */
static bool
backfill_may_fold(Backfill *bf)
{
	return view_folds_between_flushes(bf->vr) &&
		view_folded_memory(bf->vr) < (Size) maintenance_work_mem * 1024 / 2;
}

/* The chunk's rows and its processing's memory go, for the next chunk. */
static void
backfill_chunk_done(Backfill *bf, MemoryContext oldcxt)
{
	MemoryContextSwitchTo(oldcxt);
	MemoryContextReset(bf->chunk_cxt);
	MemoryContextReset(bf->rows_cxt);
	bf->chunk.nevents = 0;
	bf->chunk.bytes = 0;
}

/*
 * The stream's watermark moves to the latest event time read, if that is
 * ahead of it: not here, but when the worker reaches this transaction in
 * the WAL (flush_write_view_starts()), so that the events committed before
 * it are judged by the watermark of their time.  The view's retention
 * applies by it now.
 */
static void
backfill_finish(Backfill *bf)
{
	StreamClock *clock = bf->clock;
	ExtensionPrivileges saved;
	Oid			argtypes[2] = {OIDOID, TIMESTAMPTZOID};
	Datum		args[2];

	if (!clock->has_watermark)
		return;
	args[0] = ObjectIdGetDatum(bf->target.view);
	args[1] = TimestampTzGetDatum(clock->watermark);
	if (bf->target.streams[0].has_watermark &&
		bf->target.streams[0].watermark > clock->watermark)
		clock->watermark = bf->target.streams[0].watermark;

	privileges_become_extension(&saved);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("INSERT INTO continuous.view_stats AS s (view, backfill_watermark) "
							  "VALUES ($1, $2) ON CONFLICT (view) DO UPDATE SET "
							  "backfill_watermark = excluded.backfill_watermark",
							  2, argtypes, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "pg_continuous: could not write the watermark of a backfill");
	window_expiry_apply_retention(bf->vr, clock);
	SPI_finish();
	privileges_leave_extension(&saved);
}

/*
 * An interval join's rows kept after the backfill: those the worker can
 * still pair.  Its watermarks are never behind the streams' as stored, so
 * a first stream's row before the second's watermark minus the bound's
 * upper end, and a second stream's row before the first's watermark plus
 * its lower end, can meet no event to come: they go.  The others stay in
 * continuous.interval_join_rows, where the worker loads them from.
 */
static void
backfill_join_trim(Backfill *bf)
{
	PlanIntervalJoin *ij = bf->vr->plan->interval_join;
	ExtensionPrivileges saved;
	Oid			argtypes[3] = {OIDOID, INT2OID, TIMESTAMPTZOID};
	Datum		args[3];
	TimestampTz cut;
	int			side;

	privileges_become_extension(&saved);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	for (side = 0; side < 2; side++)
	{
		/* a side's rows go by the other stream's watermark */
		BackfillStream *other = &bf->target.streams[1 - side];

		if (!other->has_watermark ||
			(side == 0 ?
			 pg_sub_s64_overflow(other->watermark, ij->hi, &cut) :
			 pg_add_s64_overflow(other->watermark, ij->lo, &cut)))
			continue;
		args[0] = ObjectIdGetDatum(bf->target.view);
		args[1] = Int16GetDatum(side);
		args[2] = TimestampTzGetDatum(cut);
		if (SPI_execute_with_args("DELETE FROM continuous.interval_join_rows "
								  "WHERE view OPERATOR(pg_catalog.=) $1::pg_catalog.regclass "
								  "AND side OPERATOR(pg_catalog.=) $2 "
								  "AND event_time OPERATOR(pg_catalog.<) $3",
								  3, argtypes, args, NULL, false, 0) != SPI_OK_DELETE)
			elog(ERROR, "pg_continuous: could not expire the join rows of continuous view \"%s\"",
				 bf->target.name);
	}
	SPI_finish();
	privileges_leave_extension(&saved);
}
