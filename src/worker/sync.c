/*-------------------------------------------------------------------------
 *
 * sync.c
 *	  continuous.sync() and the other SQL functions that talk to a
 *	  database's worker through shared memory.
 *
 * Pipeline position: waiting.  sync() takes the current end of WAL as its
 * target: every event committed before the call lies before it.  The worker
 * publishes applied_lsn only after the flush that covers it has committed,
 * so once applied_lsn reaches the target, the events are visible to readers.
 * For Kafka streams, the call then takes a request number; the worker, once
 * it sees that number, asks the brokers for every partition's high
 * watermark, and publishes the number as kafka_synced when flushes have
 * committed the offsets up to those (kafka_source.c).  Only after the WAL
 * is applied: by then the worker consumes the Kafka streams of views
 * created before the call.  Views that have failed (quarantine.c), and
 * views held back by another transaction's lock (view_progress.c), are
 * left out of the wait and named in a WARNING; a view whose lock is gone
 * is waited for while it catches up.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "access/xlog_internal.h"
#include "executor/spi.h"
#include "commands/extension.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "replication/slot.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "base/extension_catalog.h"
#include "base/guc.h"
#include "base/privileges.h"
#include "base/shmem.h"
#include "ddl/upgrade.h"
#include "exec/quarantine.h"
#include "worker/launcher.h"
#include "worker/sync.h"

PG_FUNCTION_INFO_V1(continuous_sync);
PG_FUNCTION_INFO_V1(continuous_decoder_lag);
PG_FUNCTION_INFO_V1(continuous_start_worker);

/* how long create_stream() waits for a new worker's replication slot */
#define DECODER_START_TIMEOUT_MS	30000

/*
 * The launcher starts a missing worker again every second: a cause of its
 * absence (no free background worker or replication slot) that outlasts
 * two tries is not a passing one, and create_stream() reports it.
 */
#define WORKER_BLOCKED_MS			2000

/* What shared memory says about this database's workers (sync.c's view) */
typedef struct WorkersStatus
{
	int			running;		/* workers with a process */
	bool		launcher;		/* the launcher runs */
	uint32		start_failed;	/* DatabaseSlot.start_failed */
	bool		no_replication_slot;
} WorkersStatus;

static bool start_worker_at_commit = false;
static bool start_worker_callback_registered = false;

static void start_worker_xact_callback(XactEvent event, void *arg);
static void sync_check_kafka_consumers(void);
static void report_missing_workers(WorkersStatus *status, const char *caller) pg_attribute_noreturn();
static XLogRecPtr sync_wal_target(void);
static int	sync_chain_rounds(void);

/*
 * How far the database's worker is: WAL applied, and the last sync request
 * its Kafka streams are up to date for; wake: set its workers' latches.
 * If request is not NULL and *request is 0, take a request number for
 * this call.
 */
static XLogRecPtr
database_applied_lsn(bool wake, uint64 *request, uint64 *kafka_synced)
{
	DatabaseSlot *slot;
	XLogRecPtr	applied = InvalidXLogRecPtr;

	LWLockAcquire(ContinuousShmem->lock, LW_SHARED);
	slot = continuous_find_slot(MyDatabaseId);
	if (slot)
	{
		applied = pg_atomic_read_u64(&slot->applied_lsn);
		if (request && *request == 0)
			*request = pg_atomic_add_fetch_u64(&slot->sync_requests, 1);
		if (kafka_synced)
			*kafka_synced = continuous_kafka_synced(slot);
		if (wake)
			continuous_wake_workers(slot);
	}
	LWLockRelease(ContinuousShmem->lock);
	return applied;
}

/* The database's worker flushes up to target at once, not at its interval. */
static void
database_request_flush(XLogRecPtr target)
{
	DatabaseSlot *slot;

	LWLockAcquire(ContinuousShmem->lock, LW_EXCLUSIVE);
	slot = continuous_find_slot(MyDatabaseId);
	if (slot && pg_atomic_read_u64(&slot->flush_target) < target)
		pg_atomic_write_u64(&slot->flush_target, target);
	LWLockRelease(ContinuousShmem->lock);
}

