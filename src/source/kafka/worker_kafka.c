/*-------------------------------------------------------------------------
 *
 * worker_kafka.c
 *	  The Kafka consumers of a database worker.
 *
 * Pipeline position: source, seen from the worker's loop (worker.c).  A
 * worker keeps one consumer (kafka_source.c) per Kafka stream with views,
 * for its share of the stream's partitions (continuous.workers), and at
 * each turn of its loop polls them, writes what must be written before
 * anything is consumed (where new partitions start, error states), and
 * serves continuous.sync() for them.  The flush itself (worker.c) decodes
 * each consumer's batch and writes its offsets with the state.  A view held
 * back by a lock leaves its stream's batches, and gets messages of its own
 * while it catches up (kafka_source.c).  With the catalog, the offsets of
 * dropped views are deleted.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <unistd.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "storage/condition_variable.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "base/guc.h"
#include "base/memory.h"
#include "base/shmem.h"
#include "base/subxact.h"
#include "exec/batch.h"
#include "exec/quarantine.h"
#include "source/kafka/kafka_source.h"
#include "source/kafka/worker_kafka.h"
#include "window/window_registry.h"

/* how often a further worker looks for where its new partitions start */
#define STARTS_CHECK_MS			200
/* how long before asking a broker that did not answer a sync() again */
#define SYNC_RETRY_MS			1000

static struct
{
	int			worker;			/* 0 .. continuous.workers - 1 */
	pg_atomic_uint64 *synced;	/* sync() requests served, published */
	WorkerClockLookup clock_of;
	List	   *sources;		/* KafkaSource, one per Kafka stream with views */
	int			wakeup[2];		/* pipe: the clients wake the worker */

	/* worker_kafka_state_due() .. worker_kafka_state_committed() */
	List	   *unwritten_starts;
	List	   *changed_errors;
	List	   *awaiting_starts;
	TimestampTz last_starts_check;

	/* continuous.sync(): the request being served */
	bool		sync_pending;
	uint64		sync_request;
	TimestampTz sync_failed_at;
} wk = {.wakeup = {-1, -1}};

static void wakeup_init(void);
static void worker_kafka_note_consumer(Oid relid, bool failed,
									   const char *error);
static char *stalled_message(void);

void
worker_kafka_init(int worker, pg_atomic_uint64 *synced,
				  WorkerClockLookup clock_of)
{
	wk.worker = worker;
	wk.synced = synced;
	wk.clock_of = clock_of;
}

List *
worker_kafka_sources(void)
{
	return wk.sources;
}

KafkaSource *
worker_kafka_source(Oid relid)
{
	ListCell   *lc;

	foreach(lc, wk.sources)
		if (kafka_source_relid(lfirst(lc)) == relid)
			return lfirst(lc);
	return NULL;
}

void
worker_kafka_hold_view(Oid stream, Oid view)
{
	KafkaSource *src = worker_kafka_source(stream);

	if (src != NULL)
		kafka_source_hold_view(src, view);
}

StreamEvents *
worker_kafka_view_events(Oid view, StreamEvents *stream)
{
	KafkaSource *src;

	if (!stream->kafka || (src = worker_kafka_source(stream->relid)) == NULL)
		return stream;
	return kafka_source_view_events(src, view, stream);
}

void
worker_kafka_drop_sources(void)
{
	ListCell   *lc;

	foreach(lc, wk.sources)
		kafka_source_destroy(lfirst(lc));
	list_free(wk.sources);
	wk.sources = NIL;
	wk.sync_pending = false;
}

/*
 * A consumer per Kafka stream, for this worker's share of its partitions;
 * one that cannot be set up is skipped.  A stream with a count window view
 * is consumed by worker 0 alone: count windows number events in one order;
 * so is a stream with a unique key, whose views deduplicate across
 * partitions (stage_dedup.c).
 */
