/*-------------------------------------------------------------------------
 *
 * worker_process.c
 *	  Each view's batch, run through its stages in a flush.
 *
 * Pipeline position: between the source and the batch, in the worker's
 * flush transaction (worker.c).  Each stream's events, decoded from the
 * WAL or taken from a Kafka stream's consumer, advance the stream's clock
 * (watermark.c), and every view over the stream processes them
 * (batch.c): a view of a Kafka stream that catches up after a lock held
 * it back has events of its own (worker_kafka.c), and the runs of events
 * that a large transaction's view aggregated before the commit are
 * combined instead of run again (early_aggregation.c).  A view that joins
 * two streams processes the events of both, merged in commit order
 * (worker_join_batch()).  Each view processes its batch through
 * quarantine.c: one that fails by its own fault is marked failed, and the
 * others go on.  Nothing is written here (worker_write.c).
 *
 * A worker that is behind may run the batch's decoded events through the
 * views before the flush, to give their rows back (worker_fold_stream,
 * batch.c's view_fold_events): the views keep their groups and dead
 * letters, and the stream what its statistics need, until the flush
 * processes the rest of the batch.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "exec/quarantine.h"
#include "source/kafka/worker_kafka.h"
#include "worker/early_aggregation.h"
#include "worker/worker_catalog.h"
#include "worker/worker_process.h"

/* A stream's batch, for processing one view (worker_step_process) */
typedef struct ViewBatch
{
	StreamEvents *stream;
	StreamClock *clock;
	StreamClock *join_clock;	/* an interval join's second stream */
} ViewBatch;

static void worker_step_process(ViewRuntime *vr, void *arg);
static void worker_step_fold(ViewRuntime *vr, void *arg);
static bool worker_join_batch(ViewRuntime *vr, List *batches,
							  ViewBatch *batch);

void
worker_process_stream(List *views, StreamEvents *stream, List *dead_letters)
{
	StreamClock *clock = worker_catalog_clock(stream->relid);

	if (clock)
	{
		stream_clock_advance(clock, stream);
		clock->dead_letters = list_concat(clock->dead_letters, dead_letters);
	}
	worker_process_views(views, stream, clock, false);
}

void
worker_process_views(List *views, StreamEvents *stream, StreamClock *clock,
					 bool only_windowed)
{
	ViewBatch	batch = {stream, clock};
	ListCell   *lc;

	foreach(lc, views)
	{
		ViewRuntime *vr = lfirst(lc);

		if (vr->failed || vr->stream != stream->relid ||
			OidIsValid(vr->join_stream) ||
			(only_windowed && vr->plan->window == NULL))
			continue;
		/* a view of a Kafka stream catching up has events of its own */
		batch.stream = worker_kafka_view_events(vr->view, stream);
		if (batch.stream->nevents == 0 && vr->folded == NULL)
			continue;
		if (only_windowed)
			view_batch_reset(vr);
		(void) quarantine_run(vr, worker_step_process, &batch);
	}
}

/*
 * Can every view that reads a stream of the decoded batch run its events
 * before the flush (view_folds_between_flushes)?  Then worker_fold_stream
 * may run them, and the batch give their rows back.
 */
bool
worker_can_fold(List *views)
{
	HASH_SEQ_STATUS seq;
	StreamEvents *stream;
	bool		can = true;

	hash_seq_init(&seq, decoder_batch->streams);
	while ((stream = hash_seq_search(&seq)) != NULL)
	{
		ListCell   *lc;

		foreach(lc, views)
		{
			ViewRuntime *vr = lfirst(lc);

			if (!vr->failed &&
				(vr->stream == stream->relid ||
				 vr->join_stream == stream->relid) &&
				!view_folds_between_flushes(vr))
				can = false;
		}
	}
	return can;
}

/*
 * A stream's decoded events, through its views before the flush: the
 * stream's clock advances by them, as by a batch's, and keeps the dead
 * letters it makes of them for the flush.
 */
void
worker_fold_stream(List *views, StreamEvents *stream)
{
	StreamClock *clock = worker_catalog_clock(stream->relid);
	ListCell   *lc;

	if (clock)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(decoder_batch->cxt);

		stream_clock_advance(clock, stream);
		stream->folded_dead_letters = list_concat(stream->folded_dead_letters,
												  clock->dead_letters);
		clock->dead_letters = NIL;
		MemoryContextSwitchTo(oldcxt);
	}
	foreach(lc, views)
	{
		ViewRuntime *vr = lfirst(lc);
		ViewBatch	batch = {stream, clock};

		if (vr->failed || vr->stream != stream->relid || stream->nevents == 0)
			continue;
		(void) quarantine_run(vr, worker_step_fold, &batch);
	}
}