static void
database_workers_status(WorkersStatus *status)
{
	DatabaseSlot *slot;

	memset(status, 0, sizeof(WorkersStatus));
	LWLockAcquire(ContinuousShmem->lock, LW_SHARED);
	status->launcher = ContinuousShmem->launcher_latch != NULL;
	slot = continuous_find_slot(MyDatabaseId);
	if (slot)
	{
		status->running = continuous_workers_running(slot);
		status->start_failed = slot->start_failed;
		status->no_replication_slot = slot->no_replication_slot;
	}
	LWLockRelease(ContinuousShmem->lock);
}

/*
 * caller (continuous.sync(), say) waited and not all workers run: say why,
 * as far as the launcher and the workers have told.
 */
static void
report_missing_workers(WorkersStatus *status, const char *caller)
{
	if (status->no_replication_slot)
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("%s timed out", caller),
				 errdetail("The worker of this database cannot create its replication slot: all replication slots are in use (max_replication_slots = %d).",
						   max_replication_slots),
				 errhint("Drop a replication slot that is no longer needed, or increase max_replication_slots and restart the server.")));
	if (!status->launcher)
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("%s timed out", caller),
				 errdetail("%d of the %d workers of this database (continuous.workers) are running, and the pg_continuous launcher that starts them is not running.",
						   status->running, continuous_workers),
				 errhint("Look at the server log from its start: if it says \"too many background workers\", increase max_worker_processes (now %d) and restart the server.",
						 max_worker_processes)));
	if (status->start_failed != 0)
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("%s timed out", caller),
				 errdetail("%d of the %d workers of this database (continuous.workers) are running: no background worker slot is free for the others.",
						   status->running, continuous_workers),
				 errhint("Increase max_worker_processes (now %d) and restart the server: pg_continuous needs one for its launcher and continuous.workers for each database with the extension, besides PostgreSQL's own.",
						 max_worker_processes)));
	ereport(ERROR,
			(errcode(ERRCODE_QUERY_CANCELED),
			 errmsg("%s timed out", caller),
			 errdetail("%d of the %d workers of this database (continuous.workers) are running.",
					   status->running, continuous_workers),
			 errhint("Look at the server log for why the others do not start; max_worker_processes may be too small.")));
}

/*
 * The end of the WAL, flushed: the worker reads only flushed WAL.  At the
 * start of a page the insert position lies past the page's header, which
 * is not written until a record follows: the page's start is as far as
 * there is to flush.
 */
static XLogRecPtr
sync_wal_target(void)
{
	XLogRecPtr	target = GetXLogInsertRecPtr();

	if (XLogSegmentOffset(target, wal_segment_size) == SizeOfXLogLongPHD)
		target -= SizeOfXLogLongPHD;
	else if (target % XLOG_BLCKSZ == SizeOfXLogShortPHD)
		target -= SizeOfXLogShortPHD;
	XLogFlush(target);
	return target;
}

/*
 * Wait until the worker has applied every transaction that committed
 * before now to the views of table streams; returns that position.  No
 * time limit (statement_timeout applies), but an error naming caller if
 * the database has no worker to wait for.
 */
XLogRecPtr
continuous_wait_for_worker(const char *caller)
{
	XLogRecPtr	target = sync_wal_target();
	int			polls = 0;

	database_request_flush(target);
	ConditionVariablePrepareToSleep(&ContinuousShmem->applied_cv);
	while (database_applied_lsn(true, NULL, NULL) < target)
	{
		/* now and then: is there a worker at all? */
		if (++polls % 50 == 0)
		{
			WorkersStatus status;

			database_workers_status(&status);
			if (status.running == 0 || status.no_replication_slot)
			{
				ConditionVariableCancelSleep();
				report_missing_workers(&status, caller);
			}
		}
		(void) ConditionVariableTimedSleep(&ContinuousShmem->applied_cv, 100,
										   PG_WAIT_EXTENSION);
	}
	ConditionVariableCancelSleep();
	return target;
}

