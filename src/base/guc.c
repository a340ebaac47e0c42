/*-------------------------------------------------------------------------
 *
 * guc.c
 *	  The settings of pg_continuous (continuous.*).
 *
 * Pipeline position: none of its own.  The flush interval and batch size
 * decide when the worker flushes (worker.c), the state memory how much a
 * batch may hold, the number of workers how the Kafka partitions are
 * spread (launcher.c, worker_kafka.c), whether large transactions are
 * aggregated as they stream (early_aggregation.c), and whether the memory a
 * batch fills asks for huge pages (memory.c).  They are defined only when the
 * library is preloaded (pg_continuous.c): continuous.state_memory and
 * continuous.workers are the postmaster's, and without preloading there
 * are no workers for them to configure.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "utils/guc.h"

#include "base/guc.h"

int			continuous_flush_interval_ms = 200;
int			continuous_state_memory_kb = 256 * 1024;
int			continuous_large_transaction_memory_kb = 256 * 1024;
int			continuous_batch_events = 1000000;
int			continuous_workers = 1;
bool		continuous_aggregate_before_commit = true;
bool		continuous_transparent_huge_pages = true;
int			continuous_view_time_limit_ms = 10 * 60 * 1000;

void
continuous_define_settings(void)
{
	DefineCustomIntVariable("continuous.flush_interval",
							"Longest time between an event's commit and its effect being visible in continuous views.",
							NULL,
							&continuous_flush_interval_ms,
							200, 1, 60 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("continuous.state_memory",
							"Memory for a batch not yet flushed to storage, per database worker.",
							"A batch's decoded rows and the views' states of them together; when it is full, the worker flushes early.",
							&continuous_state_memory_kb,
							256 * 1024, 1024, INT_MAX / 2,
							PGC_POSTMASTER,
							GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("continuous.large_transaction_memory",
							"Memory for the rows of transactions not yet flushed, per database worker, before they spill to a temporary file.",
							"Rows of a transaction that come once the rows held take this much wait on disk; the worker folds them into the views in runs after the commit.",
							&continuous_large_transaction_memory_kb,
							256 * 1024, 1024, INT_MAX / 2,
							PGC_SIGHUP,
							GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("continuous.batch_events",
							"Events a worker gathers before it flushes, whatever the flush interval.",
							NULL,
							&continuous_batch_events,
							1000000, 1, INT_MAX,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("continuous.workers",
							"Worker processes per database.",
							"The first also reads the table streams; the partitions of Kafka streams are spread over all of them.",
							&continuous_workers,
							1, 1, CONTINUOUS_MAX_WORKERS,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("continuous.aggregate_before_commit",
							 "Aggregates the rows of large transactions as they stream, before they commit.",
							 "Their views then only combine the result at commit.",
							 &continuous_aggregate_before_commit,
							 true,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("continuous.transparent_huge_pages",
							 "Asks the kernel for transparent huge pages for the large blocks a batch fills.",
							 "The blocks of a batch's rows and the buckets of large group tables; it takes effect where the kernel's transparent_hugepage setting is \"madvise\" or \"always\".",
							 &continuous_transparent_huge_pages,
							 true,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("continuous.view_time_limit",
							"Longest time the worker spends on one view's step of a flush before the view fails.",
							"A view owner's code that sleeps or loops would otherwise hold up every view of the database; 0 sets no limit.",
							&continuous_view_time_limit_ms,
							10 * 60 * 1000, 0, INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("continuous");
}
