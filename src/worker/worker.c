/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The per-database worker: decode, process, flush, repeat.
 *
 * Pipeline position: the loop that drives every step.  Each turn reads the
 * WAL flushed so far (decoder.c) and the messages the Kafka streams' consumers
 * have received (worker_kafka.c), and when a flush is due (the flush
 * interval has passed, the batch is large, a continuous.sync() is waiting, or
 * the continuous catalog changed) it runs one transaction that partially
 * aggregates the batch for every view (worker_process.c, batch.c), merges
 * it into storage (worker_write.c), and records the decoder position, the
 * Kafka offsets and statistics (flush.c).  Then it publishes how far the
 * views are up to date for continuous.sync().  Between reads, the rows that
 * large transactions still open have sent are aggregated ahead of their
 * commit (early_aggregation.c).  A worker that is behind, whose decoded
 * events fill its memory before a flush is otherwise due, runs them
 * through the views that can take them early, which keep only their
 * groups, and decodes on (worker_fold): a view of many groups is then
 * written once per continuous.batch_events rather than once per memory's
 * worth of events.  A transaction too large for memory, whose later rows
 * the decoder wrote to disk, is read back in runs folded the same way
 * (worker_read_spilled), so that only its groups take memory, or where
 * its views cannot fold, or their groups fill memory, flushed a run at a
 * time: it is applied in parts (worker_flush_part), each flush recording
 * how far into it the views are.
 *
 * A worker whose library is of another version than its database's
 * catalog waits, before it reads anything, for ALTER EXTENSION pg_continuous
 * UPDATE (upgrade.c).
 *
 * The streams and views the worker serves are read from the continuous
 * catalog at start and at each change of it (worker_catalog.c).  A change
 * (a view or stream created, dropped, altered, rebuilt or restored)
 * reaches the worker as the decoder reads it in the WAL; a worker that
 * does not decode learns of it by a relcache invalidation, which it
 * processes at every turn (worker_catalog_news()).
 *
 * Each view is processed and written through quarantine.c: a view that
 * fails by its own fault is marked failed and left alone, and the others go
 * on.  A view whose relations another transaction has locked is held
 * back, and decoded (or, of a Kafka stream, consumed) again once the lock
 * is gone (view_progress.c, kafka_source.c).  The worker exits when the
 * extension is dropped (the invalidation of its dropped catalog tells it),
 * dropping its replication slot.  Any other error ends the worker; the
 * launcher starts it again, and it resumes from the last flushed position,
 * so nothing is lost or counted twice.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <malloc.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "replication/slot.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "base/extension_catalog.h"
#include "base/guc.h"
#include "base/memory.h"
#include "base/privileges.h"
#include "base/shmem.h"
#include "ddl/upgrade.h"
#include "ddl/view_chain.h"
#include "ddl/view_dependencies.h"
#include "exec/batch.h"
#include "exec/quarantine.h"
#include "source/decoder.h"
#include "source/kafka/kafka_source.h"
#include "source/kafka/worker_kafka.h"
#include "source/watermark.h"
#include "state/chain_emit.h"
#include "state/flush.h"
#include "state/rebuild.h"
#include "worker/early_aggregation.h"
#include "worker/view_progress.h"
#include "worker/worker.h"
#include "worker/worker_catalog.h"
#include "worker/worker_memory.h"
#include "worker/worker_process.h"
#include "worker/worker_write.h"

/* how often an idle worker looks for new WAL */
#define WORKER_POLL_MS			10
/* and whether the lock holding back a view is gone */
#define HOLD_CHECK_MS			1000

typedef struct WorkerState
{
	DatabaseSlot *slot;
	int			index;			/* 0 .. continuous.workers - 1 */
	Oid			extension;		/* the pg_extension row we serve */
	bool		decoding;		/* wal_level = logical */
	List	   *views;			/* ViewRuntime, as the catalog has them */
	TimestampTz last_flush;
	TimestampTz last_hold_check;
	uint64		seen_sync_requests;
	XLogRecPtr	published;
	bool		folds_pay;		/* as the last flush's batch says */
	XLogRecPtr	parts_of;		/* the last transaction flushed in parts */
} WorkerState;

/*
 * Folding pays when the views' groups of a batch are fewer than this
 * fraction of the events they took: then a flush writes each group once
 * for more events.  Views that make a group of nearly every event (a
 * window per key) write as many groups either way, and would pay for an
 * extra combine of each at the flush.  Every flush judges by its batch
 * whether the next may fold.
 */
#define FOLD_PAYS_FRACTION 0.5

static WorkerState ws;

/* worker_rebuild_next_transaction() wrote that a rebuild is owed */
static bool rebuild_owed_written = false;

static void worker_start_further(Oid dboid) pg_attribute_noreturn();
static void worker_start_decoder(DecoderProgress *stored, bool *slot_is_new);
static void worker_rebuild_next_transaction(void);
static void worker_take_turn(List *kafka_batches);
static void worker_loop(void) pg_attribute_noreturn();
static void worker_detach(int code, Datum arg);
static void worker_begin(TransactionId wait_for);
static void worker_commit(void);
static bool worker_extension_exists(void);
static void worker_exit_without_extension(void);
static void worker_hold_locked_views(void);
static void worker_release_held_views(void);
static void worker_rewind(void);
static void worker_decode_from(XLogRecPtr restart);
static void worker_reload_views(void);
static bool worker_stream_dropped(Oid stream);
static void worker_flush(void);
static void worker_flush_upto(DecodedPart *part);
static void worker_flush_part(void);
static Size worker_spilled_run(bool fold);
static void worker_publish(XLogRecPtr lsn);
static bool worker_flush_due(bool sync_requested);
static bool worker_fold_due(void);
static bool worker_batch_whole(void);
static bool worker_may_fold(void);
static void worker_fold(void);
static bool worker_read_spilled(void);
static bool worker_spill_unwritten(Oid stream, TransactionId xid);
static void worker_decode_again_writing(TransactionId xid);
static void worker_run_committed_tails(List *commits);
static void worker_take_spill_early(List *commits);
static void worker_judge_folds(void);
static void worker_write_kafka_state(void);

