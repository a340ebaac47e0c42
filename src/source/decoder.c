/*-------------------------------------------------------------------------
 *
 * decoder.c
 *	  Logical decoding inside the worker: the output plugin of table streams.
 *
 * Pipeline position: source.  Each database's worker owns a logical
 * replication slot whose output plugin is this library.  The worker reads
 * WAL itself (as pg_logical_slot_get_changes() does inside) and the plugin
 * callbacks hand it the committed heap tuples of stream tables directly: no
 * text format, no SPI.  Changes arrive per transaction at its commit, in
 * commit order, and never for aborted transactions.
 *
 * Large transactions are streamed to the plugin before they commit (the
 * reorder buffer's streaming mode, instead of spilling them to disk and
 * reading them back change by change): their rows wait in a PendingTxn,
 * already in the form of the batch's events, and join the batch at commit
 * (as a whole, where the batch has no events of their stream yet), or
 * vanish at abort.  Between reads, the worker
 * may read them (StreamedTxn, decoder.h) to aggregate them before the
 * commit (early_aggregation.c); the batch lists the streamed transactions
 * that committed into it, so that it can find them again.
 *
 * Memory: once the rows held (the batch's and the streamed transactions')
 * take continuous.large_transaction_memory, or those of the streamed
 * transactions an eighth of it, the rest of the rows of the
 * transaction being decoded go to a temporary file instead (row_spill.c),
 * streamed or handed over at its commit; the batch ends with it, and the
 * worker reads them back in runs that it folds into the views
 * (decoder_batch_read_spilled(), worker.c), or flushes in parts.  A
 * streamed transaction's rows on disk are also kept in memory from one
 * turn of the worker to the next (StreamedTxn.tail), for the views to run
 * before the commit; the worker then reads back only the rows after those
 * (decoder_batch_pass_spilled_early()).  A part
 * ends at the end of a WAL record, and a transaction decoded again after a
 * crash passes over the rows of the records its flushed parts held
 * (decoder_resume_within()).
 *
 * Rows of a partition count for the partitioned stream above it, if
 * there is one, converted to its row type; an UPDATE that moves a row to
 * another partition is no new event (partition_route.c).
 *
 * Rows are copied into the current DecodedBatch.  A transaction that
 * changes the continuous catalog (a stream or view created or dropped) ends
 * the batch, so the worker reloads its definitions exactly between that
 * transaction and the next: a view sees the transactions that commit after
 * the one that created it.
 *
 * Exactly once: the batch is flushed together with the read position
 * (flush.c); the slot's confirmed position follows only after that commit.
 * On restart, decoding resumes at the flushed position, and transactions
 * that committed before it are skipped by the snapshot builder.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heaptoast.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "access/xlogutils.h"
#include "catalog/pg_class.h"
#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "replication/decode.h"
#include "replication/logical.h"
#include "replication/origin.h"
#include "replication/output_plugin.h"
#include "replication/slot.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/varlena.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/resowner.h"

#include "base/extension_catalog.h"
#include "base/guc.h"
#include "base/memory.h"
#include "base/shmem.h"
#include "source/decoder.h"
#include "source/partition_route.h"
#include "source/row_spill.h"

DecodedBatch *decoder_batch = NULL;

static LogicalDecodingContext *decoding_ctx = NULL;
static ResourceOwner decoder_owner = NULL;
static char decoder_slot_name[NAMEDATALEN];
static XLogRecPtr confirmed_lsn = InvalidXLogRecPtr;

/* stream relids, sorted for bsearch */
static Oid *stream_relids = NULL;
static int	stream_nrelids = 0;
static Oid	stream_catalog_relid = InvalidOid;
static Oid	view_catalog_relid = InvalidOid;
/* is one of them a partitioned table? */
static bool partitioned_streams = false;
/*
 * A transaction flushed in parts before a restart: the rows of the one
 * whose top-level xid is resume_xid, from WAL records up to
 * resume_change_lsn, are applied already (decoder_resume_within()).
 */
static TransactionId resume_xid = InvalidTransactionId;
static XLogRecPtr resume_change_lsn = InvalidXLogRecPtr;

/*
 * The WAL record of the last row read back of the first spill of the batch
 * (forgotten when that spill has been read, or the batch is gone).
 */
static XLogRecPtr spill_read_lsn = InvalidXLogRecPtr;

/* set while a transaction that touched the catalog is being replayed */
static bool txn_changed_catalog = false;
/* a row move of the transaction being replayed, half decoded */
static RowMove txn_move;
/* its rows past continuous.large_transaction_memory, if it has such */
static RowSpill *txn_spill = NULL;

/* where a row to be spilled is made, when it takes a copy */
static MemoryContext spill_scratch_cxt = NULL;

/* Where a row of a streamed transaction's tail came from. */
typedef struct TailOrigin
{
	TransactionId subxid;
	XLogRecPtr	lsn;
} TailOrigin;

/*
 * A transaction being streamed: its rows (StreamedTxn, decoder.h, which
 * the worker may read between reads of the WAL) until it commits or aborts.
 */
typedef struct PendingTxn
{
	StreamedTxn txn;			/* first: txn.xid is the hash key */
	MemoryContext cxt;
	MemoryContext rows_cxt;		/* the rows themselves, as the batch's */
	int			capacity;		/* of txn.rows and txn.subxids */
	int64		tuple_bytes;	/* of the rows' tuples */
	bool		one_stream;		/* every row inserted into rows[0].relid */
	TupleDesc	desc;			/* last descriptor copied, and its source */
	TupleDesc	desc_source;
	TupleDesc	catalog_desc;	/* the same for view_catalog's rows */
	TupleDesc	catalog_desc_source;
	TupleDesc	route_desc;		/* the same for rows of partitions */
	uint64		route_layout;
	RowMove		move;			/* a row move, half decoded */
	Size		memory;			/* about what its rows take */
	RowSpill   *spill;			/* its rows from the first that did not fit */
	MemoryContext tail_cxt;		/* txn.tail's rows, once it spills */
	int			tail_capacity;	/* of txn.tail, kept from turn to turn */
	Size		tail_memory;
	/* whence each row of txn.tail, while its spill writes none */
	TailOrigin *tail_origins;
	int			tail_origins_capacity;
} PendingTxn;

/* the next StreamedTxn.generation */
static uint64 next_generation = 1;

/* what the rows of every PendingTxn take, about */
static Size pending_memory = 0;

static HTAB *pending_txns = NULL;

/*
 * What the tails of every PendingTxn take (StreamedTxn.tail): rows on disk
 * kept until the worker's next turn.  The decoder gives the worker a turn
 * once they take an eighth of continuous.large_transaction_memory, and one
 * hand-over of the reorder buffer (logical_decoding_work_mem) may add to
 * that; past twice the first and once the second, a tail is given up:
 * what the worker holds for it stays under what the reorder buffer itself
 * may hold, and two turns.
 */
static Size spill_tail_memory = 0;

/* May a streamed transaction's rows on disk go unwritten?  (worker.c) */
static DecoderSpillUnwritten spill_unwritten = NULL;

extern PGDLLEXPORT void _PG_output_plugin_init(OutputPluginCallbacks *cb);

static void decoder_require_free_slot(void);
static bool decoder_note_slot_shortage(bool shortage);
static char *decoder_database_name(void);
static void decoder_create_slot(void);
static int	decoder_page_read(XLogReaderState *state, XLogRecPtr targetPagePtr,
							  int reqLen, XLogRecPtr targetRecPtr,
							  char *cur_page);
static void decoder_trust_own_plugin(void);
static void decoder_hide_from_snapshots(bool hide);
static void decoder_open(XLogRecPtr start_lsn);
static void batch_init(void);
static void batch_discard(void);
static bool is_stream(Oid relid);
static Oid	change_stream(Relation relation, PartitionRoute **route);
static StreamEvents *batch_stream(Oid relid);
static List *truncated_streams(int nrelations, Relation relations[]);
static bool view_catalog_written(ReorderBufferChange *change);
static void batch_view_created(HeapTuple row, TupleDesc desc);
static MemoryContext row_context(ReorderBufferChange *change,
								 PartitionRoute *route);
static bool row_made_by_copy(ReorderBufferChange *change,
							 PartitionRoute *route);
static MemoryContext rows_context_create(MemoryContext parent,
										 const char *name);
static HeapTuple copy_row(Relation relation, ReorderBufferChange *change);
static bool rows_fill_memory(void);
static bool applied_before(ReorderBufferTXN *txn, ReorderBufferChange *change);
static void resume_done(ReorderBufferTXN *txn);
static void batch_ignored(ReorderBufferTXN *txn, Oid stream_relid,
						  XLogRecPtr lsn);
static void spill_row(RowSpill *spill, PendingTxn *pending,
					  Oid stream_relid, TransactionId subxid,
					  Relation relation, ReorderBufferChange *change,
					  PartitionRoute *route, TupleDesc desc);
static void batch_spill_row(ReorderBufferTXN *txn, Oid stream_relid,
							Relation relation, ReorderBufferChange *change,
							PartitionRoute *route, TupleDesc desc);
static TupleDesc keep_desc(TupleDesc *copy, TupleDesc *source, Relation relation);
static TupleDesc route_desc(TupleDesc *copy, uint64 *layout,
							PartitionRoute *route);
static void count_ignored(Oid stream);
static void release_desc(TupleDesc *source);
static void pending_forget(PendingTxn *pending);
static bool batch_take_streamed(PendingTxn *pending, ReorderBufferTXN *txn);
static void batch_append_streamed(PendingTxn *pending, ReorderBufferTXN *txn);
static void batch_take_spill(RowSpill *spill, ReorderBufferTXN *txn);
static void batch_add_spill(RowSpill *spill);
static void batch_count_events(int n, TimestampTz commit_time);
static void batch_append(StreamEvents *stream, HeapTuple tuple, TupleDesc desc,
						 XLogRecPtr commit_lsn, TimestampTz commit_time);
static void pending_init(void);
static PendingTxn *pending_txn(ReorderBufferTXN *txn);
static inline int64 stream_row_bytes(const StreamEvent *row);
static inline Size pending_row_memory(const StreamEvent *row);
static void pending_add(PendingTxn *pending, Oid relid, TransactionId subxid,
						HeapTuple tuple, TupleDesc desc);