static void
worker_step_fold(ViewRuntime *vr, void *arg)
{
	ViewBatch  *batch = arg;

	/* a large transaction's rows aggregated while it streamed, if any */
	view_fold_events(vr, batch->stream, batch->clock,
					 early_aggregation_events(vr, batch->stream));
}

/* What the views keep of events run before the flush. */
Size
worker_folded_memory(List *views)
{
	ListCell   *lc;
	Size		bytes = 0;

	foreach(lc, views)
		bytes += view_folded_memory(lfirst(lc));
	return bytes;
}

static void
worker_step_process(ViewRuntime *vr, void *arg)
{
	ViewBatch  *batch = arg;

	vr->had_join_watermark = batch->join_clock != NULL &&
		batch->join_clock->had_watermark_before;
	vr->join_watermark = vr->had_join_watermark ?
		batch->join_clock->watermark_before : 0;
	view_process_events(vr, batch->stream, batch->clock,
						early_aggregation_events(vr, batch->stream));
}

/*
 * The batch of a view that joins two streams (stage_interval_join.c): the
 * events of both, merged in commit order, each knowing its stream, in the
 * decoded batch's memory; both streams' clocks.  Nothing if neither has
 * events.  batches: every stream's events.
 */
static bool
worker_join_batch(ViewRuntime *vr, List *batches, ViewBatch *batch)
{
	StreamEvents *sides[2] = {NULL, NULL};
	StreamEvents *merged;
	int			next[2] = {0, 0};
	ListCell   *lc;
	int			i;

	foreach(lc, batches)
	{
		StreamEvents *stream = lfirst(lc);

		if (stream->kafka)
			continue;
		if (stream->relid == vr->stream)
			sides[0] = stream;
		else if (stream->relid == vr->join_stream)
			sides[1] = stream;
	}
	merged = MemoryContextAllocZero(decoder_batch->cxt, sizeof(StreamEvents));
	merged->relid = vr->stream;
	for (i = 0; i < 2; i++)
		merged->nevents += sides[i] != NULL ? sides[i]->nevents : 0;
	if (merged->nevents == 0)
		return false;
	merged->events = MemoryContextAlloc(decoder_batch->cxt,
										sizeof(StreamEvent) * merged->nevents);
	for (i = 0; i < merged->nevents; i++)
	{
		int			side;
		StreamEvent *event;

		/* each side is in commit order; a transaction's left rows first */
		if (sides[1] == NULL || next[1] == sides[1]->nevents)
			side = 0;
		else if (sides[0] == NULL || next[0] == sides[0]->nevents)
			side = 1;
		else
			side = sides[1]->events[next[1]].commit_lsn <
				sides[0]->events[next[0]].commit_lsn ? 1 : 0;
		event = &merged->events[i];
		*event = sides[side]->events[next[side]++];
		event->relid = side == 0 ? vr->stream : vr->join_stream;
	}
	batch->stream = merged;
	batch->clock = worker_catalog_clock(vr->stream);
	batch->join_clock = worker_catalog_clock(vr->join_stream);
	return true;
}

void
worker_process_join_views(List *views, List *batches)
{
	ListCell   *lc;

	foreach(lc, views)
	{
		ViewRuntime *vr = lfirst(lc);
		ViewBatch	batch = {NULL, NULL, NULL};

		if (vr->failed || !OidIsValid(vr->join_stream) ||
			!worker_join_batch(vr, batches, &batch))
			continue;
		(void) quarantine_run(vr, worker_step_process, &batch);
	}
}

/*
 * After a failed write, which may have left the view's batch state
 * changed: its batch again, from every stream's events.
 */
void
worker_process_view_again(ViewRuntime *vr, List *batches)
{
	ListCell   *bc;

	view_batch_reset(vr);
	if (OidIsValid(vr->join_stream))
	{
		ViewBatch	batch = {NULL, NULL, NULL};

		if (worker_join_batch(vr, batches, &batch))
			(void) quarantine_run(vr, worker_step_process, &batch);
	}
	else
		foreach(bc, batches)
		{
			ViewBatch	batch = {worker_kafka_view_events(vr->view, lfirst(bc)),
			worker_catalog_clock(vr->stream)};

			if (batch.stream->relid == vr->stream &&
				(batch.stream->nevents > 0 || vr->folded != NULL))
				(void) quarantine_run(vr, worker_step_process, &batch);
		}
}