void
continuous_worker_main(Datum arg)
{
	Oid			dboid = DatumGetObjectId(arg);
	DecoderProgress stored;
	bool		slot_is_new = false;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	worker_session_fix_settings();

	/*
	 * Each flush allocates and frees its batch: tens of megabytes.  Keep
	 * freed memory in the process instead of returning it to the kernel
	 * and faulting it in again at the next flush (a fifth of the worker's
	 * time when consuming Kafka, by perf).
	 */
	mallopt(M_MMAP_THRESHOLD, CONTINUOUS_MMAP_THRESHOLD);
	mallopt(M_TRIM_THRESHOLD, 128 * 1024 * 1024);
	pgstat_report_appname("pg_continuous worker");

	memcpy(&ws.index, MyBgworkerEntry->bgw_extra, sizeof(ws.index));
	if (ws.index > 0)
		worker_start_further(dboid);	/* does not return */

	LWLockAcquire(ContinuousShmem->lock, LW_EXCLUSIVE);
	ws.slot = continuous_get_slot(dboid);
	ws.slot->pid = MyProcPid;
	ws.slot->worker_latch = MyLatch;
	ws.slot->decoder_ready = false;
	pg_atomic_write_u64(&ws.slot->applied_lsn, InvalidXLogRecPtr);
	LWLockRelease(ContinuousShmem->lock);
	before_shmem_exit(worker_detach, (Datum) 0);
	quarantine_use_strikes(&ws.slot->workers[0].strikes);
	worker_kafka_init(0, &ws.slot->kafka_synced, worker_catalog_clock);

	/* a library of another version than the catalog waits for the update */
	upgrade_wait_for_catalog(ws.slot, true);
	worker_begin(InvalidTransactionId);
	ws.extension = continuous_extension_oid(true);
	if (!OidIsValid(ws.extension))
	{
		worker_commit();
		worker_exit_without_extension();
	}
	LWLockAcquire(ContinuousShmem->lock, LW_EXCLUSIVE);
	ws.slot->state = DBSLOT_RUNNING;
	ws.slot->start_requested = false;
	LWLockRelease(ContinuousShmem->lock);

	flush_read_progress(&stored);
	view_progress_start(&stored);
	/* pg_upgrade leaves out what makes each view one object */
	view_dependencies_restore();
	view_chain_restore_dependencies();
	worker_commit();

	ws.decoding = decoder_available();
	worker_catalog_init(0, ws.decoding);
	if (ws.decoding)
		worker_start_decoder(&stored, &slot_is_new);

	/* after the slot exists, so no catalog change can fall in between */
	worker_begin(InvalidTransactionId);
	ws.views = worker_catalog_load(ws.views, true, slot_is_new, true);
	worker_commit();

	LWLockAcquire(ContinuousShmem->lock, LW_EXCLUSIVE);
	ws.slot->decoder_ready = true;
	ws.slot->extension = ws.extension;
	LWLockRelease(ContinuousShmem->lock);
	ConditionVariableBroadcast(&ContinuousShmem->applied_cv);
	worker_loop();
}

/*
 * Acquire the replication slot.  If it cannot decode from start_lsn (it
 * is gone: a promoted standby, pg_upgrade, a restored dump, a dropped
 * slot; or it was invalidated), the views of table streams are computed
 * again from their tables (rebuild.c) before anything is decoded.  That
 * the rebuild is owed is written down before the new slot exists, so a
 * crash in between cannot leave a slot behind that hides the gap.
 */
static void
worker_start_decoder(DecoderProgress *stored, bool *slot_is_new)
{
	XLogRecPtr	start_lsn = stored->restart;
	XLogRecPtr	lost_from = InvalidXLogRecPtr;
	DecoderStart how;
	bool		owed;

	worker_begin(InvalidTransactionId);
	owed = flush_read_rebuild_owed();
	if (!owed && start_lsn != InvalidXLogRecPtr && !decoder_slot_usable())
	{
		flush_write_rebuild_owed(true);
		owed = true;
	}
	worker_commit();

	how = decoder_start(start_lsn, &lost_from);
	decoder_set_spill_unwritten(worker_spill_unwritten);
	*slot_is_new = (how != DECODER_RESUMED);
	/* a new slot starts now: no view is behind another */
	if (*slot_is_new)
		view_progress_forget_all();
	/* a large transaction was flushed in parts: the rest of it is owed */
	else if (TransactionIdIsValid(stored->part_xid))
		decoder_resume_within(stored->part_xid, stored->part_lsn);

	worker_begin(InvalidTransactionId);

	/*
	 * A restore that brought views back while the slot was being made owes
	 * a rebuild too (restore.c): its commit, and the commits after it, came
	 * before the slot's start, and the first look above did not see it.
	 */
	if (!owed && *slot_is_new)
		owed = flush_read_rebuild_owed();
	if (owed)
	{
		rebuild_table_stream_views(how == DECODER_SLOT_LOST ?
								   psprintf("the replication slot of this database was invalidated "
											"(max_slot_wal_keep_size) at %X/%X",
											LSN_FORMAT_ARGS(lost_from)) :
								   start_lsn == InvalidXLogRecPtr ?
								   pstrdup("views were restored before the worker of this database had a replication slot") :
								   psprintf("the replication slot of this database could not decode from %X/%X "
											"(a promoted standby, pg_upgrade, a restored dump or a dropped slot)",
											LSN_FORMAT_ARGS(start_lsn)),
								   false, worker_rebuild_next_transaction);
		flush_write_rebuild_owed(false);
	}

	/*
	 * A view of a table stream whose beginning nobody wrote was created, or
	 * brought back by a restore, before this look.  Whether its commit came
	 * before the new slot's start, which the slot will not decode, or after
	 * it cannot be told here: it is computed from its table now, and begins
	 * after this transaction's lock on its stream.  A later one waits for
	 * its creation to be decoded (worker_catalog_load()).
	 */
	else if (*slot_is_new)
	{
		rebuild_owed_written = false;
		rebuild_table_stream_views("views were created or restored while the worker of this database made its replication slot",
								   true, worker_rebuild_next_transaction);
		if (rebuild_owed_written)
			flush_write_rebuild_owed(false);
	}
	worker_commit();
}