static bool pending_spills(PendingTxn *pending, Oid relid);
static void pending_add_ignored(PendingTxn *pending, Oid relid,
								TransactionId subxid, XLogRecPtr lsn);
static void pending_release(PendingTxn *pending);
static void pending_keep_spilled(PendingTxn *pending, Oid relid,
								 TransactionId subxid, XLogRecPtr lsn,
								 HeapTuple tuple, TupleDesc desc);
static void pending_drop_tail(PendingTxn *pending, bool lose);
static void pending_write_tail(PendingTxn *pending);
static void pending_drop_rows(PendingTxn *pending, const TransactionId *live,
							  int nlive, TransactionId aborted);
static void pending_drop_aborted(PendingTxn *pending, ReorderBufferTXN *txn);
static void spill_write_committed_tail(RowSpill *spill, TransactionId xid);
static void spill_write_tail(RowSpill *spill, StreamEvent *tail, int ntail,
							 int64 tail_first, TailOrigin *origins);
static Size spill_tail_turn(void);
static void plugin_stream_start(LogicalDecodingContext *ctx,
								ReorderBufferTXN *txn);
static void plugin_stream_stop(LogicalDecodingContext *ctx,
							   ReorderBufferTXN *txn);
static void plugin_stream_change(LogicalDecodingContext *ctx,
								 ReorderBufferTXN *txn, Relation relation,
								 ReorderBufferChange *change);
static void plugin_stream_truncate(LogicalDecodingContext *ctx,
								   ReorderBufferTXN *txn, int nrelations,
								   Relation relations[],
								   ReorderBufferChange *change);
static void plugin_stream_abort(LogicalDecodingContext *ctx,
								ReorderBufferTXN *txn, XLogRecPtr abort_lsn);
static void plugin_stream_commit(LogicalDecodingContext *ctx,
								 ReorderBufferTXN *txn, XLogRecPtr commit_lsn);
static void plugin_startup(LogicalDecodingContext *ctx,
						   OutputPluginOptions *opt, bool is_init);
static void plugin_begin(LogicalDecodingContext *ctx, ReorderBufferTXN *txn);
static void plugin_change(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
						  Relation relation, ReorderBufferChange *change);
static void plugin_truncate(LogicalDecodingContext *ctx,
							ReorderBufferTXN *txn, int nrelations,
							Relation relations[], ReorderBufferChange *change);
static void plugin_commit(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
						  XLogRecPtr commit_lsn);
static bool plugin_filter_by_origin(LogicalDecodingContext *ctx,
									RepOriginId origin_id);

/* ------------------------------------------------------------------------
 * Output plugin
 * ------------------------------------------------------------------------
 */

void
_PG_output_plugin_init(OutputPluginCallbacks *cb)
{
	cb->startup_cb = plugin_startup;
	cb->begin_cb = plugin_begin;
	cb->change_cb = plugin_change;
	cb->truncate_cb = plugin_truncate;
	cb->commit_cb = plugin_commit;
	cb->stream_start_cb = plugin_stream_start;
	cb->stream_stop_cb = plugin_stream_stop;
	cb->stream_change_cb = plugin_stream_change;
	cb->stream_truncate_cb = plugin_stream_truncate;
	cb->stream_abort_cb = plugin_stream_abort;
	cb->stream_commit_cb = plugin_stream_commit;
	cb->filter_by_origin_cb = plugin_filter_by_origin;
}

/*
 * The rows the worker's flushes write into views' storage are marked with
 * PostgreSQL's do-not-replicate origin (flush.c): they are no stream's, and
 * skipped here they never enter the reorder buffer, which would otherwise
 * hold, and at the commit go through, every row of every flush (a windowed
 * view of many groups writes nearly as many rows as it decodes).  Rows of
 * any other origin are decoded, a stream filled by a subscription's apply
 * worker included.
 */
static bool
plugin_filter_by_origin(LogicalDecodingContext *ctx, RepOriginId origin_id)
{
	return origin_id == DoNotReplicateId;
}

static void
plugin_startup(LogicalDecodingContext *ctx, OutputPluginOptions *opt,
			   bool is_init)
{
	opt->output_type = OUTPUT_PLUGIN_BINARY_OUTPUT;
	/* slot creation runs the startup callback too, before any batch */
	if (!is_init && decoder_batch == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("output plugin \"pg_continuous\" can only be used by pg_continuous workers")));
}

static void
plugin_begin(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	txn_changed_catalog = false;
	txn_move.xid = InvalidTransactionId;
	txn_spill = NULL;
}

static void
plugin_change(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
			  Relation relation, ReorderBufferChange *change)
{
	Oid			relid = RelationGetRelid(relation);
	Oid			stream_relid;
	Oid			moved_from;
	PartitionRoute *route;
	StreamEvents *stream;
	MemoryContext oldcxt;
	TupleDesc	desc;
	HeapTuple	tuple;

	if (relid == stream_catalog_relid || relid == view_catalog_relid)
	{
		txn_changed_catalog = true;
		/* only committed transactions come here */
		if (relid == view_catalog_relid && view_catalog_written(change))
			batch_view_created(&change->data.tp.newtuple->tuple,
							   RelationGetDescr(relation));
		return;
	}
	stream_relid = change_stream(relation, &route);
	if (partition_route_moved_row(&txn_move, relation, change, stream_relid,
								  &moved_from))
	{
		/* the UPDATE was counted at the DELETE, if that was of this stream */
		if (OidIsValid(stream_relid) && stream_relid != moved_from &&
			!applied_before(txn, change))
			batch_ignored(txn, stream_relid, change->lsn);
		return;
	}
	if (!OidIsValid(stream_relid) || applied_before(txn, change))
		return;

	if (change->action != REORDER_BUFFER_CHANGE_INSERT)
	{
		batch_ignored(txn, stream_relid, change->lsn);
		return;
	}

	stream = batch_stream(stream_relid);
	oldcxt = MemoryContextSwitchTo(decoder_batch->cxt);
	if (route)
		desc = route_desc(&stream->route_desc, &stream->route_layout, route);
	else
		desc = keep_desc(&stream->desc, &stream->desc_source, relation);
	if (txn_spill != NULL || rows_fill_memory())
		batch_spill_row(txn, stream_relid, relation, change, route, desc);
	else
	{
		MemoryContextSwitchTo(row_context(change, route));
		tuple = copy_row(relation, change);
		if (route)
			tuple = partition_route_convert(route, tuple);
		MemoryContextSwitchTo(decoder_batch->cxt);
		batch_append(stream, tuple, desc, txn->final_lsn,
					 txn->xact_time.commit_time);
	}
	MemoryContextSwitchTo(oldcxt);
}

/*
 * Do the rows held, of the batch and of transactions still streaming, take
 * continuous.large_transaction_memory?  Then the rows that come next of
 * the transaction being decoded go to disk (row_spill.c), and so do all
 * its rows after them.
 */
static bool
rows_fill_memory(void)
{
	return pending_memory + decoder_batch_bytes() >=
		(Size) continuous_large_transaction_memory_kb * 1024;
}

/*
 * Was the change applied by a flush of part of its transaction before the
 * worker restarted?  Decoded again, the transaction's rows come in the
 * order they had, at its commit or streamed before it (the reorder buffer
 * may stream it once it has read the record just before its commit, where
 * decoding begins), and are told apart by the WAL record each was decoded
 * from.
 */
static bool
applied_before(ReorderBufferTXN *txn, ReorderBufferChange *change)
{
	if (!TransactionIdIsValid(resume_xid))
		return false;
	return (txn->toptxn ? txn->toptxn->xid : txn->xid) == resume_xid &&
		change->lsn <= resume_change_lsn;
}

/* The transaction flushed in parts is in whole: nothing is owed any more. */
static void
resume_done(ReorderBufferTXN *txn)
{
	if (txn->xid == resume_xid)
	{
		resume_xid = InvalidTransactionId;
		resume_change_lsn = InvalidXLogRecPtr;
	}
}

void
decoder_resume_within(TransactionId xid, XLogRecPtr change_lsn)
{
	resume_xid = xid;
	resume_change_lsn = change_lsn;
}

/*
 * A committed UPDATE, DELETE or TRUNCATE of a stream: counted, or to the
 * transaction's spill once it has one, so that it is counted with the part
 * of the transaction it belongs to.
 */
static void
batch_ignored(ReorderBufferTXN *txn, Oid stream_relid, XLogRecPtr lsn)
{
	if (txn_spill != NULL)
		row_spill_write(txn_spill, stream_relid, InvalidTransactionId, lsn,
						NULL, NULL);
	else
		count_ignored(stream_relid);
}

/*
 * A committed row past continuous.large_transaction_memory, to its
 * transaction's spill: the batch ends with the transaction, and reads the
 * rows back after every event it holds (decoder_batch_read_spilled()).
 */
static void
batch_spill_row(ReorderBufferTXN *txn, Oid stream_relid, Relation relation,
				ReorderBufferChange *change, PartitionRoute *route,
				TupleDesc desc)
{
	if (txn_spill == NULL)
	{
		txn_spill = row_spill_create(decoder_batch->cxt, true);
		row_spill_committed(txn_spill, txn->xid, txn->final_lsn,
							txn->xact_time.commit_time);
		decoder_batch->spills = lappend(decoder_batch->spills, txn_spill);
	}
	spill_row(txn_spill, NULL, stream_relid, InvalidTransactionId, relation,
			  change, route, desc);
}

/*
 * The inserted row, as its stream's, written by the (sub)transaction subxid
 * to spill: made from a copy only where it is not the decoded tuple as it
 * stands (row_made_by_copy()).  A streamed transaction's (pending) keeps
 * it in its tail too.
 */