Datum
continuous_sync(PG_FUNCTION_ARGS)
{
	Interval   *timeout = PG_GETARG_INTERVAL_P(0);
	float8		timeout_ms;
	XLogRecPtr	target;
	uint64		request = 0;
	bool		wal_applied = false;
	int			rounds;
	TimestampTz deadline;

	continuous_require_preload();
	upgrade_require_current_catalog();
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("continuous views are maintained on the primary only"),
				 errdetail("This server is a standby: its views show what the primary's workers wrote, as far as the standby has replayed the primary's WAL, and continuous.sync() has nothing to wait for here."),
				 errhint("Call continuous.sync() on the primary; once the standby has replayed the WAL up to then, its views show the same.")));

	timeout_ms = DatumGetFloat8(DirectFunctionCall2(interval_part,
													CStringGetTextDatum("epoch"),
													IntervalPGetDatum(timeout))) * 1000.0;
	if (timeout_ms < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("timeout must not be negative")));

	target = sync_wal_target();
	database_request_flush(target);
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
										   (int64) Min(timeout_ms, (float8) PG_INT64_MAX / 2000.0));

	rounds = 1 + sync_chain_rounds();
	ConditionVariablePrepareToSleep(&ContinuousShmem->applied_cv);
	for (;;)
	{
		uint64		kafka_synced = 0;
		XLogRecPtr	applied;
		long		remaining;

		/*
		 * The Kafka request is taken once the WAL part is applied, so that
		 * the workers serve it with their catalog current (the views and
		 * streams made before this call); one taken earlier would only make
		 * them ask the brokers twice.
		 */
		applied = database_applied_lsn(true, wal_applied ? &request : NULL,
									   &kafka_synced);
		if (applied >= target && !wal_applied)
		{
			wal_applied = true;
			continue;
		}
		if (wal_applied && kafka_synced >= request)
		{
			/*
			 * The flushes just waited for appended the windows they closed
			 * to emission tables: the views that read those wait for the
			 * WAL written meanwhile, one round per step of a chain.
			 */
			if (--rounds == 0)
				break;
			target = sync_wal_target();
			database_request_flush(target);
			wal_applied = false;
			continue;
		}

		remaining = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
		if (remaining <= 0)
		{
			WorkersStatus status;

			database_workers_status(&status);
			ConditionVariableCancelSleep();
			if (status.running < continuous_workers ||
				status.no_replication_slot)
				report_missing_workers(&status, "continuous.sync()");
			if (applied < target)
				ereport(ERROR,
						(errcode(ERRCODE_QUERY_CANCELED),
						 errmsg("continuous.sync() timed out"),
						 errdetail("Views are up to date until WAL position %X/%X; waited for %X/%X.",
								   LSN_FORMAT_ARGS(applied), LSN_FORMAT_ARGS(target)),
						 errhint("Look at continuous.streams and the server log for a stalled worker, or pass a longer timeout.")));
			ereport(ERROR,
					(errcode(ERRCODE_QUERY_CANCELED),
					 errmsg("continuous.sync() timed out"),
					 errdetail("Some Kafka partitions have not been consumed up to the high watermark they had when sync() was called."),
					 errhint("Look at continuous.kafka_partitions for the lag and the last error, or pass a longer timeout.")));
		}
		/* sleep on the condition variable, but poll: the worker may be new */
		(void) ConditionVariableTimedSleep(&ContinuousShmem->applied_cv,
										   Min(remaining, 100),
										   PG_WAIT_EXTENSION);
	}
	ConditionVariableCancelSleep();

	/* the healthy views are up to date; the failed ones never will be */
	quarantine_warn_failed_views();
	sync_check_kafka_consumers();
	PG_RETURN_VOID();
}