/*
 * Between two transactions of rebuild_table_stream_views() (views that read
 * a transform are computed after its new rows commit): what committed is
 * not all, so the rebuild stays owed until the last one commits, and a
 * crash in between computes every view again at the next start.
 */
static void
worker_rebuild_next_transaction(void)
{
	flush_write_rebuild_owed(true);
	rebuild_owed_written = true;
	worker_commit();
	worker_begin(InvalidTransactionId);
}

/*
 * Worker 1 .. continuous.workers - 1 of a database (the launcher starts
 * them once worker 0 runs): no replication slot, no table streams, only its
 * share of the Kafka partitions (worker_kafka.c).  It leaves the slot's
 * state to worker 0, and simply exits when the extension is gone.
 */
static void
worker_start_further(Oid dboid)
{
	LWLockAcquire(ContinuousShmem->lock, LW_EXCLUSIVE);
	ws.slot = continuous_find_slot(dboid);
	if (ws.slot == NULL || ws.slot->state != DBSLOT_RUNNING ||
		ws.index >= continuous_workers)
	{
		LWLockRelease(ContinuousShmem->lock);
		proc_exit(0);
	}
	ws.slot->workers[ws.index].pid = MyProcPid;
	ws.slot->workers[ws.index].latch = MyLatch;
	LWLockRelease(ContinuousShmem->lock);
	before_shmem_exit(worker_detach, (Datum) 0);
	quarantine_use_strikes(&ws.slot->workers[ws.index].strikes);
	worker_kafka_init(ws.index, &ws.slot->workers[ws.index].kafka_synced,
					  worker_catalog_clock);

	ws.decoding = false;
	worker_catalog_init(ws.index, false);
	pgstat_report_appname(psprintf("pg_continuous worker %d", ws.index + 1));
	upgrade_wait_for_catalog(ws.slot, false);
	worker_begin(InvalidTransactionId);
	ws.extension = continuous_extension_oid(true);
	if (!OidIsValid(ws.extension))
	{
		worker_commit();
		proc_exit(0);
	}
	ws.views = worker_catalog_load(ws.views, true, false, true);
	worker_commit();
	worker_loop();
}