static void
spill_row(RowSpill *spill, PendingTxn *pending, Oid stream_relid,
		  TransactionId subxid, Relation relation, ReorderBufferChange *change,
		  PartitionRoute *route, TupleDesc desc)
{
	HeapTuple	tuple = &change->data.tp.newtuple->tuple;
	bool		copied = row_made_by_copy(change, route);

	if (copied)
	{
		MemoryContext oldcxt;

		if (spill_scratch_cxt == NULL)
			spill_scratch_cxt = AllocSetContextCreate(continuous_memory_context(),
													  "pg_continuous row to spill",
													  ALLOCSET_DEFAULT_SIZES);
		oldcxt = MemoryContextSwitchTo(spill_scratch_cxt);
		tuple = copy_row(relation, change);
		if (route)
			tuple = partition_route_convert(route, tuple);
		MemoryContextSwitchTo(oldcxt);
	}
	row_spill_write(spill, stream_relid, subxid, change->lsn, tuple, desc);
	if (pending != NULL)
		pending_keep_spilled(pending, stream_relid, subxid, change->lsn,
							 tuple, desc);
	if (copied)
		MemoryContextReset(spill_scratch_cxt);
}

/* UPDATE, DELETE, TRUNCATE of a stream */
static void
count_ignored(Oid stream)
{
	batch_stream(stream)->ignored_changes++;
	decoder_batch->nchanges++;
}

/*
 * A row of view_catalog inserted (CREATE VIEW) or updated (a rebuild): the
 * view begins after this batch, and what its backfill found applies then.
 */
static bool
view_catalog_written(ReorderBufferChange *change)
{
	return change->action == REORDER_BUFFER_CHANGE_INSERT ||
		change->action == REORDER_BUFFER_CHANGE_UPDATE;
}

static void
batch_view_created(HeapTuple row, TupleDesc desc)
{
	bool		isnull;
	Datum		view = heap_getattr(row, 1, desc, &isnull);
	MemoryContext oldcxt = MemoryContextSwitchTo(decoder_batch->cxt);

	decoder_batch->created_views = lappend_oid(decoder_batch->created_views,
											   DatumGetObjectId(view));
	MemoryContextSwitchTo(oldcxt);
}

/*
 * Where a committed row is copied to.  The Generation context (rows_cxt)
 * never reuses the space of what is freed before the batch is flushed:
 * that would stay taken, counted against the batch's memory.  A row made
 * with a temporary copy that is then freed (toasted values fetched to be
 * flattened, or a partition's row before it is converted to the stream's
 * layout) goes to the batch's own context, which reuses that space for the
 * next such row.
 */
static MemoryContext
row_context(ReorderBufferChange *change, PartitionRoute *route)
{
	if (row_made_by_copy(change, route))
	{
		decoder_batch->rows_elsewhere++;
		return decoder_batch->cxt;
	}
	return decoder_batch->rows_cxt;
}

/*
 * Where rows are copied to, a batch's or a streamed transaction's.  They
 * are allocated one after another and freed all at once, when the batch is
 * flushed or the transaction aborts: a Generation context, as
 * reorderbuffer.c keeps its tuples, packs them without rounding each up to
 * a power of two (a row of four columns takes 96 bytes instead of 144).
 * Its blocks grow from 64 kB to 8 MB, so that a batch of one row does not
 * take 8 MB.
 */
static MemoryContext
rows_context_create(MemoryContext parent, const char *name)
{
	return GenerationContextCreate(parent, name, 0, 64 * 1024,
								   SLAB_LARGE_BLOCK_SIZE);
}

/* Is the row made with a temporary copy, freed once the row is made? */
static bool
row_made_by_copy(ReorderBufferChange *change, PartitionRoute *route)
{
	return HeapTupleHasExternal(&change->data.tp.newtuple->tuple) ||
		(route != NULL && route->map != NULL);
}

/*
 * The inserted row, in CurrentMemoryContext.  A copy that took a new block
 * of its context is the block's first chunk; a large block, which the rows
 * that follow fill (rows_context_create()), is advised for huge pages.
 */
static HeapTuple
copy_row(Relation relation, ReorderBufferChange *change)
{
	HeapTuple	tuple = &change->data.tp.newtuple->tuple;
	Size		allocated = CurrentMemoryContext->mem_allocated;
	HeapTuple	copy;

	/* toasted values point into the reorder buffer: take them inline */
	if (HeapTupleHasExternal(tuple))
		return toast_flatten_tuple(tuple, RelationGetDescr(relation));
	copy = heap_copytuple(tuple);
	if (CurrentMemoryContext->mem_allocated > allocated + HUGE_PAGE_BYTES)
		continuous_advise_huge_pages(copy,
									 CurrentMemoryContext->mem_allocated -
									 allocated - BLCKSZ);
	return copy;
}

/*
 * A copy of the relation's descriptor in CurrentMemoryContext, made again
 * only when the relcache hands out a different one that is not equal.
 *
 * The relcache's descriptor is recognised by its address, so *source holds
 * a reference to it (release_desc() lets go): otherwise, once the relcache
 * had freed it (at the end of a decoded transaction that altered the
 * table), a descriptor of another layout could be allocated at the same
 * address and be taken for it, and the rows of the new layout read with
 * the old copy.  The references belong to the decoder's resource owner:
 * the transactions the reorder buffer opens for each decoded transaction
 * would drop them when they end.
 */
static TupleDesc
keep_desc(TupleDesc *copy, TupleDesc *source, Relation relation)
{
	if (*source != RelationGetDescr(relation))
	{
		ResourceOwner saved = CurrentResourceOwner;

		if (*copy == NULL || !equalTupleDescs(*copy, RelationGetDescr(relation)))
			*copy = CreateTupleDescCopy(RelationGetDescr(relation));
		release_desc(source);
		CurrentResourceOwner = decoder_owner;
		IncrTupleDescRefCount(RelationGetDescr(relation));
		CurrentResourceOwner = saved;
		*source = RelationGetDescr(relation);
	}
	return *copy;
}

/*
 * The stream's row type for rows of its partitions, in CurrentMemoryContext:
 * a copy of the route's, made again only when a route of another row type
 * comes (routes of one stream with equal row types share a layout number).
 */
static TupleDesc
route_desc(TupleDesc *copy, uint64 *layout, PartitionRoute *route)
{
	if (*layout != route->layout)
	{
		if (*copy == NULL || !equalTupleDescs(*copy, route->stream_desc))
			*copy = CreateTupleDescCopy(route->stream_desc);
		*layout = route->layout;
	}
	return *copy;
}

/* Let go of the relcache descriptor keep_desc() recognises. */
static void
release_desc(TupleDesc *source)
{
	ResourceOwner saved = CurrentResourceOwner;

	if (*source == NULL)
		return;
	CurrentResourceOwner = decoder_owner;
	DecrTupleDescRefCount(*source);
	CurrentResourceOwner = saved;
	*source = NULL;
}

/*
 * A table's row as an event: of no transaction yet (event_committed() says
 * which), relid as the caller keeps it.
 */
static inline void
row_event_init(StreamEvent *event, HeapTuple tuple, TupleDesc desc, Oid relid)
{
	event->tuple = tuple;
	event->values = NULL;
	event->isnull = NULL;
	event->desc = desc;
	event->commit_lsn = InvalidXLogRecPtr;
	event->commit_time = 0;
	event->partition = -1;
	event->relid = relid;
	event->offset = 0;
}

/* The event is of the transaction that committed at commit_lsn. */
static inline void
event_committed(StreamEvent *event, XLogRecPtr commit_lsn,
				TimestampTz commit_time)
{
	event->commit_lsn = commit_lsn;
	event->commit_time = commit_time;
}

/* Add a committed row to the batch; in the batch's memory context. */
static void
batch_append(StreamEvents *stream, HeapTuple tuple, TupleDesc desc,
			 XLogRecPtr commit_lsn, TimestampTz commit_time)
{
	StreamEvent *event;

	stream->events = continuous_room_for_one_more(stream->events, stream->nevents,
									   &stream->capacity, sizeof(StreamEvent),
									   false, decoder_batch->cxt);
	event = &stream->events[stream->nevents++];
	row_event_init(event, tuple, desc, InvalidOid);
	event_committed(event, commit_lsn, commit_time);
	stream->bytes += tuple->t_len;
	batch_count_events(1, commit_time);
}

/* n more events of a transaction committed at commit_time in the batch */
static void
batch_count_events(int n, TimestampTz commit_time)
{
	if (decoder_batch->nevents == 0 ||
		commit_time < decoder_batch->oldest_commit_time)
		decoder_batch->oldest_commit_time = commit_time;
	decoder_batch->nevents += n;
}

/*
 * The streams a TRUNCATE empties, once each: TRUNCATE of a partitioned
 * table lists its partitions too.
 */
static List *
truncated_streams(int nrelations, Relation relations[])
{
	List	   *streams = NIL;
	int			i;

	for (i = 0; i < nrelations; i++)
	{
		PartitionRoute *route;
		Oid			stream = change_stream(relations[i], &route);

		if (OidIsValid(stream))
			streams = list_append_unique_oid(streams, stream);
	}
	return streams;
}

static void
plugin_truncate(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
				int nrelations, Relation relations[],
				ReorderBufferChange *change)
{
	List	   *streams = truncated_streams(nrelations, relations);
	ListCell   *lc;

	if (!applied_before(txn, change))
		foreach(lc, streams)
			batch_ignored(txn, lfirst_oid(lc), change->lsn);
	list_free(streams);
}

static void
plugin_commit(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
			  XLogRecPtr commit_lsn)
{
	resume_done(txn);
	if (txn_changed_catalog)
	{
		decoder_batch->catalog_changed = true;
		decoder_batch->catalog_xid = txn->xid;
		txn_changed_catalog = false;
	}
}

/* ------------------------------------------------------------------------
 * Streamed transactions
 * ------------------------------------------------------------------------
 */

static void
pending_init(void)
{
	HASHCTL		ctl;

	ctl.keysize = sizeof(TransactionId);
	ctl.entrysize = sizeof(PendingTxn);
	pending_txns = hash_create("pg_continuous streamed transactions", 16,
							   &ctl, HASH_ELEM | HASH_BLOBS);
}

