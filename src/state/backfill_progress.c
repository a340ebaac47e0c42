/*-------------------------------------------------------------------------
 *
 * backfill_progress.c
 *	  How far each running backfill or rebuild is, for continuous.backfills.
 *
 * Pipeline position: beside backfill.c, for monitoring.  A backfill runs in
 * the transaction of CREATE VIEW, so its view is not visible to other
 * sessions until it is done: continuous.views cannot show its progress.
 * Like PostgreSQL's pg_stat_progress_* views, each backend has an entry in
 * shared memory that only it writes; readers take what they find.  The
 * entry is cleared when the transaction ends, committed or not.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/backendid.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "state/backfill_progress.h"

typedef struct BackfillProgress
{
	/* the writer sets pid last and clears it first */
	pg_atomic_uint32 pid;		/* 0: free */
	Oid			dboid;
	Oid			view;
	Oid			stream;
	bool		rebuild;
	char		view_name[2 * NAMEDATALEN + 8];
	TimestampTz started_at;
	uint64		blocks_total;
	pg_atomic_uint64 blocks_done;
	pg_atomic_uint64 rows_done;
} BackfillProgress;

static BackfillProgress *progress_entries = NULL;
static bool progress_callback_registered = false;

PG_FUNCTION_INFO_V1(continuous_backfill_progress);

static void progress_clear_at_end(XactEvent event, void *arg);

Size
backfill_progress_shmem_size(void)
{
	return mul_size(MaxBackends, sizeof(BackfillProgress));
}

void
backfill_progress_shmem_init(void)
{
	bool		found;

	progress_entries = ShmemInitStruct("pg_continuous backfill progress",
									   backfill_progress_shmem_size(), &found);
	if (!found)
	{
		int			i;

		memset(progress_entries, 0, backfill_progress_shmem_size());
		for (i = 0; i < MaxBackends; i++)
		{
			pg_atomic_init_u32(&progress_entries[i].pid, 0);
			pg_atomic_init_u64(&progress_entries[i].blocks_done, 0);
			pg_atomic_init_u64(&progress_entries[i].rows_done, 0);
		}
	}
}

static BackfillProgress *
my_entry(void)
{
	if (progress_entries == NULL || MyBackendId == InvalidBackendId ||
		MyBackendId > MaxBackends)
		return NULL;
	return &progress_entries[MyBackendId - 1];
}

void
backfill_progress_start(Oid view, const char *view_name, Oid stream,
						bool rebuild, uint64 blocks_total)
{
	BackfillProgress *entry = my_entry();

	if (entry == NULL)
		return;
	if (!progress_callback_registered)
	{
		RegisterXactCallback(progress_clear_at_end, NULL);
		progress_callback_registered = true;
	}
	pg_atomic_write_u32(&entry->pid, 0);
	pg_write_barrier();
	entry->dboid = MyDatabaseId;
	entry->view = view;
	entry->stream = stream;
	entry->rebuild = rebuild;
	strlcpy(entry->view_name, view_name, sizeof(entry->view_name));
	entry->started_at = GetCurrentTimestamp();
	entry->blocks_total = blocks_total;
	pg_atomic_write_u64(&entry->blocks_done, 0);
	pg_atomic_write_u64(&entry->rows_done, 0);
	pg_write_barrier();
	pg_atomic_write_u32(&entry->pid, (uint32) MyProcPid);
}

void
backfill_progress_report(uint64 rows_done, uint64 blocks_done)
{
	BackfillProgress *entry = my_entry();

	if (entry == NULL)
		return;
	pg_atomic_write_u64(&entry->rows_done, rows_done);
	pg_atomic_write_u64(&entry->blocks_done, blocks_done);
}

static void
progress_clear_at_end(XactEvent event, void *arg)
{
	BackfillProgress *entry;

	if (event != XACT_EVENT_COMMIT && event != XACT_EVENT_ABORT &&
		event != XACT_EVENT_PARALLEL_COMMIT &&
		event != XACT_EVENT_PARALLEL_ABORT && event != XACT_EVENT_PREPARE)
		return;
	entry = my_entry();
	if (entry != NULL && pg_atomic_read_u32(&entry->pid) == (uint32) MyProcPid)
		pg_atomic_write_u32(&entry->pid, 0);
}

/*
 * continuous._backfill_progress(): the backfills and rebuilds running in
 * this database.  The view of a backfill is named as text: its CREATE VIEW
 * has not committed, so its OID means nothing to other sessions yet.
 */
Datum
continuous_backfill_progress(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	if (progress_entries == NULL)
		PG_RETURN_VOID();
	for (i = 0; i < MaxBackends; i++)
	{
		BackfillProgress *entry = &progress_entries[i];
		char		view_name[sizeof(entry->view_name)];
		Oid			dboid;
		Oid			stream;
		bool		rebuild;
		TimestampTz started_at;
		uint64		blocks_total;
		uint32		pid = pg_atomic_read_u32(&entry->pid);
		Datum		values[8];
		bool		nulls[8] = {0};

		if (pid == 0)
			continue;
		pg_read_barrier();
		dboid = entry->dboid;
		stream = entry->stream;
		rebuild = entry->rebuild;
		started_at = entry->started_at;
		blocks_total = entry->blocks_total;
		memcpy(view_name, entry->view_name, sizeof(view_name));
		view_name[sizeof(view_name) - 1] = '\0';
		pg_read_barrier();
		/* changed while copied: it started or ended meanwhile */
		if (pg_atomic_read_u32(&entry->pid) != pid || dboid != MyDatabaseId)
			continue;

		values[0] = Int32GetDatum((int32) pid);
		values[1] = CStringGetTextDatum(view_name);
		values[2] = ObjectIdGetDatum(stream);
		values[3] = CStringGetTextDatum(rebuild ? "rebuild" : "backfill");
		values[4] = TimestampTzGetDatum(started_at);
		values[5] = Int64GetDatum((int64) pg_atomic_read_u64(&entry->rows_done));
		values[6] = Int64GetDatum((int64) pg_atomic_read_u64(&entry->blocks_done));
		values[7] = Int64GetDatum((int64) blocks_total);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	PG_RETURN_VOID();
}
