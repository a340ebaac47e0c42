/*-------------------------------------------------------------------------
 *
 * launcher.c
 *	  The launcher: one background worker that keeps a worker running in
 *	  every database where the extension exists.
 *
 * Pipeline position: processes.  The launcher connects to no database; it
 * reads pg_database, starts a worker per connectable database, and the
 * worker itself checks whether the extension is there (a process can only
 * ever connect to one database, so asking is the worker's job).  A worker
 * that finds no extension records so in its slot and exits; it is started
 * again when CREATE EXTENSION commits in that database (sync.c's
 * continuous._start_worker()), or when the database is new.  A worker that
 * dies for any other reason is restarted after a short delay.  With
 * continuous.workers = N > 1, once a database's worker runs, the launcher
 * keeps N - 1 more workers running beside it, which share the Kafka
 * partitions with it (worker.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "replication/slot.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "base/extension_catalog.h"
#include "base/guc.h"
#include "base/shmem.h"
#include "worker/launcher.h"
#include "worker/worker.h"

/* wait this long before restarting a worker that died */
#define WORKER_RESTART_DELAY_MS 1000
/* how long DROP DATABASE waits for a worker to step aside */
#define WORKER_PAUSE_TIMEOUT_MS 30000
/* and look at pg_database at least this often */
#define LAUNCHER_NAPTIME_MS		1000

typedef struct LauncherWorker
{
	BackgroundWorkerHandle *handle;
	TimestampTz last_start;
} LauncherWorker;

/*
 * Worker w of the database in ContinuousShmem->slots[i] is
 * launcher_workers[i * CONTINUOUS_MAX_WORKERS + w].
 */
static LauncherWorker *launcher_workers;

#define LAUNCHER_WORKER(i, w) (&launcher_workers[(i) * CONTINUOUS_MAX_WORKERS + (w)])

/* the name of the database in ContinuousShmem->slots[i], for the log */
static NameData *launcher_dbnames;

static void launcher_scan_databases(void);
static bool launcher_worker_alive(int i, int w);
static long launcher_start_when_due(int i, int w);
static void launcher_start_worker(int i, int w);
static void launcher_note_start(int i, int w, bool started);
static void launcher_detach(int code, Datum arg);

void
continuous_launcher_register(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS |
		BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 5;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, CONTINUOUS_EXTENSION_NAME);
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "continuous_launcher_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "pg_continuous launcher");
	snprintf(worker.bgw_type, BGW_MAXLEN, "pg_continuous launcher");
	RegisterBackgroundWorker(&worker);
}

void
continuous_launcher_wakeup(void)
{
	Latch	   *latch;

	LWLockAcquire(ContinuousShmem->lock, LW_SHARED);
	latch = ContinuousShmem->launcher_latch;
	LWLockRelease(ContinuousShmem->lock);
	if (latch)
		SetLatch(latch);
}

/*
 * DROP DATABASE refuses a database that a process is connected to or whose
 * replication slot is active, and drops inactive slots itself.  So the
 * database's worker steps aside for the drop: it exits, the launcher leaves
 * it down until continuous_resume_database(), and if the drop fails it comes
 * back and resumes from its slot, losing nothing.  Returns false when the
 * database has no worker to pause.
 */
bool
continuous_pause_database(Oid dboid)
{
	DatabaseSlot *slot;
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													   WORKER_PAUSE_TIMEOUT_MS);

	LWLockAcquire(ContinuousShmem->lock, LW_EXCLUSIVE);
	slot = continuous_find_slot(dboid);
	if (slot == NULL)
	{
		LWLockRelease(ContinuousShmem->lock);
		return false;
	}
	slot->pause_requested = true;
	continuous_wake_workers(slot);
	LWLockRelease(ContinuousShmem->lock);

	for (;;)
	{
		pid_t		pid;
		int			w;
		int			nslots;
		int			nactive = 0;

		LWLockAcquire(ContinuousShmem->lock, LW_SHARED);
		pid = slot->pid;
		for (w = 1; w < continuous_workers && pid == 0; w++)
			pid = slot->workers[w].pid;
		LWLockRelease(ContinuousShmem->lock);

		/*
		 * A worker leaves its slot in shared memory before its process
		 * releases the replication slot: wait for that too, or DROP
		 * DATABASE finds the slot still active.
		 */
		if (pid == 0)
			(void) ReplicationSlotsCountDBSlots(dboid, &nslots, &nactive);
		if ((pid == 0 && nactive == 0) || GetCurrentTimestamp() >= deadline)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 10, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	return true;
}