/* Decode, poll, flush, repeat. */
static void
worker_loop(void)
{
	ws.last_flush = GetCurrentTimestamp();

	for (;;)
	{
		bool		sync_requested;
		uint64		sync_requests;
		WorkerCatalogNews news;
		bool		catalog_changed = false;
		TransactionId catalog_xid = InvalidTransactionId;
		int64		kafka_messages;
		Size		kafka_bytes;
		bool		pending;
		long		timeout = WORKER_POLL_MS;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (ws.slot->pause_requested)
		{
			/* unflushed events stay in the WAL, and the slot keeps them */
			ereport(LOG,
					(errmsg("pg_continuous: worker exiting for DROP DATABASE")));
			proc_exit(0);
		}

		/* a sync() waits: for Kafka offsets, or (worker 0) for the WAL */
		sync_requests = pg_atomic_read_u64(&ws.slot->sync_requests);
		sync_requested = (sync_requests != ws.seen_sync_requests ||
						  (ws.index == 0 &&
						   pg_atomic_read_u64(&ws.slot->flush_target) > ws.published));

		/*
		 * The invalidations of what committed before that sync() asked:
		 * whoever writes the catalog sends one (continuous_catalog_changed()),
		 * DROP EXTENSION and DROP VIEW too.  The barrier orders the unlocked
		 * test for messages after the read of the request.  Between
		 * transactions, as TimescaleDB's job scheduler does: this only
		 * forgets cache entries and sets flags.
		 */
		pg_memory_barrier();
		AcceptInvalidationMessages();
		news = worker_catalog_news();
		if (news == CATALOG_CHANGED)
			catalog_changed = true;
		else if (news == CATALOG_CHECK_EXTENSION)
		{
			worker_begin(InvalidTransactionId);
			if (!worker_extension_exists())
			{
				worker_commit();
				worker_exit_without_extension();
			}
			worker_commit();
		}

		worker_release_held_views();
		if (ws.decoding)
		{
			XLogRecPtr	end_of_wal = GetFlushRecPtr(NULL);

			/* decoded again for views held back: up to where the others are */
			if (view_progress_replay_end() != InvalidXLogRecPtr)
				end_of_wal = Min(end_of_wal, view_progress_replay_end());

			if (decoder_read_position() < end_of_wal)
				decoder_read(end_of_wal, continuous_batch_events,
							 ws.folds_pay ? worker_memory_fold_run(ws.views) :
							 worker_memory_for_events(ws.views));
			catalog_changed = decoder_batch->catalog_changed;
			catalog_xid = decoder_batch->catalog_xid;

			/* a large transaction's rows on disk: back, in folded runs */
			if (decoder_batch_spilled() && worker_read_spilled())
				continue;		/* decoded again */

			/* large transactions still open: aggregate what they sent */
			if (early_aggregation_due(ws.views))
			{
				worker_begin(InvalidTransactionId);
				early_aggregation_run(ws.views, worker_catalog_clock);
				worker_commit();
			}

			/* behind, with memory full: run the events, and read on */
			if (worker_fold_due())
			{
				worker_fold();
				continue;
			}
		}
		if (worker_kafka_poll(worker_memory_for_events(ws.views)) > 0)
			timeout = 0;		/* more may be waiting */
		worker_write_kafka_state();

		pending = worker_kafka_pending(&kafka_messages, &kafka_bytes);

		/*
		 * A catalog change is flushed too, even without events: the position
		 * past it must be written with where the views it created begin.
		 */
		if (ws.decoding &&
			(decoder_batch->nevents > 0 || decoder_batch->nchanges > 0 ||
			 decoder_batch->catalog_changed))
			pending = true;
		/* a sync() must not return before a view whose lock is gone */
		if (sync_requested && view_progress_holding())
			pending = true;
		/* closed windows of a view that others read wait to be emitted */
		if (chain_emit_owed(ws.views))
			pending = true;

		if (pending)
		{
			/*
			 * A Kafka sync() is served by a flush once the batch holds every
			 * message it waits for: flushing earlier would only make more,
			 * smaller flushes.
			 */
			if (worker_flush_due(sync_requested ||
								 worker_kafka_sync_waiting()))
			{
				ws.seen_sync_requests = sync_requests;
				worker_flush();
			}
			else
			{
				long		left = continuous_flush_interval_ms -
					TimestampDifferenceMilliseconds(ws.last_flush,
													GetCurrentTimestamp());

				timeout = Max(1, Min(timeout, left));
			}
		}
		else if (ws.decoding && worker_catalog_activations_unwritten(ws.views))
		{
			/* where new views begin must be written before moving on */
			ws.seen_sync_requests = sync_requests;
			worker_flush();
		}
		else
		{
			/* nothing of ours in what was read: up to date */
			ws.seen_sync_requests = sync_requests;
			if (ws.decoding)
			{
				view_progress_flushed(decoder_read_position(),
									  InvalidTransactionId, InvalidXLogRecPtr);
				early_aggregation_forget_ended();
				decoder_batch_flushed(view_progress_confirmable(decoder_read_position()));
				worker_publish(decoder_read_position());
			}
			else
				worker_publish(GetXLogInsertRecPtr());
		}
		if (catalog_changed)
		{
			/*
			 * Without decoding, the consumers are set up anew from the
			 * stored offsets, and read their unflushed messages again (see
			 * worker_flush()).
			 */
			worker_begin(catalog_xid);
			if (!worker_extension_exists())
			{
				worker_commit();
				worker_exit_without_extension();
			}
			/* a stream whose decoding ran out of time is tried again */
			quarantine_forget_stalled_streams();
			ws.views = worker_catalog_load(ws.views, false, false, false);
			worker_commit();
			/* the next turn writes where new views begin */
			timeout = 0;
		}

		/* after the catalog: a sync() sees the streams of views made before it */
		worker_kafka_sync(sync_requests);

		/* more WAL waiting: no sleep */
		if (ws.decoding &&
			decoder_read_position() < GetFlushRecPtr(NULL) &&
			decoder_batch->nevents < continuous_batch_events)
			timeout = 0;

		if (timeout > 0)
		{
			if (worker_kafka_wakeup_fd() >= 0)
				(void) WaitLatchOrSocket(MyLatch,
										 WL_LATCH_SET | WL_TIMEOUT |
										 WL_SOCKET_READABLE | WL_EXIT_ON_PM_DEATH,
										 worker_kafka_wakeup_fd(), timeout,
										 PG_WAIT_EXTENSION);
			else
				(void) WaitLatch(MyLatch,
								 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
								 timeout, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			worker_kafka_wakeup_drain();
		}
	}
}

/*
 * Fold rather than flush?  When the decoded events fill a fold's run
 * (worker_memory.c), the flush is not due otherwise (more WAL waits, fewer
 * than continuous.batch_events decoded), the groups kept of folds so far
 * take under half of the batch's memory, and every view over the decoded
 * streams can take the events before the flush.  Not with a catalog change
 * or a streamed transaction in the batch (their rows are the batch's until
 * the flush), nor while views are held back or decoded again
 * (view_progress.c): those batches are flushed as they are.
 */
static bool
worker_fold_due(void)
{
	if (!ws.folds_pay ||
		decoder_batch->nevents == decoder_batch->folded_events ||
		decoder_batch->streamed_commits != NIL ||
		decoder_batch->nevents >= continuous_batch_events ||
		decoder_read_position() >= GetFlushRecPtr(NULL))
		return false;
	if (decoder_batch_bytes() < worker_memory_fold_run(ws.views) ||
		worker_folded_memory(ws.views) >= worker_memory_for_batch(ws.views) / 2)
		return false;
	return worker_may_fold() && worker_can_fold(ws.views);
}

/*
 * Must the decoded batch be taken whole, by one flush?  With a catalog
 * change in it: its views are loaded again after it, so it can be neither
 * folded nor flushed in parts.
 */
static bool
worker_batch_whole(void)
{
	return decoder_batch->catalog_changed;
}

/*
 * May the batch's events run through the views before the flush?  Not
 * while views are held back or decoded again: the groups the views keep
 * would outlive a decoding again for them (worker_rewind()), which reads
 * those events again.  A transaction too large for memory is then flushed
 * in parts instead (worker_read_spilled()).
 */
static bool
worker_may_fold(void)
{
	return !worker_batch_whole() && !view_progress_holding() &&
		!view_progress_replaying(decoder_read_position());
}

/*
 * The decoded events through every view over their streams, in a
 * transaction that writes nothing of their state (as early aggregation's;
 * only a view that fails there is recorded failed, quarantine.c), and
 * their rows given back.  Exactly once holds as it did: what the views
 * keep is memory, written by the flush with the decoder position, and
 * lost with the batch's rows if the worker dies before.
 */
static void
worker_fold(void)
{
	HASH_SEQ_STATUS seq;
	StreamEvents *stream;
	int64		events = 0;
	Size		freed = decoder_batch_bytes();

	worker_begin(InvalidTransactionId);
	if (!worker_extension_exists())
	{
		worker_commit();
		worker_exit_without_extension();
	}
	pgstat_report_activity(STATE_RUNNING, "pg_continuous fold");
	hash_seq_init(&seq, decoder_batch->streams);
	while ((stream = hash_seq_search(&seq)) != NULL)
	{
		events += stream->nevents;
		worker_fold_stream(ws.views, stream);
	}
	worker_commit();
	decoder_batch_fold();

	freed -= Min(freed, decoder_batch_bytes());
	ereport(DEBUG1,
			(errmsg_internal("pg_continuous: folded %lld events before the flush, giving back %zu bytes; the views keep %zu bytes of such events",
							 (long long) events, freed,
							 worker_folded_memory(ws.views))));
}

/*
 * The batch ends with a transaction whose rows past continuous.
 * large_transaction_memory are on disk (decoder.c, row_spill.c).  They are
 * read back a run at a time.  Where every view over its streams can take
 * events before the flush, each run is folded (worker_fold()), so that
 * only the views' groups stay in memory; once those take half of the
 * batch's memory, or where a view cannot take events before the flush
 * (deduplication, joins, transforms, session and count windows), the
 * batch is flushed instead, up to the run's last WAL record
 * (worker_flush_part()), and the last run is flushed right after; a last
 * run folded is left for the flush that comes when it is due.  So the
 * worker's memory is bounded whatever the transaction's size, and every
 * view's too.
 *
 * Views held back, or decoded again for, stand elsewhere than the others:
 * the transaction is flushed in parts then, never folded, and each view
 * stands in it, or before it, on its own (view_progress.c).  Before the
 * first part, the views whose relations are locked are held back, before
 * the transaction, and the others' locks are kept until the last part
 * (view_progress_pin()).  A batch that must be taken whole
 * (worker_batch_whole(): it changes the continuous catalog) reads the
 * rows back whole, as though they had not been written out, and the log
 * says so: the memory then is the transaction's.
 *
 * Whether folding pays (ws.folds_pay) is not asked: here it is what keeps
 * the memory bounded.
 */
static bool
worker_read_spilled(void)
{
	bool		parted = false;
	bool		first = true;
	TransactionId missing;

	if (worker_batch_whole())
	{
		missing = decoder_batch_spill_missing();
		if (TransactionIdIsValid(missing))
		{
			worker_decode_again_writing(missing);
			return true;
		}
		ereport(LOG,
				(errmsg("pg_continuous: reading a large transaction's rows back into memory whole"),
				 errdetail("Its rows past continuous.large_transaction_memory were written to a temporary file, but the batch changes the continuous catalog.")));
		(void) decoder_batch_read_spilled(SIZE_MAX);
		return false;
	}
	worker_begin(InvalidTransactionId);
	worker_hold_locked_views();
	view_progress_pin(ws.extension);
	worker_commit();
	for (;;)
	{
		bool		fold = worker_may_fold() && worker_can_fold(ws.views) &&
			worker_folded_memory(ws.views) < worker_memory_for_batch(ws.views) / 2;

		CHECK_FOR_INTERRUPTS();
		if (fold)
		{
			/*
			 * What the views ran of the batch's large transactions while
			 * they streamed (their rows held in memory, this one's too) is
			 * taken by the fold, and then no longer needed.
			 */
			List	   *commits = decoder_batch->streamed_commits;

			if (commits != NIL)
				worker_run_committed_tails(commits);
			if (decoder_batch->nevents > decoder_batch->folded_events)
				worker_fold();
			if (commits != NIL)
			{
				worker_take_spill_early(commits);
				early_aggregation_forget_ended();
			}
		}
		/* rows that went unwritten are taken now, or decoded again */
		missing = first ? decoder_batch_spill_missing() : InvalidTransactionId;
		if (TransactionIdIsValid(missing))
		{
			view_progress_unpin();
			worker_decode_again_writing(missing);
			return true;
		}
		first = false;
		if (!decoder_batch_read_spilled(worker_spilled_run(fold)))
			break;
		if (!fold)
		{
			worker_flush_part();
			parted = true;
		}
	}

	/*
	 * Applied in parts: the rest too, before anything is decoded, while the
	 * views' locks are held (view_progress_pin()).
	 */
	if (parted)
		worker_flush();
	view_progress_unpin();
	return false;
}

/*
 * The decoder's question (DecoderSpillUnwritten): while views are held
 * back or decoded again for, the transaction may be flushed in parts,
 * which reads its rows back; otherwise early_aggregation.c answers.
 */
static bool
worker_spill_unwritten(Oid stream, TransactionId xid)
{
	return !view_progress_holding() &&
		!view_progress_replaying(decoder_read_position()) &&
		early_aggregation_spill_unwritten(ws.views, stream, xid);
}

/*
 * The batch's large transaction xid left its rows on disk unwritten, and
 * the views did not take what they ran of them (worker_read_spilled()):
 * decode again from where the views stand, as a restart would, with its
 * rows written this time.  Nothing of the batch was flushed: the views
 * and their clocks are loaded again, and what they folded of it goes.
 */
static void
worker_decode_again_writing(TransactionId xid)
{
	early_aggregation_spill_decoded_again(xid);
	ereport(LOG,
			(errmsg("pg_continuous: decoding the large transaction %u again, to write its rows to disk",
					xid),
			 errdetail("Its rows past continuous.large_transaction_memory ran through the continuous views before its commit and were not kept, but the views could not take what they made of them (a late or failed event, a window closed meanwhile, a rollback to a savepoint, or a view held by a lock).")));
	worker_decode_from(view_progress_rewind());
	worker_reload_views();
}

/*
 * The rows on disk that the batch's streamed transactions wrote after the
 * worker's last turn, through the views as the rows before them were
 * (early_aggregation.c), while the batch still holds them: so that at
 * best none of a transaction's rows on disk is read back.
 */
static void
worker_run_committed_tails(List *commits)
{
	ListCell   *lc;

	foreach(lc, commits)
	{
		if (((StreamedCommit *) lfirst(lc))->ntail > 0)
		{
			worker_begin(InvalidTransactionId);
			early_aggregation_run_committed_tails(commits, worker_catalog_clock);
			worker_commit();
			return;
		}
	}
}

/*
 * The first rows on disk of the transaction that the batch reads back next
 * ran through the views as they were written (early_aggregation.c): if
 * every view over their stream can take what it made of them, it does,
 * and only the rows after them are read back.  commits: the batch's
 * streamed transactions, as they were before the fold.
 */
static void
worker_take_spill_early(List *commits)
{
	RowSpillEarly early;

	if (!decoder_batch_spill_early(&early))
		return;
	worker_begin(InvalidTransactionId);
	if (early_aggregation_take_spill(ws.views, commits, &early,
									 worker_catalog_clock))
	{
		decoder_batch_pass_spilled_early(&early);
		ereport(DEBUG1,
				(errmsg_internal("pg_continuous: the views took %lld rows on disk of transaction %u as they ran them before its commit",
								 (long long) early.rows, early.xid)));
	}
	else
		ereport(DEBUG1,
				(errmsg_internal("pg_continuous: reading back every row on disk of transaction %u: not every view ran them before its commit",
								 early.xid)));
	worker_commit();
}

/*
 * Up to what the batch may take with the next run of rows read back: a
 * fold's run, or the batch's memory for a flush; and at least a quarter of
 * continuous.large_transaction_memory more than it takes, so that a run is
 * never a handful of rows, however many views share continuous.
 * state_memory.
 */
static Size
worker_spilled_run(bool fold)
{
	Size		run = fold ? worker_memory_fold_run(ws.views) :
		worker_memory_for_events(ws.views);

	return Max(run, decoder_batch_bytes() +
			   (Size) continuous_large_transaction_memory_kb * 1024 / 4);
}

/*
 * Flush the batch up to the last WAL record of the large transaction's rows
 * read back so far (decoder_batch_part()): the views, the streams'
 * counters and watermarks, and the decoder position with how far into the
 * transaction they go (part_lsn), in one transaction as any flush.  Every
 * view applies the part: one whose relations another transaction has
 * locked is waited for, not held back, for a view cannot stand inside a
 * transaction the others have passed.  A sync() that waits is not served
 * until the last part.
 */
static void
worker_flush_part(void)
{
	DecodedPart part;

	if (!decoder_batch_part(&part))
		return;
	if (part.commit_lsn != ws.parts_of)
		ereport(LOG,
				(errmsg("pg_continuous: applying the large transaction %u, which committed at %X/%X, in parts",
						part.xid, LSN_FORMAT_ARGS(part.commit_lsn)),
				 errdetail("Its rows do not fit in continuous.state_memory at once; readers see the views with part of it until the last part is flushed.")));
	ws.parts_of = part.commit_lsn;
	ereport(DEBUG1,
			(errmsg_internal("pg_continuous: flushing part of transaction %u, up to its WAL record at %X/%X",
							 part.xid, LSN_FORMAT_ARGS(part.change_lsn))));
	worker_flush_upto(&part);
}

/*
 * In a flush, once every view processed its batch: would folding pay for
 * such batches (FOLD_PAYS_FRACTION)?  Judged by the views that can fold,
 * whether this batch was folded or not.
 */
static void
worker_judge_folds(void)
{
	ListCell   *lc;
	int64		groups = 0;
	int64		events = 0;
	bool		pays;

	foreach(lc, ws.views)
	{
		ViewRuntime *vr = lfirst(lc);

		if (vr->failed || vr->events == 0 || !view_folds_between_flushes(vr))
			continue;
		groups += view_batch_groups(vr);
		events += vr->events;
	}
	if (events == 0)
		return;
	pays = groups <= events * FOLD_PAYS_FRACTION;
	if (pays != ws.folds_pay)
		ereport(DEBUG1,
				(errmsg_internal("pg_continuous: folding %s: the views made %lld groups of %lld events",
								 pays ? "pays" : "does not pay",
								 (long long) groups, (long long) events)));
	ws.folds_pay = pays;
}

static bool
worker_flush_due(bool sync_requested)
{
	int64		events = 0;
	Size		bytes = 0;

	(void) worker_kafka_pending(&events, &bytes);
	if (ws.decoding)
	{
		if (decoder_batch->catalog_changed)
			return true;
		events += decoder_batch->nevents;
		bytes += decoder_batch_bytes();
	}
	return sync_requested ||
		events >= continuous_batch_events ||
		bytes >= worker_memory_for_events(ws.views) ||
		TimestampDifferenceExceeds(ws.last_flush, GetCurrentTimestamp(),
								   continuous_flush_interval_ms);
}

static void
worker_detach(int code, Datum arg)
{
	LWLockAcquire(ContinuousShmem->lock, LW_EXCLUSIVE);
	if (ws.index > 0)
	{
		ws.slot->workers[ws.index].pid = 0;
		ws.slot->workers[ws.index].latch = NULL;
	}
	else
	{
		ws.slot->pid = 0;
		ws.slot->worker_latch = NULL;
		ws.slot->decoder_ready = false;
	}
	LWLockRelease(ContinuousShmem->lock);
}

/*
 * A transaction for the worker's own work.  If wait_for is valid, wait until
 * that transaction has ended first: its commit record may be decoded before
 * it is visible to new snapshots.
 */
static void
worker_begin(TransactionId wait_for)
{
	/* now() in this transaction, as a backend sets it per statement */
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();

	/*
	 * DROP EXTENSION locks the extension before any of its tables.  Taking
	 * that lock first makes a concurrent DROP wait for this transaction, or
	 * this transaction wait for the DROP, instead of the two deadlocking
	 * over the catalog and storage tables in different orders.
	 */
	if (OidIsValid(ws.extension))
		LockDatabaseObject(ExtensionRelationId, ws.extension, 0, AccessShareLock);
	if (TransactionIdIsValid(wait_for))
		XactLockTableWait(wait_for, NULL, NULL, XLTW_None);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pg_continuous: SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
}

static void
worker_commit(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
}

static bool
worker_extension_exists(void)
{
	return continuous_extension_oid(true) == ws.extension;
}

static void
worker_exit_without_extension(void)
{
	char		slotname[NAMEDATALEN];

	/* the database's state and replication slot are worker 0's */
	if (ws.index > 0)
		proc_exit(0);
	if (ws.decoding)
		decoder_drop_slot();
	else
	{
		snprintf(slotname, NAMEDATALEN, "continuous_%u", MyDatabaseId);
		if (SearchNamedReplicationSlot(slotname, true) != NULL)
			ReplicationSlotDrop(slotname, true);
	}
	LWLockAcquire(ContinuousShmem->lock, LW_EXCLUSIVE);
	ws.slot->state = DBSLOT_NO_EXTENSION;
	LWLockRelease(ContinuousShmem->lock);
	ereport(LOG,
			(errmsg("pg_continuous: extension not present in database %u, worker exiting",
					MyDatabaseId)));
	proc_exit(0);
}

/* What the Kafka consumers must write at once, in a transaction of its own. */
static void
worker_write_kafka_state(void)
{
	if (!worker_kafka_state_due())
		return;
	worker_begin(InvalidTransactionId);
	worker_kafka_write_state();
	worker_commit();
	worker_kafka_state_committed();
}

/*
 * Did the catalog change that ended this batch drop the stream?  Its
 * statistics and offsets, which the drop deleted, must not be written
 * back: a new first view would find them there.  Asked only after a
 * catalog change, in the flush transaction (which sees the change).
 */
static bool
worker_stream_dropped(Oid stream)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(stream)};

	if (!ws.decoding || !decoder_batch->catalog_changed)
		return false;
	if (SPI_execute_with_args("SELECT FROM continuous.stream_catalog "
							  "WHERE stream OPERATOR(pg_catalog.=) $1",
							  1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "pg_continuous: could not read continuous.stream_catalog");
	return SPI_processed == 0;
}

