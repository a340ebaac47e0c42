/*-------------------------------------------------------------------------
 *
 * memory.h
 *	  The memory context that pg_continuous keeps for the life of a process.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_MEMORY_H
#define CONTINUOUS_MEMORY_H

#include "utils/palloc.h"

extern MemoryContext continuous_memory_context(void);
extern void continuous_memory_setup_begin(void);
extern void continuous_memory_setup_end(bool keep);

/*
 * An array with room for element n (an array of *capacity elements of
 * elemsize bytes, or NULL), grown if it is full; may be huge.  mapped: as
 * continuous_grown_capacity() says.
 */
extern void *continuous_room_for_one_more(void *array, int n, int *capacity,
										  Size elemsize, bool mapped,
										  MemoryContext cxt);

/*
 * Allocations from this size on are mapped by glibc in the worker rather
 * than taken from its heap (mallopt(M_MMAP_THRESHOLD), worker.c), and grow
 * by mremap() without copying.
 */
#define CONTINUOUS_MMAP_THRESHOLD ((Size) 32 * 1024 * 1024)

/*
 * The capacity an array of capacity elements of elemsize bytes grows to
 * when full.  mapped: its memory is counted by its elements, not by what
 * it allocated, so it may go straight to a mapping.
 */
extern int	continuous_grown_capacity(int capacity, Size elemsize, bool mapped);

/* array (NULL: none yet) with room for capacity elements; may be huge */
extern void *continuous_resize(void *array, int capacity, Size elemsize,
							   MemoryContext cxt);

/* The size of a transparent huge page on x86-64 and most arm64 kernels. */
#define HUGE_PAGE_BYTES ((Size) 2 * 1024 * 1024)

extern void continuous_advise_huge_pages(void *start, Size size);

#endif							/* CONTINUOUS_MEMORY_H */