static PendingTxn *
pending_txn(ReorderBufferTXN *txn)
{
	TransactionId xid = txn->toptxn ? txn->toptxn->xid : txn->xid;
	PendingTxn *pending;
	bool		found;

	pending = hash_search(pending_txns, &xid, HASH_ENTER, &found);
	if (!found)
	{
		pending->cxt = AllocSetContextCreate(continuous_memory_context(),
											 "pg_continuous streamed transaction",
											 ALLOCSET_DEFAULT_SIZES);
		pending->rows_cxt = rows_context_create(pending->cxt,
												"pg_continuous streamed rows");
		pending->txn.generation = next_generation++;
		pending->txn.rows = NULL;
		pending->txn.subxids = NULL;
		pending->txn.nrows = pending->capacity = 0;
		pending->tuple_bytes = 0;
		pending->one_stream = true;
		pending->txn.changed_catalog = false;
		pending->txn.spilled = false;
		pending->memory = 0;
		pending->spill = NULL;
		pending->txn.tail = NULL;
		pending->txn.ntail = 0;
		pending->txn.tail_first = 0;
		pending->tail_cxt = NULL;
		pending->tail_capacity = 0;
		pending->tail_memory = 0;
		pending->tail_origins = NULL;
		pending->tail_origins_capacity = 0;
		pending->desc = pending->desc_source = NULL;
		pending->catalog_desc = pending->catalog_desc_source = NULL;
		pending->route_desc = NULL;
		pending->route_layout = 0;
		pending->move.xid = InvalidTransactionId;
	}
	return pending;
}

static void
pending_add(PendingTxn *pending, Oid relid, TransactionId subxid,
			HeapTuple tuple, TupleDesc desc)
{
	StreamedTxn *txn = &pending->txn;
	StreamEvent *row;
	Size		memory;

	if (txn->nrows == pending->capacity)
	{
		/* counted row by row (pending_row_memory()): it may be mapped */
		pending->capacity = continuous_grown_capacity(pending->capacity,
													  sizeof(StreamEvent),
													  true);
		txn->rows = continuous_resize(txn->rows, pending->capacity,
									  sizeof(StreamEvent), pending->cxt);
		txn->subxids = continuous_resize(txn->subxids, pending->capacity,
										 sizeof(TransactionId), pending->cxt);
	}
	row = &txn->rows[txn->nrows];
	row_event_init(row, tuple, desc, relid);
	if (tuple == NULL || (txn->nrows > 0 && relid != txn->rows[0].relid))
		pending->one_stream = false;
	txn->subxids[txn->nrows] = subxid;
	txn->nrows++;
	pending->tuple_bytes += stream_row_bytes(row);
	memory = pending_row_memory(row);
	pending->memory += memory;
	pending_memory += memory;
}

/*
 * Is the transaction's next row, of the stream relid, to go to disk?  Once
 * one has, every row after it of a stream that may spill does, so that
 * they are read back in their order; the rows held until then stay.
 *
 * Rows go to disk once the rows held take continuous.
 * large_transaction_memory (rows_fill_memory()), or once the rows held of
 * transactions still streaming take an eighth of it, as much as the rows
 * on disk kept from one turn of the worker to the next: though the batch
 * has room, a large transaction's rows held are memory touched for the
 * first time, row after row, until its commit, where its rows on disk pass
 * through memory the worker reuses from turn to turn (StreamedTxn.tail)
 * and are run through the views before the commit just the same.
 */
static bool
pending_spills(PendingTxn *pending, Oid relid)
{
	if (pending->spill == NULL &&
		(rows_fill_memory() || pending_memory >= spill_tail_turn()))
	{
		/* part of a transaction resumed in is applied: its rows are read */
		bool		write_rows = !(continuous_aggregate_before_commit &&
								   spill_unwritten != NULL &&
								   pending->txn.xid != resume_xid &&
								   spill_unwritten(relid, pending->txn.xid));

		pending->spill = row_spill_create(pending->cxt, write_rows);
		pending->txn.spilled = true;
	}
	return pending->spill != NULL;
}

/* An UPDATE, DELETE or TRUNCATE of a stream, counted at the commit. */
static void
pending_add_ignored(PendingTxn *pending, Oid relid, TransactionId subxid,
					XLogRecPtr lsn)
{
	if (pending_spills(pending, relid))
	{
		row_spill_write(pending->spill, relid, subxid, lsn, NULL, NULL);
		pending_keep_spilled(pending, relid, subxid, lsn, NULL, NULL);
	}
	else
		pending_add(pending, relid, subxid, NULL, NULL);
}

/* The transaction has ended: its rows are no longer counted here. */
static void
pending_release(PendingTxn *pending)
{
	pending_memory -= Min(pending_memory, pending->memory);
	pending->memory = 0;
	pending_drop_tail(pending, false);
	pending_forget(pending);
}

/*
 * A row just given to the transaction's spill (written, or counted by a
 * spill that writes none), kept for the views to run before the commit
 * (StreamedTxn.tail), while none of its rows on disk has been missed.
 */
static void
pending_keep_spilled(PendingTxn *pending, Oid relid, TransactionId subxid,
					 XLogRecPtr lsn, HeapTuple tuple, TupleDesc desc)
{
	StreamedTxn *txn = &pending->txn;
	StreamEvent *row;
	Size		memory;

	if (row_spill_early_lost(pending->spill))
		return;
	/*
	 * Its first block, which a reset keeps, holds a turn's rows, or the
	 * first 8 MB of them: they go into memory touched already at the turns
	 * after the first.
	 */
	if (pending->tail_cxt == NULL)
		pending->tail_cxt = AllocSetContextCreate(pending->cxt,
												  "pg_continuous spilled rows kept",
												  MAXALIGN(Min(spill_tail_turn(),
																ALLOCSET_DEFAULT_MAXSIZE)),
												  ALLOCSET_DEFAULT_INITSIZE,
												  ALLOCSET_DEFAULT_MAXSIZE);
	if (txn->ntail == 0)
		txn->tail_first = row_spill_rows(pending->spill) - 1;
	/* counted row by row: it may be mapped, and grow without a copy */
	txn->tail = continuous_room_for_one_more(txn->tail, txn->ntail,
											 &pending->tail_capacity,
											 sizeof(StreamEvent), true,
											 pending->cxt);
	row = &txn->tail[txn->ntail++];
	if (tuple != NULL)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(pending->tail_cxt);

		tuple = heap_copytuple(tuple);
		MemoryContextSwitchTo(oldcxt);
	}
	row_event_init(row, tuple, desc, relid);
	memory = pending_row_memory(row);
	pending->tail_memory += memory;
	spill_tail_memory += memory;
	if (!row_spill_writes_rows(pending->spill))
	{
		pending->tail_origins =
			continuous_room_for_one_more(pending->tail_origins, txn->ntail - 1,
										 &pending->tail_origins_capacity,
										 sizeof(TailOrigin), true,
										 pending->cxt);
		pending->tail_origins[txn->ntail - 1].subxid = subxid;
		pending->tail_origins[txn->ntail - 1].lsn = lsn;
	}

	/* the views take what they ran only of a spill of one stream */
	if (!continuous_aggregate_before_commit ||
		list_length(row_spill_streams(pending->spill)) > 1 ||
		spill_tail_memory >= 2 * spill_tail_turn() +
		(Size) logical_decoding_work_mem * 1024)
		pending_drop_tail(pending, true);
}

/*
 * The transaction's tail goes: taken by the worker, or with lose, given up
 * (its rows on disk are all read back at the commit).
 */
static void
pending_drop_tail(PendingTxn *pending, bool lose)
{
	if (lose && pending->spill != NULL)
	{
		row_spill_lose_early(pending->spill);
		if (!row_spill_writes_rows(pending->spill))
			pending_write_tail(pending);
	}
	if (pending->tail_cxt != NULL)
		MemoryContextReset(pending->tail_cxt);
	pending->txn.ntail = 0;
	spill_tail_memory -= Min(spill_tail_memory, pending->tail_memory);
	pending->tail_memory = 0;
}

/*
 * The rows of a spill that writes none do not run before the commit from
 * here on (pending_drop_tail()): those after the last that ran are all in
 * the tail, and go to the file now, with every row after them, so that
 * the views may still take what they ran at the commit and the rest is
 * read back.  Unless what ran cannot be taken anyway (a subtransaction
 * that wrote rows aborted): then the rows stay unwritten, and the worker
 * decodes the transaction again if it commits.
 */
static void
pending_write_tail(PendingTxn *pending)
{
	spill_write_tail(pending->spill, pending->txn.tail, pending->txn.ntail,
					 pending->txn.tail_first, pending->tail_origins);
}

/*
 * The spill, which wrote no rows, writes them from the tail's first on
 * (ntail rows from tail_first, from origins), if the tail holds every row
 * after those that ran (pending_write_tail()).
 */
static void
spill_write_tail(RowSpill *spill, StreamEvent *tail, int ntail,
				 int64 tail_first, TailOrigin *origins)
{
	int64		first = ntail > 0 ? tail_first : row_spill_rows(spill);
	int			i;

	if (first + ntail != row_spill_rows(spill) ||
		!row_spill_begin_writing(spill, first))
		return;
	for (i = 0; i < ntail; i++)
		row_spill_write_counted(spill, tail[i].relid, origins[i].subxid,
								origins[i].lsn, tail[i].tuple, tail[i].desc);
}

/*
 * An eighth of continuous.large_transaction_memory: the tails' memory at
 * which the decoder gives the worker a turn, and what the rows held of
 * transactions still streaming take before their further rows go to disk
 * (pending_spills()).
 */
static Size
spill_tail_turn(void)
{
	return (Size) continuous_large_transaction_memory_kb * 1024 / 8;
}

bool
decoder_rows_unwritten(TransactionId xid)
{
	PendingTxn *pending;
	ListCell   *lc;

	if (pending_txns == NULL)
		return false;
	pending = hash_search(pending_txns, &xid, HASH_FIND, NULL);
	if (pending != NULL)
		return pending->spill != NULL && !row_spill_writes_rows(pending->spill);
	foreach(lc, decoder_batch->spills)
	{
		RowSpill   *spill = lfirst(lc);

		if (row_spill_xid(spill) == xid)
			return !row_spill_writes_rows(spill);
	}
	return false;
}

void
decoder_streamed_stop_early(StreamedTxn *txn)
{
	PendingTxn *pending = (PendingTxn *) txn;

	if (pending->spill != NULL)
		pending_drop_tail(pending, true);
}