/*
 * Views whose relations another transaction has locked are held back
 * (view_progress.c) and leave this batch: the others do not wait.  A view
 * of a table stream whose DROP has committed since the catalog was read
 * leaves it too: the worker has not decoded the DROP yet, and writing the
 * view's statistics would make a row for a view that is gone.  A view
 * that stands inside a transaction applied in parts cannot be held back:
 * its locks are waited for instead, up to continuous.view_time_limit, past
 * which the view fails and leaves.
 */
static void
worker_hold_locked_views(void)
{
	ListCell   *lc;

	foreach(lc, ws.views)
	{
		ViewRuntime *vr = lfirst(lc);

		switch (view_progress_hold_if_locked(vr->view))
		{
			case VIEW_RELATIONS_FREE:
				continue;
			case VIEW_RELATIONS_LOCKED:
				ereport(LOG,
						(errmsg("pg_continuous: continuous view \"%s\" is held back by a lock that another transaction holds on its relations; the other views go on",
								vr->name)));
				worker_kafka_hold_view(vr->stream, vr->view);
				break;
			case VIEW_RELATIONS_OVERDUE:
				/* failed, with its reason (view_progress.c) */
				break;
			case VIEW_RELATIONS_DROPPED:
				ereport(DEBUG1,
						(errmsg_internal("pg_continuous: continuous view %u was dropped; left out until its DROP is decoded",
										 vr->view)));
				break;
		}
		early_aggregation_forget_view(vr);
		view_runtime_destroy(vr);
		ws.views = foreach_delete_current(ws.views, lc);
	}
}

