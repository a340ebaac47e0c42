/*-------------------------------------------------------------------------
 *
 * shmem.c
 *	  Allocation and lookup of pg_continuous's shared memory.
 *
 * Pipeline position: coordination between processes.  The slots here tell
 * the launcher which databases need a worker, and tell continuous.sync()
 * how far each database's worker has applied the WAL.  It exists only when
 * the library is preloaded: continuous_shmem_install(), from _PG_init(),
 * chains the hooks that request and attach it, and the functions that need
 * the workers first call continuous_require_preload().
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/shmem.h"

#include "base/guc.h"
#include "base/shmem.h"
#include "state/backfill_progress.h"

ContinuousShared *ContinuousShmem = NULL;

/* set by _PG_init() when the library is in shared_preload_libraries */
bool		continuous_loaded_via_preload = false;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void continuous_shmem_request(void);
static void continuous_shmem_startup(void);

void
continuous_shmem_install(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = continuous_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = continuous_shmem_startup;
}

/*
 * Functions that need the workers call this first, so that a missing
 * shared_preload_libraries entry is reported as such.
 */
void
continuous_require_preload(void)
{
	if (!continuous_loaded_via_preload || ContinuousShmem == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pg_continuous must be loaded via shared_preload_libraries"),
				 errdetail("Its background workers and shared memory can only be set up when the server starts."),
				 errhint("Add pg_continuous to shared_preload_libraries in postgresql.conf and restart the server.")));
}

/* a database worker is a background worker, so there cannot be more */
static int
continuous_slot_count(void)
{
	return max_worker_processes;
}

static Size
continuous_shmem_size(void)
{
	return add_size(offsetof(ContinuousShared, slots),
					mul_size(continuous_slot_count(), sizeof(DatabaseSlot)));
}

static void
continuous_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(continuous_shmem_size());
	RequestAddinShmemSpace(backfill_progress_shmem_size());
	RequestNamedLWLockTranche("pg_continuous", 1);
}

static void
continuous_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	ContinuousShmem = ShmemInitStruct("pg_continuous", continuous_shmem_size(),
									  &found);
	if (!found)
	{
		int			i;

		memset(ContinuousShmem, 0, continuous_shmem_size());
		ContinuousShmem->lock = &(GetNamedLWLockTranche("pg_continuous"))->lock;
		ConditionVariableInit(&ContinuousShmem->applied_cv);
		ContinuousShmem->nslots = continuous_slot_count();
		for (i = 0; i < ContinuousShmem->nslots; i++)
		{
			int			w;

			pg_atomic_init_u64(&ContinuousShmem->slots[i].applied_lsn, 0);
			pg_atomic_init_u64(&ContinuousShmem->slots[i].sync_requests, 0);
			pg_atomic_init_u64(&ContinuousShmem->slots[i].kafka_synced, 0);
			pg_atomic_init_u64(&ContinuousShmem->slots[i].flush_target, 0);
			for (w = 0; w < CONTINUOUS_MAX_WORKERS; w++)
				pg_atomic_init_u64(&ContinuousShmem->slots[i].workers[w].kafka_synced, 0);
		}
	}
	backfill_progress_shmem_init();
	LWLockRelease(AddinShmemInitLock);
}

uint64
continuous_kafka_synced(DatabaseSlot *slot)
{
	uint64		synced = pg_atomic_read_u64(&slot->kafka_synced);
	int			w;

	for (w = 1; w < continuous_workers; w++)
		synced = Min(synced, pg_atomic_read_u64(&slot->workers[w].kafka_synced));
	return synced;
}

/* How many of the database's continuous.workers have a process now. */
int
continuous_workers_running(DatabaseSlot *slot)
{
	int			running = slot->pid != 0 ? 1 : 0;
	int			w;

	for (w = 1; w < continuous_workers; w++)
		if (slot->workers[w].pid != 0)
			running++;
	return running;
}

void
continuous_wake_workers(DatabaseSlot *slot)
{
	int			w;

	if (slot->worker_latch)
		SetLatch(slot->worker_latch);
	for (w = 1; w < continuous_workers; w++)
		if (slot->workers[w].latch)
			SetLatch(slot->workers[w].latch);
}

DatabaseSlot *
continuous_find_slot(Oid dboid)
{
	int			i;

	for (i = 0; i < ContinuousShmem->nslots; i++)
	{
		DatabaseSlot *slot = &ContinuousShmem->slots[i];

		if (slot->state != DBSLOT_FREE && slot->dboid == dboid)
			return slot;
	}
	return NULL;
}

DatabaseSlot *
continuous_get_slot(Oid dboid)
{
	DatabaseSlot *slot = continuous_find_slot(dboid);
	int			i;

	if (slot)
		return slot;
	for (i = 0; i < ContinuousShmem->nslots; i++)
	{
		slot = &ContinuousShmem->slots[i];
		if (slot->state == DBSLOT_FREE)
		{
			slot->dboid = dboid;
			slot->state = DBSLOT_NO_EXTENSION;
			slot->start_requested = false;
			slot->pause_requested = false;
			slot->pid = 0;
			slot->worker_latch = NULL;
			slot->start_failed = 0;
			slot->no_replication_slot = false;
			for (i = 0; i < CONTINUOUS_MAX_WORKERS; i++)
			{
				slot->workers[i].pid = 0;
				slot->workers[i].latch = NULL;
				memset(&slot->workers[i].strikes, 0,
					   sizeof(slot->workers[i].strikes));
			}
			pg_atomic_write_u64(&slot->applied_lsn, 0);
			return slot;
		}
	}
	ereport(ERROR,
			(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
			 errmsg("too many databases use pg_continuous"),
			 errhint("Increase max_worker_processes.")));
	return NULL;				/* keep compiler quiet */
}