void
decoder_streamed_tail_taken(StreamedTxn *txn, bool ran)
{
	PendingTxn *pending = (PendingTxn *) txn;

	if (pending->spill == NULL)
		return;
	if (ran && txn->ntail > 0)
		row_spill_mark_early(pending->spill);
	pending_drop_tail(pending, !ran);
}

/* What a streamed transaction's row adds to its stream's bytes. */
static inline int64
stream_row_bytes(const StreamEvent *row)
{
	if (row->tuple == NULL || row->relid == view_catalog_relid)
		return 0;
	return row->tuple->t_len;
}

/*
 * What a streamed transaction's row takes in memory, about: its event, its
 * subtransaction's xid, and its tuple with the Generation context's chunk
 * header.
 */
static inline Size
pending_row_memory(const StreamEvent *row)
{
	Size		bytes = sizeof(StreamEvent) + sizeof(TransactionId);

	if (row->tuple != NULL)
		bytes += MAXALIGN(HEAPTUPLESIZE + row->tuple->t_len) + 16;
	return bytes;
}

/* The transaction has ended: its descriptors are no longer recognised. */
static void
pending_forget(PendingTxn *pending)
{
	release_desc(&pending->desc_source);
	release_desc(&pending->catalog_desc_source);
}

/*
 * The transactions being streamed, in no particular order, for the worker
 * to read between reads of the WAL (early_aggregation.c).  *status is the
 * caller's; the transactions may not change until the scan ends.
 */
void
decoder_streamed_begin(HASH_SEQ_STATUS *status)
{
	hash_seq_init(status, pending_txns);
}

StreamedTxn *
decoder_streamed_next(HASH_SEQ_STATUS *status)
{
	PendingTxn *pending = hash_seq_search(status);

	return pending != NULL ? &pending->txn : NULL;
}

static void
plugin_stream_start(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
}

static void
plugin_stream_stop(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
}

static void
plugin_stream_change(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
					 Relation relation, ReorderBufferChange *change)
{
	Oid			relid = RelationGetRelid(relation);
	TransactionId topxid = txn->toptxn ? txn->toptxn->xid : txn->xid;
	Oid			stream_relid;
	Oid			moved_from;
	PartitionRoute *route;
	PendingTxn *pending;
	MemoryContext oldcxt;
	HeapTuple	tuple = NULL;
	TupleDesc	desc = NULL;

	if (relid == stream_catalog_relid || relid == view_catalog_relid)
	{
		pending = pending_txn(txn);
		oldcxt = MemoryContextSwitchTo(pending->cxt);
		/* the view's oid is wanted at commit, unless its subxact aborts */
		pending->txn.changed_catalog = true;
		if (relid == view_catalog_relid && view_catalog_written(change))
			pending_add(pending, relid, change->txn->xid,
						copy_row(relation, change),
						keep_desc(&pending->catalog_desc,
								  &pending->catalog_desc_source, relation));
		MemoryContextSwitchTo(oldcxt);
		return;
	}

	stream_relid = change_stream(relation, &route);
	/*
	 * A transaction gets its PendingTxn with its first row of a stream, or
	 * its first row move: one without has no move open.
	 */
	if (OidIsValid(stream_relid) || partition_route_marked(change))
		pending = pending_txn(txn);
	else if ((pending = hash_search(pending_txns, &topxid, HASH_FIND, NULL)) == NULL)
		return;
	if (partition_route_moved_row(&pending->move, relation, change,
								  stream_relid, &moved_from))
	{
		if (OidIsValid(stream_relid) && stream_relid != moved_from &&
			!applied_before(txn, change))
			pending_add_ignored(pending, stream_relid, change->txn->xid,
								change->lsn);
		return;
	}
	if (!OidIsValid(stream_relid) || applied_before(txn, change))
		return;

	if (change->action != REORDER_BUFFER_CHANGE_INSERT)
	{
		pending_add_ignored(pending, stream_relid, change->txn->xid,
							change->lsn);
		return;
	}
	oldcxt = MemoryContextSwitchTo(pending->cxt);
	if (route)
		desc = route_desc(&pending->route_desc, &pending->route_layout, route);
	else
		desc = keep_desc(&pending->desc, &pending->desc_source, relation);
	if (pending_spills(pending, stream_relid))
		spill_row(pending->spill, pending, stream_relid, change->txn->xid,
				  relation, change, route, desc);
	else
	{
		MemoryContextSwitchTo(row_made_by_copy(change, route) ?
							  pending->cxt : pending->rows_cxt);
		tuple = copy_row(relation, change);
		if (route)
			tuple = partition_route_convert(route, tuple);
		MemoryContextSwitchTo(pending->cxt);
		pending_add(pending, stream_relid, change->txn->xid, tuple, desc);
	}
	MemoryContextSwitchTo(oldcxt);
}

static void
plugin_stream_truncate(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
					   int nrelations, Relation relations[],
					   ReorderBufferChange *change)
{
	List	   *streams = truncated_streams(nrelations, relations);
	ListCell   *lc;

	if (!applied_before(txn, change))
		foreach(lc, streams)
			pending_add_ignored(pending_txn(txn), lfirst_oid(lc),
								change->txn->xid, change->lsn);
	list_free(streams);
}

/* A subtransaction's abort drops its rows; the top level's drops them all. */
static void
plugin_stream_abort(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
					XLogRecPtr abort_lsn)
{
	TransactionId topxid = txn->toptxn ? txn->toptxn->xid : txn->xid;
	PendingTxn *pending = hash_search(pending_txns, &topxid, HASH_FIND, NULL);

	if (pending == NULL)
		return;
	if (txn->toptxn == NULL)
	{
		pending_release(pending);
		if (pending->spill != NULL)
			row_spill_close(pending->spill);
		MemoryContextDelete(pending->cxt);
		hash_search(pending_txns, &topxid, HASH_REMOVE, NULL);
		return;
	}
	if (pending->spill != NULL)
	{
		row_spill_forget_subxact(pending->spill, txn->xid);
		if (row_spill_early_lost(pending->spill))
			pending_drop_tail(pending, true);
	}
	pending_drop_rows(pending, NULL, 0, txn->xid);
}

/*
 * The rows held of the subtransaction aborted, or (live not NULL) of
 * every (sub)transaction not among the nlive of live, which is sorted.
 */
static void
pending_drop_rows(PendingTxn *pending, const TransactionId *live, int nlive,
				  TransactionId aborted)
{
	int			kept = 0;
	int			i;

	for (i = 0; i < pending->txn.nrows; i++)
	{
		StreamEvent *row = &pending->txn.rows[i];
		TransactionId subxid = pending->txn.subxids[i];
		bool		drop = live != NULL ?
			bsearch(&subxid, live, nlive, sizeof(TransactionId),
					xidComparator) == NULL :
			subxid == aborted;

		if (!drop)
		{
			pending->txn.subxids[kept] = subxid;
			pending->txn.rows[kept++] = *row;
		}
		else
		{
			pending->tuple_bytes -= stream_row_bytes(row);
			pending->memory -= pending_row_memory(row);
			pending_memory -= pending_row_memory(row);
		}
	}
	/* what was read of the rows before no longer holds */
	if (kept < pending->txn.nrows)
		pending->txn.generation = next_generation++;
	pending->txn.nrows = kept;
}

/*
 * At the commit, the rows of subtransactions that aborted unannounced go.
 * PostgreSQL 15's reorder buffer marks a subtransaction streamed only if
 * it held changes in memory when they streamed; one whose changes it had
 * written to its own files first (decoding resumed inside the
 * transaction: a restart, or decoding again) is not, and its abort calls
 * no stream_abort, though its rows came.  The subtransactions that did not
 * abort are those the transaction still lists: the rows of any other are
 * dropped here, and those on disk passed over (row_spill_keep_subxacts()).
 */
static void
pending_drop_aborted(PendingTxn *pending, ReorderBufferTXN *txn)
{
	TransactionId *live;
	int			nlive = 0;
	dlist_iter	iter;

	dlist_foreach(iter, &txn->subtxns)
		nlive++;
	live = palloc(sizeof(TransactionId) * (nlive + 1));
	nlive = 0;
	live[nlive++] = txn->xid;
	dlist_foreach(iter, &txn->subtxns)
		live[nlive++] = dlist_container(ReorderBufferTXN, node, iter.cur)->xid;
	qsort(live, nlive, sizeof(TransactionId), xidComparator);
	pending_drop_rows(pending, live, nlive, InvalidTransactionId);
	if (pending->spill != NULL)
		row_spill_keep_subxacts(pending->spill, live, nlive);
	pfree(live);
}

static void
plugin_stream_commit(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
					 XLogRecPtr commit_lsn)
{
	PendingTxn *pending = hash_search(pending_txns, &txn->xid, HASH_FIND, NULL);

	resume_done(txn);
	if (pending == NULL)
		return;
	pending_drop_aborted(pending, txn);
	if (!batch_take_streamed(pending, txn))
		batch_append_streamed(pending, txn);
	if (pending->spill != NULL)
		batch_take_spill(pending->spill, txn);
	if (pending->txn.changed_catalog)
	{
		decoder_batch->catalog_changed = true;
		decoder_batch->catalog_xid = txn->xid;
	}
	else
	{
		/* its rows held in memory may have run early, spilled or not */
		MemoryContext oldcxt = MemoryContextSwitchTo(decoder_batch->cxt);
		StreamedCommit *commit = palloc(sizeof(StreamedCommit));

		commit->xid = txn->xid;
		commit->generation = pending->txn.generation;
		commit->commit_lsn = txn->final_lsn;
		commit->tail = NULL;
		commit->ntail = 0;
		commit->tail_first = 0;
		commit->tail_origins = NULL;

		/*
		 * The rows it wrote to disk after the worker's last turn go with
		 * it, in its context, which the batch adopts: the worker may run
		 * them before it reads the others back (worker_read_spilled()).
		 */
		if (pending->txn.ntail > 0 && !row_spill_early_lost(pending->spill))
		{
			commit->tail = pending->txn.tail;
			commit->ntail = pending->txn.ntail;
			commit->tail_first = pending->txn.tail_first;
			commit->tail_origins = pending->tail_origins;
			pending->tail_origins = NULL;
			pending->tail_origins_capacity = 0;
			pending->txn.tail = NULL;
			pending->txn.ntail = 0;
			pending->tail_cxt = NULL;
			spill_tail_memory -= Min(spill_tail_memory, pending->tail_memory);
			pending->tail_memory = 0;
		}
		decoder_batch->streamed_commits =
			lappend(decoder_batch->streamed_commits, commit);
		MemoryContextSwitchTo(oldcxt);
	}
	/*
	 * The rows now belong to the batch, and go when it is flushed; what
	 * listed them, unless the batch took it, goes now.
	 */
	pending_release(pending);
	if (pending->txn.rows != NULL)
		pfree(pending->txn.rows);
	if (pending->txn.subxids != NULL)
		pfree(pending->txn.subxids);
	if (pending->txn.tail != NULL)
		pfree(pending->txn.tail);
	pending->txn.tail = NULL;
	if (pending->tail_cxt != NULL)
		MemoryContextDelete(pending->tail_cxt);
	pending->tail_cxt = NULL;
	decoder_batch->streamed_bytes += MemoryContextMemAllocated(pending->cxt, true);
	MemoryContextSetParent(pending->cxt, decoder_batch->cxt);
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(decoder_batch->cxt);

		decoder_batch->streamed_cxts = lappend(decoder_batch->streamed_cxts,
											   pending->cxt);
		MemoryContextSwitchTo(oldcxt);
	}
	hash_search(pending_txns, &txn->xid, HASH_REMOVE, NULL);
}