/*
 * Views over views (view_chain.c): events reach a view that reads an
 * emit = 'window_close' view only through a second flush, after the one
 * that closed their window; a chain of n views needs n flushes.  The
 * number of emitting views bounds the length of the longest chain.
 */
static int
sync_chain_rounds(void)
{
	ExtensionPrivileges saved;
	int			rounds = 0;

	privileges_become_extension(&saved);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("SELECT pg_catalog.count(*)::int4 FROM continuous.view_emissions",
					true, 0) == SPI_OK_SELECT && SPI_processed == 1)
	{
		bool		isnull;

		rounds = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
											 SPI_tuptable->tupdesc, 1, &isnull));
	}
	SPI_finish();
	privileges_leave_extension(&saved);
	return rounds;
}

/*
 * A Kafka stream whose consumer could not be created is not consumed at
 * all: the wait above left it out, and the call must not claim success.
 */
static void
sync_check_kafka_consumers(void)
{
	ExtensionPrivileges saved;
	Oid			stream = InvalidOid;
	char	   *error = NULL;
	int			broken;

	privileges_become_extension(&saved);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* not read-only: a new snapshot, which sees what the workers wrote */
	if (SPI_execute("SELECT s.stream, s.last_error FROM continuous.stream_stats s "
					"JOIN continuous.stream_catalog c ON c.stream OPERATOR(pg_catalog.=) s.stream "
					"WHERE s.consumer_failed ORDER BY s.stream",
					false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read continuous.stream_stats");
	broken = (int) SPI_processed;
	if (broken > 0)
	{
		bool		isnull;

		stream = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
												SPI_tuptable->tupdesc, 1, &isnull));
		error = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
		error = MemoryContextStrdup(TopTransactionContext, error ? error : "");
	}
	SPI_finish();
	privileges_leave_extension(&saved);

	if (broken > 0)
	{
		char	   *name = DatumGetCString(DirectFunctionCall1(regclassout,
															   ObjectIdGetDatum(stream)));

		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 broken == 1 ?
				 errmsg("Kafka stream %s is not consumed", name) :
				 errmsg("%d Kafka streams are not consumed, among them %s",
						broken, name),
				 errdetail("%s: %s.", name, error),
				 errhint("Correct what continuous.streams.last_error names; the stream is set up again when its foreign table, foreign server or user mapping changes.")));
	}
}

/*
 * Table streams see what commits after their database's worker has created
 * its replication slot.  create_stream() waits for that, so that a stream
 * made right after CREATE EXTENSION misses nothing.
 */
