/*-------------------------------------------------------------------------
 *
 * worker_memory.c
 *	  How continuous.state_memory is divided in a worker: how large a batch
 *	  its decoded events may make, judged by what the views' states of the
 *	  last batch took beside its events.
 *
 * Pipeline position: the worker's loop (worker.c) asks before it decodes
 * or takes events, before it folds, and whether a flush is due; the flush
 * tells it what its batch took once every view processed it, and once
 * every view wrote it.
 *
 * What counts.  A batch's decoded events (decoder.c), the views' states of
 * them (each view's memory beyond what its definition took when it was
 * loaded: groups, their states and keys, the group table's buckets, what
 * the view keeps of events run before the flush, the other stages' batch
 * state), and the arrays the flush sorts a view's groups in (flush.c)
 * share continuous.state_memory, less what the flush keeps of storage
 * (group_locations.c, up to half) and the large transactions aggregated
 * before their commit (early_aggregation.c, up to a quarter).
 *
 * The states of a batch exist only once its events ran through the views,
 * at the flush, and how much they take depends on the views (how many,
 * how many groups their events make, how large a group's states are).  So
 * a batch's events, with the groups the views keep of events run before
 * the flush, may take a share of the budget, and every flush judges the
 * next share by what its events and the views' states took together:
 * 90% of the budget, at the rate this batch took it.  The first share is
 * as if each view's states, with the flush's sort of them, took one and a
 * half times what the events take (VIEW_MEMORY_GUESS), and a view added
 * later takes its part the same way.  The share falls at once after a
 * flush that went over the budget, and grows (at most doubling) after one
 * that stayed under it with a full batch.  A batch goes over the budget
 * only when its views' states take more per event than the last batch's
 * did, and by that factor, once; or when one transaction's events are
 * more than the share (a transaction is decoded whole).
 *
 * Not counted: the reorder buffer of the WAL the worker decodes (up to
 * logical_decoding_work_mem, past which PostgreSQL spills or streams its
 * largest transaction), and the caches and plans of the worker's views.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "base/guc.h"
#include "exec/batch.h"
#include "state/flush.h"
#include "state/group_locations.h"
#include "worker/early_aggregation.h"
#include "worker/worker_memory.h"
#include "worker/worker_process.h"

/* The events' share never falls below this part of the budget. */
#define EVENT_SHARE_MIN (1.0 / 16)

/* A flush judges the next batch to take this part of the budget. */
#define EVENT_SHARE_TARGET 0.9

/*
 * Until then, each view is taken to need this many times the memory of
 * the events for its states and the flush's sort of them: a view of a
 * group per event took 1.1 times (measured), views of fewer groups less.
 */
#define VIEW_MEMORY_GUESS 1.5

static double event_share = 1.0;
static int	share_views = 0;	/* the views it is for */

/* the flush in progress */
static Size flush_events = 0;
static Size flush_states = 0;
static bool flush_folded = false;

Size
worker_memory_budget(void)
{
	Size		limit = (Size) continuous_state_memory_kb * 1024;

	return limit - Min(group_locations_memory(), limit / 2) -
		Min(early_aggregation_memory(), limit / 4);
}

Size
worker_memory_for_batch(List *views)
{
	int			nviews = list_length(views);

	/* more views, more states of each event, until a flush measures them */
	if (nviews > share_views)
	{
		event_share = Max(EVENT_SHARE_MIN,
						  event_share * (1 + VIEW_MEMORY_GUESS * share_views) /
						  (1 + VIEW_MEMORY_GUESS * nviews));
		share_views = nviews;
	}
	else if (nviews < share_views)
		share_views = nviews;
	return (Size) (worker_memory_budget() * event_share);
}

Size
worker_memory_for_events(List *views)
{
	Size		cap = worker_memory_for_batch(views);

	return cap - Min(worker_folded_memory(views), cap / 2);
}

/*
 * Folding runs the events in runs of a quarter of the budget at most: the
 * views then take them while more WAL waits, rather than all at the flush
 * after the load that wrote them ended.
 */
Size
worker_memory_fold_run(List *views)
{
	return Min(worker_memory_for_events(views), worker_memory_budget() / 4);
}

/*
 * What the views hold of the batch.  Their memory includes what the
 * filters of group_locations.c and the large transactions' EarlyBatches
 * take, which the budget has taken off already.
 */
void
worker_memory_processed(List *views, Size event_bytes)
{
	Size		states = 0;
	Size		elsewhere = group_locations_memory() + early_aggregation_memory();
	ListCell   *lc;

	foreach(lc, views)
	{
		ViewRuntime *vr = lfirst(lc);

		if (!vr->failed)
			states += view_batch_memory(vr);
	}
	flush_events = event_bytes;
	flush_states = states > elsewhere ? states - elsewhere : 0;
	flush_folded = worker_folded_memory(views) > 0;
	(void) flush_memory_peak_take();
}

void
worker_memory_written(void)
{
	Size		budget = worker_memory_budget();
	Size		sorting = flush_memory_peak_take();
	Size		took = flush_events + flush_states + sorting;
	double		rate;
	double		share = event_share;

	if (took == 0)
		return;
	rate = EVENT_SHARE_TARGET * budget / took;
	if (took > budget)
		share = Max(EVENT_SHARE_MIN, share * rate);
	else if (rate > 1.0 &&
			 (flush_folded || flush_events >= budget * event_share * 3 / 4))
		share = Min(1.0, share * Min(rate, 2.0));
	if (share != event_share)
		ereport(DEBUG1,
				(errmsg_internal("pg_continuous: a batch's events took %zu bytes, the views' states of them %zu and the flush's sort %zu, of %zu: the next batch's events may take %.0f%% of it",
								 flush_events, flush_states, sorting, budget,
								 share * 100.0)));
	event_share = share;
}