/*
 * A committed transaction's rows on disk join the batch, after every event
 * it holds.
 */
static void
batch_take_spill(RowSpill *spill, ReorderBufferTXN *txn)
{
	row_spill_committed(spill, txn->xid, txn->final_lsn,
						txn->xact_time.commit_time);
	batch_add_spill(spill);
}

/*
 * The batch reads the spill's rows after every event it holds, and owns its
 * memory; each of its streams has its entry, as though it had events, so
 * that the worker sees which views they are for.
 */
static void
batch_add_spill(RowSpill *spill)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(decoder_batch->cxt);
	ListCell   *lc;

	row_spill_adopt(spill, decoder_batch->cxt);
	decoder_batch->spills = lappend(decoder_batch->spills, spill);
	foreach(lc, row_spill_streams(spill))
		(void) batch_stream(lfirst_oid(lc));
	MemoryContextSwitchTo(oldcxt);
}

/*
 * The rows of a committed transaction that wrote one stream, and nothing
 * else it keeps, become the batch's events of that stream as they are,
 * where the batch has none of them yet (a large transaction alone in its
 * batch, as a COPY usually is): the commit then writes two fields of each
 * row, where it would make each into an event of an array of its own, in
 * memory touched for the first time, after the commit.  True if taken
 * (txn.rows is the batch's then, and NULL here).
 *
 * The array stays in the transaction's context, which the batch adopts;
 * should the batch append to it later, what it grows by is not counted
 * against the batch's memory (decoder_batch_bytes()), as the context was
 * counted at the commit.
 */
static bool
batch_take_streamed(PendingTxn *pending, ReorderBufferTXN *txn)
{
	StreamEvent *rows = pending->txn.rows;
	int			n = pending->txn.nrows;
	Oid			relid;
	StreamEvents *stream;
	int			i;

	/* kept as rows were added: a commit looks at none of them twice */
	if (n == 0 || !pending->one_stream || rows[0].relid == view_catalog_relid)
		return false;
	relid = rows[0].relid;
	stream = batch_stream(relid);
	if (stream->nevents > 0)
		return false;
	if (stream->events != NULL)
		pfree(stream->events);
	for (i = 0; i < n; i++)
	{
		event_committed(&rows[i], txn->final_lsn, txn->xact_time.commit_time);
		rows[i].relid = InvalidOid;
	}
	stream->events = rows;
	stream->capacity = pending->capacity;
	stream->nevents = n;
	stream->bytes += pending->tuple_bytes;
	batch_count_events(n, txn->xact_time.commit_time);
	pending->txn.rows = NULL;
	return true;
}

/* Each row of a committed transaction into the batch, one by one. */
static void
batch_append_streamed(PendingTxn *pending, ReorderBufferTXN *txn)
{
	int			i;

	for (i = 0; i < pending->txn.nrows; i++)
	{
		StreamEvent *row = &pending->txn.rows[i];

		if (row->relid == view_catalog_relid)
			batch_view_created(row->tuple, row->desc);
		else if (row->tuple == NULL)
			count_ignored(row->relid);
		else
			batch_append(batch_stream(row->relid), row->tuple, row->desc,
						 txn->final_lsn, txn->xact_time.commit_time);
	}
}

/* ------------------------------------------------------------------------
 * Driving the decoder from the worker
 * ------------------------------------------------------------------------
 */

bool
decoder_slot_usable(void)
{
	ReplicationSlot *slot;
	bool		usable = false;

	snprintf(decoder_slot_name, NAMEDATALEN, "continuous_%u", MyDatabaseId);
	LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
	slot = SearchNamedReplicationSlot(decoder_slot_name, false);
	if (slot != NULL)
	{
		SpinLockAcquire(&slot->mutex);
		usable = XLogRecPtrIsInvalid(slot->data.invalidated_at) &&
			!XLogRecPtrIsInvalid(slot->data.restart_lsn);
		SpinLockRelease(&slot->mutex);
	}
	LWLockRelease(ReplicationSlotControlLock);
	return usable;
}

DecoderStart
decoder_start(XLogRecPtr start_lsn, XLogRecPtr *lost_from)
{
	DecoderStart how = DECODER_RESUMED;

	snprintf(decoder_slot_name, NAMEDATALEN, "continuous_%u", MyDatabaseId);

	decoder_owner = ResourceOwnerCreate(NULL, "pg_continuous decoder");
	CurrentResourceOwner = decoder_owner;
	batch_init();
	pending_init();
	partition_route_init(is_stream);
	decoder_trust_own_plugin();

	if (SearchNamedReplicationSlot(decoder_slot_name, true) == NULL)
	{
		decoder_require_free_slot();
		(void) decoder_note_slot_shortage(false);
		decoder_create_slot();
		how = DECODER_NEW_SLOT;
	}
	else
	{
		/*
		 * A slot invalidated for keeping too much WAL can never decode
		 * again: retrying would only fail at every start.  A new one goes
		 * on from now, and the caller says what was lost.
		 */
		ReplicationSlotAcquire(decoder_slot_name, true);
		if (!XLogRecPtrIsInvalid(MyReplicationSlot->data.invalidated_at) ||
			XLogRecPtrIsInvalid(MyReplicationSlot->data.restart_lsn))
		{
			*lost_from = MyReplicationSlot->data.confirmed_flush;
			ReplicationSlotRelease();
			ReplicationSlotDrop(decoder_slot_name, true);
			ereport(LOG,
					(errmsg("pg_continuous: replication slot \"%s\" was invalidated; dropped it and created it again",
							decoder_slot_name),
					 errdetail("Events committed after %X/%X and before now were not applied to the views of table streams.",
							   LSN_FORMAT_ARGS(*lost_from))));
			decoder_require_free_slot();
			decoder_create_slot();
			how = DECODER_SLOT_LOST;
		}
		else
			ReplicationSlotRelease();
		(void) decoder_note_slot_shortage(false);
	}

	/*
	 * The slot may be confirmed beyond the flushed position: an idle worker
	 * confirms WAL that held no stream events without writing a position.
	 * CreateDecodingContext() then starts from the slot's position.
	 */
	ReplicationSlotAcquire(decoder_slot_name, true);
	decoder_open(start_lsn);
	return how;
}

/* Decode from the slot's restart point, passing on what commits before start_lsn. */
static void
decoder_open(XLogRecPtr start_lsn)
{
	decoding_ctx = CreateDecodingContext(start_lsn, NIL, false,
										 XL_ROUTINE(.page_read = decoder_page_read,
													.segment_open = wal_segment_open,
													.segment_close = wal_segment_close),
										 NULL, NULL, NULL);
	XLogBeginRead(decoding_ctx->reader, MyReplicationSlot->data.restart_lsn);
	confirmed_lsn = MyReplicationSlot->data.confirmed_flush;
	decoder_hide_from_snapshots(false);
}

/*
 * Decode again from start_lsn, which the slot has not confirmed past (a
 * view held by a lock is behind the others, worker.c).  What was decoded
 * and not flushed is dropped: it will be decoded again.
 */
void
decoder_rewind(XLogRecPtr start_lsn)
{
	HASH_SEQ_STATUS seq;
	PendingTxn *pending;

	start_lsn = Max(start_lsn, confirmed_lsn);
	FreeDecodingContext(decoding_ctx);
	decoding_ctx = NULL;
	CurrentResourceOwner = decoder_owner;

	hash_seq_init(&seq, pending_txns);
	while ((pending = hash_seq_search(&seq)) != NULL)
	{
		pending_release(pending);
		if (pending->spill != NULL)
			row_spill_close(pending->spill);
		MemoryContextDelete(pending->cxt);
	}
	hash_destroy(pending_txns);
	pending_init();
	partition_route_forget_moves(PG_UINT64_MAX);
	batch_discard();

	/*
	 * What a restart found applied of a transaction is passed over only by
	 * the decoding that resumed inside it: decoded again now, it is for
	 * views that stand before it.
	 */
	resume_xid = InvalidTransactionId;
	resume_change_lsn = InvalidXLogRecPtr;

	decoder_open(start_lsn);
}

/*
 * A backend that decodes is left out of other backends' snapshots
 * (PROC_IN_LOGICAL_DECODING, set by CreateDecodingContext() until the slot
 * is released): while it decodes it has no transaction of its own.  This
 * worker also writes, between reads.  Were it left out then, a reader
 * meeting its uncommitted rows would find their transaction neither running
 * nor committed, take it for aborted and mark the rows so (hint bits): a
 * view would lose them for good, and its index entries would be removed as
 * dead.  So the worker is hidden only while it reads WAL.
 */
