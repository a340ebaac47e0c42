/*-------------------------------------------------------------------------
 *
 * subxact.c
 *	  Internal subtransactions around work that may fail on its own.
 *
 * Pipeline position: none of its own.  The worker sets up each view
 * (worker_catalog.c) and each Kafka consumer (worker_kafka.c, kafka_source.c), and
 * processes and writes each view (batch.c, quarantine.c), in an internal
 * subtransaction, so that one that fails leaves the others going;
 * continuous.rebuild() does the same for each view it computes again
 * (rebuild.c).  This is the common end of such a subtransaction that
 * failed.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"

#include "base/subxact.h"

ErrorData *
continuous_abort_subtransaction(MemoryContext cxt)
{
	ErrorData  *edata;

	MemoryContextSwitchTo(cxt);
	edata = CopyErrorData();
	FlushErrorState();
	RollbackAndReleaseCurrentSubTransaction();
	return edata;
}
