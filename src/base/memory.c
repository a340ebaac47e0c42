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
 * continuous_room_for_one_more().  The blocks of a batch's rows and the
 * buckets of its group tables ask the kernel for transparent huge pages
 * (continuous_advise_huge_pages()).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>
#include <sys/mman.h>

#include "nodes/memnodes.h"
#include "utils/memutils.h"

#include "base/guc.h"
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

void *
continuous_room_for_one_more(void *array, int n, int *capacity, Size elemsize,
							 bool mapped, MemoryContext cxt)
{
	if (n < *capacity)
		return array;
	*capacity = continuous_grown_capacity(*capacity, elemsize, mapped);
	return continuous_resize(array, *capacity, elemsize, cxt);
}

/*
 * Doubled when full, and past 65,536 elements grown by a quarter: the
 * memory bounds of a batch (continuous.state_memory) and of a backfill's
 * chunk (maintenance_work_mem) count what is allocated, and half an array
 * left empty would be that much fewer events per batch (so more flushes,
 * each writing every group it changed).
 *
 * Below CONTINUOUS_MMAP_THRESHOLD, each growth copies the array into heap
 * pages touched for the first time: for the rows of a transaction
 * streaming to the worker (decoder.c), whose memory is counted row by row,
 * that was 15% of the worker's time while a 2,000,000-row COPY streamed.
 * Such an array (mapped) goes from 65,536 elements straight past the
 * threshold: one copy, and the pages of the mapping take memory only once
 * rows are written to them.
 */
int
continuous_grown_capacity(int capacity, Size elemsize, bool mapped)
{
	int64		grown;

	if (capacity < 65536)
		return Max(1024, capacity * 2);
	grown = (int64) capacity + capacity / 4;
	if (mapped && (Size) grown * elemsize <= CONTINUOUS_MMAP_THRESHOLD)
		grown = CONTINUOUS_MMAP_THRESHOLD / elemsize + 1;
	return (int) Min(grown, (int64) INT_MAX);
}

void *
continuous_resize(void *array, int capacity, Size elemsize, MemoryContext cxt)
{
	if (array == NULL)
		return MemoryContextAllocHuge(cxt, elemsize * capacity);
	return repalloc_huge(array, elemsize * capacity);
}

/*
 * Asks the kernel to back the whole 2 MB pages within [start, start + size)
 * with transparent huge pages (continuous.transparent_huge_pages), which it
 * does on request where its transparent_hugepage setting is "madvise", the
 * default of Debian's and most kernels.  For memory that a batch fills at
 * once, never to be moved by realloc() (mremap() refuses a range that
 * madvise() has split): the blocks of its rows, the buckets of a group
 * table.  In 4 kB pages each page's first touch is a fault that zeroes it;
 * on a virtual machine those faults were half of the worker's time while a
 * 5,000,000-row COPY streamed to it.  A kernel that cannot refuses, and the
 * pages stay small.
 */
void
continuous_advise_huge_pages(void *start, Size size)
{
#ifdef MADV_HUGEPAGE
	uintptr_t	from = TYPEALIGN(HUGE_PAGE_BYTES, (uintptr_t) start);
	uintptr_t	to = TYPEALIGN_DOWN(HUGE_PAGE_BYTES, (uintptr_t) start + size);

	if (continuous_transparent_huge_pages && to > from)
		(void) madvise((void *) from, to - from, MADV_HUGEPAGE);
#endif
}
