/*-------------------------------------------------------------------------
 *
 * shmem.h
 *	  Shared memory of pg_continuous: one slot per database with a worker.
 *
 * The launcher starts and restarts workers through these slots; a worker
 * publishes in its slot how far its views are up to date (applied_lsn), and
 * continuous.sync() waits on that.  With continuous.workers > 1 a slot also
 * has one entry per further worker of the database.  View state itself is
 * not here: it lives in the workers and in storage tables.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_SHMEM_H
#define CONTINUOUS_SHMEM_H

#include "port/atomics.h"
#include "storage/condition_variable.h"
#include "storage/latch.h"
#include "storage/lwlock.h"

#include "access/xlogdefs.h"
#include "datatype/timestamp.h"

#include "base/guc.h"

typedef enum DatabaseSlotState
{
	DBSLOT_FREE = 0,
	DBSLOT_PROBE,				/* worker started, extension not yet seen */
	DBSLOT_RUNNING,				/* worker serving the database */
	DBSLOT_NO_EXTENSION			/* checked: extension absent or dropped */
} DatabaseSlotState;

/*
 * What a worker keeps across its restarts about its owners' code
 * (quarantine.c), written by that worker only:
 *
 * the views whose steps failed its flushes with an error that looks like
 * nobody's view's fault, how many times, and since when, since a view
 * owner's code can raise such errors on purpose;
 *
 * the view whose code ran past continuous.view_time_limit and went on
 * after its cancel (the worker exits then, and its successor fails the
 * view before anything else);
 *
 * the Kafka streams whose messages took longer than the limit to decode
 * (a column's input function or domain CHECK): not consumed again until
 * the catalog changes.
 */
#define CONTINUOUS_STRIKE_VIEWS 8
#define CONTINUOUS_STALLED_STREAMS 4

typedef struct TransientStrikes
{
	Oid			view[CONTINUOUS_STRIKE_VIEWS];	/* InvalidOid: free */
	uint32		failures[CONTINUOUS_STRIKE_VIEWS];
	TimestampTz since[CONTINUOUS_STRIKE_VIEWS];
	Oid			overran_view;	/* InvalidOid: none */
	Oid			stalled_stream[CONTINUOUS_STALLED_STREAMS];	/* InvalidOid: free */
} TransientStrikes;

/*
 * A database's workers after the first (continuous.workers > 1): they
 * consume their share of the Kafka partitions, and nothing else.
 */
typedef struct WorkerSlot
{
	pid_t		pid;			/* or 0 */
	Latch	   *latch;
	/* as DatabaseSlot.kafka_synced, for this worker's partitions */
	pg_atomic_uint64 kafka_synced;
	TransientStrikes strikes;	/* of worker 0 too */
} WorkerSlot;

typedef struct DatabaseSlot
{
	Oid			dboid;
	DatabaseSlotState state;
	bool		start_requested;	/* CREATE EXTENSION committed here */
	bool		pause_requested;	/* DROP DATABASE running: no worker */
	pid_t		pid;			/* worker, or 0 */
	Latch	   *worker_latch;
	bool		decoder_ready;	/* the worker's replication slot exists ... */
	Oid			extension;		/* ... for this pg_extension row */

	/*
	 * Every event committed before applied_lsn is visible in every view of
	 * the database.  Reset to 0 when a worker starts.
	 */
	pg_atomic_uint64 applied_lsn;
	/*
	 * Each continuous.sync() call takes a number here, so the worker flushes
	 * without delay; kafka_synced is the highest number for which every
	 * Kafka partition's messages up to the high watermark the broker had
	 * after the call are visible (all of them when there is no Kafka
	 * stream).
	 */
	pg_atomic_uint64 sync_requests;
	pg_atomic_uint64 kafka_synced;
	/*
	 * And before that, waiting for the WAL, it raises this to the end of
	 * WAL it waits for: until applied_lsn reaches it, worker 0 flushes what
	 * it holds without waiting for continuous.flush_interval.
	 */
	pg_atomic_uint64 flush_target;

	/*
	 * Why workers of the database are missing, for continuous.sync() and
	 * create_stream() to say: bit w of start_failed is set while the
	 * launcher finds no free background worker slot for worker w
	 * (launcher.c); no_replication_slot while worker 0 finds no free
	 * replication slot for itself, and exits to be started again
	 * (decoder.c).  Each is logged when it becomes true, not at every try.
	 */
	uint32		start_failed;
	bool		no_replication_slot;

	/*
	 * workers 1 .. continuous.workers - 1; of [0], worker 0's, only strikes
	 * is used (the fields above)
	 */
	WorkerSlot	workers[CONTINUOUS_MAX_WORKERS];
} DatabaseSlot;

typedef struct ContinuousShared
{
	LWLock	   *lock;			/* protects slot fields but the atomics */
	Latch	   *launcher_latch; /* NULL while the launcher does not run */
	ConditionVariable applied_cv;	/* broadcast when applied_lsn moves */
	int			nslots;
	DatabaseSlot slots[FLEXIBLE_ARRAY_MEMBER];
} ContinuousShared;

extern ContinuousShared *ContinuousShmem;

/* whether _PG_init() ran in the postmaster, for shared_preload_libraries */
extern bool continuous_loaded_via_preload;
extern void continuous_shmem_install(void);
extern void continuous_require_preload(void);

/*
 * The last sync request for which every Kafka partition of the database is
 * up to date: the least over its workers.
 */
extern uint64 continuous_kafka_synced(DatabaseSlot *slot);
extern int	continuous_workers_running(DatabaseSlot *slot);
/* Wake every worker of the database; caller holds ContinuousShmem->lock. */
extern void continuous_wake_workers(DatabaseSlot *slot);

/* Slot of a database, or NULL; caller holds ContinuousShmem->lock. */
extern DatabaseSlot *continuous_find_slot(Oid dboid);
/* Slot of a database, created if needed; caller holds the lock exclusively. */
extern DatabaseSlot *continuous_get_slot(Oid dboid);

#endif							/* CONTINUOUS_SHMEM_H */