/*
 * Once a held view's lock is gone, decode again from where the views
 * behind stand, and read the catalog again: each view counts from its own
 * position.  Looked at once a second while views are held.
 */
static void
worker_release_held_views(void)
{
	bool		due;

	if (!view_progress_holding() ||
		!TimestampDifferenceExceeds(ws.last_hold_check, GetCurrentTimestamp(),
									HOLD_CHECK_MS))
		return;
	ws.last_hold_check = GetCurrentTimestamp();
	worker_begin(InvalidTransactionId);
	due = view_progress_release_due();
	worker_commit();
	if (due)
		worker_rewind();
}

/* Decode again for the views held back, and read the catalog again. */
static void
worker_rewind(void)
{
	XLogRecPtr	restart = ws.decoding ? view_progress_rewind() : InvalidXLogRecPtr;

	if (restart != InvalidXLogRecPtr)
	{
		ereport(LOG,
				(errmsg("pg_continuous: decoding again from %X/%X for continuous views that a lock held back",
						LSN_FORMAT_ARGS(restart))));
		worker_decode_from(restart);
	}
	worker_reload_views();
}

/*
 * Decode again from restart (InvalidXLogRecPtr: from where the views
 * stand); what was decoded and not flushed goes, to be decoded again.
 */
static void
worker_decode_from(XLogRecPtr restart)
{
	decoder_rewind(restart);
	/* a sync() waits until the views behind have caught up */
	if (restart != InvalidXLogRecPtr)
	{
		ws.published = Min(ws.published, restart);
		pg_atomic_write_u64(&ws.slot->applied_lsn, ws.published);
	}
}