void
worker_kafka_create_sources(List *relids, List *views)
{
	MemoryContext cxt = CurrentMemoryContext;
	ListCell   *lc;

	/* worker 0 deletes what the views dropped since left behind */
	if (wk.worker == 0)
		kafka_source_forget_dropped_views();
	foreach(lc, relids)
	{
		Oid			relid = lfirst_oid(lc);
		ResourceOwner oldowner = CurrentResourceOwner;
		int			nworkers = continuous_workers;
		bool		consumer_failed = false;
		char	   *error = NULL;
		ListCell   *vc;

		List	   *stream_views = NIL;

		foreach(vc, views)
		{
			ViewRuntime *vr = lfirst(vc);

			if (vr->stream != relid)
				continue;
			stream_views = lappend_oid(stream_views, vr->view);
			/* one view's seen keys must see every partition */
			if (window_registry_needs_one_reader(vr->plan) ||
				vr->plan->unique_key != NIL)
				nworkers = 1;
		}
		if (wk.worker >= nworkers)
			continue;
		if (quarantine_stream_stalled(relid))
		{
			worker_kafka_note_consumer(relid, true, stalled_message());
			continue;
		}

		BeginInternalSubTransaction(NULL);
		MemoryContextSwitchTo(cxt);
		PG_TRY();
		{
			KafkaSource *src;

			wakeup_init();
			src = kafka_source_create(relid, wk.clock_of(relid), wk.wakeup[1],
									  wk.worker, nworkers, stream_views);

			ReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(continuous_memory_context());
			wk.sources = lappend(wk.sources, src);
		}
		PG_CATCH();
		{
			ErrorData  *edata = continuous_abort_subtransaction(cxt);

			CurrentResourceOwner = oldowner;
			ereport(WARNING,
					(errmsg("pg_continuous: Kafka stream \"%s\" is not consumed: %s",
							get_rel_name(relid), edata->message),
					 errhint("Correct the settings of its foreign server or user mapping; the stream is set up again when they change.")));
			consumer_failed = true;
			error = psprintf("could not create a consumer: %s", edata->message);
		}
		PG_END_TRY();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = oldowner;
		worker_kafka_note_consumer(relid, consumer_failed, error);
	}
}

/*
 * Whether the stream's consumer could be created, in continuous.stream_stats
 * (in the worker's transaction): continuous.streams shows why not, and
 * continuous.sync() fails naming the stream instead of waiting for it.
 */
static void
worker_kafka_note_consumer(Oid relid, bool failed, const char *error)
{
	Oid			argtypes[3] = {OIDOID, BOOLOID, TEXTOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};

	values[0] = ObjectIdGetDatum(relid);
	values[1] = BoolGetDatum(failed);
	values[2] = error ? CStringGetTextDatum(error) : (Datum) 0;
	if (error == NULL)
		nulls[2] = 'n';
	if (SPI_execute_with_args("UPDATE continuous.stream_stats SET consumer_failed = $2, "
							  "last_error = CASE WHEN $2 THEN $3 ELSE NULL END "
							  "WHERE stream OPERATOR(pg_catalog.=) $1 "
							  "AND ($2 OR consumer_failed)",
							  3, argtypes, values, nulls, false, 0) < 0)
		elog(ERROR, "pg_continuous: could not write continuous.stream_stats");
}

static char *
stalled_message(void)
{
	return quarantine_time_limit_message("decoding its messages (its columns' input functions and domain checks)");
}

void
worker_kafka_stall_source(KafkaSource *src)
{
	Oid			relid = kafka_source_relid(src);

	ereport(WARNING,
			(errcode(ERRCODE_QUERY_CANCELED),
			 errmsg("pg_continuous: Kafka stream \"%s\" is no longer consumed: %s",
					get_rel_name(relid), stalled_message()),
			 errdetail("Its messages stay in the topic, from the offsets stored with its views' state."),
			 errhint("Once its columns' types decode in time, change the catalog (for example ALTER FOREIGN TABLE ... OPTIONS) to have it consumed again.")));
	quarantine_stall_stream(relid);
	worker_kafka_note_consumer(relid, true, stalled_message());
	wk.sources = list_delete_ptr(wk.sources, src);
	kafka_source_destroy(src);
}

int
worker_kafka_poll(Size max_bytes)
{
	int64		messages;
	Size		bytes;
	int			taken = 0;
	ListCell   *lc;

	(void) worker_kafka_pending(&messages, &bytes);
	foreach(lc, wk.sources)
	{
		int64		room = continuous_batch_events - messages - taken;

		if (bytes >= max_bytes)
			room = 0;
		taken += kafka_source_poll(lfirst(lc), (int) Max(room, 0));
	}
	return taken;
}

bool
worker_kafka_pending(int64 *messages, Size *bytes)
{
	bool		pending = false;
	ListCell   *lc;

	*messages = 0;
	*bytes = 0;
	foreach(lc, wk.sources)
	{
		KafkaSource *src = lfirst(lc);
		StreamClock *clock = wk.clock_of(kafka_source_relid(src));

		*messages += kafka_source_batch_messages(src);
		*bytes += kafka_source_batch_bytes(src);
		if (kafka_source_batch_messages(src) > 0 ||
			(clock && stream_clock_idle_advance_pending(clock)))
			pending = true;
	}
	return pending;
}

