/*-------------------------------------------------------------------------
 *
 * memory.c
 *	  The memory context that pg_continuous keeps for the life of a process.
 *
 * Pipeline position: none of its own.  What outlives a batch hangs off one
 * context, "pg_continuous", instead of off TopMemoryContext: in a worker,
 * the views (batch.c), the decoded batch and the decoder's tables
 * (decoder.c), the Kafka consumers (kafka_source.c), the progress of each
 * view (view_progress.c), the routes of partitioned streams
 * (partition_route.c) and the catalog as loaded (worker_catalog.c); in a backend,
 * the views that a backfill or rebuild computes (backfill.c).  So
 * MemoryContextStats() and pg_log_backend_memory_contexts() show the
 * extension's memory as one total, and what grows is easy to tell.
 *
 * A context made while one thing is set up, such as a view the worker
 * loads, is first made under a setup context: if the setup fails, it is
 * deleted with it instead of being left behind; if it succeeds, it moves
 * up to "pg_continuous" (continuous_memory_setup_begin/_end).  Code that
 * runs during a setup creates contexts of its own there; it does not
 * allocate in continuous_memory_context() directly.
 *
 * The arrays of a batch's events (decoder.c, backfill.c) grow by
 * continuous_room_for_one_more().
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "nodes/memnodes.h"
#include "utils/memutils.h"

#include "base/memory.h"

static MemoryContext long_lived = NULL;
static MemoryContext setup = NULL;

/* The parent of the contexts that live as long as the process. */
MemoryContext
continuous_memory_context(void)
{
	if (long_lived == NULL)
		long_lived = AllocSetContextCreate(TopMemoryContext, "pg_continuous",
										   ALLOCSET_SMALL_SIZES);
	return setup ? setup : long_lived;
}

void
continuous_memory_setup_begin(void)
{
	Assert(setup == NULL);
	setup = AllocSetContextCreate(continuous_memory_context(),
								  "pg_continuous setup",
								  ALLOCSET_SMALL_SIZES);
}

/* keep: the setup succeeded, and what it made stays */
void
continuous_memory_setup_end(bool keep)
{
	MemoryContext done = setup;

	if (done == NULL)
		return;					/* ended already, and failed after */
	setup = NULL;
	while (keep && done->firstchild != NULL)
		MemoryContextSetParent(done->firstchild, long_lived);
	MemoryContextDelete(done);
}

/*
 * Doubled when full, and past 65,536 elements grown by a quarter: the
 * memory bounds of a batch (continuous.state_memory) and of a backfill's
 * chunk (maintenance_work_mem) count what is allocated, and half an array
 * left empty would be that much fewer events per batch (so more flushes,
 * each writing every group it changed).
 */
void *
continuous_room_for_one_more(void *array, int n, int *capacity, Size elemsize,
							 MemoryContext cxt)
{
	if (n < *capacity)
		return array;
	if (*capacity < 65536)
		*capacity = Max(1024, *capacity * 2);
	else
		*capacity = (int) Min((int64) *capacity + *capacity / 4, (int64) INT_MAX);
	if (array == NULL)
		return MemoryContextAllocHuge(cxt, elemsize * *capacity);
	return repalloc_huge(array, elemsize * *capacity);
}
