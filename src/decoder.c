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
#include "miscadmin.h"
#include "replication/decode.h"
#include "replication/logical.h"
#include "replication/output_plugin.h"
#include "replication/slot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/varlena.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/resowner.h"

#include "decoder.h"
#include "pg_continuous.h"

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

/* set while a transaction that touched the catalog is being replayed */
static bool txn_changed_catalog = false;

extern PGDLLEXPORT void _PG_output_plugin_init(OutputPluginCallbacks *cb);

static void decoder_create_slot(void);
static void decoder_trust_own_plugin(void);
static void batch_init(void);
static bool is_stream(Oid relid);
static StreamEvents *batch_stream(Oid relid);
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
}

static void
plugin_change(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
			  Relation relation, ReorderBufferChange *change)
{
	Oid			relid = RelationGetRelid(relation);
	StreamEvents *stream;
	HeapTuple	tuple;
	MemoryContext oldcxt;

	if (relid == stream_catalog_relid || relid == view_catalog_relid)
	{
		txn_changed_catalog = true;
		return;
	}
	if (!is_stream(relid))
		return;

	stream = batch_stream(relid);
	if (change->action != REORDER_BUFFER_CHANGE_INSERT)
	{
		stream->ignored_changes++;
		decoder_batch->nchanges++;
		return;
	}

	oldcxt = MemoryContextSwitchTo(decoder_batch->cxt);

	/* a new relcache entry may carry a changed descriptor: keep a copy */
	if (stream->desc_source != RelationGetDescr(relation))
	{
		if (stream->desc == NULL ||
			!equalTupleDescs(stream->desc, RelationGetDescr(relation)))
			stream->desc = CreateTupleDescCopy(RelationGetDescr(relation));
		stream->desc_source = RelationGetDescr(relation);
	}

	/* toasted values point into the reorder buffer: take them inline */
	tuple = &change->data.tp.newtuple->tuple;
	if (HeapTupleHasExternal(tuple))
		tuple = toast_flatten_tuple(tuple, RelationGetDescr(relation));
	else
		tuple = heap_copytuple(tuple);

	if (stream->nevents == stream->capacity)
	{
		stream->capacity = Max(1024, stream->capacity * 2);
		if (stream->events == NULL)
			stream->events = MemoryContextAllocHuge(decoder_batch->cxt,
													sizeof(StreamEvent) * stream->capacity);
		else
			stream->events = repalloc_huge(stream->events,
										   sizeof(StreamEvent) * stream->capacity);
	}
	stream->events[stream->nevents].tuple = tuple;
	stream->events[stream->nevents].desc = stream->desc;
	stream->events[stream->nevents].commit_lsn = txn->final_lsn;
	stream->events[stream->nevents].commit_time = txn->xact_time.commit_time;
	stream->nevents++;
	stream->bytes += tuple->t_len;

	if (decoder_batch->nevents == 0 ||
		txn->xact_time.commit_time < decoder_batch->oldest_commit_time)
		decoder_batch->oldest_commit_time = txn->xact_time.commit_time;
	decoder_batch->nevents++;

	MemoryContextSwitchTo(oldcxt);
}

static void
plugin_truncate(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
				int nrelations, Relation relations[],
				ReorderBufferChange *change)
{
	int			i;

	for (i = 0; i < nrelations; i++)
		if (is_stream(RelationGetRelid(relations[i])))
		{
			batch_stream(RelationGetRelid(relations[i]))->ignored_changes++;
			decoder_batch->nchanges++;
		}
}

static void
plugin_commit(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
			  XLogRecPtr commit_lsn)
{
	if (txn_changed_catalog)
	{
		decoder_batch->catalog_changed = true;
		decoder_batch->catalog_xid = txn->xid;
		txn_changed_catalog = false;
	}
}

/* ------------------------------------------------------------------------
 * Driving the decoder from the worker
 * ------------------------------------------------------------------------
 */