void
continuous_resume_database(Oid dboid)
{
	DatabaseSlot *slot;

	LWLockAcquire(ContinuousShmem->lock, LW_EXCLUSIVE);
	slot = continuous_find_slot(dboid);
	if (slot)
		slot->pause_requested = false;
	LWLockRelease(ContinuousShmem->lock);
	continuous_launcher_wakeup();
}

void
continuous_launcher_main(Datum arg)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	/* no database: pg_database is a shared catalog */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	launcher_workers = MemoryContextAllocZero(TopMemoryContext,
											  sizeof(LauncherWorker) * CONTINUOUS_MAX_WORKERS *
											  ContinuousShmem->nslots);
	launcher_dbnames = MemoryContextAllocZero(TopMemoryContext,
											  sizeof(NameData) * ContinuousShmem->nslots);

	LWLockAcquire(ContinuousShmem->lock, LW_EXCLUSIVE);
	ContinuousShmem->launcher_latch = MyLatch;
	LWLockRelease(ContinuousShmem->lock);
	before_shmem_exit(launcher_detach, (Datum) 0);

	for (;;)
	{
		int			i;
		long		naptime = LAUNCHER_NAPTIME_MS;

		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		launcher_scan_databases();

		for (i = 0; i < ContinuousShmem->nslots; i++)
		{
			DatabaseSlot *slot = &ContinuousShmem->slots[i];
			bool		alive = launcher_worker_alive(i, 0);
			bool		wanted;
			int			w;

			/*
			 * A start request stays until a worker has seen the extension:
			 * the worker still alive may be one that is about to notice a
			 * DROP EXTENSION and exit.
			 */
			LWLockAcquire(ContinuousShmem->lock, LW_EXCLUSIVE);
			wanted = slot->state != DBSLOT_FREE && !alive &&
				!slot->pause_requested &&
				(slot->start_requested || slot->state == DBSLOT_PROBE ||
				 slot->state == DBSLOT_RUNNING);
			LWLockRelease(ContinuousShmem->lock);

			if (wanted)
				naptime = Min(naptime, launcher_start_when_due(i, 0));

			/* the further workers run beside a worker that found the extension */
			for (w = 1; w < continuous_workers; w++)
			{
				LWLockAcquire(ContinuousShmem->lock, LW_SHARED);
				wanted = alive && slot->state == DBSLOT_RUNNING &&
					!slot->pause_requested;
				LWLockRelease(ContinuousShmem->lock);
				if (wanted && !launcher_worker_alive(i, w))
					naptime = Min(naptime, launcher_start_when_due(i, w));
			}
		}

		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 naptime, PG_WAIT_EXTENSION);
	}
}

/*
 * Give every connectable database a slot (new ones are probed) and free the
 * slots of databases that are gone.
 */
static void
launcher_scan_databases(void)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tuple;
	int			i;
	bool	   *seen = palloc0(sizeof(bool) * ContinuousShmem->nslots);

	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);

	LWLockAcquire(ContinuousShmem->lock, LW_EXCLUSIVE);
	while ((tuple = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tuple);
		DatabaseSlot *slot;

		if (!db->datallowconn || db->datistemplate)
			continue;
		slot = continuous_find_slot(db->oid);
		if (slot == NULL)
		{
			PG_TRY();
			{
				slot = continuous_get_slot(db->oid);
				slot->state = DBSLOT_PROBE;
			}
			PG_CATCH();
			{
				LWLockRelease(ContinuousShmem->lock);
				PG_RE_THROW();
			}
			PG_END_TRY();
		}
		seen[slot - ContinuousShmem->slots] = true;
		namestrcpy(&launcher_dbnames[slot - ContinuousShmem->slots],
				   NameStr(db->datname));
	}
	for (i = 0; i < ContinuousShmem->nslots; i++)
	{
		DatabaseSlot *slot = &ContinuousShmem->slots[i];

		if (slot->state != DBSLOT_FREE && !seen[i] && !launcher_worker_alive(i, 0))
			slot->state = DBSLOT_FREE;
	}
	LWLockRelease(ContinuousShmem->lock);

	table_endscan(scan);
	table_close(rel, AccessShareLock);
	PopActiveSnapshot();
	CommitTransactionCommand();
	pfree(seen);
}

static bool
launcher_worker_alive(int i, int w)
{
	LauncherWorker *lw = LAUNCHER_WORKER(i, w);
	pid_t		pid;

	if (lw->handle == NULL)
		return false;
	if (GetBackgroundWorkerPid(lw->handle, &pid) == BGWH_STOPPED)
	{
		pfree(lw->handle);
		lw->handle = NULL;
		return false;
	}
	return true;
}