/* The views and their clocks as the catalog and storage have them. */
static void
worker_reload_views(void)
{
	worker_begin(InvalidTransactionId);
	if (!worker_extension_exists())
	{
		worker_commit();
		worker_exit_without_extension();
	}
	ws.views = worker_catalog_load(ws.views, false, false, true);
	worker_commit();
}

/*
 * With several workers, flushes that touch the same views take turns: lock
 * the storage of every view over this worker's Kafka streams (in OID order,
 * so no two workers deadlock; readers are not blocked), then look again at
 * what the others have committed.  If another worker moved a stream's
 * watermark past the one this batch was judged by, windows may have closed
 * meanwhile, so the stream's windowed views process the batch again by the
 * new watermark: a closed window never changes.
 */
static void
worker_take_turn(List *kafka_batches)
{
	List	   *storages = NIL;
	ListCell   *lc;
	ListCell   *bc;

	foreach(lc, ws.views)
	{
		ViewRuntime *vr = lfirst(lc);

		foreach(bc, worker_kafka_sources())
			if (kafka_source_relid(lfirst(bc)) == vr->stream)
				storages = lappend_oid(storages, vr->storage);
	}
	list_sort(storages, list_oid_cmp);
	foreach(lc, storages)
		LockRelationOid(lfirst_oid(lc), ShareRowExclusiveLock);
	list_free(storages);

	/* see what committed while this worker waited */
	PopActiveSnapshot();
	PushActiveSnapshot(GetTransactionSnapshot());

	forboth(lc, worker_kafka_sources(), bc, kafka_batches)
	{
		KafkaSource *src = lfirst(lc);

		if (kafka_source_catch_up(src))
			worker_process_views(ws.views, lfirst(bc),
								 worker_catalog_clock(kafka_source_relid(src)),
								 true);
	}
}

/* One transaction: process the batch into every view, merge, record. */
static void
worker_flush(void)
{
	worker_flush_upto(NULL);
}

/*
 * The flush, of the whole batch (part NULL), or up to a part of a large
 * transaction (worker_flush_part()).
 */
