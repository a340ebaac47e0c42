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

#endif							/* CONTINUOUS_MEMORY_H */