/*
 * Start worker w of slot i unless it started less than the restart delay
 * ago; returns how long the launcher may sleep before looking again.
 */
static long
launcher_start_when_due(int i, int w)
{
	TimestampTz due = TimestampTzPlusMilliseconds(LAUNCHER_WORKER(i, w)->last_start,
												  WORKER_RESTART_DELAY_MS);
	TimestampTz now = GetCurrentTimestamp();

	if (now < due)
		return TimestampDifferenceMilliseconds(now, due);
	launcher_start_worker(i, w);
	return LAUNCHER_NAPTIME_MS;
}

/*
 * Worker 0 of a database probes for the extension and reads the table
 * streams; workers 1 .. continuous.workers - 1 consume their share of the
 * Kafka partitions (bgw_extra holds the number).
 */
static void
launcher_start_worker(int i, int w)
{
	DatabaseSlot *slot = &ContinuousShmem->slots[i];
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	MemoryContext oldcxt;
	bool		registered;
	Oid			dboid;

	LWLockAcquire(ContinuousShmem->lock, LW_EXCLUSIVE);
	dboid = slot->dboid;
	if (w == 0 && slot->state != DBSLOT_RUNNING)
		slot->state = DBSLOT_PROBE;
	LWLockRelease(ContinuousShmem->lock);

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS |
		BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, CONTINUOUS_EXTENSION_NAME);
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "continuous_worker_main");
	if (w == 0)
		snprintf(worker.bgw_name, BGW_MAXLEN, "pg_continuous worker for database %u",
				 dboid);
	else
		snprintf(worker.bgw_name, BGW_MAXLEN, "pg_continuous worker %d for database %u",
				 w + 1, dboid);
	snprintf(worker.bgw_type, BGW_MAXLEN, "pg_continuous worker");
	worker.bgw_main_arg = ObjectIdGetDatum(dboid);
	memcpy(worker.bgw_extra, &w, sizeof(w));
	worker.bgw_notify_pid = MyProcPid;

	LAUNCHER_WORKER(i, w)->last_start = GetCurrentTimestamp();
	oldcxt = MemoryContextSwitchTo(TopMemoryContext);
	registered = RegisterDynamicBackgroundWorker(&worker, &handle);
	MemoryContextSwitchTo(oldcxt);
	launcher_note_start(i, w, registered);
	if (registered)
		LAUNCHER_WORKER(i, w)->handle = handle;
}

/*
 * A worker that does not start because every background worker slot is
 * taken is tried again every WORKER_RESTART_DELAY_MS.  The warning goes to
 * the log the first time only, and a line when the worker starts at last;
 * meanwhile the database's slot says why the worker is missing, for
 * continuous.sync() and create_stream() to tell.
 */
static void
launcher_note_start(int i, int w, bool started)
{
	DatabaseSlot *slot = &ContinuousShmem->slots[i];
	uint32		bit = ((uint32) 1) << w;
	bool		was_failing;

	StaticAssertStmt(CONTINUOUS_MAX_WORKERS <= 32,
					 "DatabaseSlot.start_failed has a bit per worker");

	LWLockAcquire(ContinuousShmem->lock, LW_EXCLUSIVE);
	was_failing = (slot->start_failed & bit) != 0;
	if (started)
		slot->start_failed &= ~bit;
	else
		slot->start_failed |= bit;
	LWLockRelease(ContinuousShmem->lock);

	if (!started && !was_failing)
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("could not start pg_continuous worker %d of database \"%s\"",
						w + 1, NameStr(launcher_dbnames[i])),
				 errdetail("All background worker slots are in use (max_worker_processes = %d). pg_continuous needs one for its launcher and continuous.workers (%d) for each database with the extension. The launcher tries again every second, without logging this again.",
						   max_worker_processes, continuous_workers),
				 errhint("Increase max_worker_processes and restart the server.")));
	else if (started && was_failing)
		ereport(LOG,
				(errmsg("pg_continuous worker %d of database \"%s\" has started, now that a background worker slot is free",
						w + 1, NameStr(launcher_dbnames[i]))));
}

static void
launcher_detach(int code, Datum arg)
{
	LWLockAcquire(ContinuousShmem->lock, LW_EXCLUSIVE);
	ContinuousShmem->launcher_latch = NULL;
	LWLockRelease(ContinuousShmem->lock);
}