static void
worker_flush_upto(DecodedPart *part)
{
	XLogRecPtr	position = part ? part->commit_lsn :
		ws.decoding ? decoder_read_position() : GetXLogInsertRecPtr();
	TimestampTz started = GetCurrentTimestamp();
	TimestampTz oldest = started;
	ListCell   *lc;
	double		flush_ms;
	double		latency_ms;
	List	   *batches = NIL;	/* StreamEvents: every stream's batch */
	List	   *kafka_batches = NIL;	/* and each Kafka source's */
	List	   *stalled = NIL;	/* Kafka sources out of time decoding */
	bool		replaying;		/* decoded again for views held back */
	bool		rewind_due = false;
	Size		batch_bytes = 0;	/* what the batch's events take */
	int64		kafka_messages;
	Size		kafka_bytes;

	/*
	 * A batch that ends at a catalog change is flushed for the table
	 * streams only: the Kafka consumers are set up anew right after it, from
	 * the offsets stored, and their unflushed messages are read again.  Their
	 * state must not be written here: the change may have dropped a stream,
	 * or dropped it and registered it again, and old offsets written back
	 * would then be where the new registration starts.
	 */
	List	   *sources;

	/* the views a catalog change created must be visible to update */
	worker_begin(ws.decoding && decoder_batch->catalog_changed ?
				 decoder_batch->catalog_xid : InvalidTransactionId);
	if (!worker_extension_exists())
	{
		worker_commit();
		worker_exit_without_extension();
	}
	pgstat_report_activity(STATE_RUNNING, "pg_continuous flush");
	worker_hold_locked_views();
	replaying = ws.decoding && view_progress_replaying(position);
	sources = (ws.decoding && decoder_batch->catalog_changed) ?
		NIL : worker_kafka_sources();

	if (ws.decoding)
	{
		HASH_SEQ_STATUS seq;
		StreamEvents *stream;

		hash_seq_init(&seq, decoder_batch->streams);
		while ((stream = hash_seq_search(&seq)) != NULL)
		{
			worker_process_stream(ws.views, stream,
								  stream->folded_dead_letters);
			batches = lappend(batches, stream);
		}
		worker_process_join_views(ws.views, batches);
		if (decoder_batch->nevents > 0)
			oldest = decoder_batch->oldest_commit_time;
	}
	foreach(lc, sources)
	{
		KafkaSource *src = lfirst(lc);
		List	   *dead_letters;
		StreamEvents *stream;

		/* a Kafka message's latency counts from when the worker took it */
		if (kafka_source_batch_messages(src) > 0)
			oldest = Min(oldest, kafka_source_batch_first_taken(src));
		stream = kafka_source_decode(src, &dead_letters);
		if (stream == NULL)
		{
			stalled = lappend(stalled, src);
			continue;
		}

		worker_process_stream(ws.views, stream, dead_letters);
		batches = lappend(batches, stream);
		kafka_batches = lappend(kafka_batches, stream);
	}
	/* a stream whose messages took too long to decode is left alone */
	foreach(lc, stalled)
		worker_kafka_stall_source(lfirst(lc));
	if (stalled != NIL)
		sources = worker_kafka_sources();

	/* the batch is processed; from here on, the flush writes */
	if (ws.decoding)
		batch_bytes += decoder_batch_bytes();
	(void) worker_kafka_pending(&kafka_messages, &kafka_bytes);
	batch_bytes += kafka_bytes;
	if (continuous_workers > 1 && sources != NIL)
		worker_take_turn(kafka_batches);
	foreach(lc, batches)
	{
		StreamEvents *stream = lfirst(lc);

		/* a stream's events decoded again were counted for it before */
		if (worker_stream_dropped(stream->relid) ||
			(replaying && !stream->kafka))
			continue;
		flush_stream_stats(stream, worker_catalog_clock(stream->relid));
	}

	worker_memory_processed(ws.views, batch_bytes);
	worker_write_views(ws.views, batches);
	worker_memory_written();
	if (ws.decoding)
		worker_judge_folds();

	flush_ms = (double) (GetCurrentTimestamp() - started) / 1000.0;
	latency_ms = (double) (GetCurrentTimestamp() - oldest) / 1000.0;
	foreach(lc, ws.views)
	{
		ViewRuntime *vr = lfirst(lc);

		if (!vr->failed &&
			(vr->events > 0 || worker_catalog_activation_unwritten(vr)))
			flush_view_bookkeeping(vr, flush_ms, latency_ms);
	}
	foreach(lc, sources)
	{
		KafkaSource *src = lfirst(lc);

		kafka_source_write_position(src, true);
		if (kafka_source_error_changed(src))
			kafka_source_write_error(src);
	}
	if (ws.decoding)
	{
		flush_write_view_starts(decoder_batch->created_views, position);
		view_progress_write(position,
							part ? part->xid : InvalidTransactionId,
							part ? part->change_lsn : InvalidXLogRecPtr);
	}
	else
		view_progress_write_status();
	/*
	 * A lock gone before a sync() asked is seen by its flush; not by a
	 * part's, whose transaction is not through.
	 */
	rewind_due = part == NULL && view_progress_release_due();
	worker_commit();

	worker_catalog_activations_written(ws.views);
	ws.views = worker_write_forget_failed(ws.views);
	foreach(lc, ws.views)
		view_batch_committed(lfirst(lc));
	foreach(lc, sources)
		kafka_source_flushed(lfirst(lc));
	if (ws.decoding)
	{
		view_progress_flushed(position,
							  part ? part->xid : InvalidTransactionId,
							  part ? part->change_lsn : InvalidXLogRecPtr);
		early_aggregation_forget_ended();
		if (part)
			decoder_batch_flushed_part(view_progress_confirmable(position));
		else
			decoder_batch_flushed(view_progress_confirmable(position));
	}
	ws.last_flush = GetCurrentTimestamp();
	if (rewind_due)
		worker_rewind();		/* up to date once they have caught up */
	else
		worker_publish(position);
}

static void
worker_publish(XLogRecPtr lsn)
{
	/* how far the WAL is applied is worker 0's to say */
	if (ws.index > 0 || lsn <= ws.published)
		return;
	ws.published = lsn;
	pg_atomic_write_u64(&ws.slot->applied_lsn, lsn);
	ConditionVariableBroadcast(&ContinuousShmem->applied_cv);
}