static void
decoder_hide_from_snapshots(bool hide)
{
	Assert(!hide || !TransactionIdIsValid(MyProc->xid));
	LWLockAcquire(ProcArrayLock, LW_EXCLUSIVE);
	if (hide)
		MyProc->statusFlags |= PROC_IN_LOGICAL_DECODING;
	else
		MyProc->statusFlags &= ~PROC_IN_LOGICAL_DECODING;
	ProcGlobal->statusFlags[MyProc->pgxactoff] = MyProc->statusFlags;
	LWLockRelease(ProcArrayLock);
}

/*
 * WAL pages for the decoder.  read_local_xlog_page() waits for WAL that is
 * not flushed yet in a sleep loop that does not watch for postmaster death:
 * a worker caught there when the postmaster is killed would never exit and
 * would keep the server from restarting.  So wait here, on the latch, until
 * the page is flushed, and only then let it read.
 */
static int
decoder_page_read(XLogReaderState *state, XLogRecPtr targetPagePtr,
				  int reqLen, XLogRecPtr targetRecPtr, char *cur_page)
{
	while (GetFlushRecPtr(NULL) < targetPagePtr + reqLen)
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 1, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	return read_local_xlog_page(state, targetPagePtr, reqLen, targetRecPtr,
								cur_page);
}

/*
 * Some PostgreSQL builds only load output plugins listed in the superuser
 * setting output_plugin_libraries.  That list guards what replication users
 * may load; this worker loads its own library, so it adds the library to the
 * setting for this process only.  Nobody else gains anything: the plugin
 * refuses to run outside pg_continuous workers.
 */
static void
decoder_trust_own_plugin(void)
{
	const char *trusted = GetConfigOption("output_plugin_libraries", true, false);
	List	   *names = NIL;
	char	   *copy;

	if (trusted == NULL)
		return;
	copy = pstrdup(trusted);
	if (SplitIdentifierString(copy, ',', &names))
	{
		ListCell   *lc;

		foreach(lc, names)
			if (strcmp((char *) lfirst(lc), CONTINUOUS_PLUGIN_NAME) == 0)
				return;
	}
	SetConfigOption("output_plugin_libraries",
					trusted[0] ? psprintf("%s, %s", trusted, CONTINUOUS_PLUGIN_NAME)
					: CONTINUOUS_PLUGIN_NAME,
					PGC_SUSET, PGC_S_SESSION);
}

bool
decoder_available(void)
{
	if (wal_level < WAL_LEVEL_LOGICAL)
	{
		ereport(LOG,
				(errmsg("pg_continuous: table streams are off in database %u because wal_level is not logical",
						MyDatabaseId)));
		return false;
	}
	if (max_replication_slots == 0)
	{
		ereport(WARNING,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pg_continuous: table streams are off in database \"%s\" because max_replication_slots is 0",
						decoder_database_name()),
				 errdetail("The worker of each database with the extension reads its table streams through a replication slot of its own."),
				 errhint("Set max_replication_slots to at least the number of such databases, plus the slots replication needs, and restart the server.")));
		return false;
	}
	return true;
}

/*
 * The worker's slot is missing and none is free (another application took
 * the last).  Failing here would make the worker die and the launcher start
 * it again every second, each time with an error in the log; instead the
 * worker says so once and exits quietly (an exit code of 0 is not logged),
 * and a later start takes a slot that has been freed.  Meanwhile the flag
 * in shared memory tells continuous.sync() and create_stream() why.
 */
static void
decoder_require_free_slot(void)
{
	bool		free_slot = false;
	int			i;

	LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
	for (i = 0; i < max_replication_slots && !free_slot; i++)
		free_slot = !ReplicationSlotCtl->replication_slots[i].in_use;
	LWLockRelease(ReplicationSlotControlLock);
	if (free_slot)
		return;

	if (!decoder_note_slot_shortage(true))
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("pg_continuous cannot read the table streams of database \"%s\": all replication slots are in use",
						decoder_database_name()),
				 errdetail("The worker of each database with the extension needs a replication slot of its own. It tries again every second, creates its slot once one is free, and does not log this again meanwhile."),
				 errhint("Drop a replication slot that is no longer needed, or increase max_replication_slots (now %d) and restart the server.",
						 max_replication_slots)));
	proc_exit(0);
}

/*
 * Record in the database's slot whether the worker lacks a replication
 * slot; returns what was recorded before.
 */
static bool
decoder_note_slot_shortage(bool shortage)
{
	DatabaseSlot *slot;
	bool		before = false;

	LWLockAcquire(ContinuousShmem->lock, LW_EXCLUSIVE);
	slot = continuous_find_slot(MyDatabaseId);
	if (slot)
	{
		before = slot->no_replication_slot;
		slot->no_replication_slot = shortage;
	}
	LWLockRelease(ContinuousShmem->lock);
	return before;
}

/* For the log: the worker is between transactions when it asks. */
static char *
decoder_database_name(void)
{
	char	   *name;

	StartTransactionCommand();
	name = get_database_name(MyDatabaseId);
	name = MemoryContextStrdup(continuous_memory_context(), name ? name : "?");
	CommitTransactionCommand();
	return name;
}

/*
 * A new slot: its consistent point is reached once the transactions running
 * now have finished, which DecodingContextFindStartpoint() waits for.
 */
static void
decoder_create_slot(void)
{
	LogicalDecodingContext *ctx;

	ereport(LOG,
			(errmsg("pg_continuous: creating replication slot \"%s\"",
					decoder_slot_name)));
	ReplicationSlotCreate(decoder_slot_name, true, RS_EPHEMERAL, false);
	ctx = CreateInitDecodingContext(CONTINUOUS_PLUGIN_NAME, NIL, false,
									InvalidXLogRecPtr,
									XL_ROUTINE(.page_read = decoder_page_read,
											   .segment_open = wal_segment_open,
											   .segment_close = wal_segment_close),
									NULL, NULL, NULL);
	DecodingContextFindStartpoint(ctx);
	FreeDecodingContext(ctx);
	ReplicationSlotPersist();
	ReplicationSlotRelease();
	CurrentResourceOwner = decoder_owner;
}

void
decoder_set_streams(Oid *relids, int nrelids, Oid stream_catalog,
					Oid view_catalog)
{
	int			i;

	if (stream_relids)
		pfree(stream_relids);
	stream_relids = MemoryContextAlloc(continuous_memory_context(),
									   sizeof(Oid) * Max(nrelids, 1));
	memcpy(stream_relids, relids, sizeof(Oid) * nrelids);
	qsort(stream_relids, nrelids, sizeof(Oid), oid_cmp);
	stream_nrelids = nrelids;
	stream_catalog_relid = stream_catalog;
	view_catalog_relid = view_catalog;

	/* a stream is partitioned or not for as long as it exists */
	partitioned_streams = false;
	for (i = 0; i < nrelids; i++)
		if (get_rel_relkind(relids[i]) == RELKIND_PARTITIONED_TABLE)
			partitioned_streams = true;
	partition_route_reset();
}

void
decoder_read(XLogRecPtr end_of_wal, int64 max_events, Size max_bytes)
{
	XLogReaderState *reader = decoding_ctx->reader;
	ReorderBufferTXN *oldest;

	/* rows kept on disk that the worker did not take since: not wanted */
	if (spill_tail_memory > 0)
	{
		HASH_SEQ_STATUS seq;
		PendingTxn *pending;

		hash_seq_init(&seq, pending_txns);
		while ((pending = hash_seq_search(&seq)) != NULL)
			if (pending->txn.ntail > 0)
				pending_drop_tail(pending, true);
	}

	/* entries cached under current snapshots must not leak into decoding */
	InvalidateSystemCaches();
	decoder_hide_from_snapshots(true);

	while (reader->EndRecPtr < end_of_wal &&
		   spill_tail_memory < spill_tail_turn() &&
		   !decoder_batch->catalog_changed &&
		   decoder_batch->spills == NIL &&
		   decoder_batch->nevents < max_events &&
		   (decoder_batch->nevents == 0 || decoder_batch_bytes() < max_bytes))
	{
		char	   *errm = NULL;
		XLogRecord *record = XLogReadRecord(reader, &errm);

		if (errm)
			elog(ERROR, "could not read WAL for pg_continuous: %s", errm);
		if (record != NULL)
		{
			partition_route_read_record(reader);
			LogicalDecodingProcessRecord(decoding_ctx, reader);
		}
		/* the reorder buffer ends its transactions with no owner set */
		CurrentResourceOwner = decoder_owner;
		CHECK_FOR_INTERRUPTS();
	}
	oldest = ReorderBufferGetOldestTXN(decoding_ctx->reorder);
	partition_route_forget_moves(oldest ? oldest->first_lsn : reader->EndRecPtr);

	decoder_hide_from_snapshots(false);
	/* and historic catalog entries must not leak into processing */
	InvalidateSystemCaches();

	/* spilled and streamed transactions, for pg_stat_replication_slots */
	UpdateDecodingStats(decoding_ctx);
}

XLogRecPtr
decoder_read_position(void)
{
	if (decoding_ctx == NULL)
		return InvalidXLogRecPtr;
	/* before the first record, the reader's end is not set yet */
	return Max(decoding_ctx->reader->EndRecPtr, confirmed_lsn);
}

/*
 * With its rows (rows_cxt) and the rows of streamed transactions that have
 * committed into it; asked before every WAL record, so added up from the
 * contexts' own counts rather than by walking the tree below the batch.
 */
Size
decoder_batch_bytes(void)
{
	return MemoryContextMemAllocated(decoder_batch->cxt, false) +
		MemoryContextMemAllocated(decoder_batch->rows_cxt, false) +
		decoder_batch->streamed_bytes;
}