bool
decoder_start(XLogRecPtr start_lsn)
{
	bool		created = false;

	snprintf(decoder_slot_name, NAMEDATALEN, "continuous_%u", MyDatabaseId);

	decoder_owner = ResourceOwnerCreate(NULL, "pg_continuous decoder");
	CurrentResourceOwner = decoder_owner;
	batch_init();
	decoder_trust_own_plugin();

	if (SearchNamedReplicationSlot(decoder_slot_name, true) == NULL)
	{
		decoder_create_slot();
		created = true;
	}

	/*
	 * The slot may be confirmed beyond the flushed position: an idle worker
	 * confirms WAL that held no stream events without writing a position.
	 * CreateDecodingContext() then starts from the slot's position.
	 */
	ReplicationSlotAcquire(decoder_slot_name, true);

	decoding_ctx = CreateDecodingContext(start_lsn, NIL, false,
										 XL_ROUTINE(.page_read = read_local_xlog_page,
													.segment_open = wal_segment_open,
													.segment_close = wal_segment_close),
										 NULL, NULL, NULL);
	XLogBeginRead(decoding_ctx->reader, MyReplicationSlot->data.restart_lsn);
	confirmed_lsn = MyReplicationSlot->data.confirmed_flush;
	return created;
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
									XL_ROUTINE(.page_read = read_local_xlog_page,
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
	if (stream_relids)
		pfree(stream_relids);
	stream_relids = MemoryContextAlloc(TopMemoryContext,
									   sizeof(Oid) * Max(nrelids, 1));
	memcpy(stream_relids, relids, sizeof(Oid) * nrelids);
	qsort(stream_relids, nrelids, sizeof(Oid), oid_cmp);
	stream_nrelids = nrelids;
	stream_catalog_relid = stream_catalog;
	view_catalog_relid = view_catalog;
}

void
decoder_read(XLogRecPtr end_of_wal, int64 max_events, Size max_bytes)
{
	XLogReaderState *reader = decoding_ctx->reader;

	/* entries cached under current snapshots must not leak into decoding */
	InvalidateSystemCaches();

	while (reader->EndRecPtr < end_of_wal &&
		   !decoder_batch->catalog_changed &&
		   decoder_batch->nevents < max_events &&
		   decoder_batch_bytes() < max_bytes)
	{
		char	   *errm = NULL;
		XLogRecord *record = XLogReadRecord(reader, &errm);

		if (errm)
			elog(ERROR, "could not read WAL for pg_continuous: %s", errm);
		if (record != NULL)
			LogicalDecodingProcessRecord(decoding_ctx, reader);
		/* the reorder buffer ends its transactions with no owner set */
		CurrentResourceOwner = decoder_owner;
		CHECK_FOR_INTERRUPTS();
	}

	/* and historic catalog entries must not leak into processing */
	InvalidateSystemCaches();
}

XLogRecPtr
decoder_read_position(void)
{
	if (decoding_ctx == NULL)
		return InvalidXLogRecPtr;
	/* before the first record, the reader's end is not set yet */
	return Max(decoding_ctx->reader->EndRecPtr, confirmed_lsn);
}

Size
decoder_batch_bytes(void)
{
	return MemoryContextMemAllocated(decoder_batch->cxt, false);
}

void
decoder_batch_flushed(XLogRecPtr flushed_lsn)
{
	if (hash_get_num_entries(decoder_batch->streams) > 0 ||
		decoder_batch->catalog_changed)
	{
		MemoryContextReset(decoder_batch->cxt);
		batch_init();
	}
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

static void
batch_init(void)
{
	HASHCTL		ctl;

	if (decoder_batch == NULL)
	{
		decoder_batch = MemoryContextAllocZero(TopMemoryContext,
											   sizeof(DecodedBatch));
		decoder_batch->cxt = AllocSetContextCreate(TopMemoryContext,
												   "pg_continuous decoded batch",
												   ALLOCSET_DEFAULT_SIZES);
	}
	decoder_batch->nevents = 0;
	decoder_batch->nchanges = 0;
	decoder_batch->oldest_commit_time = 0;
	decoder_batch->catalog_changed = false;
	decoder_batch->catalog_xid = InvalidTransactionId;

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

static StreamEvents *
batch_stream(Oid relid)
{
	bool		found;
	StreamEvents *stream;

	stream = hash_search(decoder_batch->streams, &relid, HASH_ENTER, &found);
	if (!found)
	{
		memset(stream, 0, sizeof(StreamEvents));
		stream->relid = relid;
	}
	return stream;
}
