/*-------------------------------------------------------------------------
 *
 * subxact.h
 *	  Internal subtransactions around work that may fail on its own.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_SUBXACT_H
#define CONTINUOUS_SUBXACT_H

#include "utils/elog.h"
#include "utils/palloc.h"

/*
 * In the PG_CATCH() of work done in an internal subtransaction: the error,
 * copied into cxt (left current), and the subtransaction rolled back.  The
 * caller then restores CurrentResourceOwner, as after
 * ReleaseCurrentSubTransaction().
 */
extern ErrorData *continuous_abort_subtransaction(MemoryContext cxt);

#endif							/* CONTINUOUS_SUBXACT_H */