/*
 * Where new partitions start, and the consumers' error states, are written
 * at once, in a transaction of their own.  A further worker instead looks,
 * a few times a second, for the starts worker 0 wrote for its partitions.
 */
bool
worker_kafka_state_due(void)
{
	TimestampTz now = GetCurrentTimestamp();
	bool		look = TimestampDifferenceExceeds(wk.last_starts_check, now,
												  STARTS_CHECK_MS);
	ListCell   *lc;

	wk.unwritten_starts = wk.changed_errors = wk.awaiting_starts = NIL;
	foreach(lc, wk.sources)
	{
		KafkaSource *src = lfirst(lc);

		if (kafka_source_position_unwritten(src))
			wk.unwritten_starts = lappend(wk.unwritten_starts, src);
		if (kafka_source_error_changed(src))
			wk.changed_errors = lappend(wk.changed_errors, src);
		if (look && kafka_source_awaiting_starts(src))
			wk.awaiting_starts = lappend(wk.awaiting_starts, src);
	}
	if (wk.awaiting_starts != NIL)
		wk.last_starts_check = now;
	return wk.unwritten_starts != NIL || wk.changed_errors != NIL ||
		wk.awaiting_starts != NIL;
}

void
worker_kafka_write_state(void)
{
	ListCell   *lc;

	foreach(lc, wk.unwritten_starts)
		kafka_source_write_position(lfirst(lc), false);
	foreach(lc, wk.changed_errors)
		kafka_source_write_error(lfirst(lc));
	foreach(lc, wk.awaiting_starts)
		kafka_source_load_starts(lfirst(lc));
}

void
worker_kafka_state_committed(void)
{
	ListCell   *lc;

	foreach(lc, wk.unwritten_starts)
		kafka_source_positions_stored(lfirst(lc));
	list_free(wk.unwritten_starts);
	list_free(wk.changed_errors);
	list_free(wk.awaiting_starts);
	wk.unwritten_starts = wk.changed_errors = wk.awaiting_starts = NIL;
}

void
worker_kafka_sync(uint64 requests)
{
	uint64		synced = pg_atomic_read_u64(wk.synced);
	ListCell   *lc;

	if (!wk.sync_pending)
	{
		if (requests <= synced)
			return;
		if (wk.sources != NIL)
		{
			/* a broker that did not answer is asked again a second later */
			if (!TimestampDifferenceExceeds(wk.sync_failed_at,
											GetCurrentTimestamp(), SYNC_RETRY_MS))
				return;
			foreach(lc, wk.sources)
			{
				if (!kafka_source_capture_sync_target(lfirst(lc)))
				{
					wk.sync_failed_at = GetCurrentTimestamp();
					return;
				}
			}
		}
		wk.sync_pending = true;
		wk.sync_request = requests;
	}

	foreach(lc, wk.sources)
		if (!kafka_source_reached_sync_target(lfirst(lc), false))
			return;
	wk.sync_pending = false;
	pg_atomic_write_u64(wk.synced, wk.sync_request);
	ConditionVariableBroadcast(&ContinuousShmem->applied_cv);
}

bool
worker_kafka_sync_waiting(void)
{
	ListCell   *lc;

	if (!wk.sync_pending)
		return false;
	foreach(lc, wk.sources)
		if (!kafka_source_reached_sync_target(lfirst(lc), true))
			return false;
	return true;
}

/* The pipe, made on first use. */
static void
wakeup_init(void)
{
	if (wk.wakeup[0] >= 0)
		return;
	if (pipe(wk.wakeup) < 0 ||
		fcntl(wk.wakeup[0], F_SETFL, O_NONBLOCK) < 0 ||
		fcntl(wk.wakeup[1], F_SETFL, O_NONBLOCK) < 0)
		elog(ERROR, "pg_continuous: could not create a pipe: %m");
}

int
worker_kafka_wakeup_fd(void)
{
	return wk.wakeup[0];
}

void
worker_kafka_wakeup_drain(void)
{
	char		buf[64];

	if (wk.wakeup[0] >= 0)
		while (read(wk.wakeup[0], buf, sizeof(buf)) > 0)
			;
}