void
decoder_batch_fold(void)
{
	HASH_SEQ_STATUS seq;
	StreamEvents *stream;
	ListCell   *lc;

	/* their rows are folded as any others (early_aggregation_forget_ended()) */
	decoder_batch->streamed_commits = NIL;
	hash_seq_init(&seq, decoder_batch->streams);
	while ((stream = hash_seq_search(&seq)) != NULL)
	{
		int			i;

		/* rows made with a temporary copy are in the batch's own context */
		if (decoder_batch->rows_elsewhere > 0)
			for (i = 0; i < stream->nevents; i++)
			{
				HeapTuple	tuple = stream->events[i].tuple;

				if (GetMemoryChunkContext(tuple) != decoder_batch->rows_cxt)
					heap_freetuple(tuple);
			}
		if (stream->nevents > 0)
			stream->folded_last_commit_time =
				stream->events[stream->nevents - 1].commit_time;
		stream->folded_events += stream->nevents;
		stream->nevents = 0;
		/* its room too: the next run's events may be fewer */
		if (stream->events != NULL)
			pfree(stream->events);
		stream->events = NULL;
		stream->capacity = 0;
	}
	/* dead letters of the clock's included */
	decoder_batch->folded_events = decoder_batch->nevents;
	decoder_batch->rows_elsewhere = 0;
	MemoryContextReset(decoder_batch->rows_cxt);

	/*
	 * The rows that streamed transactions held when they committed (that
	 * of a transaction whose later rows went to disk): their contexts'
	 * only child holds them.
	 */
	decoder_batch->streamed_bytes = 0;
	foreach(lc, decoder_batch->streamed_cxts)
	{
		MemoryContextResetChildren(lfirst(lc));
		decoder_batch->streamed_bytes +=
			MemoryContextMemAllocated(lfirst(lc), true);
	}
}

bool
decoder_batch_spilled(void)
{
	return decoder_batch->spills != NIL;
}

bool
decoder_batch_read_spilled(Size max_bytes)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	int64		nread = 0;

	/*
	 * The rows of one WAL record (a COPY's multi-insert holds many) are
	 * read together, so that a flush of part of the transaction holds all
	 * of them or none.
	 */
	while (decoder_batch->spills != NIL &&
		   (nread == 0 || decoder_batch_bytes() < max_bytes ||
			row_spill_next_lsn(linitial(decoder_batch->spills)) == spill_read_lsn))
	{
		RowSpill   *spill = linitial(decoder_batch->spills);
		SpilledRow	row;
		bool		more;

		MemoryContextSwitchTo(decoder_batch->rows_cxt);
		more = row_spill_read(spill, &row);
		MemoryContextSwitchTo(decoder_batch->cxt);
		if (!more)
		{
			row_spill_close(spill);
			decoder_batch->spills = list_delete_first(decoder_batch->spills);
			spill_read_lsn = InvalidXLogRecPtr;
			continue;
		}
		spill_read_lsn = row.lsn;
		if (row.tuple == NULL)
			count_ignored(row.relid);
		else
			batch_append(batch_stream(row.relid), row.tuple, row.desc,
						 row_spill_commit_lsn(spill),
						 row_spill_commit_time(spill));
		nread++;
	}
	MemoryContextSwitchTo(oldcxt);
	return decoder_batch->spills != NIL;
}

void
decoder_set_spill_unwritten(DecoderSpillUnwritten unwritten)
{
	spill_unwritten = unwritten;
}

TransactionId
decoder_batch_spill_missing(void)
{
	ListCell   *lc;

	foreach(lc, decoder_batch->spills)
	{
		RowSpill   *spill = lfirst(lc);

		if (row_spill_rows_missing(spill))
			return row_spill_xid(spill);
	}
	return InvalidTransactionId;
}

bool
decoder_batch_spill_early(RowSpillEarly *early)
{
	return decoder_batch->spills != NIL &&
		XLogRecPtrIsInvalid(spill_read_lsn) &&
		row_spill_early(linitial(decoder_batch->spills), early);
}

void
decoder_batch_spill_tail_taken(TransactionId xid, bool ran)
{
	ListCell   *lc;

	foreach(lc, decoder_batch->spills)
	{
		RowSpill   *spill = lfirst(lc);

		if (row_spill_xid(spill) != xid)
			continue;
		if (ran)
			row_spill_mark_early(spill);
		else
		{
			row_spill_lose_early(spill);
			if (!row_spill_writes_rows(spill))
				spill_write_committed_tail(spill, xid);
		}
	}
}

/* The same as pending_write_tail(), for the tail that came with the commit. */
static void
spill_write_committed_tail(RowSpill *spill, TransactionId xid)
{
	ListCell   *lc;

	foreach(lc, decoder_batch->streamed_commits)
	{
		StreamedCommit *commit = lfirst(lc);

		if (commit->xid == xid)
		{
			spill_write_tail(spill, commit->tail, commit->ntail,
							 commit->tail_first, commit->tail_origins);
			return;
		}
	}
}

void
decoder_batch_pass_spilled_early(const RowSpillEarly *early)
{
	StreamEvents *stream = batch_stream(early->relid);

	row_spill_pass_early(linitial(decoder_batch->spills));
	spill_read_lsn = early->last_lsn;
	stream->bytes += early->bytes;
	stream->ignored_changes += early->ignored;
	decoder_batch->nchanges += early->ignored;
	if (early->events > 0)
	{
		batch_count_events(early->events, early->commit_time);
		stream->folded_events += early->events;
		stream->folded_last_commit_time = early->commit_time;
		decoder_batch->folded_events += early->events;
	}
}

bool
decoder_batch_part(DecodedPart *part)
{
	RowSpill   *spill;

	if (list_length(decoder_batch->spills) != 1 ||
		XLogRecPtrIsInvalid(spill_read_lsn))
		return false;
	spill = linitial(decoder_batch->spills);
	part->commit_lsn = row_spill_commit_lsn(spill);
	part->xid = row_spill_xid(spill);
	part->change_lsn = spill_read_lsn;
	return true;
}

void
decoder_batch_flushed_part(XLogRecPtr confirmed_lsn)
{
	RowSpill   *spill = linitial(decoder_batch->spills);

	Assert(list_length(decoder_batch->spills) == 1);

	/* the spill outlives the batch's memory, and joins the next batch */
	row_spill_adopt(spill, continuous_memory_context());
	decoder_batch->spills = NIL;
	decoder_batch_flushed(confirmed_lsn);
	batch_add_spill(spill);
}

void
decoder_batch_flushed(XLogRecPtr flushed_lsn)
{
	batch_discard();
	if (decoding_ctx && flushed_lsn > confirmed_lsn)
	{
		LogicalConfirmReceivedLocation(flushed_lsn);
		ReplicationSlotMarkDirty();
		confirmed_lsn = flushed_lsn;
	}
}

void
decoder_drop_slot(void)
{
	if (decoding_ctx)
	{
		FreeDecodingContext(decoding_ctx);
		decoding_ctx = NULL;
	}
	if (MyReplicationSlot)
		ReplicationSlotRelease();
	if (SearchNamedReplicationSlot(decoder_slot_name, true) != NULL)
	{
		ReplicationSlotDrop(decoder_slot_name, true);
		ereport(LOG,
				(errmsg("pg_continuous: dropped replication slot \"%s\"",
						decoder_slot_name)));
	}
}

/* ------------------------------------------------------------------------
 * The batch
 * ------------------------------------------------------------------------
 */

/* The batch's rows are gone: flushed, or to be decoded again. */
static void
batch_discard(void)
{
	if (hash_get_num_entries(decoder_batch->streams) > 0 ||
		decoder_batch->catalog_changed)
	{
		HASH_SEQ_STATUS seq;
		StreamEvents *stream;

		ListCell   *lc;

		hash_seq_init(&seq, decoder_batch->streams);
		while ((stream = hash_seq_search(&seq)) != NULL)
			release_desc(&stream->desc_source);
		/* files first: their handles are in the context */
		foreach(lc, decoder_batch->spills)
			row_spill_close(lfirst(lc));
		spill_read_lsn = InvalidXLogRecPtr;
		MemoryContextReset(decoder_batch->cxt);
		decoder_batch->rows_cxt = NULL;	/* deleted with the reset */
		batch_init();
	}
}

static void
batch_init(void)
{
	HASHCTL		ctl;

	if (decoder_batch == NULL)
	{
		decoder_batch = MemoryContextAllocZero(continuous_memory_context(),
											   sizeof(DecodedBatch));
		decoder_batch->cxt = AllocSetContextCreate(continuous_memory_context(),
												   "pg_continuous decoded batch",
												   ALLOCSET_DEFAULT_SIZES);
	}
	/* resetting the batch's context deletes it, so it is made again here */
	if (decoder_batch->rows_cxt == NULL)
		decoder_batch->rows_cxt = rows_context_create(decoder_batch->cxt,
													  "pg_continuous decoded rows");
	decoder_batch->streamed_bytes = 0;
	decoder_batch->nevents = 0;
	decoder_batch->folded_events = 0;
	decoder_batch->rows_elsewhere = 0;
	decoder_batch->nchanges = 0;
	decoder_batch->last_stream = NULL;
	decoder_batch->oldest_commit_time = 0;
	decoder_batch->catalog_changed = false;
	decoder_batch->catalog_xid = InvalidTransactionId;
	decoder_batch->created_views = NIL;
	decoder_batch->streamed_commits = NIL;
	decoder_batch->streamed_cxts = NIL;
	decoder_batch->spills = NIL;

	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(StreamEvents);
	ctl.hcxt = decoder_batch->cxt;
	decoder_batch->streams = hash_create("pg_continuous batch streams", 16,
										 &ctl,
										 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

static bool
is_stream(Oid relid)
{
	return stream_nrelids > 0 &&
		bsearch(&relid, stream_relids, stream_nrelids, sizeof(Oid),
				oid_cmp) != NULL;
}

/*
 * The stream a changed relation's rows are events of, or InvalidOid: the
 * relation itself, or else the partitioned stream it is a partition of,
 * with *route saying how its rows become the stream's.
 */
static Oid
change_stream(Relation relation, PartitionRoute **route)
{
	*route = NULL;
	if (is_stream(RelationGetRelid(relation)))
		return RelationGetRelid(relation);
	if (!partitioned_streams || !relation->rd_rel->relispartition)
		return InvalidOid;
	*route = partition_route(relation);
	return (*route)->stream;
}

static StreamEvents *
batch_stream(Oid relid)
{
	bool		found;
	StreamEvents *stream = decoder_batch->last_stream;

	/* rows come in runs of one table: look up only when the table changes */
	if (stream && stream->relid == relid)
		return stream;
	stream = hash_search(decoder_batch->streams, &relid, HASH_ENTER, &found);
	if (!found)
	{
		memset(stream, 0, sizeof(StreamEvents));
		stream->relid = relid;
	}
	decoder_batch->last_stream = stream;
	return stream;
}