void
continuous_wait_for_decoder(void)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													   DECODER_START_TIMEOUT_MS);
	Oid			extension = continuous_extension_oid(false);
	TimestampTz blocked_since = 0;

	continuous_require_preload();
	upgrade_require_current_catalog();
	ConditionVariablePrepareToSleep(&ContinuousShmem->applied_cv);
	for (;;)
	{
		DatabaseSlot *slot;
		bool		ready;
		bool		no_worker_slot = false;
		bool		no_replication_slot = false;
		long		remaining;

		LWLockAcquire(ContinuousShmem->lock, LW_SHARED);
		slot = continuous_find_slot(MyDatabaseId);
		/* a worker of a dropped incarnation of the extension does not count */
		ready = slot && slot->decoder_ready && slot->extension == extension;
		if (slot)
		{
			no_worker_slot = (slot->start_failed & 1) != 0;
			no_replication_slot = slot->no_replication_slot;
		}
		LWLockRelease(ContinuousShmem->lock);
		if (ready)
			break;

		if (!no_worker_slot && !no_replication_slot)
			blocked_since = 0;
		else if (blocked_since == 0)
			blocked_since = GetCurrentTimestamp();
		else if (TimestampDifferenceExceeds(blocked_since, GetCurrentTimestamp(),
											WORKER_BLOCKED_MS))
		{
			ConditionVariableCancelSleep();
			if (no_replication_slot)
				ereport(ERROR,
						(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
						 errmsg("the pg_continuous worker of this database cannot create its replication slot"),
						 errdetail("All replication slots are in use (max_replication_slots = %d). Table streams need one for each database with the extension.",
								   max_replication_slots),
						 errhint("Drop a replication slot that is no longer needed, or increase max_replication_slots and restart the server.")));
			ereport(ERROR,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("the pg_continuous worker of this database cannot start"),
					 errdetail("All background worker slots are in use (max_worker_processes = %d).",
							   max_worker_processes),
					 errhint("Increase max_worker_processes and restart the server: pg_continuous needs one for its launcher and continuous.workers for each database with the extension, besides PostgreSQL's own.")));
		}

		/*
		 * The slot's creation waits for every transaction that has written,
		 * which would include ours: waiting here could only time out.
		 */
		if (GetTopTransactionIdIfAny() != InvalidTransactionId)
		{
			ConditionVariableCancelSleep();
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("pg_continuous is still starting in this database"),
					 errdetail("Its worker is creating a replication slot, which waits for transactions that have written data, like this one."),
					 errhint("Call this function in a transaction that has not written data yet, for example right after COMMIT.")));
		}

		remaining = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
		if (remaining <= 0)
		{
			ConditionVariableCancelSleep();
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("the pg_continuous worker of this database is not running"),
					 errdetail("Table streams need the worker's replication slot, which it creates when it starts."),
					 errhint("Commit CREATE EXTENSION before creating streams, and look at the server log for errors of the worker.")));
		}
		(void) ConditionVariableTimedSleep(&ContinuousShmem->applied_cv,
										   Min(remaining, 100),
										   PG_WAIT_EXTENSION);
	}
	ConditionVariableCancelSleep();
}

/*
 * Bytes of flushed WAL the database's worker has not applied yet; NULL
 * while no worker has said how far it is (it is starting, or not running),
 * rather than all the WAL there is.
 */
Datum
continuous_decoder_lag(PG_FUNCTION_ARGS)
{
	XLogRecPtr	flushed;
	XLogRecPtr	applied;

	continuous_require_preload();
	flushed = GetFlushRecPtr(NULL);
	applied = database_applied_lsn(false, NULL, NULL);
	if (XLogRecPtrIsInvalid(applied))
		PG_RETURN_NULL();
	PG_RETURN_INT64(applied >= flushed ? 0 : (int64) (flushed - applied));
}

/*
 * Called by the extension's install script: the launcher starts this
 * database's worker once the CREATE EXTENSION transaction has committed.
 */
Datum
continuous_start_worker(PG_FUNCTION_ARGS)
{
	continuous_require_preload();
	if (!start_worker_callback_registered)
	{
		RegisterXactCallback(start_worker_xact_callback, NULL);
		start_worker_callback_registered = true;
	}
	start_worker_at_commit = true;
	PG_RETURN_VOID();
}

static void
start_worker_xact_callback(XactEvent event, void *arg)
{
	if (!start_worker_at_commit)
		return;
	if (event == XACT_EVENT_COMMIT)
	{
		DatabaseSlot *slot;

		start_worker_at_commit = false;
		LWLockAcquire(ContinuousShmem->lock, LW_EXCLUSIVE);
		slot = continuous_find_slot(MyDatabaseId);
		if (slot == NULL)
		{
			/* a database the launcher has not scanned yet: it will */
			LWLockRelease(ContinuousShmem->lock);
			continuous_launcher_wakeup();
			return;
		}
		slot->start_requested = true;
		LWLockRelease(ContinuousShmem->lock);
		continuous_launcher_wakeup();
	}
	else if (event == XACT_EVENT_ABORT)
		start_worker_at_commit = false;
}
